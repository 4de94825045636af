//! Every configuration value checked once, at load, before any file is created or any
//! request sent: each refusal names the key (and its environment variable) and the fix.

use super::EngineConfig;
use crate::error::{EngineError, Result};

fn refuse(msg: String) -> EngineError {
    EngineError::Config(msg)
}

/// An `http(s)://host…` URL, or why not.
fn check_url(key: &str, env: &str, url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace) => {
            Ok(())
        }
        _ => Err(refuse(format!(
            "{key} = \"{url}\" (or {env}): not an http(s) URL; write it as https://host/…"
        ))),
    }
}

/// `YYYY-MM-DD` or an RFC 3339 time.
fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10
        || chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// `sqlite://PATH` or a bare file path; anything else is refused with the fix.
pub fn check_database_url(url: &str) -> Result<()> {
    let key = "database.url (or HLBRIDGE_DATABASE_URL)";
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(refuse(format!(
            "{key}: PostgreSQL is not supported yet; use sqlite://PATH"
        )));
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.trim().is_empty() {
            return Err(refuse(format!(
                "{key} = \"{url}\": sqlite:// needs a file path, e.g. sqlite://hlbridge.sqlite"
            )));
        }
        return Ok(());
    }
    let scheme_like = url
        .split_once(':')
        .is_some_and(|(head, _)| !head.is_empty() && !head.contains('/'));
    if url.trim().is_empty() || scheme_like {
        return Err(refuse(format!(
            "{key} = \"{url}\": not a database URL this version opens; use sqlite://PATH, e.g. sqlite://hlbridge.sqlite"
        )));
    }
    Ok(())
}

fn share(key: &str, v: f64) -> Result<()> {
    if !v.is_finite() || !(0.0..=1.0).contains(&v) {
        return Err(refuse(format!(
            "{key} = {v}: a share is a fraction between 0 and 1 (e.g. 0.1 for 10 %)"
        )));
    }
    Ok(())
}

fn at_least_one(key: &str, v: u64) -> Result<()> {
    if v == 0 {
        return Err(refuse(format!("{key} = 0: must be at least 1")));
    }
    Ok(())
}

impl EngineConfig {
    /// Check every value, the mapping overrides included (field names, transforms,
    /// the phone region); [`EngineConfig::load`] calls it once the environment is
    /// applied, before anything is opened or sent.
    pub fn validate(&self) -> Result<()> {
        self.validate_values()?;
        // Field names, transforms and the phone region; custom fields need the
        // accounts' definitions and are checked at connect.
        let mut fields_only = self.clone();
        fields_only.custom_fields.clear();
        crate::mapping::Mapping::build(&fields_only, &[], &[])?;
        Ok(())
    }

    /// Every check of [`EngineConfig::validate`] but the mapping's, which
    /// `Mapping::build` repeats at connect ([`EngineConfig::from_toml`] calls this one).
    pub fn validate_values(&self) -> Result<()> {
        let s = &self.sync;
        let minutes = s.poll_interval_minutes;
        if !(1..=15).contains(&minutes) {
            return Err(refuse(format!(
                "sync.poll_interval_minutes = {minutes}: the poll interval must be between 1 and 15 minutes"
            )));
        }
        if let Some(since) = &s.updated_since {
            if !is_date(since) {
                return Err(refuse(format!(
                    "sync.updated_since = \"{since}\": not a date; write YYYY-MM-DD (e.g. 2025-01-31) or an RFC 3339 time (e.g. 2025-01-31T08:00:00Z)"
                )));
            }
        }
        if !s.lookback_minutes.is_finite() || s.lookback_minutes < 0.0 {
            return Err(refuse(format!(
                "sync.lookback_minutes = {}: must be zero or more minutes (default 10)",
                s.lookback_minutes
            )));
        }
        share("sync.notes_sweep_daily_share", s.notes_sweep_daily_share)?;
        share("sync.deletion_guard_share", s.deletion_guard_share)?;
        at_least_one("sync.concurrency", s.concurrency as u64)?;
        at_least_one("sync.max_writes_per_run", s.max_writes_per_run as u64)?;
        at_least_one("sync.deletion_scan_every", s.deletion_scan_every)?;
        at_least_one("sync.ghl_daily_limit", s.ghl_daily_limit)?;
        at_least_one("sync.history_retention_days", s.history_retention_days)?;
        if s.archive_tag.trim().is_empty() {
            return Err(refuse(
                "sync.archive_tag = \"\": the tag put on archived GHL contacts cannot be empty"
                    .into(),
            ));
        }
        if let Some(url) = &self.ghl.base_url {
            check_url("ghl.base_url", "HLBRIDGE_GHL_BASE_URL", url)?;
        }
        if let Some(url) = &self.sellsy.base_url {
            check_url("sellsy.base_url", "HLBRIDGE_SELLSY_BASE_URL", url)?;
            if !url.trim_end_matches('/').ends_with("/v2") {
                return Err(refuse(format!(
                    "sellsy.base_url = \"{url}\" (or HLBRIDGE_SELLSY_BASE_URL): the Sellsy API base URL ends with /v2, e.g. https://api.sellsy.com/v2"
                )));
            }
        }
        if let Some(url) = &self.sellsy.token_url {
            check_url("sellsy.token_url", "HLBRIDGE_SELLSY_TOKEN_URL", url)?;
        }
        if let Some(listen) = &self.webhooks.listen {
            let ok = listen
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                return Err(refuse(format!(
                    "webhooks.listen = \"{listen}\" (or HLBRIDGE_WEBHOOK_LISTEN): write HOST:PORT, e.g. 127.0.0.1:8090"
                )));
            }
        }
        check_database_url(&self.database_url())
    }
}

/// A TOML error as one line naming the key, its section and the valid keys.
pub(super) fn toml_error(text: &str, e: &toml::de::Error) -> EngineError {
    let message = e.message().trim();
    let at = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_text = text[line_start..].lines().next().unwrap_or_default();
    let key = match line_text.split_once('=') {
        Some((k, _)) => k.trim().trim_matches('"').to_string(),
        None => String::new(),
    };
    let header = |l: &str| {
        let l = l.trim();
        l.starts_with('[').then(|| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
    };
    // The table the offending key is in: a header names its parent table; a key line
    // the last header above it.
    let section = match header(line_text) {
        Some(h) => h.rsplit_once('.').map(|(parent, _)| parent.to_string()),
        None => text[..line_start].lines().rev().find_map(header),
    }
    .filter(|s| !s.is_empty());
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, expected) = match rest.split_once(", expected ") {
            Some((n, x)) => (n, Some(x)),
            None => (rest, None),
        };
        let name = name.trim_matches('`');
        let place = match &section {
            Some(s) => format!("[{s}]"),
            None => "the top level".into(),
        };
        let qualified = match &section {
            Some(s) => format!("{s}.{name}"),
            None => name.to_string(),
        };
        let valid = expected
            .map(|x| {
                x.trim_start_matches("one of ")
                    .trim_start_matches("a ")
                    .replace('`', "")
            })
            .unwrap_or_else(|| "none".into());
        return EngineError::Config(format!(
            "hlbridge.toml line {line}: unknown key `{qualified}` in {place}; remove it or use one of the valid keys: {valid}"
        ));
    }
    let named = match (&section, key.is_empty()) {
        (Some(s), false) if !key.starts_with('[') => format!(" `{s}.{key}`"),
        (None, false) if !key.starts_with('[') => format!(" `{key}`"),
        _ => String::new(),
    };
    EngineError::Config(format!("hlbridge.toml line {line}{named}: {message}"))
}
