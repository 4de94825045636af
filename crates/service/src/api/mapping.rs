//! What the mapping editor needs beyond the pair's configuration:
//! - `GET /api/pairs/{id}/fields`: the standard fields and both accounts' custom
//!   fields, read live through the pair's connections, and the current mapping rows;
//! - `POST /api/pairs/{id}/preview`: sample records of both accounts read with a
//!   configuration text, and what the engine would write to the other side;
//! - `POST /api/pairs/{id}/dry-run`: the engine's `sync --dry-run` with an optional
//!   configuration text, against a copy of the pair's state: nothing is written.

use std::sync::Arc;

use axum::Extension;
use hlbridge_accounts::Pair;
use hlbridge_engine::canonical::{FieldKind, Fields, FIELDS};
use hlbridge_engine::config::{ConflictPolicy, Direction, Transform};
use hlbridge_engine::mapping::{GhlFieldDef, Mapping};
use hlbridge_engine::sides::ghl::GhlSide;
use hlbridge_engine::sides::sellsy::SellsySide;
use hlbridge_engine::{Engine, EngineConfig};
use hlbridge_sellsy::CustomFieldDefinition;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::connections::api_err;
use super::Lead;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::runner::validate_pair_config;

/// Standard fields: canonical name, GHL key, Sellsy key, label.
pub const STANDARD: &[(&str, &str, &str, &str)] = &[
    ("first_name", "firstName", "first_name", "First name"),
    ("last_name", "lastName", "last_name", "Last name"),
    ("email", "email", "email", "E-mail"),
    ("phone", "phone", "mobile_number", "Phone"),
    ("company", "companyName", "company", "Company"),
    (
        "address",
        "address1",
        "invoicing_address.address_line_1",
        "Address",
    ),
    ("city", "city", "invoicing_address.city", "City"),
    (
        "postal_code",
        "postalCode",
        "invoicing_address.postal_code",
        "Postal code",
    ),
    (
        "country",
        "country",
        "invoicing_address.country_code",
        "Country",
    ),
    ("website", "website", "website", "Website"),
    ("tags", "tags", "smart_tags", "Tags"),
    ("birth_date", "dateOfBirth", "birth_date", "Birth date"),
    (
        "dnd",
        "dnd",
        "marketing_campaigns_subscriptions",
        "Do not disturb",
    ),
];

/// One field of one account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FieldInfo {
    /// GHL: `firstName` or the custom field key (`contact.lead_score`); Sellsy:
    /// `first_name` or the custom field code.
    pub key: String,
    pub label: String,
    /// The value kind: text, email, phone, country, tags, date, bool, number, choice,
    /// choices, or `unsupported` (a type the sync cannot carry).
    pub kind: String,
    /// The account's own type name (`TEXT`, `numeric`, ...).
    pub raw_type: String,
    pub custom: bool,
    /// The canonical field a standard field is (none for custom fields).
    pub canonical: Option<String>,
}

/// One paired field of the mapping.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MappingRow {
    pub ghl: String,
    pub sellsy: String,
    pub custom: bool,
    /// `both`, `to_ghl` or `to_sellsy`.
    pub direction: String,
    /// `newest_wins`, `ghl_wins`, `sellsy_wins` or `manual`.
    pub conflict: String,
    /// `lowercase`, `uppercase`, `trim`, `capitalize` (standard text fields only).
    pub transform: Option<String>,
}

/// The current mapping of a pair: its rows and the rest of its configuration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CurrentMapping {
    pub rows: Vec<MappingRow>,
    /// The configuration without `[fields]` and `[custom_fields]` (TOML).
    pub rest: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PairFields {
    pub ghl: Vec<FieldInfo>,
    pub sellsy: Vec<FieldInfo>,
    pub current: CurrentMapping,
}

