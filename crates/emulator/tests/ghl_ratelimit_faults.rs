//! Rate-limit headers and 429s; injected faults and their rates; faults never mutate state.

#[path = "ghl_support.rs"]
mod support;

use std::time::Duration;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::ghl::GhlConfig;
use reqwest::Method;
use serde_json::{json, Value};
use support::{emulator, roomy, without_trace, Api};

fn header(resp: &reqwest::Response, name: &str) -> u64 {
    resp.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn burst_limit_headers_and_429() {
    let emu = emulator(GhlConfig {
        rate_max: 5,
        rate_interval: Duration::from_millis(800),
        daily_limit: 7,
        ..GhlConfig::default()
    })
    .await;
    let api = Api::new(&emu);
    let path = format!("/contacts/?locationId={}", api.location);
    for expected_remaining in (0..5).rev() {
        let resp = api.raw(Method::GET, &path, None).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-ratelimit-max"), 5);
        assert_eq!(header(&resp, "x-ratelimit-interval-milliseconds"), 800);
        assert_eq!(header(&resp, "x-ratelimit-limit-daily"), 7);
        assert_eq!(header(&resp, "x-ratelimit-remaining"), expected_remaining);
    }
    let resp = api.raw(Method::GET, &path, None).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-ratelimit-remaining"), 0);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        without_trace(body),
        json!({"statusCode": 429, "message": "Too Many Requests"})
    );

    tokio::time::sleep(Duration::from_millis(900)).await;
    let resp = api.raw(Method::GET, &path, None).await;
    assert_eq!(resp.status(), 200, "burst window reset");
    assert_eq!(header(&resp, "x-ratelimit-daily-remaining"), 1);
    api.raw(Method::GET, &path, None).await;
    let resp = api.raw(Method::GET, &path, None).await;
    assert_eq!(resp.status(), 429, "daily cap");
    assert_eq!(header(&resp, "x-ratelimit-daily-remaining"), 0);
    let stats = emu.state().stats();
    assert_eq!(stats.rate_limited, 2);
}

#[tokio::test]
async fn limits_are_per_token_and_location() {
    let emu = emulator(GhlConfig {
        rate_max: 2,
        agency_token: Some("pit-agency".into()),
        ..GhlConfig::default()
    })
    .await;
    let loc = Api::new(&emu);
    for _ in 0..2 {
        loc.get("/contacts/?locationId=loc-emulator").await;
    }
    let (status, _) = loc.get("/contacts/?locationId=loc-emulator").await;
    assert_eq!(status, 429);
    let agency = Api::new(&emu).with_token("pit-agency");
    let (status, _) = agency
        .get("/oauth/installedLocations?companyId=company-emulator&appId=a")
        .await;
    assert_eq!(status, 200, "another key has its own budget");
}

#[tokio::test]
async fn fault_rates_are_roughly_honoured() {
    let faults = FaultConfig {
        rate_429: 0.2,
        rate_5xx: 0.2,
        rate_expired_token: 0.1,
        ..FaultConfig::default()
    };
    let emu = emulator(GhlConfig {
        faults,
        seed_contacts: 1,
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    let id = emu.state().contact_ids()[0].clone();
    let n = 600;
    let (mut too_many, mut server, mut expired, mut ok) = (0, 0, 0, 0);
    for _ in 0..n {
        let resp = api.raw(Method::GET, &format!("/contacts/{id}"), None).await;
        match resp.status().as_u16() {
            429 => {
                assert!(resp.headers().contains_key("x-ratelimit-remaining"));
                too_many += 1
            }
            500 | 502 | 503 => server += 1,
            401 => {
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["message"], "Invalid token: access token is invalid");
                expired += 1
            }
            200 => ok += 1,
            other => panic!("unexpected {other}"),
        }
    }
    let share = |k: i32| f64::from(k) / f64::from(n);
    assert!(
        (share(too_many) - 0.2).abs() < 0.07,
        "429 share {}",
        share(too_many)
    );
    assert!(
        (share(server) - 0.2).abs() < 0.07,
        "5xx share {}",
        share(server)
    );
    assert!(
        (share(expired) - 0.1).abs() < 0.05,
        "401 share {}",
        share(expired)
    );
    assert!((share(ok) - 0.5).abs() < 0.08, "ok share {}", share(ok));
    let stats = emu.state().stats();
    assert_eq!(
        stats.faults.too_many_requests + stats.faults.server_error + stats.faults.expired_token,
        (n - ok) as u64
    );
}

#[tokio::test]
async fn faulted_writes_never_change_state_and_drops_are_transport_errors() {
    let faults = FaultConfig {
        rate_5xx: 0.3,
        rate_drop: 0.2,
        rate_slow: 0.1,
        slow_ms: 20,
        ..FaultConfig::default()
    };
    let emu = emulator(GhlConfig {
        faults,
        allow_duplicate_contacts: true,
        ..roomy()
    })
    .await;
    let api = Api::new(&emu);
    let mut created = 0;
    let mut dropped = 0;
    for i in 0..150 {
        let request = api
            .client
            .post(format!("{}/contacts/", api.base))
            .bearer_auth(&api.token)
            .header("Version", support::VERSION)
            .json(&json!({"locationId": api.location, "firstName": format!("F{i}")}))
            .send()
            .await;
        match request {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.bytes().await {
                    Ok(_) if status == 201 => created += 1,
                    Ok(_) => assert!(status >= 500, "{status}"),
                    Err(_) => dropped += 1,
                }
            }
            Err(_) => dropped += 1,
        }
    }
    assert!(dropped > 10, "dropped {dropped}");
    assert_eq!(
        emu.state().contact_count(),
        created,
        "only served requests wrote"
    );
    assert_eq!(emu.state().stats().faults.dropped, dropped as u64);
    // Control endpoints are never faulted.
    for _ in 0..20 {
        let resp = api
            .client
            .get(format!("{}/emulator/health", api.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    // Faults can be switched off at runtime.
    emu.set_faults(FaultConfig::default());
    let id = api.create_contact(json!({"firstName": "calm"})).await;
    assert!(emu.state().contact(&id).is_some());
}
