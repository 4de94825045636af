//! Engine configuration: `hlbridge.toml` plus `HLBRIDGE_*` environment variables (the
//! environment wins). Secrets never appear in `Debug` output.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{EngineError, Result};

mod validate;
pub use validate::check_database_url;

/// Which way a field flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Both,
    ToGhl,
    ToSellsy,
}

/// Who wins when both sides changed a field since the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    #[default]
    NewestWins,
    GhlWins,
    SellsyWins,
    Manual,
}

/// A value rewrite applied to the field as read from either side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    Lowercase,
    Uppercase,
    Trim,
    Capitalize,
}

/// What a deletion on one side does on the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeletionPolicy {
    /// Sellsy `is_archived`, or a tag on the GHL contact.
    #[default]
    Archive,
    Propagate,
    Ignore,
}

/// Per-field override of the default mapping.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub conflict: Option<ConflictPolicy>,
    #[serde(default)]
    pub transform: Option<Transform>,
    /// `false` removes the field from the sync.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A custom field pair: `[custom_fields."contact.lead_score"] sellsy = "score"`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldRule {
    /// The Sellsy custom field `code`.
    pub sellsy: String,
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub conflict: Option<ConflictPolicy>,
    /// Only for a pair of text fields.
    #[serde(default)]
    pub transform: Option<Transform>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GhlSettings {
    pub base_url: Option<String>,
    pub token: Option<String>,
    pub location_id: Option<String>,
}

impl std::fmt::Debug for GhlSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhlSettings")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("location_id", &self.location_id)
            .finish()
    }
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SellsySettings {
    pub base_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub token_url: Option<String>,
    /// An access token used as is (instead of client credentials).
    pub token: Option<String>,
}

impl std::fmt::Debug for SellsySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SellsySettings")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("token_url", &self.token_url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// Minutes between cycles in continuous mode (1 to 15).
    #[serde(default = "default_interval")]
    pub poll_interval_minutes: u64,
    /// Writes (creates + updates + deletes) per run, both sides together.
    #[serde(default = "default_max_writes")]
    pub max_writes_per_run: usize,
    /// In continuous mode after its first cycle, linked contacts never read whose GHL
    /// notes are read per cycle (GHL has no bulk notes listing).
    #[serde(default = "default_sweep")]
    pub sweep_max_contacts: usize,
    /// In continuous mode, GHL calls per day the reading of never-read contacts' notes
    /// may spend (GHL allows 200,000 per location and day, shared with everything
    /// else): with the poll interval it bounds that reading per cycle. The rotating
    /// re-read of covered contacts is bounded by `notes_sweep_daily_share`.
    #[serde(default = "default_sweep_daily_calls")]
    pub sweep_daily_calls: u64,
    /// In continuous mode, the full id listing that detects deletions runs every N
    /// cycles (webhooks report deletions at once); `sync --once` always runs it.
    #[serde(default = "default_deletion_scan_every")]
    pub deletion_scan_every: u64,
    #[serde(default)]
    pub deletions: DeletionPolicy,
    /// Tag put on a GHL contact whose Sellsy contact was deleted (archive policy).
    #[serde(default = "default_archive_tag")]
    pub archive_tag: String,
    /// Whether an empty value may overwrite a filled one.
    #[serde(default)]
    pub empty_overwrites: bool,
    /// Only contacts with this tag (either side) take part.
    #[serde(default)]
    pub scope_tag: Option<String>,
    /// Only contacts updated since this date (YYYY-MM-DD or RFC 3339) take part.
    #[serde(default)]
    pub updated_since: Option<String>,
    /// Sellsy task label (name or id) for tasks created from GHL; default the first.
    #[serde(default)]
    pub sellsy_task_label: Option<String>,
    /// Parallel writes per side.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Sync tasks and notes.
    #[serde(default = "yes")]
    pub tasks: bool,
    #[serde(default = "yes")]
    pub notes: bool,
    /// GHL contacts are re-read this far back from the cursor on every cycle: the
    /// search index is eventually consistent. Also the time a create whose answer was
    /// lost waits to show up before it may be sent again. Fractions allowed.
    #[serde(default = "default_lookback")]
    pub lookback_minutes: f64,
    /// Share of the GHL daily limit the rotating notes sweep may spend per day (GHL has
    /// no bulk notes listing), spread over the day's cycles.
    #[serde(default = "default_notes_share")]
    pub notes_sweep_daily_share: f64,
    /// The GHL daily request limit per location the shares are taken from.
    #[serde(default = "default_daily_limit")]
    pub ghl_daily_limit: u64,
    /// Region for phone numbers written without a country code (ISO 3166 code, e.g.
    /// `FR`, `US`); default the GHL location's country, else FR.
    #[serde(default)]
    pub default_phone_region: Option<String>,
    /// The mass-deletion guard: a cycle that would archive or delete more than this
    /// share of the linked records of a kind ...
    #[serde(default = "default_guard_share")]
    pub deletion_guard_share: f64,
    /// ... or more than this many, applies none of them until confirmed.
    #[serde(default = "default_guard_max")]
    pub deletion_guard_max: u64,
    /// Days the per-record history of applied writes is kept (pruned every cycle).
    #[serde(default = "default_history_retention")]
    pub history_retention_days: u64,
}