/// A configuration text to try (`hlbridge.toml` format); default the stored one.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TryConfig {
    #[serde(default)]
    pub config: Option<String>,
    /// Sample records per account (preview; 1 to 20, default 5).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One sample record and what the engine would write from it to the other side.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PreviewRecord {
    /// `ghl` or `sellsy`: where the record was read.
    pub side: String,
    pub id: String,
    pub name: String,
    /// The record as the mapping reads it (canonical fields).
    #[schema(value_type = Object)]
    pub read: Value,
    /// `sellsy` or `ghl`.
    pub target: String,
    /// The values the other side would receive, by field (the fields flowing there).
    #[schema(value_type = Object)]
    pub would_write: Value,
    /// The write the engine would send for them.
    #[schema(value_type = Object)]
    pub body: Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Preview {
    pub records: Vec<PreviewRecord>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DryRun {
    /// One line: counts per side, links, conflicts, pending.
    pub line: String,
    /// The engine's dry-run report: counts per side and sample diffs (`samples`).
    #[schema(value_type = Object)]
    pub report: hlbridge_engine::CycleReport,
}

pub fn kind_name(k: FieldKind) -> &'static str {
    match k {
        FieldKind::Text => "text",
        FieldKind::Email => "email",
        FieldKind::Phone => "phone",
        FieldKind::Country => "country",
        FieldKind::Tags => "tags",
        FieldKind::Date => "date",
        FieldKind::Bool => "bool",
        FieldKind::Number => "number",
        FieldKind::Choice => "choice",
        FieldKind::Choices => "choices",
    }
}

fn ghl_kind(t: &str) -> &'static str {
    match t {
        "TEXT" | "LARGE_TEXT" | "PHONE" | "EMAIL" => "text",
        "NUMERICAL" | "MONETORY" => "number",
        "SINGLE_OPTIONS" | "RADIO" => "choice",
        "MULTIPLE_OPTIONS" | "CHECKBOX" => "choices",
        "DATE" => "date",
        _ => "unsupported",
    }
}

fn sellsy_kind(t: &str) -> &'static str {
    match t {
        "simple-text" | "rich-text" | "email" | "url" => "text",
        "numeric" => "number",
        "radio" | "select" => "choice",
        "checkbox" => "choices",
        "date" => "date",
        "boolean" => "bool",
        _ => "unsupported",
    }
}

fn pair_of(lead: &Lead, id: &str) -> Result<Pair, ApiError> {
    lead.accounts
        .registry
        .pair(id)
        .map_err(api_err)?
        .ok_or_else(|| ApiError::not_found(format!("pair {id}: no such pair; see GET /api/pairs")))
}

/// The pair's two sides, over its stored connections.
async fn sides(lead: &Lead, pair: &Pair) -> Result<(GhlSide, SellsySide), ApiError> {
    let reg = &lead.accounts.registry;
    let g = reg.require(&pair.ghl).map_err(api_err)?;
    let s = reg.require(&pair.sellsy).map_err(api_err)?;
    let ghl = GhlSide {
        client: lead.accounts.ghl_client(&g).map_err(api_err)?,
        location_id: g.account.clone(),
    };
    let sellsy = SellsySide::new(lead.accounts.sellsy_client(&s).map_err(api_err)?);
    Ok((ghl, sellsy))
}

fn provider(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_GATEWAY,
        "provider",
        format!("{what}: {e}"),
    )
}

/// Both accounts' custom field definitions, read live.
async fn defs(
    ghl: &GhlSide,
    sellsy: &SellsySide,
) -> Result<(Vec<GhlFieldDef>, Vec<CustomFieldDefinition>), ApiError> {
    let g = ghl
        .custom_fields()
        .await
        .map_err(|e| provider("reading the GHL location's custom fields", e))?;
    let s = sellsy
        .custom_fields()
        .await
        .map_err(|e| provider("reading the Sellsy custom fields", e))?;
    Ok((g.iter().filter_map(GhlFieldDef::from_json).collect(), s))
}

