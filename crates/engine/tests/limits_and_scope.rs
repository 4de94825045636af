//! Run caps, the scope filter, and the pause when the daily API limit is spent.

mod common;

use std::time::Duration;

use hlbridge_emulator::faults::FaultConfig;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_ignores_the_per_cycle_caps_continuous_mode_applies_them() {
    // `sync --once` brings everything across whatever the caps.
    let env = common::start(0, 25, FaultConfig::default()).await;
    let engine = env.engine("[sync]\nmax_writes_per_run = 10\n").await;
    let first = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(!first.capped && first.is_clean(), "{first:#?}");
    assert_eq!(env.ghl.state().contact_count(), 25);
    env.cleanup();

    // Continuous mode: the first cycle is the initial sync; later ones are capped.
    std::env::set_var("HLBRIDGE_TEST_POLL_UNIT_MS", "3000");
    let env = common::start(0, 0, FaultConfig::default()).await;
    let engine = env
        .engine("[sync]\nmax_writes_per_run = 10\npoll_interval_minutes = 1\n")
        .await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let progress = move |p: hlbridge_engine::Progress| {
        if let hlbridge_engine::Progress::Cycle(r) = p {
            let _ = tx.send(*r);
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let reports = async {
        let first = rx.recv().await.expect("first cycle");
        assert!(first.is_clean(), "{first:#?}");
        let sellsy = env.sellsy_client();
        for i in 0..25 {
            sellsy
                .call(
                    "contacts.create-contact",
                    hlbridge_core::call::CallInput::new().body(serde_json::json!({
                        "last_name": format!("Later{i}"),
                        "email": format!("later{i}@example.com"),
                    })),
                )
                .await
                .expect("sellsy contact");
        }
        let mut later = Vec::new();
        let mut total = 0;
        while total < 25 && later.len() < 12 {
            let r = rx.recv().await.expect("a cycle");
            total += r.ghl.created;
            later.push(r);
        }
        let _ = stop_tx.send(());
        later
    };
    let run = engine.run_continuous(&progress, async {
        let _ = stop_rx.await;
    });
    let (later, done) = tokio::join!(reports, run);
    done.unwrap();
    assert!(later.iter().all(|r| r.ghl.created <= 10), "{later:#?}");
    assert!(later.iter().any(|r| r.capped), "{later:#?}");
    assert_eq!(env.ghl.state().contact_count(), 25);
    std::env::remove_var("HLBRIDGE_TEST_POLL_UNIT_MS");
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_tag_limits_what_is_synced() {
    let env = common::start(24, 0, FaultConfig::default()).await;
    let engine = env.engine("[sync]\nscope_tag = \"vip\"\n").await;
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");
    let vip = env
        .ghl_contacts()
        .iter()
        .filter(|c| {
            c["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == "vip"))
        })
        .count();
    assert!(vip > 0 && vip < 24);
    assert_eq!(env.sellsy_contacts().len(), vip);
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_daily_limit_pauses_and_a_restart_resumes() {
    let env = common::start(0, 30, FaultConfig::default()).await;
    env.ghl
        .state()
        .set_rate_limits(1_000_000, Duration::from_secs(10), 12);
    let engine = env.engine("").await;
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    let paused = r.paused.clone().expect("paused on the daily limit");
    assert!(paused.contains("daily"), "{paused}");
    assert!(!r.is_clean());
    let status = hlbridge_engine::admin::status(engine.store().as_ref()).unwrap();
    assert!(status.paused.is_some());
    let partial = env.ghl.state().contact_count();
    assert!(partial < 30);
    // The next day (limits reset): a fresh start finishes the job without duplicates.
    env.ghl
        .state()
        .set_rate_limits(1_000_000, Duration::from_secs(10), 10_000_000);
    drop(engine);
    let engine = env.engine("").await;
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(env.ghl.state().contact_count(), 30);
    let emails = common::email_counts(&env.ghl_contacts());
    assert!(emails.values().all(|n| *n == 1));
    assert!(hlbridge_engine::admin::status(engine.store().as_ref())
        .unwrap()
        .paused
        .is_none());
    let _: Vec<Value> = env.sellsy_contacts();
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updated_since_scope_skips_older_contacts() {
    let env = common::start(10, 10, FaultConfig::default()).await;
    // Sellsy seeds date from 2024, GHL seeds from the last year: only GHL's are recent.
    let engine = env.engine("[sync]\nupdated_since = \"2025-01-01\"\n").await;
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(
        env.sellsy_contacts().len(),
        20,
        "GHL's recent contacts reached Sellsy"
    );
    assert_eq!(
        env.ghl.state().contact_count(),
        10,
        "Sellsy's 2024 contacts stayed out"
    );
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_can_propagate() {
    let env = common::start(3, 3, FaultConfig::default()).await;
    // One of three linked contacts is a third: more than the guard's 10 %.
    let engine = env
        .engine("[sync]\ndeletions = \"propagate\"\ndeletion_guard_share = 0.5\n")
        .await;
    assert!(engine
        .run_once(false, &common::quiet())
        .await
        .unwrap()
        .is_clean());
    let g = env.ghl.state().contact_ids()[0].clone();
    let sid: i64 = env.partner(&engine, &g).parse().unwrap();
    env.ghl_client().contacts().delete(&g).await.unwrap();
    assert!(engine
        .run_once(false, &common::quiet())
        .await
        .unwrap()
        .is_clean());
    assert!(env.sellsy.state().store().contacts.get(sid).is_none());
    assert_eq!(env.sellsy_contacts().len(), 5);
    env.cleanup();
}