fn default_interval() -> u64 {
    5
}
fn default_max_writes() -> usize {
    50_000
}
fn default_sweep() -> usize {
    1_000
}
fn default_sweep_daily_calls() -> u64 {
    100_000
}
fn default_deletion_scan_every() -> u64 {
    12
}
fn default_archive_tag() -> String {
    "sellsy-archived".into()
}
fn default_concurrency() -> usize {
    6
}
fn yes() -> bool {
    true
}
fn default_lookback() -> f64 {
    10.0
}
fn default_notes_share() -> f64 {
    0.02
}
fn default_daily_limit() -> u64 {
    200_000
}
fn default_guard_share() -> f64 {
    0.10
}
fn default_guard_max() -> u64 {
    50
}
fn default_history_retention() -> u64 {
    90
}

impl Default for SyncSettings {
    fn default() -> Self {
        toml::from_str("").unwrap_or(SyncSettings {
            poll_interval_minutes: default_interval(),
            max_writes_per_run: default_max_writes(),
            sweep_max_contacts: default_sweep(),
            sweep_daily_calls: default_sweep_daily_calls(),
            deletion_scan_every: default_deletion_scan_every(),
            deletions: DeletionPolicy::Archive,
            archive_tag: default_archive_tag(),
            empty_overwrites: false,
            scope_tag: None,
            updated_since: None,
            sellsy_task_label: None,
            concurrency: default_concurrency(),
            tasks: true,
            notes: true,
            lookback_minutes: default_lookback(),
            notes_sweep_daily_share: default_notes_share(),
            ghl_daily_limit: default_daily_limit(),
            default_phone_region: None,
            deletion_guard_share: default_guard_share(),
            deletion_guard_max: default_guard_max(),
            history_retention_days: default_history_retention(),
        })
    }
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Address to listen on, e.g. `127.0.0.1:8090`; none = polling only.
    pub listen: Option<String>,
    /// GHL's Ed25519 public key (PEM) verifying `x-ghl-signature`.
    pub ghl_public_key: Option<String>,
    /// The Sellsy webhook secret (`X-Webhook-Signature` = hex(sha1(secret + body))).
    pub sellsy_secret: Option<String>,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("listen", &self.listen)
            .field("ghl_public_key", &self.ghl_public_key.is_some())
            .field(
                "sellsy_secret",
                &self.sellsy_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: Option<String>,
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    #[serde(default)]
    pub ghl: GhlSettings,
    #[serde(default)]
    pub sellsy: SellsySettings,
    #[serde(default)]
    pub database: DatabaseSettings,
    #[serde(default)]
    pub sync: SyncSettings,
    /// Overrides of the default mapping, by canonical field name.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldRule>,
    /// Custom field pairs, by GHL field key.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, CustomFieldRule>,
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// The label of the account pair this engine syncs, recorded in the write history
    /// (`default` when unset); set by whoever builds an engine for a stored pair.
    #[serde(skip)]
    pub pair_id: Option<String>,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://hlbridge.sqlite";

impl EngineConfig {
    /// Parse TOML text and check its values ([`EngineConfig::validate_values`]; the
    /// mapping overrides are checked by [`EngineConfig::load`] and at connect).
    pub fn from_toml(text: &str) -> Result<Self> {
        let config = Self::parse_toml(text)?;
        config.validate_values()?;
        Ok(config)
    }

    /// Parse TOML text without validating (the environment may still override it).
    fn parse_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| validate::toml_error(text, &e))
    }