fn field_lists(
    raw_ghl: &[Value],
    sellsy: &[CustomFieldDefinition],
) -> (Vec<FieldInfo>, Vec<FieldInfo>) {
    let kind_of = |c: &str| {
        FIELDS
            .iter()
            .find(|(n, _)| *n == c)
            .map(|(_, k)| kind_name(*k))
            .unwrap_or("text")
    };
    let mut g: Vec<FieldInfo> = STANDARD
        .iter()
        .map(|(c, gk, _, label)| FieldInfo {
            key: gk.to_string(),
            label: label.to_string(),
            kind: kind_of(c).into(),
            raw_type: "standard".into(),
            custom: false,
            canonical: Some(c.to_string()),
        })
        .collect();
    let mut s: Vec<FieldInfo> = STANDARD
        .iter()
        .map(|(c, _, sk, label)| FieldInfo {
            key: sk.to_string(),
            label: label.to_string(),
            kind: kind_of(c).into(),
            raw_type: "standard".into(),
            custom: false,
            canonical: Some(c.to_string()),
        })
        .collect();
    for v in raw_ghl {
        let Some(d) = GhlFieldDef::from_json(v) else {
            continue;
        };
        g.push(FieldInfo {
            label: v["name"].as_str().unwrap_or(&d.key).to_string(),
            kind: ghl_kind(&d.data_type).into(),
            raw_type: d.data_type.clone(),
            key: d.key,
            custom: true,
            canonical: None,
        });
    }
    for d in sellsy {
        if !d.related_object.is_empty() && !d.related_object.iter().any(|r| r == "contact") {
            continue;
        }
        s.push(FieldInfo {
            key: d.code.clone(),
            label: if d.name.is_empty() {
                d.code.clone()
            } else {
                d.name.clone()
            },
            kind: sellsy_kind(&d.kind).into(),
            raw_type: d.kind.clone(),
            custom: true,
            canonical: None,
        });
    }
    (g, s)
}

fn snake<T: std::fmt::Debug>(v: T) -> String {
    // The config enums' Debug names are their TOML names in CamelCase.
    let mut out = String::new();
    for (i, ch) in format!("{v:?}").chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(ch.to_lowercase());
    }
    out
}

/// The rows of `cfg` (the default mapping with its overrides) and the rest of `text`.
pub fn current_mapping(text: &str) -> Result<CurrentMapping, String> {
    let cfg = EngineConfig::from_toml(text).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for (c, gk, sk, _) in STANDARD {
        let rule = cfg.fields.get(*c).cloned().unwrap_or_default();
        if rule.enabled == Some(false) {
            continue;
        }
        rows.push(MappingRow {
            ghl: gk.to_string(),
            sellsy: sk.to_string(),
            custom: false,
            direction: snake(rule.direction.unwrap_or(Direction::Both)),
            conflict: snake(rule.conflict.unwrap_or(ConflictPolicy::NewestWins)),
            transform: rule.transform.map(|t: Transform| snake(t)),
        });
    }
    for (key, rule) in &cfg.custom_fields {
        rows.push(MappingRow {
            ghl: key.clone(),
            sellsy: rule.sellsy.clone(),
            custom: true,
            direction: snake(rule.direction.unwrap_or(Direction::Both)),
            conflict: snake(rule.conflict.unwrap_or(ConflictPolicy::NewestWins)),
            transform: None,
        });
    }
    let mut table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
    table.remove("fields");
    table.remove("custom_fields");
    let rest = toml::to_string(&table).map_err(|e| e.to_string())?;
    Ok(CurrentMapping { rows, rest })
}

/// The fields of both accounts (read live) and the pair's current mapping.
pub async fn fields_of(lead: &Lead, pair: &Pair) -> Result<PairFields, ApiError> {
    let (ghl, sellsy) = sides(lead, pair).await?;
    let raw = ghl
        .custom_fields()
        .await
        .map_err(|e| provider("reading the GHL location's custom fields", e))?;
    let s = sellsy
        .custom_fields()
        .await
        .map_err(|e| provider("reading the Sellsy custom fields", e))?;
    let (g, s) = field_lists(&raw, &s);
    let current = current_mapping(&pair.config)
        .map_err(|e| ApiError::internal(format!("pair {}: stored config: {e}", pair.id)))?;
    Ok(PairFields {
        ghl: g,
        sellsy: s,
        current,
    })
}

/// Both accounts' fields (standard and custom, read live through the pair's
/// connections) and the pair's current mapping rows.
#[utoipa::path(get, path = "/api/pairs/{id}/fields", tag = "pairs", params(("id" = String, Path)),
    responses((status = 200, body = PairFields), (status = 404, body = crate::ErrorBody),
              (status = 502, body = crate::ErrorBody)))]
