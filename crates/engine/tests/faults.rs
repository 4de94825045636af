//! With 10% 5xx, 5% 429 and 2% slow answers on both emulators, the sync still
//! converges: no duplicates, nothing lost, tasks and edits mirrored.

mod common;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_ghl::ContactInput;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_converges_under_faults() {
    let faults = FaultConfig {
        rate_5xx: 0.10,
        rate_429: 0.05,
        rate_slow: 0.02,
        slow_ms: 300,
        ..FaultConfig::default()
    };
    // Every injected 429 holds the whole account for its window, as on the real APIs
    // (GHL: the burst interval, shortened here to 200 ms; Sellsy: one second), so the
    // data set is kept small: the point is convergence, not volume.
    let env = common::start(40, 40, FaultConfig::default()).await;
    env.ghl
        .state()
        .set_rate_limits(1_000_000, std::time::Duration::from_millis(200), 10_000_000);
    env.overlap_emails(8);
    env.ghl.set_faults(faults.clone());
    env.sellsy.state().faults().set_config(faults);
    let started = std::time::Instant::now();
    let engine = loop {
        // Even connecting may meet a fault: retry like a supervisor would.
        let store = std::sync::Arc::new(
            hlbridge_engine::store::sqlite::SqliteStore::open(&env.db_path()).unwrap(),
        );
        match hlbridge_engine::Engine::connect_with(env.config(""), store, Default::default()).await
        {
            Ok(e) => break e,
            Err(e) => eprintln!("connect: {e}"),
        }
    };
    let mut clean = false;
    for round in 0..12 {
        match engine.run_once(false, &common::quiet()).await {
            Ok(r) => {
                eprintln!("round {round}: {}", r.line());
                if r.is_clean() && r.errors.is_empty() {
                    clean = true;
                    break;
                }
            }
            Err(e) => eprintln!("round {round}: {e}"),
        }
    }
    assert!(clean, "did not converge");
    assert_eq!(env.ghl.state().contact_count(), 72);
    assert_eq!(env.sellsy_contacts().len(), 72);
    for (e, n) in common::email_counts(&env.ghl_contacts()) {
        assert_eq!(n, 1, "duplicate {e} in GHL");
    }
    for (e, n) in common::email_counts(&env.sellsy_contacts()) {
        assert_eq!(n, 1, "duplicate {e} in Sellsy");
    }
    // Edits on both sides under faults.
    let ghl = env.ghl.state();
    let g = ghl.contact_ids()[3].clone();
    let sid: i64 = env.partner(&engine, &g).parse().unwrap();
    let gc = env.ghl_client();
    let sc = env.sellsy_client();
    let mut ok = false;
    for _ in 0..10 {
        if gc
            .contacts()
            .update(
                &g,
                &ContactInput {
                    city: Some("Annecy".into()),
                    ..ContactInput::default()
                },
            )
            .await
            .is_ok()
        {
            ok = true;
            break;
        }
    }
    assert!(ok);
    for _ in 0..10 {
        if sc
            .update_contact(sid, &json!({"website": "https://faults.example"}))
            .await
            .is_ok()
        {
            break;
        }
    }
    let mut clean = false;
    for _ in 0..12 {
        if let Ok(r) = engine.run_once(false, &common::quiet()).await {
            if r.is_clean() && r.errors.is_empty() {
                clean = true;
                break;
            }
        }
    }
    assert!(clean, "did not converge after the edits");
    assert_eq!(
        ghl.contact(&g).unwrap()["website"],
        "https://faults.example"
    );
    let st = env.sellsy.state();
    let store = st.store();
    let addr = store
        .contacts
        .get(sid)
        .and_then(|c| c.get("invoicing_address_id").and_then(|a| a.as_i64()));
    if let Some(a) = addr {
        assert_eq!(store.addresses.get(a).unwrap()["city"], "Annecy");
    }
    drop(store);
    assert_eq!(ghl.contact_count(), 72);
    assert_eq!(env.sellsy_contacts().len(), 72);
    // Tasks and notes mirrored one for one (no duplicate from a retried create).
    for link in engine
        .store()
        .links(hlbridge_engine::store::Kind::Contact, None)
        .unwrap()
    {
        let sid: i64 = link.sellsy_id.parse().unwrap();
        assert_eq!(
            ghl.tasks_of(&link.ghl_id).len(),
            env.sellsy_tasks_of(sid).len(),
            "tasks of {}",
            link.ghl_id
        );
        assert_eq!(
            ghl.notes_of(&link.ghl_id).len(),
            env.sellsy_comments_of(sid).len(),
            "notes of {}",
            link.ghl_id
        );
    }
    eprintln!(
        "converged in {:?}; faults served: {:?}",
        started.elapsed(),
        ghl.stats().faults
    );
    env.cleanup();
}
