//! Several locations (sub-accounts) of the emulated company, and the app's
//! installation on each.
//!
//! The primary location is `GhlConfig::location_id` (private integration token
//! `GhlConfig::token`, seeded with `GhlConfig::seed_contacts`); every entry of
//! `GhlConfig::extra_locations` is one more location of the same company, with its own
//! private integration token (`pit-<id>` unless given) and its own data: a separate
//! [`Store`] (contacts, tasks, notes, custom fields, tags, search index, generic
//! records), seeded from the location id so ids never repeat across locations. Rate
//! budgets are per (app/token, location) already, so each location has its own burst
//! and daily windows.
//!
//! Every request is served from one location's store: a Location token's own location,
//! or, for an agency token, the location named by `locationId` (path, then query, then
//! body) when it is one of the company's (the primary location otherwise). A Location
//! token naming another location gets GHL's 403 (see [`super::dispatch`]).
//!
//! Every configured location starts installed. `POST /emulator/locations` installs a
//! new (or reinstalls an uninstalled) location and sends GHL's `INSTALL` webhook;
//! `DELETE /emulator/locations/{id}` uninstalls it and sends `UNINSTALL`. While a
//! location is uninstalled every token of it answers 401: its OAuth access and refresh
//! tokens are revoked for good, its private integration token works again after a
//! reinstall. `POST /oauth/locationToken` refuses it and `GET /oauth/installedLocations`
//! reports it with `isInstalled: false`. Its data is kept (the data belongs to the
//! location, not to the app), as GHL keeps a sub-account's contacts across reinstalls.

use std::sync::{Arc, Mutex, RwLock};

use chrono::Utc;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::auth::Grant;
use super::ids::iso;
use super::state::{lock, GhlState};
use super::store::{Store, STORE_SEED};
use super::webhooks::Event;

/// One more location of the emulated company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationSpec {
    pub id: String,
    /// Display name (default `Location <id>`).
    pub name: Option<String>,
    /// Private integration token accepted as this location's Location token (default
    /// [`default_token`]).
    pub token: Option<String>,
}

/// The private integration token of a location configured without one: `pit-<id>`.
pub fn default_token(location_id: &str) -> String {
    format!("pit-{location_id}")
}

impl LocationSpec {
    pub fn new(id: impl Into<String>) -> Self {
        LocationSpec {
            id: id.into(),
            name: None,
            token: None,
        }
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The location's private integration token.
    pub fn token(&self) -> String {
        self.token
            .clone()
            .unwrap_or_else(|| default_token(&self.id))
    }

    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("Location {}", self.id))
    }

    /// Parse `id` or `id=token` (the CLI's `--ghl-locations` items).
    pub fn parse(raw: &str) -> Result<Self, LocationError> {
        let (id, token) = match raw.trim().split_once('=') {
            Some((id, token)) => (id.trim(), Some(token.trim())),
            None => (raw.trim(), None),
        };
        check_id(id)?;
        let mut spec = LocationSpec::new(id);
        if let Some(token) = token {
            if token.is_empty() {
                return Err(LocationError::EmptyToken(id.to_string()));
            }
            spec = spec.with_token(token);
        }
        Ok(spec)
    }
}

/// A location as the control endpoints and tests see it (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationInfo {
    pub id: String,
    pub name: String,
    /// The app is installed on it.
    pub installed: bool,
    /// When the app was last installed (ISO), `None` while uninstalled.
    pub installed_at: Option<String>,
    /// `GhlConfig::location_id`.
    pub primary: bool,
}

/// Why a location could not be added, installed or uninstalled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("id must be 1 to 64 letters, digits, '-' or '_' (got {0:?})")]
    InvalidId(String),
    #[error(
        "token of location {0} is empty: give `id=token` with a token, or just `id` for pit-<id>"
    )]
    EmptyToken(String),
    #[error(
        "location {0} is already installed; DELETE /emulator/locations/{0} first to reinstall it"
    )]
    AlreadyInstalled(String),
    #[error("location {0} is not a location of this company; POST /emulator/locations adds it")]
    NotFound(String),
    #[error("location {0} is not installed; POST /emulator/locations installs it again")]
    NotInstalled(String),
    #[error("token is already the token of {0}: give each location its own token")]
    TokenTaken(String),
}

