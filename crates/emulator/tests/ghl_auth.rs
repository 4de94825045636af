//! Auth, Version header, routing errors and the generic layer behind unserved operations.

#[path = "ghl_support.rs"]
mod support;

use hlbridge_emulator::ghl::GhlConfig;
use reqwest::Method;
use serde_json::json;
use support::{client, emulator, without_trace, Api, VERSION};

#[tokio::test]
async fn missing_or_unknown_token_is_401_with_ghl_body() {
    let emu = emulator(GhlConfig::default()).await;
    let url = format!("{}/contacts/abc", emu.base_url);
    let resp = client()
        .get(&url)
        .header("Version", VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers().contains_key("x-ratelimit-remaining"),
        "rate headers on every response"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        without_trace(body),
        json!({"statusCode": 401, "message": "Invalid token: access token is invalid", "error": "Unauthorized"})
    );
    let (status, _) = Api::new(&emu).with_token("nope").get("/contacts/abc").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn agency_token_on_location_route_is_not_authorized_for_scope() {
    let emu = emulator(GhlConfig {
        agency_token: Some("pit-agency".into()),
        ..GhlConfig::default()
    })
    .await;
    let (status, body) = Api::new(&emu)
        .with_token("pit-agency")
        .get("/contacts/abc")
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        body["message"],
        "The token is not authorized for this scope."
    );
    // The location PIT cannot call agency-only routes either.
    let (status, body) = Api::new(&emu)
        .get("/oauth/installedLocations?companyId=company-emulator&appId=x")
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["message"],
        "The token is not authorized for this scope."
    );
}

#[tokio::test]
async fn version_header_is_required_and_checked() {
    let emu = emulator(GhlConfig {
        seed_contacts: 1,
        ..GhlConfig::default()
    })
    .await;
    let api = Api::new(&emu);
    let id = emu.state().contact_ids()[0].clone();
    let url = format!("{}/contacts/{id}", emu.base_url);
    let resp = client()
        .get(&url)
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["statusCode"], 400);
    assert!(body["message"].as_str().unwrap().contains("Version"));
    let resp = client()
        .get(&url)
        .bearer_auth(&api.token)
        .header("Version", "latest")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "malformed version");
    // The official SDK sends one global value (2023-02-21) on every call: served.
    let resp = client()
        .get(&url)
        .bearer_auth(&api.token)
        .header("Version", "2023-02-21")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, body) = api.get(&format!("/contacts/{id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contact"]["id"], id.as_str());
}

#[tokio::test]
async fn strict_version_refuses_another_operations_value() {
    let emu = emulator(GhlConfig {
        seed_contacts: 1,
        strict_version: true,
        ..GhlConfig::default()
    })
    .await;
    let id = emu.state().contact_ids()[0].clone();
    let resp = client()
        .get(format!("{}/contacts/{id}", emu.base_url))
        .bearer_auth("pit-emulator")
        .header("Version", "2021-04-15")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("2021-07-28"));
}

#[tokio::test]
async fn unknown_path_is_nest_404() {
    let emu = emulator(GhlConfig::default()).await;
    let (status, body) = Api::new(&emu).get("/no/such/route").await;
    assert_eq!(status, 404);
    assert_eq!(
        without_trace(body),
        json!({"statusCode": 404, "message": "Cannot GET /no/such/route", "error": "Not Found"})
    );
}

#[tokio::test]
async fn operations_without_a_specific_handler_are_served_generically_never_501() {
    let emu = emulator(GhlConfig::default()).await;
    let api = Api::new(&emu);
    let (status, body) = api
        .get("/invoices/?altId=loc-emulator&altType=location&limit=10&offset=0")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["invoices"], json!([]), "{body}");
    // Validation still applies first.
    let (status, body) = api.get("/invoices/").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "Unprocessable Entity");
}

#[tokio::test]
async fn other_locations_are_forbidden() {
    let emu = emulator(GhlConfig::default()).await;
    let (status, body) = Api::new(&emu)
        .call(
            Method::POST,
            "/contacts/",
            Some(json!({"locationId": "someone-else", "firstName": "X"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(emu.state().contact_count(), 0);
}
