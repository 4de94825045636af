//! The shared state behind every handler.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::oauth::Grants;
use super::quota::Quotas;
use super::store::Store;
use super::webhooks::delivery::Outbox;
use super::{clock, jwt, seed, SellsyConfig};
use crate::faults::FaultInjector;

/// The staff member tokens act as (`/staffs/me`, `userId` claim, owner of new objects).
pub const ME: i64 = 1;

/// Every scope the emulator grants.
pub const ALL_SCOPES: &[&str] = &[
    "contacts.read",
    "contacts.write",
    "companies.read",
    "companies.write",
    "individuals.read",
    "individuals.write",
    "tasks.read",
    "tasks.write",
    "comments.read",
    "comments.write",
    "custom-fields.read",
    "custom-fields.write",
    "smart-tags.read",
    "smart-tags.write",
    "webhooks.read",
    "webhooks.write",
    "staffs.read",
    "accounts.read",
    "opportunities.read",
    "invoicing.read",
    "search.read",
];

/// One webhook notification the emulator sent (or tried to).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub webhook_id: i64,
    pub endpoint: String,
    /// `people.created`, `client.updated`, `task.deleted`, ...
    pub event: String,
    pub content_type: String,
    /// The raw body as sent.
    pub body: String,
    /// `X-Webhook-Signature`.
    pub signature: String,
    /// The endpoint's HTTP status, or `None` when it could not be reached.
    pub status: Option<u16>,
}

pub struct SellsyState {
    config: SellsyConfig,
    store: Mutex<Store>,
    pub(super) quotas: Quotas,
    pub(super) grants: Mutex<Grants>,
    signing_key: Vec<u8>,
    webhook_secret: String,
    pub(super) outbox: Outbox,
    faults: FaultInjector,
    plan_quota_reached: AtomicBool,
    pub(super) stats: super::stats::Stats,
    truncate_after: Mutex<Option<usize>>,
}

impl std::fmt::Debug for SellsyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SellsyState")
            .field("corp_id", &self.config.corp_id)
            .finish_non_exhaustive()
    }
}

impl SellsyState {
    /// Fresh state, seeded per `config.seed_contacts`.
    pub fn new(config: SellsyConfig) -> Arc<Self> {
        let mut signing_key = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut signing_key);
        let webhook_secret =
            hex::encode(&Sha256::digest(format!("sellsy-webhooks:{}", config.client_secret))[..16]);
        let quotas = Quotas::new(
            config.quota_per_second,
            config.quota_per_minute,
            config.quota_per_day,
            config.quota_per_month,
        );
        let mut store = Store::default();
        seed::seed(&mut store, config.seed_contacts);
        Arc::new(SellsyState {
            faults: FaultInjector::new(config.faults.clone()),
            config,
            store: Mutex::new(store),
            quotas,
            grants: Mutex::new(Grants::default()),
            signing_key,
            webhook_secret,
            outbox: Outbox::default(),
            plan_quota_reached: AtomicBool::new(false),
            stats: Default::default(),
            truncate_after: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &SellsyConfig {
        &self.config
    }

    pub fn corp_id(&self) -> i64 {
        self.config.corp_id
    }

    /// Lock the data. Never held across an `.await`.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The secret webhook signatures are computed with: `hex(sha1(secret + body))`.
    pub fn webhook_secret(&self) -> &str {
        &self.webhook_secret
    }

    /// Fault injection; change its shares at runtime with `set_config`.
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    /// While set, writes answer 402 (the plan's quota or feature limit is reached).
    pub fn set_plan_quota_reached(&self, reached: bool) {
        self.plan_quota_reached.store(reached, Ordering::SeqCst);
    }

    pub fn plan_quota_reached(&self) -> bool {
        self.plan_quota_reached.load(Ordering::SeqCst)
    }

    /// Make every list and search end after `after` items in total (`None`: lift).
    pub fn set_truncate_after(&self, after: Option<usize>) {
        *self
            .truncate_after
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = after;
    }

    pub fn truncate_after(&self) -> Option<usize> {
        *self
            .truncate_after
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The `X-Webhook-Signature` Sellsy would send with `body`.
    pub fn sign_webhook(&self, body: &[u8]) -> String {
        hlbridge_sellsy::webhook::signature(self.webhook_secret(), body)
    }

    /// Notifications sent so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.outbox.sent()
    }

    /// Mint an access token as the token endpoint would (for tests that skip OAuth).
    pub fn mint_access_token(&self) -> String {
        let now = clock::now().timestamp();
        let claims = json!({
            "iss": "sellsy-emulator",
            "aud": self.config.client_id,
            "sub": ME.to_string(),
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "nbf": now,
            "exp": now + self.config.access_token_ttl.as_secs() as i64,
            "corpId": self.config.corp_id,
            "corpName": "Emulated Corp",
            "userId": ME,
            "userType": "staff",
            "email": "me@emulated-corp.example",
            "scopes": ALL_SCOPES,
        });
        jwt::sign(&claims, &self.signing_key)
    }

    /// Claims of a valid access token.
    pub(super) fn verify_access_token(&self, token: &str) -> Result<Value, jwt::Rejection> {
        jwt::verify(token, &self.signing_key, clock::now().timestamp())
    }
}