pub async fn pair_fields(
    Extension(lead): Extension<Arc<Lead>>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<PairFields>, ApiError> {
    let pair = pair_of(&lead, &id)?;
    Ok(ApiJson(fields_of(&lead, &pair).await?))
}

fn config_text(pair: &Pair, body: &TryConfig) -> Result<String, ApiError> {
    let text = body.config.clone().unwrap_or_else(|| pair.config.clone());
    validate_pair_config(&text).map_err(|e| ApiError::bad_request(format!("config: {e}")))?;
    Ok(text)
}

fn name_of(f: &Fields) -> String {
    let part = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let n = format!("{} {}", part("first_name"), part("last_name"));
    let n = n.trim().to_string();
    if n.is_empty() {
        part("email")
    } else {
        n
    }
}

fn flowing(f: &Fields, mapping: &Mapping, to: hlbridge_engine::store::Side) -> Map<String, Value> {
    mapping
        .fields
        .iter()
        .filter(|s| s.flows_to(to))
        .filter_map(|s| f.get(&s.name).map(|v| (s.name.clone(), v.clone())))
        .collect()
}

fn sellsy_body(w: &hlbridge_engine::mapping::sellsy::SellsyWrite) -> Value {
    json!({
        "contact": w.contact,
        "invoicing_address": w.address,
        "smart_tags_added": w.tags_add,
        "company": w.company,
        "custom_fields": w.custom,
    })
}

/// Sample records of both accounts read with the configuration, and what would be
/// written from each to the other side. Reads only.
#[utoipa::path(post, path = "/api/pairs/{id}/preview", tag = "pairs", params(("id" = String, Path)),
    request_body = TryConfig,
    responses((status = 200, body = Preview), (status = 400, body = crate::ErrorBody),
              (status = 404, body = crate::ErrorBody), (status = 502, body = crate::ErrorBody)))]
pub async fn preview(
    Extension(lead): Extension<Arc<Lead>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TryConfig>,
) -> Result<ApiJson<Preview>, ApiError> {
    use hlbridge_engine::mapping::ghl::Changes;
    use hlbridge_engine::store::Side;
    let pair = pair_of(&lead, &id)?;
    let text = config_text(&pair, &body)?;
    let limit = body.limit.unwrap_or(5).clamp(1, 20);
    let cfg = EngineConfig::from_toml(&text)
        .map_err(|e| ApiError::bad_request(format!("config: {e}")))?;
    let (ghl, sellsy) = sides(&lead, &pair).await?;
    let (gd, sd) = defs(&ghl, &sellsy).await?;
    let mut mapping = Mapping::build(&cfg, &gd, &sd)
        .map_err(|e| ApiError::bad_request(format!("config: {e}")))?;
    let country = match cfg.sync.default_phone_region {
        Some(_) => None,
        None => hlbridge_engine::phone::location_country(&ghl.client, &ghl.location_id).await,
    };
    let region = hlbridge_engine::phone::resolve_region(
        cfg.sync.default_phone_region.as_deref(),
        country.as_deref(),
    )
    .map_err(|e| ApiError::bad_request(format!("config: sync.default_phone_region: {e}")))?;
    mapping.set_phone_region(region);

    let mut records = Vec::new();
    let search = hlbridge_ghl::ContactSearch {
        sort: vec![json!({"field": "dateUpdated", "direction": "desc"})],
        page_limit: limit as u32,
        ..hlbridge_ghl::ContactSearch::by_date_updated()
    };
    let (contacts, _) = ghl
        .client
        .contacts()
        .search_page(&search)
        .await
        .map_err(|e| provider("reading GHL sample contacts", e))?;
    for c in contacts.iter().take(limit) {
        let read = hlbridge_engine::mapping::ghl::read(c, &mapping);
        let would = flowing(&read, &mapping, Side::Sellsy);
        let changes: Changes = would
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        let w = hlbridge_engine::mapping::sellsy::write(&changes, &Fields::new(), None, &mapping);
        records.push(PreviewRecord {
            side: "ghl".into(),
            id: c.id.clone(),
            name: name_of(&read),
            read: hlbridge_engine::canonical::to_value(&read),
            target: "sellsy".into(),
            would_write: Value::Object(would),
            body: sellsy_body(&w),
        });
    }
    let embeds = hlbridge_engine::mapping::sellsy::embeds(&mapping);
    let page = sellsy
        .changes_page(None, None, &embeds)
        .await
        .map_err(|e| provider("reading Sellsy sample contacts", e))?;
    for c in page.contacts.iter().rev().take(limit) {
        let sid = c["id"].as_i64().map(|i| i.to_string()).unwrap_or_default();
        let company = sellsy.company_name(&sid).await.ok().flatten();
        let read = hlbridge_engine::mapping::sellsy::read(c, company.as_deref(), &mapping);
        let would = flowing(&read, &mapping, Side::Ghl);
        let changes: Changes = would
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        let input = hlbridge_engine::mapping::ghl::write(&changes, &mapping);
        records.push(PreviewRecord {
            side: "sellsy".into(),
            id: sid,
            name: name_of(&read),
            read: hlbridge_engine::canonical::to_value(&read),
            target: "ghl".into(),
            would_write: Value::Object(would),
            body: serde_json::to_value(&input).unwrap_or(Value::Null),
        });
    }
    Ok(ApiJson(Preview { records }))
}