    /// The pair label recorded in the write history.
    pub fn pair_label(&self) -> &str {
        self.pair_id
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("default")
    }

    /// Read `path` (a missing file is an error only when `required`), apply the
    /// environment, then [validate](EngineConfig::validate) the result.
    pub fn load(path: Option<&Path>, required: bool) -> Result<Self> {
        let mut config = match path {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    EngineError::Config(format!("cannot read {}: {e}", p.display()))
                })?;
                Self::parse_toml(&text)?
            }
            Some(p) if required => {
                return Err(EngineError::Config(format!(
                    "config file {} does not exist",
                    p.display()
                )))
            }
            _ => EngineConfig::default(),
        };
        config.apply_env(|k| std::env::var(k).ok());
        config.validate()?;
        Ok(config)
    }

    /// Environment overrides (`HLBRIDGE_*`), read through `get`. Call
    /// [`EngineConfig::validate`] afterwards ([`EngineConfig::load`] does).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        let set = |slot: &mut Option<String>, key: &str| {
            if let Some(v) = get(key) {
                *slot = Some(v);
            }
        };
        set(&mut self.ghl.base_url, "HLBRIDGE_GHL_BASE_URL");
        set(&mut self.ghl.token, "HLBRIDGE_GHL_TOKEN");
        set(&mut self.ghl.location_id, "HLBRIDGE_GHL_LOCATION_ID");
        set(&mut self.sellsy.base_url, "HLBRIDGE_SELLSY_BASE_URL");
        set(&mut self.sellsy.client_id, "HLBRIDGE_SELLSY_CLIENT_ID");
        set(
            &mut self.sellsy.client_secret,
            "HLBRIDGE_SELLSY_CLIENT_SECRET",
        );
        set(&mut self.sellsy.token_url, "HLBRIDGE_SELLSY_TOKEN_URL");
        set(&mut self.sellsy.token, "HLBRIDGE_SELLSY_TOKEN");
        set(&mut self.database.url, "HLBRIDGE_DATABASE_URL");
        set(&mut self.webhooks.listen, "HLBRIDGE_WEBHOOK_LISTEN");
        set(
            &mut self.webhooks.ghl_public_key,
            "HLBRIDGE_GHL_WEBHOOK_PUBLIC_KEY",
        );
        set(
            &mut self.webhooks.sellsy_secret,
            "HLBRIDGE_SELLSY_WEBHOOK_SECRET",
        );
    }

    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string())
    }

    /// The pause between cycles; refuses intervals outside 1–15 minutes.
    /// `HLBRIDGE_TEST_POLL_UNIT_MS` (tests only) shrinks the minute.
    pub fn poll_interval(&self) -> Result<Duration> {
        let minutes = self.sync.poll_interval_minutes;
        if !(1..=15).contains(&minutes) {
            return Err(EngineError::Config(format!(
                "sync.poll_interval_minutes = {minutes}: the poll interval must be between 1 and 15 minutes"
            )));
        }
        let unit_ms = std::env::var("HLBRIDGE_TEST_POLL_UNIT_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(60_000);
        Ok(Duration::from_millis(minutes * unit_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_secrets_are_redacted() {
        let mut c = EngineConfig::from_toml(
            "[ghl]\ntoken = \"file-token\"\nlocation_id = \"loc\"\n[sync]\npoll_interval_minutes = 3\n",
        )
        .unwrap();
        c.apply_env(|k| (k == "HLBRIDGE_GHL_TOKEN").then(|| "env-token".to_string()));
        assert_eq!(c.ghl.token.as_deref(), Some("env-token"));
        assert_eq!(c.ghl.location_id.as_deref(), Some("loc"));
        assert!(!format!("{c:?}").contains("env-token"));
        assert_eq!(c.sync.poll_interval_minutes, 3);
        assert_eq!(c.sync.max_writes_per_run, 50_000);
    }

    #[test]
    fn bad_interval_and_unknown_keys_are_refused() {
        let e = EngineConfig::from_toml("[sync]\npoll_interval_minutes = 30\n").unwrap_err();
        assert!(e.to_string().contains("between 1 and 15"), "{e}");
        let e = EngineConfig::from_toml("[sync]\npoll_every = 3\n").unwrap_err();
        assert!(e.to_string().contains("`sync.poll_every`"), "{e}");
    }
}
