//! Quotas: the four remaining-count headers on every response, 429 once a window is
//! spent, `GET /quotas`, and 402 while the plan's quota is reached.

mod sellsy_support;

use hlbridge_emulator::sellsy::SellsyConfig;
use sellsy_support::Api;
use serde_json::json;

#[tokio::test]
async fn headers_count_down_and_429_when_spent() {
    let api = Api::start(SellsyConfig {
        quota_per_second: 1_000,
        quota_per_day: 5,
        ..SellsyConfig::default()
    })
    .await;
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let r = api.get("/contacts").await;
        assert_eq!(r.status, 200);
        for h in [
            "x-quota-remaining-by-second",
            "x-quota-remaining-by-minute",
            "x-quota-remaining-by-month",
        ] {
            assert!(r.header(h).is_some(), "{h}");
        }
        remaining.push(r.header("x-quota-remaining-by-day").unwrap());
    }
    assert_eq!(remaining, vec![4, 3, 2, 1, 0]);
    let refused = api.get("/contacts").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["error"]["code"], 429);
    assert_eq!(refused.header("x-quota-remaining-by-day"), Some(0));
}

#[tokio::test]
async fn errors_carry_the_headers_too_and_quotas_report_usage() {
    let api = Api::with_seed(0).await;
    let missing = api.get("/contacts/999").await;
    assert_eq!(missing.status, 404);
    assert!(missing.header("x-quota-remaining-by-second").is_some());
    let unknown = api.get("/nowhere").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"]["code"], 404);
    let wrong_method = api.delete("/contacts").await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.body["error"]["code"], 405);
    let quotas = api.get("/quotas").await;
    assert_eq!(quotas.status, 200);
    assert_eq!(quotas.body["api_rate_days"]["used"], 4);
    assert_eq!(
        quotas.body["api_rate_days"]["limit"],
        api.emu.state().config().quota_per_day
    );
}

#[tokio::test]
async fn plan_quota_answers_402_on_writes() {
    let api = Api::with_seed(0).await;
    api.emu.state().set_plan_quota_reached(true);
    let refused = api.post("/contacts", json!({"last_name": "X"})).await;
    assert_eq!(refused.status, 402);
    assert_eq!(refused.body["error"]["code"], 402);
    assert_eq!(api.get("/contacts").await.status, 200);
    api.emu.state().set_plan_quota_reached(false);
    assert_eq!(
        api.post("/contacts", json!({"last_name": "X"}))
            .await
            .status,
        201
    );
}
