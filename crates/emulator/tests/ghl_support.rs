//! Helpers shared by the `ghl_*` integration tests (included with `#[path]`).
#![allow(dead_code)]

use std::time::Duration;

use hlbridge_emulator::ghl::{start, GhlConfig, GhlEmulator};
use reqwest::{Client, Method, Response};
use serde_json::Value;

pub const VERSION: &str = "2021-07-28";

pub async fn emulator(config: GhlConfig) -> GhlEmulator {
    start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator starts")
}

/// Defaults with a rate budget large enough for bulk tests.
pub fn roomy() -> GhlConfig {
    GhlConfig {
        rate_max: 1_000_000,
        daily_limit: 10_000_000,
        ..GhlConfig::default()
    }
}

pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A request with the PIT and the Version header.
pub struct Api {
    pub base: String,
    pub token: String,
    pub client: Client,
    pub location: String,
}

impl Api {
    pub fn new(emu: &GhlEmulator) -> Self {
        let config = emu.state().config().clone();
        Api {
            base: emu.base_url.clone(),
            token: config.token,
            client: client(),
            location: config.location_id,
        }
    }

    pub fn with_token(mut self, token: &str) -> Self {
        self.token = token.to_string();
        self
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let resp = self.raw(method, path, body).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    pub async fn raw(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token)
            .header("Version", VERSION);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(Method::DELETE, path, body).await
    }

    /// Create a contact and return its id.
    pub async fn create_contact(&self, body: Value) -> String {
        let mut body = body;
        body["locationId"] = Value::String(self.location.clone());
        let (status, v) = self.post("/contacts/", body).await;
        assert_eq!(status, 201, "{v}");
        v["contact"]["id"].as_str().expect("id").to_string()
    }
}

/// An error body without its `traceId` (which GHL adds to every response), after
/// checking that one is there.
#[allow(dead_code)]
pub fn without_trace(mut body: Value) -> Value {
    assert!(
        body["traceId"].is_string(),
        "traceId on every response: {body}"
    );
    if let Some(map) = body.as_object_mut() {
        map.remove("traceId");
    }
    body
}
