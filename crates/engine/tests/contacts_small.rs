//! A small two-way contact sync: match by e-mail, create the rest, map fields, and a
//! second cycle writes nothing.

mod common;

use hlbridge_emulator::faults::FaultConfig;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_two_way_sync_links_creates_and_goes_quiet() {
    let env = common::start(30, 30, FaultConfig::default()).await;
    let overlap = env.overlap_emails(5);
    let engine = env.engine("").await;
    let report = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.linked, 5, "{report:#?}");
    assert_eq!(env.ghl.state().contact_count(), 55);
    assert_eq!(env.sellsy_contacts().len(), 55);
    for (e, n) in common::email_counts(&env.ghl_contacts()) {
        assert_eq!(n, 1, "duplicate {e} in GHL");
    }
    for (e, n) in common::email_counts(&env.sellsy_contacts()) {
        assert_eq!(n, 1, "duplicate {e} in Sellsy");
    }
    // An overlapping contact keeps its GHL e-mail and got the Sellsy first name?
    let shared = &overlap[0];
    assert!(env
        .sellsy_contacts()
        .iter()
        .any(|c| c["email"] == Value::String(shared.clone())));

    let before = env.ghl.state().stats().by_operation.clone();
    let again = engine
        .run_once(false, &common::quiet())
        .await
        .expect("second cycle");
    assert!(again.is_clean(), "{again:#?}");
    assert_eq!(
        (
            again.ghl.created,
            again.ghl.updated,
            again.sellsy.created,
            again.sellsy.updated
        ),
        (0, 0, 0, 0),
        "{again:#?}"
    );
    let after = env.ghl.state().stats().by_operation.clone();
    for (op, n) in &after {
        let was = before.get(op).copied().unwrap_or(0);
        if !op.contains("search") && !op.contains("get") {
            assert_eq!(*n, was, "{op} was called during a no-change cycle");
        }
    }
    env.cleanup();
}
