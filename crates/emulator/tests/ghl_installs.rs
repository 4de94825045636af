//! Installing and uninstalling the app on locations at runtime: the control endpoints,
//! the signed `INSTALL` / `UNINSTALL` webhooks, and tokens refused after an uninstall.

#[path = "ghl_support.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator, LocationSpec};
use serde_json::{json, Value};
use support::{client, emulator, roomy, Api, VERSION};

type Received = Arc<Mutex<Vec<(Vec<u8>, String)>>>;

async fn receive(State(got): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let sig = headers
        .get("x-ghl-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    got.lock().unwrap().push((body.to_vec(), sig));
    StatusCode::OK
}

async fn receiver() -> (String, Received) {
    let got = Received::default();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

/// The first received event of `kind` (waits up to 10 s), its signature verified with
/// the emulator's published key.
async fn signed_event(emu: &GhlEmulator, got: &Received, kind: &str, nth: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    let key = VerifyingKey::from_public_key_pem(&emu.public_key_pem).unwrap();
    loop {
        let events: Vec<(Vec<u8>, String)> = got
            .lock()
            .unwrap()
            .iter()
            .filter(|(body, _)| {
                serde_json::from_slice::<Value>(body).is_ok_and(|v| v["type"] == kind)
            })
            .cloned()
            .collect();
        if let Some((body, sig)) = events.get(nth) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(sig)
                .expect("base64 signature");
            let sig = Signature::from_slice(&raw).unwrap();
            key.verify(body, &sig).expect("signature verifies");
            assert!(key.verify(b"{}", &sig).is_err());
            return serde_json::from_slice(body).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no {kind} #{nth} received in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn control(
    emu: &GhlEmulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client().request(method, format!("{}{path}", emu.base_url));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn mint(emu: &GhlEmulator, location: &str) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/oauth/locationToken", emu.base_url))
        .bearer_auth("pit-agency")
        .header("Version", VERSION)
        .form(&[("companyId", "company-emulator"), ("locationId", location)])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn api_for(emu: &GhlEmulator, token: &str, location: &str) -> Api {
    let mut api = Api::new(emu).with_token(token);
    api.location = location.to_string();
    api
}

async fn installed_ids(emu: &GhlEmulator, filter: &str) -> Vec<(String, bool)> {
    let (status, body) = Api::new(emu)
        .with_token("pit-agency")
        .get(&format!(
            "/oauth/installedLocations?companyId=company-emulator&appId=a{filter}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["_id"].as_str().unwrap().to_string(),
                l["isInstalled"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn install_and_uninstall_send_signed_events_and_gate_tokens() {
    let (url, got) = receiver().await;
    let emu = emulator(GhlConfig {
        agency_token: Some("pit-agency".into()),
        webhook_url: Some(url),
        ..roomy()
    })
    .await;
    let app_id = emu.state().app_id();

    // Install a new location.
    let (status, body) = control(
        &emu,
        reqwest::Method::POST,
        "/emulator/locations",
        Some(json!({"id": "loc-new", "name": "New shop"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["location"]["installed"], true);
    assert!(
        body["location"].get("token").is_none(),
        "tokens are never shown"
    );
    let install = signed_event(&emu, &got, "INSTALL", 0).await;
    assert_eq!(install["appId"], app_id.as_str());
    assert_eq!(install["companyId"], "company-emulator");
    assert_eq!(install["locationId"], "loc-new");
    assert_eq!(install["installType"], "Location");
    assert!(install["userId"].is_string());
    assert!(install["timestamp"].is_string() && install["webhookId"].is_string());
    assert_eq!(
        installed_ids(&emu, "&isInstalled=true").await,
        vec![("loc-emulator".into(), true), ("loc-new".into(), true)]
    );

    // Its tokens work: the default PIT and a minted OAuth location token.
    let pit = api_for(&emu, "pit-loc-new", "loc-new");
    let kept = pit.create_contact(json!({"firstName": "Kept"})).await;
    let (status, minted) = mint(&emu, "loc-new").await;
    assert_eq!(status, 200, "{minted}");
    let oauth = api_for(&emu, minted["access_token"].as_str().unwrap(), "loc-new");
    assert_eq!(oauth.get("/contacts/?locationId=loc-new").await.0, 200);
    let (status, body) = control(
        &emu,
        reqwest::Method::POST,
        "/emulator/locations",
        Some(json!({"id": "loc-new"})),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Uninstall: UNINSTALL sent, every token of the location 401.
    let (status, body) = control(
        &emu,
        reqwest::Method::DELETE,
        "/emulator/locations/loc-new",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["location"]["installed"], false);
    let uninstall = signed_event(&emu, &got, "UNINSTALL", 0).await;
    assert_eq!(uninstall["appId"], app_id.as_str());
    assert_eq!(uninstall["locationId"], "loc-new");
    assert_eq!(uninstall["companyId"], "company-emulator");
    assert!(uninstall["webhookId"].is_string());
    for api in [&pit, &oauth] {
        let (status, body) = api.get("/contacts/?locationId=loc-new").await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["message"], "Invalid token: access token is invalid");
    }
    let (status, body) = mint(&emu, "loc-new").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        installed_ids(&emu, "&isInstalled=true").await,
        vec![("loc-emulator".into(), true)]
    );
    assert_eq!(
        installed_ids(&emu, "").await,
        vec![("loc-emulator".into(), true), ("loc-new".into(), false)]
    );
    // The primary location is untouched.
    assert_eq!(
        Api::new(&emu)
            .get("/contacts/?locationId=loc-emulator")
            .await
            .0,
        200
    );

    // Errors of the control endpoints name the problem.
    let (status, body) = control(
        &emu,
        reqwest::Method::DELETE,
        "/emulator/locations/loc-new",
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = control(
        &emu,
        reqwest::Method::DELETE,
        "/emulator/locations/loc-zzz",
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(body["message"].as_str().unwrap().contains("loc-zzz"));
    let (status, body) = control(
        &emu,
        reqwest::Method::POST,
        "/emulator/locations",
        Some(json!({"id": "bad id"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = control(
        &emu,
        reqwest::Method::POST,
        "/emulator/locations",
        Some(json!({"id": "loc-other", "token": "pit-emulator"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("loc-emulator"));
    let (status, _) = control(
        &emu,
        reqwest::Method::POST,
        "/emulator/locations",
        Some(json!({"name": "no id"})),
    )
    .await;
    assert_eq!(status, 400);

    // Reinstall: a second INSTALL, the PIT works again and the data is still there;
    // the OAuth token revoked at uninstall stays revoked.
    let (status, body) = control(
        &emu,
        reqwest::Method::POST,
        "/emulator/locations",
        Some(json!({"id": "loc-new"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["location"]["name"], "New shop");
    let again = signed_event(&emu, &got, "INSTALL", 1).await;
    assert_eq!(again["locationId"], "loc-new");
    assert_ne!(again["webhookId"], install["webhookId"]);
    let (status, body) = pit.get(&format!("/contacts/{kept}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(oauth.get("/contacts/?locationId=loc-new").await.0, 401);

    let (_, listed) = control(&emu, reqwest::Method::GET, "/emulator/locations", None).await;
    let rows = listed["locations"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{listed}");
    assert_eq!(rows[0]["primary"], true);
}

#[tokio::test]
async fn uninstalled_locations_refuse_refresh_and_consent_reinstalls() {
    let emu = emulator(GhlConfig {
        agency_token: Some("pit-agency".into()),
        extra_locations: vec![LocationSpec::new("loc-b")],
        ..roomy()
    })
    .await;
    let config = emu.state().config().clone();
    let redirect = "http://localhost:9999/cb";
    let authorize = || {
        client()
            .get(format!(
                "{}/oauth/chooselocation?response_type=code&client_id={}&redirect_uri={}&approve=true&locationId=loc-b",
                emu.base_url,
                config.client_id,
                url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
            ))
            .send()
    };
    let code_of = |resp: reqwest::Response| {
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let token = |form: Vec<(&'static str, String)>| {
        let mut all = vec![
            ("client_id", config.client_id.clone()),
            ("client_secret", config.client_secret.clone()),
        ];
        all.extend(form);
        client()
            .post(format!("{}/oauth/token", emu.base_url))
            .form(&all)
            .send()
    };
    let code = code_of(authorize().await.unwrap());
    let issued: Value = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", redirect.into()),
    ])
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(issued["locationId"], "loc-b");
    let refresh = issued["refresh_token"].as_str().unwrap().to_string();

    emu.uninstall_location("loc-b").unwrap();
    let resp = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 400, "the refresh token was revoked");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // Approving the consent for the uninstalled location installs it again.
    let resp = authorize().await.unwrap();
    assert_eq!(resp.status(), 302);
    let installs: Vec<Value> = emu
        .state()
        .webhook_records()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .filter(|b| b["type"] == "INSTALL")
        .collect();
    assert_eq!(installs.len(), 1);
    assert_eq!(installs[0]["locationId"], "loc-b");
    let fresh: Value = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code_of(resp)),
        ("redirect_uri", redirect.into()),
    ])
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let api = api_for(&emu, fresh["access_token"].as_str().unwrap(), "loc-b");
    assert_eq!(api.get("/contacts/?locationId=loc-b").await.0, 200);
    assert_eq!(
        emu.state().installed_location_ids(),
        vec!["loc-emulator", "loc-b"]
    );
}
