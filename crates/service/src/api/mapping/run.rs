//! `POST /api/pairs/{id}/preview` and `POST /api/pairs/{id}/dry-run`: a configuration
//! text tried on real records, reading only.

use std::sync::Arc;

use axum::Extension;
use hlbridge_accounts::Pair;
use hlbridge_engine::canonical::Fields;
use hlbridge_engine::mapping::Mapping;
use hlbridge_engine::{Engine, EngineConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::{defs, pair_of, provider, sides};
use crate::api::connections::api_err;
use crate::api::Lead;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::runner::validate_pair_config;

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
