//! OAuth: consent redirect, code exchange, refresh rotation, expiry, location tokens.

#[path = "ghl_support.rs"]
mod support;

use std::time::Duration;

use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use serde_json::{json, Value};
use support::{client, emulator, Api, VERSION};

const REDIRECT: &str = "http://localhost:9999/callback";

/// Go through the consent shortcut and return the code.
async fn authorize(emu: &GhlEmulator, scope: &str) -> String {
    let config = emu.state().config().clone();
    let url = format!(
        "{}/oauth/chooselocation?response_type=code&client_id={}&redirect_uri={}&scope={}&state=s1&approve=true",
        emu.base_url,
        config.client_id,
        urlencode(REDIRECT),
        urlencode(scope)
    );
    let resp = client().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    let parsed = url::Url::parse(&location).unwrap();
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("state".into(), "s1".into())));
    pairs
        .into_iter()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v)
        .expect("code")
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn token(emu: &GhlEmulator, form: &[(&str, &str)]) -> (u16, Value) {
    let config = emu.state().config().clone();
    let mut all: Vec<(&str, &str)> = vec![
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.as_str()),
    ];
    all.extend_from_slice(form);
    let resp = client()
        .post(format!("{}/oauth/token", emu.base_url))
        .form(&all)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn code_exchange_refresh_rotation_and_expiry() {
    let emu = emulator(GhlConfig::default()).await;
    let code = authorize(&emu, "contacts.readonly contacts.write").await;
    let (status, body) = token(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("user_type", "Location"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86399);
    assert_eq!(body["userType"], "Location");
    assert_eq!(body["locationId"], "loc-emulator");
    assert_eq!(body["scope"], "contacts.readonly contacts.write");
    assert!(body["userId"].is_string());
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();

    // The code is single-use.
    let (status, body) = token(
        &emu,
        &[("grant_type", "authorization_code"), ("code", &code)],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");

    let api = Api::new(&emu).with_token(&access);
    let id = api.create_contact(json!({"firstName": "OAuth"})).await;
    assert_eq!(emu.state().contact_count(), 1);
    // Scopes are enforced: no calendars scope granted.
    let (status, body) = api.get("/calendars/?locationId=loc-emulator").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["message"],
        "The token is not authorized for this scope."
    );

    // Refresh rotates; the old refresh token is refused afterwards.
    let (status, body) = token(
        &emu,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access2 = body["access_token"].as_str().unwrap().to_string();
    let refresh2 = body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh, refresh2);
    let (status, body) = token(
        &emu,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["statusCode"], 400);

    // Forced expiry: every issued access token stops working.
    assert_eq!(emu.expire_tokens(), 2);
    let (status, body) = Api::new(&emu)
        .with_token(&access2)
        .get(&format!("/contacts/{id}"))
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Invalid token: access token is invalid");
    let (status, body) = token(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh2),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let fresh = Api::new(&emu).with_token(body["access_token"].as_str().unwrap());
    let (status, _) = fresh.get(&format!("/contacts/{id}")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn short_lived_tokens_expire() {
    let emu = emulator(GhlConfig {
        access_token_ttl: Duration::from_millis(1500),
        ..GhlConfig::default()
    })
    .await;
    let code = authorize(&emu, "contacts.readonly").await;
    let (_, body) = token(
        &emu,
        &[("grant_type", "authorization_code"), ("code", &code)],
    )
    .await;
    assert_eq!(body["expires_in"], 1);
    let api = Api::new(&emu).with_token(body["access_token"].as_str().unwrap());
    let (status, _) = api.get("/contacts/?locationId=loc-emulator").await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let (status, _) = api.get("/contacts/?locationId=loc-emulator").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bad_client_and_json_bodies() {
    let emu = emulator(GhlConfig::default()).await;
    let resp = client()
        .post(format!("{}/oauth/token", emu.base_url))
        .form(&[
            ("client_id", "x"),
            ("client_secret", "y"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "r"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let config = emu.state().config().clone();
    let code = authorize(&emu, "").await;
    let resp = client()
        .post(format!("{}/oauth/token", emu.base_url))
        .json(
            &json!({"client_id": config.client_id, "client_secret": config.client_secret,
            "grant_type": "authorization_code", "code": code, "user_type": "Company"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["userType"], "Company");
    assert!(body.get("locationId").is_none());
    assert_eq!(body["companyId"], "company-emulator");

    // A company token mints location tokens.
    let agency = body["access_token"].as_str().unwrap().to_string();
    let resp = client()
        .post(format!("{}/oauth/locationToken", emu.base_url))
        .bearer_auth(&agency)
        .header("Version", VERSION)
        .form(&[
            ("companyId", "company-emulator"),
            ("locationId", "loc-emulator"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["locationId"], "loc-emulator");
    let api = Api::new(&emu).with_token(body["access_token"].as_str().unwrap());
    api.create_contact(json!({"firstName": "Via agency"})).await;
    assert_eq!(emu.state().contact_count(), 1);
}

#[tokio::test]
async fn consent_page_and_agency_pit_location_token() {
    let emu = emulator(GhlConfig {
        agency_token: Some("pit-agency".into()),
        ..GhlConfig::default()
    })
    .await;
    let config = emu.state().config().clone();
    let page = client()
        .get(format!(
            "{}/v2/oauth/chooselocation?response_type=code&client_id={}&redirect_uri={}&scope=contacts.readonly",
            emu.base_url,
            config.client_id,
            urlencode(REDIRECT)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\" action=\"/oauth/chooselocation/approve\""));
    let resp = client()
        .post(format!("{}/oauth/chooselocation/approve", emu.base_url))
        .form(&[
            ("client_id", config.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "contacts.readonly"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let bad = client()
        .get(format!(
            "{}/oauth/chooselocation?client_id=unknown&redirect_uri={}",
            emu.base_url,
            urlencode(REDIRECT)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let resp = client()
        .post(format!("{}/oauth/locationToken", emu.base_url))
        .bearer_auth("pit-agency")
        .header("Version", VERSION)
        .form(&[
            ("companyId", "company-emulator"),
            ("locationId", "loc-emulator"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, body) = Api::new(&emu)
        .with_token("pit-agency")
        .get("/oauth/installedLocations?companyId=company-emulator&appId=a")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["locations"][0]["_id"], "loc-emulator");
}
