//! Rate limits against the emulator: the client paces on the quota headers so no 429
//! reaches the caller, waits out a 429 when one comes, and reports 402 without retrying.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::future::join_all;
use hlbridge_core::error::Error;
use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::sellsy::SellsyConfig;
use hlbridge_sellsy::{CallInput, Contact};

fn three_per_second() -> SellsyConfig {
    SellsyConfig {
        quota_per_second: 3,
        seed_contacts: 5,
        ..SellsyConfig::default()
    }
}

#[tokio::test]
async fn concurrent_calls_are_paced_on_known_quotas() {
    let emu = support::emulator(three_per_second()).await;
    let client = support::client(&emu).await;
    let started = Instant::now();
    let calls =
        (0..12).map(|_| client.call("contacts.get-list", CallInput::new().param("limit", 1)));
    for result in join_all(calls).await {
        assert!(result.is_ok(), "{result:?}");
    }
    let stats = client.executor().stats();
    assert_eq!(
        stats.responses_429.load(Ordering::SeqCst),
        0,
        "the server never had to refuse"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "12 calls at 3/s take 3 s or more"
    );
}

#[tokio::test]
async fn headers_alone_are_enough_to_pace() {
    let emu = support::emulator(three_per_second()).await;
    let client = hlbridge_sellsy::SellsyClient::builder()
        .base_url(&emu.base_url)
        .auth(hlbridge_sellsy::SellsyAuth::Token(
            emu.state().mint_access_token(),
        ))
        .build()
        .unwrap();
    for _ in 0..8 {
        client
            .call("contacts.get-list", CallInput::new())
            .await
            .unwrap();
    }
    assert_eq!(
        client
            .executor()
            .stats()
            .responses_429
            .load(Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn a_429_is_waited_out_not_returned() {
    let emu = support::emulator(support::quick(1)).await;
    let client = support::client(&emu).await;
    let faults = emu.state().faults().clone();
    faults.set_config(FaultConfig {
        rate_429: 1.0,
        ..FaultConfig::default()
    });
    let reset = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        faults.set_config(FaultConfig::default());
    });
    let body = client
        .call("contacts.get-list", CallInput::new())
        .await
        .unwrap();
    assert_eq!(body["pagination"]["total"], 1);
    assert!(
        client
            .executor()
            .stats()
            .responses_429
            .load(Ordering::SeqCst)
            >= 1
    );
    reset.await.unwrap();
}

#[tokio::test]
async fn plan_quota_is_a_distinct_error_and_not_retried() {
    let emu = support::emulator(support::quick(0)).await;
    let client = support::client(&emu).await;
    emu.state().set_plan_quota_reached(true);
    let before = client.executor().stats().attempts.load(Ordering::SeqCst);
    let refused = client
        .create_contact(&Contact {
            last_name: Some("Over".into()),
            ..Contact::default()
        })
        .await;
    assert!(
        matches!(refused, Err(Error::PlanQuota { .. })),
        "{refused:?}"
    );
    assert_eq!(
        client.executor().stats().attempts.load(Ordering::SeqCst),
        before + 1,
        "sent once"
    );
}
