//! The emulator's shared state and the read/control methods tests use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use serde_json::{json, Value};

use super::auth::{Grant, OAuthStore};
use super::contact::View;
use super::ids::new_id;
use super::ratelimit::{RateLimiter, RateSettings};
use super::seed;
use super::store::Store;
use super::tenants::Tenants;
use super::webhooks::{Event, WebhookCounts, WebhookRecord, Webhooks};
use super::GhlConfig;
use crate::faults::{FaultConfig, FaultCounts, FaultInjector};

/// Lock a mutex, recovering the data if a previous holder panicked (the emulator
/// never panics on purpose; this keeps one bug from wedging every later request).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Request counters kept by the outermost layer (so faults are counted too).
#[derive(Debug, Default)]
pub struct Stats {
    total: AtomicU64,
    by_status: Mutex<BTreeMap<u16, u64>>,
    by_operation: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    pub fn record(&self, status: u16) {
        self.total.fetch_add(1, Ordering::Relaxed);
        *lock(&self.by_status).entry(status).or_default() += 1;
    }

    pub fn record_operation(&self, id: &str) {
        *lock(&self.by_operation).entry(id.to_string()).or_default() += 1;
    }
}

/// A snapshot of [`Stats`] plus state sizes, as served by `GET /emulator/stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsSnapshot {
    pub requests: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub by_operation: BTreeMap<String, u64>,
    /// 429 answers served (rate limit and injected faults).
    pub rate_limited: u64,
    pub faults: FaultCounts,
    pub webhooks: WebhookCounts,
    pub contacts: usize,
    pub tasks: usize,
    pub notes: usize,
}

/// Everything the GHL emulator holds.
pub struct GhlState {
    pub(crate) config: GhlConfig,
    pub(crate) base_url: RwLock<String>,
    /// The primary location's data (`GhlConfig::location_id`).
    pub(crate) store: Arc<Mutex<Store>>,
    /// Every location of the company (the primary included) and the app's installs.
    pub(crate) tenants: Tenants,
    pub(crate) oauth: Mutex<OAuthStore>,
    pub(crate) limiter: RateLimiter,
    pub(crate) faults: FaultInjector,
    pub(crate) webhooks: Webhooks,
    pub(crate) stats: Stats,
    /// Every scope an operation of the table requires (what an OAuth grant without an
    /// explicit `scope` receives).
    pub(crate) all_scopes: BTreeSet<String>,
    /// The user behind issued OAuth tokens.
    pub(crate) user_id: String,
}

