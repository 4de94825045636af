//! Fault injection answers in Sellsy's own envelope (with the quota headers), and
//! seeding is deterministic and realistic.

mod sellsy_support;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::sellsy::SellsyConfig;
use sellsy_support::Api;

#[tokio::test]
async fn faults_use_the_sellsy_error_envelope() {
    let api = Api::with_seed(0).await;
    let faults = api.emu.state().faults().clone();
    for (config, status) in [
        (
            FaultConfig {
                rate_5xx: 1.0,
                ..FaultConfig::default()
            },
            None,
        ),
        (
            FaultConfig {
                rate_429: 1.0,
                ..FaultConfig::default()
            },
            Some(429),
        ),
        (
            FaultConfig {
                rate_expired_token: 1.0,
                ..FaultConfig::default()
            },
            Some(401),
        ),
    ] {
        faults.set_config(config);
        let r = api.get("/contacts").await;
        match status {
            Some(s) => assert_eq!(r.status, s),
            None => assert!(r.status >= 500, "{}", r.status),
        }
        assert_eq!(r.body["error"]["code"], r.status);
        assert!(r.header("x-quota-remaining-by-second").is_some());
    }
    faults.set_config(FaultConfig::default());
    assert_eq!(api.get("/contacts").await.status, 200);
    assert!(faults.counts().server_error >= 1);
}

#[tokio::test]
async fn faults_can_be_configured_at_start() {
    let config = SellsyConfig {
        faults: FaultConfig {
            rate_5xx: 1.0,
            ..FaultConfig::default()
        },
        ..SellsyConfig::default()
    };
    let api = Api::start(config).await;
    assert!(api.get("/staffs/me").await.status >= 500);
    let token = reqwest::Client::new()
        .post(api.emu.token_url())
        .json(&serde_json::json!({"grant_type": "client_credentials", "client_id": api.emu.state().config().client_id,
                                  "client_secret": api.emu.state().config().client_secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200, "the OAuth server is not faulted");
}

#[tokio::test]
async fn seeding_is_deterministic_and_realistic() {
    let a = Api::with_seed(30).await;
    let b = Api::with_seed(30).await;
    let strip = |api: &Api| {
        let state = api.emu.state();
        let store = state.store();
        let contacts: Vec<_> = store.contacts.rows.values().cloned().collect();
        let companies: Vec<_> = store.companies.rows.values().cloned().collect();
        (
            contacts,
            companies,
            store.tasks.len(),
            store.comments.len(),
            store.company_contacts.len(),
        )
    };
    let (ca, coa, ta, cma, la) = strip(&a);
    let (cb, cob, tb, cmb, lb) = strip(&b);
    assert_eq!(ca, cb);
    assert_eq!(coa, cob);
    assert_eq!((ta, cma, la), (tb, cmb, lb));
    assert_eq!(ca.len(), 30);
    assert!(
        !coa.is_empty() && ta > 0 && cma > 0 && la > 0,
        "some contacts have companies, tasks, comments"
    );
    assert!(ca
        .iter()
        .all(|c| c["email"].as_str().is_some_and(|e| e.contains('@'))));

    let me = a.get("/staffs/me").await;
    assert_eq!(me.body["id"], 1);
    assert_eq!(a.get("/staffs/0").await.status, 404);
    assert_eq!(a.get("/staffs/abc").await.status, 400);
    let labels = a.get("/tasks/labels").await;
    assert!(labels.body["pagination"]["total"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn documented_seek_examples_are_accepted() {
    let api = Api::with_seed(700).await;
    let page = api
        .get("/contacts?offset=WzIwMTQtMDEtMDEsNTk4XQ%3D%3D&limit=5")
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body["data"][0]["id"], 599, "after id 598");
    let page = api.get("/contacts?offset=WyIxMSJd&limit=1").await;
    assert_eq!(page.body["data"][0]["id"], 12);
}