/// A temporary copy of the pair's state (a fresh one before its first cycle), removed
/// on drop.
struct StateCopy(std::path::PathBuf);

impl Drop for StateCopy {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

fn copy_state(lead: &Lead, pair: &Pair) -> Result<StateCopy, ApiError> {
    let reg = &lead.accounts.registry;
    let src = reg.pair_state_path(&pair.id);
    let dir = src
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(std::env::temp_dir);
    let dst = dir.join(format!(
        "{}.dry-run.sqlite",
        hlbridge_accounts::new_id(&pair.id)
    ));
    let copy = StateCopy(dst.clone());
    hlbridge_accounts::ensure_private_file(&dst).map_err(api_err)?;
    if src.exists() {
        std::fs::remove_file(&dst).map_err(|e| ApiError::internal(e.to_string()))?;
        let db = rusqlite::Connection::open(&src).map_err(|e| ApiError::internal(e.to_string()))?;
        db.execute("VACUUM INTO ?1", [dst.to_string_lossy().as_ref()])
            .map_err(|e| ApiError::internal(format!("copying the pair's state: {e}")))?;
    }
    Ok(copy)
}

/// The engine's dry run (`sync --dry-run`) with the configuration (default the stored
/// one), on a copy of the pair's state: counts and sample diffs; nothing is written to
/// either account or to the pair's state.
#[utoipa::path(post, path = "/api/pairs/{id}/dry-run", tag = "pairs", params(("id" = String, Path)),
    request_body = TryConfig,
    responses((status = 200, body = DryRun), (status = 400, body = crate::ErrorBody),
              (status = 404, body = crate::ErrorBody), (status = 502, body = crate::ErrorBody)))]
pub async fn dry_run(
    Extension(lead): Extension<Arc<Lead>>,
    ApiPath(id): ApiPath<String>,
    raw: axum::body::Bytes,
) -> Result<ApiJson<DryRun>, ApiError> {
    let body: TryConfig = if raw.iter().all(u8::is_ascii_whitespace) {
        TryConfig::default()
    } else {
        serde_json::from_slice(&raw).map_err(|e| {
            ApiError::bad_request(format!(
                "body: {e}; send {{\"config\": \"<hlbridge.toml text>\"}} or nothing"
            ))
        })?
    };
    let pair = pair_of(&lead, &id)?;
    let text = config_text(&pair, &body)?;
    let mut cfg =
        validate_pair_config(&text).map_err(|e| ApiError::bad_request(format!("config: {e}")))?;
    let copy = copy_state(&lead, &pair)?;
    cfg.database.url = Some(format!("sqlite://{}", copy.0.display()));
    cfg.pair_id = Some(pair.id.clone());
    let store = hlbridge_engine::store::open(&cfg.database_url())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let reg = &lead.accounts.registry;
    let g = reg.require(&pair.ghl).map_err(api_err)?;
    let s = reg.require(&pair.sellsy).map_err(api_err)?;
    let ghl = lead.accounts.ghl_client(&g).map_err(api_err)?;
    let sellsy = lead.accounts.sellsy_client(&s).map_err(api_err)?;
    let engine = Engine::connect_clients(cfg, store, ghl, &g.account, sellsy)
        .await
        .map_err(|e| ApiError::bad_request(format!("config: {e}")))?;
    let report = engine
        .run_once(true, &|_| {})
        .await
        .map_err(|e| provider("dry run", e))?;
    drop(engine);
    drop(copy);
    Ok(ApiJson(DryRun {
        line: report.line(),
        report,
    }))
}