impl std::fmt::Debug for GhlState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhlState")
            .field("location_id", &self.config.location_id)
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl GhlState {
    /// Build the state (seeding demo data). Webhook delivery starts only when called
    /// inside a Tokio runtime and `webhook_url` is set.
    pub fn new(config: GhlConfig) -> Arc<GhlState> {
        let mut store = Store::new(
            &config.location_id,
            &config.company_id,
            config.allow_duplicate_contacts,
        );
        seed::seed(&mut store, config.seed_contacts);
        store
            .search_index
            .set_lag(config.search_lag, &store.contacts);
        let user_id = new_id(&mut store.rng);
        let limiter = RateLimiter::new(RateSettings {
            max: config.rate_max,
            interval: config.rate_interval,
            daily: config.daily_limit,
        });
        let webhooks = Webhooks::new(
            config.webhook_url.clone(),
            &config.location_id,
            config.webhook_retry_base,
        );
        let all_scopes = hlbridge_ghl::TABLE
            .operations
            .iter()
            .flat_map(|op| op.scopes.iter().map(|s| s.to_string()))
            .collect();
        let faults = FaultInjector::new(config.faults.clone());
        let store = Arc::new(Mutex::new(store));
        let tenants = Tenants::new(store.clone(), &config);
        Arc::new(GhlState {
            base_url: RwLock::new("http://127.0.0.1".to_string()),
            store,
            tenants,
            oauth: Mutex::new(OAuthStore::default()),
            limiter,
            faults,
            webhooks,
            stats: Stats::default(),
            all_scopes,
            user_id,
            config,
        })
    }

    pub fn config(&self) -> &GhlConfig {
        &self.config
    }

    pub fn base_url(&self) -> String {
        self.base_url.read().map(|s| s.clone()).unwrap_or_default()
    }

    pub(crate) fn set_base_url(&self, url: String) {
        if let Ok(mut b) = self.base_url.write() {
            *b = url;
        }
    }

    pub fn public_key_pem(&self) -> String {
        self.webhooks.signer().public_key_pem().to_string()
    }

    /// The grant behind a private integration token, if `token` is one (the agency
    /// token, or the token of one of the company's locations).
    pub(crate) fn private_grant(&self, token: &str) -> Option<Grant> {
        use hlbridge_core::optable::TokenType;
        let (kind, location_id) = if self.config.agency_token.as_deref() == Some(token) {
            (TokenType::Agency, None)
        } else {
            (
                TokenType::Location,
                Some(self.tenants.location_of_token(token)?),
            )
        };
        Some(Grant {
            kind,
            scopes: None,
            location_id,
            company_id: self.config.company_id.clone(),
            client_id: None,
            user_id: self.user_id.clone(),
            private: true,
        })
    }

    /// Resolve a bearer token to its grant; a Location grant of a location the app is
    /// not installed on is no grant.
    pub(crate) fn grant_for(&self, token: &str) -> Option<Grant> {
        let grant = match self.private_grant(token) {
            Some(g) => g,
            None => {
                let oauth = lock(&self.oauth);
                let record = oauth.access.get(token)?;
                (record.expires_at > Utc::now()).then(|| record.grant.clone())?
            }
        };
        match &grant.location_id {
            Some(loc) if self.tenants.installed(loc) != Some(true) => None,
            _ => Some(grant),
        }
    }

    /// Announce events that happened in `location_id`.
    pub(crate) fn emit_in(&self, location_id: &str, events: Vec<Event>) {
        if !events.is_empty() {
            self.webhooks.emit_in(Some(location_id), events);
        }
    }

    // ----- read access for tests and the control endpoints -----

    pub fn contact_count(&self) -> usize {
        lock(&self.store).contacts.len()
    }

    pub fn task_count(&self) -> usize {
        lock(&self.store).task_count()
    }

    pub fn note_count(&self) -> usize {
        lock(&self.store).note_count()
    }

    /// The contact as `GET /contacts/{id}` renders it.
    pub fn contact(&self, id: &str) -> Option<Value> {
        let store = lock(&self.store);
        store
            .contacts
            .get(id)
            .map(|c| c.render(&store.location_id, View::Full))
    }

    /// Ids of every contact, oldest first.
    pub fn contact_ids(&self) -> Vec<String> {
        let store = lock(&self.store);
        let mut all: Vec<_> = store
            .contacts
            .values()
            .map(|c| (c.date_added, c.id.clone()))
            .collect();
        all.sort();
        all.into_iter().map(|(_, id)| id).collect()
    }

    /// Campaign ids the contact is enrolled in.
    pub fn campaigns_of(&self, contact_id: &str) -> Vec<String> {
        lock(&self.store)
            .campaigns
            .get(contact_id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Tasks of a contact as the API renders them.
    pub fn tasks_of(&self, contact_id: &str) -> Vec<Value> {
        lock(&self.store)
            .tasks
            .get(contact_id)
            .map(|ts| ts.iter().map(|t| t.render()).collect())
            .unwrap_or_default()
    }

    /// Notes of a contact as the API renders them.
    pub fn notes_of(&self, contact_id: &str) -> Vec<Value> {
        lock(&self.store)
            .notes
            .get(contact_id)
            .map(|ns| ns.iter().map(|n| n.render()).collect())
            .unwrap_or_default()
    }

    /// The location's custom field definitions (`[{id, name, fieldKey, dataType, …}]`).
    pub fn custom_fields(&self) -> Vec<Value> {
        let store = lock(&self.store);
        store
            .custom_fields
            .iter()
            .enumerate()
            .map(|(i, d)| d.render(&store.location_id, i))
            .collect()
    }

    pub fn webhook_records(&self) -> Vec<WebhookRecord> {
        self.webhooks.records()
    }

    pub fn stats(&self) -> StatsSnapshot {
        let by_status = lock(&self.stats.by_status).clone();
        let store = lock(&self.store);
        StatsSnapshot {
            requests: self.stats.total.load(Ordering::Relaxed),
            rate_limited: by_status.get(&429).copied().unwrap_or(0),
            by_status,
            by_operation: lock(&self.stats.by_operation).clone(),
            faults: self.faults.counts(),
            webhooks: self.webhooks.counts(),
            contacts: store.contacts.len(),
            tasks: store.task_count(),
            notes: store.note_count(),
        }
    }

    // ----- runtime settings -----

    /// Expire every OAuth access token issued so far (private integration tokens are
    /// unaffected). Returns how many were live.
    pub fn expire_tokens(&self) -> usize {
        lock(&self.oauth).expire_all(Utc::now())
    }

    /// Every location's "Allow Duplicate Contact" setting.
    pub fn set_allow_duplicate_contacts(&self, allow: bool) {
        for store in self.tenants.stores() {
            lock(&store).allow_duplicates = allow;
        }
    }

    /// Change the search lag of every location (what the stores hold now is visible to
    /// search at once).
    pub fn set_search_lag(&self, lag: Duration) {
        for store in self.tenants.stores() {
            let mut store = lock(&store);
            let store = &mut *store;
            store.search_index.set_lag(lag, &store.contacts);
        }
    }

    /// Make every list and search of every location end after `after` items in total
    /// (`None`: lift).
    pub fn set_truncate_after(&self, after: Option<usize>) {
        for store in self.tenants.stores() {
            lock(&store).truncate_after = after;
        }
    }

    /// The base64 Ed25519 signature GHL would send in `x-ghl-signature` for `body`.
    pub fn sign_webhook(&self, body: &[u8]) -> String {
        self.webhooks.signer().sign(body)
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.faults.set_config(faults);
    }

    pub fn faults(&self) -> FaultConfig {
        self.faults.config()
    }

    /// Make the fault draws reproducible from now on (see [`FaultInjector::reseed`]).
    pub fn seed_faults(&self, seed: u64) {
        self.faults.reseed(seed);
    }

    pub fn set_rate_limits(&self, max: u32, interval: Duration, daily: u32) {
        self.limiter.set_settings(RateSettings {
            max,
            interval,
            daily,
        });
        self.limiter.reset();
    }

    /// Forget consumed rate budgets.
    pub fn reset_rate_limits(&self) {
        self.limiter.reset();
    }

    /// Settings as served by `GET /emulator/settings`.
    pub fn settings_json(&self) -> Value {
        let rate = self.limiter.settings();
        let (allow_duplicates, search_lag, truncate_after) = {
            let store = lock(&self.store);
            (
                store.allow_duplicates,
                store.search_index.lag(),
                store.truncate_after,
            )
        };
        json!({
            "locationId": self.config.location_id,
            "companyId": self.config.company_id,
            "allowDuplicateContacts": allow_duplicates,
            "searchLagMs": u64::try_from(search_lag.as_millis()).unwrap_or(u64::MAX),
            "truncateAfter": truncate_after,
            "faults": self.faults.config().to_string(),
            "rateMax": rate.max,
            "rateIntervalMs": u64::try_from(rate.interval.as_millis()).unwrap_or(u64::MAX),
            "dailyLimit": rate.daily,
            "webhookUrl": self.config.webhook_url,
            "locations": self.locations(),
        })
    }
}
