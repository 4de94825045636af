//! The emulator's OAuth server: authorization code with PKCE S256, rotating refresh
//! tokens, client credentials, and the JWT access tokens the API accepts.

mod sellsy_support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hlbridge_emulator::sellsy::{start, SellsyConfig, SellsyEmulator};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn emulator() -> SellsyEmulator {
    start(SellsyConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Approve an authorization request and return the code from the redirect.
async fn authorize(emu: &SellsyEmulator, verifier: &str) -> String {
    let config = emu.state().config();
    let url = reqwest::Url::parse_with_params(
        &emu.authorize_url(),
        &[
            ("response_type", "code"),
            ("client_id", config.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge(verifier)),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
        ],
    )
    .unwrap();
    let page = no_redirects().get(url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("approve=true"));

    let approved = no_redirects()
        .get(format!("{url}&approve=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 302);
    let location = reqwest::Url::parse(approved.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT));
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("xyz"));
    param("code").unwrap()
}

async fn token_request(emu: &SellsyEmulator, body: Value, as_form: bool) -> (u16, Value) {
    let req = reqwest::Client::new().post(emu.token_url());
    let req = if as_form {
        let pairs: Vec<(String, String)> = body
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        req.form(&pairs)
    } else {
        req.json(&body)
    };
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn authorization_code_with_pkce_round_trip() {
    let emu = emulator().await;
    let client_id = emu.state().config().client_id.clone();

    let code = authorize(&emu, VERIFIER).await;
    let wrong = json!({"grant_type": "authorization_code", "client_id": client_id, "redirect_uri": REDIRECT,
                       "code_verifier": format!("{VERIFIER}-wrong"), "code": code});
    let (status, body) = token_request(&emu, wrong, false).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");

    // The failed attempt burnt that code; a fresh one with the right verifier works.
    let code = authorize(&emu, VERIFIER).await;
    let good = json!({"grant_type": "authorization_code", "client_id": client_id, "redirect_uri": REDIRECT,
                      "code_verifier": VERIFIER, "code": code});
    let (status, body) = token_request(&emu, good.clone(), true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["refresh_token"].is_string());
    let access = body["access_token"].as_str().unwrap();
    let claims = claims(access);
    assert_eq!(claims["corpId"], emu.state().corp_id());
    assert_eq!(claims["userId"], 1);
    assert!(claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());

    let (status, _) = token_request(&emu, good, false).await;
    assert_eq!(status, 400, "a code works once");

    let me = reqwest::Client::new()
        .get(format!("{}/staffs/me", emu.base_url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn pkce_is_mandatory() {
    let emu = emulator().await;
    let client_id = emu.state().config().client_id.clone();
    for method in ["plain", ""] {
        let url = reqwest::Url::parse_with_params(
            &emu.authorize_url(),
            &[
                ("response_type", "code"),
                ("client_id", client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_challenge", &challenge(VERIFIER)),
                ("code_challenge_method", method),
                ("approve", "true"),
            ],
        )
        .unwrap();
        let resp = no_redirects().get(url).send().await.unwrap();
        assert_eq!(resp.status(), 400, "method {method:?}");
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_are_single_use() {
    let emu = emulator().await;
    let config = emu.state().config().clone();
    let code = authorize(&emu, VERIFIER).await;
    let (_, first) = token_request(
        &emu,
        json!({"grant_type": "authorization_code", "client_id": config.client_id, "redirect_uri": REDIRECT,
               "code_verifier": VERIFIER, "code": code}),
        false,
    )
    .await;
    let old = first["refresh_token"].as_str().unwrap().to_string();
    let refresh = |token: &str| {
        json!({"grant_type": "refresh_token", "client_id": config.client_id,
               "client_secret": config.client_secret, "refresh_token": token})
    };
    let (status, second) = token_request(&emu, refresh(&old), true).await;
    assert_eq!(status, 200);
    let new = second["refresh_token"].as_str().unwrap();
    assert_ne!(new, old);

    let (status, body) = token_request(&emu, refresh(&old), false).await;
    assert_eq!(status, 400, "the old refresh token is refused");
    assert_eq!(body["error"], "invalid_grant");

    let (status, _) = token_request(&emu, refresh(new), false).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn client_credentials_and_bearer_checks() {
    let emu = emulator().await;
    let config = emu.state().config().clone();
    let (status, body) = token_request(
        &emu,
        json!({"grant_type": "client_credentials", "client_id": config.client_id, "client_secret": config.client_secret}),
        false,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().unwrap();

    let (status, _) = token_request(
        &emu,
        json!({"grant_type": "client_credentials", "client_id": config.client_id, "client_secret": "nope"}),
        false,
    )
    .await;
    assert_eq!(status, 401);

    let http = reqwest::Client::new();
    let ok = http
        .get(format!("{}/contacts", emu.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for bad in [None, Some("garbage"), Some(&token[..token.len() - 2])] {
        let mut req = http.get(format!("{}/contacts", emu.base_url));
        if let Some(t) = bad {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], 401);
    }
}