impl LocationError {
    /// The HTTP status of the control endpoint's answer.
    pub fn status(&self) -> u16 {
        match self {
            LocationError::InvalidId(_)
            | LocationError::EmptyToken(_)
            | LocationError::TokenTaken(_) => 400,
            LocationError::NotFound(_) => 404,
            LocationError::AlreadyInstalled(_) | LocationError::NotInstalled(_) => 409,
        }
    }
}

fn check_id(id: &str) -> Result<(), LocationError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(LocationError::InvalidId(id.to_string()))
    }
}

/// The seed of a location's store: the primary keeps [`STORE_SEED`] (runs stay
/// reproducible as before); others mix in their id.
fn seed_of(location_id: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(location_id.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    STORE_SEED ^ u64::from_le_bytes(bytes)
}

struct Tenant {
    info: LocationInfo,
    token: String,
    store: Arc<Mutex<Store>>,
}

/// Every location of the company, primary first.
pub(crate) struct Tenants {
    list: RwLock<Vec<Tenant>>,
}

impl Tenants {
    pub(crate) fn new(primary: Arc<Mutex<Store>>, config: &super::GhlConfig) -> Tenants {
        let now = Some(iso(Utc::now()));
        let mut list = vec![Tenant {
            info: LocationInfo {
                id: config.location_id.clone(),
                name: "Emulated location".into(),
                installed: true,
                installed_at: now.clone(),
                primary: true,
            },
            token: config.token.clone(),
            store: primary,
        }];
        for spec in &config.extra_locations {
            if list.iter().any(|t| t.info.id == spec.id) {
                continue; // `GhlConfig::validate` refuses this; first wins otherwise.
            }
            let mut store = Store::with_seed(
                &spec.id,
                &config.company_id,
                config.allow_duplicate_contacts,
                seed_of(&spec.id),
            );
            store.location_name = spec.name();
            let store_ref = &mut store;
            store_ref
                .search_index
                .set_lag(config.search_lag, &store_ref.contacts);
            list.push(Tenant {
                info: LocationInfo {
                    id: spec.id.clone(),
                    name: spec.name(),
                    installed: true,
                    installed_at: now.clone(),
                    primary: false,
                },
                token: spec.token(),
                store: Arc::new(Mutex::new(store)),
            });
        }
        Tenants {
            list: RwLock::new(list),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Tenant>> {
        self.list.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Tenant>> {
        self.list.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The location whose private integration token `token` is.
    pub(crate) fn location_of_token(&self, token: &str) -> Option<String> {
        self.read()
            .iter()
            .find(|t| t.token == token)
            .map(|t| t.info.id.clone())
    }

    /// `Some(installed)` for a location of the company, `None` for any other id.
    pub(crate) fn installed(&self, id: &str) -> Option<bool> {
        self.read()
            .iter()
            .find(|t| t.info.id == id)
            .map(|t| t.info.installed)
    }

    pub(crate) fn store(&self, id: &str) -> Option<Arc<Mutex<Store>>> {
        self.read()
            .iter()
            .find(|t| t.info.id == id)
            .map(|t| t.store.clone())
    }

    pub(crate) fn stores(&self) -> Vec<Arc<Mutex<Store>>> {
        self.read().iter().map(|t| t.store.clone()).collect()
    }

    pub(crate) fn infos(&self) -> Vec<LocationInfo> {
        self.read().iter().map(|t| t.info.clone()).collect()
    }
}

impl GhlState {
    /// Every location of the company (primary first), installed or not.
    pub fn locations(&self) -> Vec<LocationInfo> {
        self.tenants.infos()
    }

    /// Ids of the locations the app is installed on (primary first).
    pub fn installed_location_ids(&self) -> Vec<String> {
        self.tenants
            .infos()
            .into_iter()
            .filter(|l| l.installed)
            .map(|l| l.id)
            .collect()
    }

    /// Run `f` over a location's data (`None` for an id that is not the company's).
    pub fn with_location<R>(
        &self,
        location_id: &str,
        f: impl FnOnce(&mut Store) -> R,
    ) -> Option<R> {
        let store = self.tenants.store(location_id)?;
        let mut guard = lock(&store);
        Some(f(&mut guard))
    }

    /// The app id GHL derives from the client id (the part before the first `-`).
    pub fn app_id(&self) -> String {
        self.config
            .client_id
            .split('-')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// The store serving `location_id` (the primary's for an id that is not the
    /// company's).
    pub(crate) fn store_of(&self, location_id: &str) -> Arc<Mutex<Store>> {
        self.tenants
            .store(location_id)
            .unwrap_or_else(|| self.store.clone())
    }

    /// The location a request is served from: a Location grant's own; for an agency
    /// grant (or none) the first `locationId` of path, query and body that names a
    /// location of the company (installed, for an app's agency token); else the primary.
    pub(crate) fn request_location(
        &self,
        grant: Option<&Grant>,
        path: &[(&'static str, String)],
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> String {
        if let Some(own) = grant.and_then(|g| g.location_id.clone()) {
            return own;
        }
        let from_path = path
            .iter()
            .find(|(n, _)| *n == "locationId")
            .map(|(_, v)| v.as_str());
        let from_query = query
            .iter()
            .find(|(k, _)| k == "locationId")
            .map(|(_, v)| v.as_str());
        let from_body = body
            .and_then(|b| b.get("locationId"))
            .and_then(Value::as_str);
        let private = grant.is_none_or(|g| g.private);
        [from_path, from_query, from_body]
            .into_iter()
            .flatten()
            .find(|id| match self.tenants.installed(id) {
                Some(installed) => installed || private,
                None => false,
            })
            .map(str::to_string)
            .unwrap_or_else(|| self.config.location_id.clone())
    }

    /// Add `spec` as a new location of the company, or reinstall an uninstalled one,
    /// and send the `INSTALL` webhook.
    pub fn install_location(&self, spec: LocationSpec) -> Result<LocationInfo, LocationError> {
        check_id(&spec.id)?;
        if spec.token.as_deref() == Some("") {
            return Err(LocationError::EmptyToken(spec.id));
        }
        let info = {
            let mut list = self.tenants.write();
            let known = list.iter().any(|t| t.info.id == spec.id);
            let wanted = spec.token();
            if spec.token.is_some() || !known {
                if self.config.agency_token.as_deref() == Some(wanted.as_str()) {
                    return Err(LocationError::TokenTaken("the agency".into()));
                }
                if let Some(other) = list
                    .iter()
                    .find(|t| t.token == wanted && t.info.id != spec.id)
                {
                    return Err(LocationError::TokenTaken(other.info.id.clone()));
                }
            }
            let now = Some(iso(Utc::now()));
            match list.iter_mut().find(|t| t.info.id == spec.id) {
                Some(t) if t.info.installed => {
                    return Err(LocationError::AlreadyInstalled(spec.id));
                }
                Some(t) => {
                    t.info.installed = true;
                    t.info.installed_at = now;
                    if let Some(name) = spec.name.clone() {
                        lock(&t.store).location_name = name.clone();
                        t.info.name = name;
                    }
                    if spec.token.is_some() {
                        t.token = wanted;
                    }
                    t.info.clone()
                }
                None => {
                    let store = self.new_location_store(&spec.id, &spec.name());
                    let info = LocationInfo {
                        id: spec.id.clone(),
                        name: spec.name(),
                        installed: true,
                        installed_at: now,
                        primary: false,
                    };
                    list.push(Tenant {
                        info: info.clone(),
                        token: wanted,
                        store: Arc::new(Mutex::new(store)),
                    });
                    info
                }
            }
        };
        self.emit_install(&info.id);
        Ok(info)
    }

    /// Install a known, uninstalled location (the consent page's approval).
    pub(crate) fn reinstall(&self, location_id: &str) -> Result<LocationInfo, LocationError> {
        self.install_location(LocationSpec::new(location_id))
    }

    /// Uninstall the app from a location: revoke its OAuth tokens and codes, refuse its
    /// private integration token, and send the `UNINSTALL` webhook.
    pub fn uninstall_location(&self, location_id: &str) -> Result<LocationInfo, LocationError> {
        let info = {
            let mut list = self.tenants.write();
            let t = list
                .iter_mut()
                .find(|t| t.info.id == location_id)
                .ok_or_else(|| LocationError::NotFound(location_id.to_string()))?;
            if !t.info.installed {
                return Err(LocationError::NotInstalled(location_id.to_string()));
            }
            t.info.installed = false;
            t.info.installed_at = None;
            t.info.clone()
        };
        {
            let mut oauth = lock(&self.oauth);
            let own = |g: &Grant| g.location_id.as_deref() == Some(location_id);
            oauth.access.retain(|_, r| !own(&r.grant));
            oauth.refresh.retain(|_, r| !own(&r.grant));
            oauth.codes.retain(|_, c| c.location_id != location_id);
        }
        let mut fields = Map::new();
        fields.insert("appId".into(), json!(self.app_id()));
        fields.insert("locationId".into(), json!(location_id));
        fields.insert("companyId".into(), json!(self.config.company_id));
        self.webhooks
            .emit_in(None, vec![Event::new("UNINSTALL", fields)]);
        Ok(info)
    }

    /// Called with the tenants' write lock held: takes no tenants lock itself.
    fn new_location_store(&self, location_id: &str, name: &str) -> Store {
        // A new location takes the runtime settings the primary has now.
        let (allow, lag, truncate) = {
            let primary = lock(&self.store);
            (
                primary.allow_duplicates,
                primary.search_index.lag(),
                primary.truncate_after,
            )
        };
        let mut store = Store::with_seed(
            location_id,
            &self.config.company_id,
            allow,
            seed_of(location_id),
        );
        store.truncate_after = truncate;
        store.location_name = name.to_string();
        let s = &mut store;
        s.search_index.set_lag(lag, &s.contacts);
        store
    }

    fn emit_install(&self, location_id: &str) {
        let app_id = self.app_id();
        let mut fields = Map::new();
        fields.insert("appId".into(), json!(app_id));
        fields.insert("versionId".into(), json!(app_id));
        fields.insert("installType".into(), json!("Location"));
        fields.insert("locationId".into(), json!(location_id));
        fields.insert("companyId".into(), json!(self.config.company_id));
        fields.insert("userId".into(), json!(self.user_id));
        fields.insert("isWhitelabelCompany".into(), json!(false));
        fields.insert("whitelabelDetails".into(), json!({}));
        self.webhooks
            .emit_in(None, vec![Event::new("INSTALL", fields)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_and_without_token() {
        let a = LocationSpec::parse("loc-a").unwrap();
        assert_eq!(a.token(), "pit-loc-a");
        assert_eq!(a.name(), "Location loc-a");
        let b = LocationSpec::parse(" loc-b = secret-b ").unwrap();
        assert_eq!((b.id.as_str(), b.token().as_str()), ("loc-b", "secret-b"));
        assert!(matches!(
            LocationSpec::parse("loc b"),
            Err(LocationError::InvalidId(_))
        ));
        assert!(matches!(
            LocationSpec::parse("loc-c="),
            Err(LocationError::EmptyToken(_))
        ));
        assert!(matches!(
            LocationSpec::parse(""),
            Err(LocationError::InvalidId(_))
        ));
    }

    #[test]
    fn seeds_differ_per_location() {
        assert_ne!(seed_of("loc-a"), seed_of("loc-b"));
        assert_ne!(seed_of("loc-a"), STORE_SEED);
    }
}
