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
use hlbridge_engine::canonical::{FieldKind, FIELDS};
use hlbridge_engine::config::{ConflictPolicy, Direction, Transform};
use hlbridge_engine::mapping::GhlFieldDef;
use hlbridge_engine::sides::ghl::GhlSide;
use hlbridge_engine::sides::sellsy::SellsySide;
use hlbridge_engine::EngineConfig;
use hlbridge_sellsy::CustomFieldDefinition;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub mod run;

use super::connections::api_err;
use super::Lead;
use crate::error::{ApiError, ApiJson, ApiPath};

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
            transform: rule.transform.map(|t: Transform| snake(t)),
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
