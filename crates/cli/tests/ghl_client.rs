//! The GHL client against the GHL emulator: rate budget, token refresh, retries.

use std::sync::Arc;
use std::time::Duration;

use hlbridge_core::auth::{MemoryTokenStore, TokenManager, TokenStore};
use hlbridge_core::http::ExecutorStats;
use hlbridge_core::optable::TokenType;
use hlbridge_core::rate::{RateBudget, Window};
use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::ghl::{start, GhlConfig, GhlEmulator};
use hlbridge_ghl::oauth::{GhlOAuth, UserType};
use hlbridge_ghl::{CallInput, ContactInput, GhlAuth, GhlClient};

const TOKEN: &str = "pit-test";
const LOCATION: &str = "loc-test";

async fn emulator(config: GhlConfig) -> GhlEmulator {
    start(
        GhlConfig {
            token: TOKEN.into(),
            location_id: LOCATION.into(),
            ..config
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("emulator starts")
}

fn pit_client(emu: &GhlEmulator, budget: Arc<RateBudget>) -> GhlClient {
    GhlClient::builder()
        .base_url(&emu.base_url)
        .auth(GhlAuth::LocationToken(TOKEN.into()))
        .location_id(LOCATION)
        .budget(budget)
        .build()
        .unwrap()
}

async fn new_contact(client: &GhlClient, n: usize) -> String {
    let input = ContactInput {
        first_name: Some(format!("First{n}")),
        email: Some(format!("person{n}@example.com")),
        ..Default::default()
    };
    client.contacts().create(&input).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_concurrent_requests_get_no_429() {
    // 100 requests per 10 s, scaled down in time to 100 per second.
    let emu = emulator(GhlConfig {
        rate_max: 100,
        rate_interval: Duration::from_secs(1),
        ..GhlConfig::default()
    })
    .await;
    let budget = Arc::new(RateBudget::new(vec![Window::new(
        100,
        Duration::from_secs(1),
    )]));
    let client = Arc::new(pit_client(&emu, budget));
    let id = new_contact(&client, 0).await;
    let mut tasks = Vec::new();
    for _ in 0..300 {
        let client = client.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(
            async move { client.contacts().get(&id).await },
        ));
    }
    for t in tasks {
        let contact = t.await.unwrap().expect("every request succeeds");
        assert_eq!(contact.id, id);
    }
    let stats = client.executor().stats();
    assert_eq!(
        ExecutorStats::get(&stats.responses_429),
        0,
        "the client received a 429"
    );
    assert_eq!(
        emu.state().stats().rate_limited,
        0,
        "the emulator served a 429"
    );
    assert!(emu.state().stats().requests >= 301);
}

/// Authorize through the emulator's consent page and exchange the code.
async fn oauth_connect(
    emu: &GhlEmulator,
    store: Arc<dyn TokenStore>,
) -> (Arc<TokenManager>, Arc<GhlOAuth>) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cfg = emu.state().config().clone();
    let redirect = "http://127.0.0.1:9/callback";
    let resp = http
        .get(format!("{}/oauth/chooselocation", emu.base_url))
        .query(&[
            ("response_type", "code"),
            ("client_id", cfg.client_id.as_str()),
            ("redirect_uri", redirect),
            ("scope", "contacts.readonly contacts.write"),
            ("approve", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let url = url::Url::parse(&location).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code in redirect");

    let exec = Arc::new(
        hlbridge_core::http::Executor::new(
            &emu.base_url,
            Arc::new(hlbridge_ghl::flavor::GhlFlavor),
            Arc::new(RateBudget::ghl_default()),
            None,
        )
        .unwrap(),
    );
    let oauth = Arc::new(GhlOAuth::new(
        exec,
        &cfg.client_id,
        &cfg.client_secret,
        UserType::Location,
    ));
    let tokens = oauth.exchange_code(&code, Some(redirect)).await.unwrap();
    assert!(tokens.refresh().is_some());
    let manager =
        Arc::new(TokenManager::create("ghl:test", store, Some(oauth.clone()), tokens).unwrap());
    (manager, oauth)
}

fn oauth_client(emu: &GhlEmulator, manager: Arc<TokenManager>) -> GhlClient {
    GhlClient::builder()
        .base_url(&emu.base_url)
        .auth(GhlAuth::OAuth {
            manager,
            token_type: TokenType::Location,
        })
        .location_id(LOCATION)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_refreshed_once_for_fifty_callers_and_never_reused() {
    let emu = emulator(GhlConfig::default()).await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
    let (manager, oauth) = oauth_connect(&emu, store.clone()).await;
    let client = Arc::new(oauth_client(&emu, manager.clone()));
    let id = new_contact(&client, 1).await;

    for round in 1..=2u64 {
        let before = store.load("ghl:test").unwrap().unwrap();
        let old_refresh = before.refresh().unwrap().to_string();
        assert!(
            emu.state().expire_tokens() > 0,
            "the emulator expired the access token"
        );
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let client = client.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(
                async move { client.contacts().get(&id).await },
            ));
        }
        for t in tasks {
            t.await.unwrap().expect("call succeeds after the refresh");
        }
        assert_eq!(
            manager.refresh_count(),
            round,
            "exactly one refresh per expiry"
        );
        let after = store.load("ghl:test").unwrap().unwrap();
        let new_refresh = after.refresh().unwrap().to_string();
        assert_ne!(
            new_refresh, old_refresh,
            "the rotated refresh token was stored"
        );
        // The spent refresh token is refused by the server...
        let reuse = oauth.refresh_tokens(&old_refresh).await;
        assert!(
            reuse.is_err(),
            "a rotated refresh token must not work twice"
        );
    }
    // ...and the client kept working with the rotated one both times.
    client.contacts().get(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_calls_survive_twenty_percent_server_errors() {
    let emu = emulator(GhlConfig::default()).await;
    let client = pit_client(&emu, Arc::new(RateBudget::ghl_default()));
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(new_contact(&client, 100 + n).await);
    }
    // Seeded: the calls are sequential, so every run draws the same faults (six 5xx in a
    // row, which no retry policy survives, would otherwise hit about one run in eighty).
    emu.state().seed_faults(20);
    emu.state().set_faults(FaultConfig {
        rate_5xx: 0.2,
        ..FaultConfig::default()
    });
    for round in 0..20 {
        for (n, id) in ids.iter().enumerate() {
            let got = client
                .contacts()
                .get(id)
                .await
                .expect("GET retried to success");
            assert_eq!(&got.id, id);
            let update = ContactInput {
                city: Some(format!("City {round}-{n}")),
                ..Default::default()
            };
            client
                .contacts()
                .update(id, &update)
                .await
                .expect("PUT retried to success");
        }
    }
    let body = client
        .call(
            "contacts.get-contacts",
            CallInput::new().param("limit", 100),
        )
        .await
        .expect("list retried to success");
    assert!(body["contacts"].as_array().map(|a| a.len()).unwrap_or(0) >= 5);
    emu.state().set_faults(FaultConfig::default());
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(
            emu.state().contact(id).unwrap()["city"],
            format!("City 19-{n}")
        );
    }
    let served_5xx: u64 = emu
        .state()
        .stats()
        .by_status
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, c)| c)
        .sum();
    assert!(served_5xx > 10, "faults were injected ({served_5xx})");
    assert!(ExecutorStats::get(&client.executor().stats().retries) > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_token_is_minted_from_an_agency_token_and_refreshed_by_minting_again() {
    let emu = emulator(GhlConfig {
        agency_token: Some("pit-agency".into()),
        ..GhlConfig::default()
    })
    .await;
    let company = emu.state().config().company_id.clone();
    let agency = Arc::new(
        GhlClient::builder()
            .base_url(&emu.base_url)
            .auth(GhlAuth::AgencyToken("pit-agency".into()))
            .company_id(&company)
            .build()
            .unwrap(),
    );
    // An agency token cannot call a location operation: refused before sending.
    let before = emu.state().stats().requests;
    let refused = agency.contacts().get("x").await.unwrap_err();
    assert!(
        matches!(refused, hlbridge_core::Error::NotPermitted(_)),
        "{refused}"
    );
    assert_eq!(emu.state().stats().requests, before);

    let minter = Arc::new(hlbridge_ghl::oauth::LocationTokenMinter::new(
        agency, &company, LOCATION,
    ));
    let tokens = minter.mint().await.unwrap();
    assert_eq!(tokens.extra_str("locationId"), Some(LOCATION));
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
    let manager =
        Arc::new(TokenManager::create("ghl:minted", store, Some(minter), tokens).unwrap());
    let client = oauth_client(&emu, manager.clone());
    let id = new_contact(&client, 7).await;
    emu.state().expire_tokens();
    assert_eq!(client.contacts().get(&id).await.unwrap().id, id);
    assert_eq!(
        manager.refresh_count(),
        1,
        "an expired location token is minted again"
    );
}

#[tokio::test]
async fn secrets_never_show_in_debug_output() {
    let client = GhlClient::builder()
        .base_url("http://127.0.0.1:9")
        .auth(GhlAuth::LocationToken("pit-SECRET-value".into()))
        .location_id(LOCATION)
        .build()
        .unwrap();
    let shown = format!("{client:?} {:?}", client.auth());
    assert!(!shown.contains("SECRET"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_daily_limit_stops_calls_at_once() {
    let emu = emulator(GhlConfig {
        daily_limit: 4,
        ..GhlConfig::default()
    })
    .await;
    let client = pit_client(&emu, Arc::new(RateBudget::ghl_default()));
    let id = new_contact(&client, 9).await;
    for _ in 0..3 {
        client.contacts().get(&id).await.unwrap();
    }
    let sent = emu.state().stats().requests;
    let err = client.contacts().get(&id).await.unwrap_err();
    assert!(
        matches!(err, hlbridge_core::Error::DailyLimitReached { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("daily"), "{err}");
    assert_eq!(
        emu.state().stats().requests,
        sent,
        "nothing sent once the day is spent"
    );
    assert_eq!(
        ExecutorStats::get(&client.executor().stats().responses_429),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_scope_is_named_before_any_request() {
    let emu = emulator(GhlConfig::default()).await;
    let mut tokens = hlbridge_core::auth::Tokens::static_token("read-only-token");
    tokens.scope = Some("contacts.readonly".into());
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
    let manager = Arc::new(TokenManager::create("ghl:scoped", store, None, tokens).unwrap());
    let client = oauth_client(&emu, manager);
    let before = emu.state().stats().requests;
    let err = client
        .contacts()
        .create(&ContactInput {
            first_name: Some("Nope".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, hlbridge_core::Error::NotPermitted(_)),
        "{err}"
    );
    assert!(
        err.to_string().contains("contacts.write"),
        "names the missing scope: {err}"
    );
    assert_eq!(emu.state().stats().requests, before, "nothing was sent");
}
