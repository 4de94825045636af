//! Shared helpers for the Sellsy emulator tests: start an emulator, call it with a token.

#![allow(dead_code)]

use hlbridge_emulator::sellsy::{start, SellsyConfig, SellsyEmulator};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

pub struct Api {
    pub emu: SellsyEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

/// A response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<i64> {
        self.headers.get(name)?.to_str().ok()?.parse().ok()
    }
}

impl Api {
    pub async fn start(config: SellsyConfig) -> Api {
        let emu = start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let token = emu.state().mint_access_token();
        Api {
            emu,
            http: reqwest::Client::new(),
            token,
        }
    }

    pub async fn with_seed(contacts: usize) -> Api {
        Api::start(SellsyConfig {
            seed_contacts: contacts,
            quota_per_second: 1_000,
            ..SellsyConfig::default()
        })
        .await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.emu.base_url, path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }
}

/// The id of a created object.
pub fn id_of(reply: &Reply) -> i64 {
    reply.body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {:?}", reply.body))
}
