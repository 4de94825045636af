//! Where `flow test`, `flow run` and `runs replay` find their connections and
//! database (as `sync` does), and `flow test --sample`'s item.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hlbridge_core::auth::{MemoryTokenStore, TokenManager};
use hlbridge_engine::config::EngineConfig;
use hlbridge_flows::model::{Flow, Trigger};
use hlbridge_flows::run::{item_key, Apps, RunStore, TriggerItem};
use hlbridge_ghl::{GhlAuth, GhlClient};
use hlbridge_sellsy::{SellsyAuth, SellsyClient};
use serde_json::Value;

/// The state database path `sync` uses.
pub(crate) fn db_path(cfg: &EngineConfig) -> Result<PathBuf, String> {
    hlbridge_engine::store::sqlite_path(&cfg.database_url()).map_err(|e| e.to_string())
}

/// Both apps' clients, as `sync` finds them: `HLBRIDGE_*` (or the configuration
/// file), else the stored connections. An app with neither is left out (a step that
/// calls it then says how to connect it).
pub(crate) async fn apps(cfg: &EngineConfig, outbox: bool) -> Result<Apps, String> {
    let url = cfg.database_url();
    // Budgets shared through the database, unless a dry run would create it.
    let exists = db_path(cfg).map(|p| p.exists()).unwrap_or(false);
    let budgets = if outbox || exists {
        crate::budgets::shared_for(&url)
    } else {
        hlbridge_accounts::Budgets::default()
    };
    let ghl = match (
        cfg.ghl.token.clone().filter(|t| !t.is_empty()),
        cfg.ghl.location_id.clone().filter(|l| !l.is_empty()),
    ) {
        (Some(token), location) => {
            let mut b = GhlClient::builder()
                .base_url(
                    cfg.ghl
                        .base_url
                        .clone()
                        .unwrap_or_else(|| hlbridge_ghl::DEFAULT_BASE_URL.into()),
                )
                .auth(GhlAuth::LocationToken(token));
            if let Some(l) = location {
                b = b.location_id(l);
            }
            if let Some(budget) = budgets.ghl.clone() {
                b = b.budget(budget);
            }
            Some(b.build().map_err(|e| e.to_string())?)
        }
        (None, location) => {
            crate::connections_cmd::stored_ghl_client(&url, None, location.as_deref())
                .map_err(|e| e.to_string())?
        }
    };
    let sellsy = match sellsy_from_config(cfg, budgets.sellsy.clone()).await? {
        Some(c) => Some(c),
        None => {
            crate::connections_cmd::stored_sellsy_client(&url, None).map_err(|e| e.to_string())?
        }
    };
    let outbox = if outbox {
        Some(hlbridge_engine::store::open(&url).map_err(|e| e.to_string())?)
    } else {
        None
    };
    Ok(Apps {
        ghl,
        sellsy,
        outbox,
        pair: Some("default".into()),
    })
}

async fn sellsy_from_config(
    cfg: &EngineConfig,
    budget: Option<Arc<hlbridge_core::rate::RateBudget>>,
) -> Result<Option<SellsyClient>, String> {
    let s = &cfg.sellsy;
    let base = s
        .base_url
        .clone()
        .unwrap_or_else(|| hlbridge_sellsy::DEFAULT_BASE_URL.into());
    let auth = match (
        s.token.clone().filter(|t| !t.is_empty()),
        s.client_id.clone().filter(|c| !c.is_empty()),
    ) {
        (Some(token), _) => SellsyAuth::Token(token),
        (None, Some(client_id)) => {
            let token_url = crate::sellsy_cmd::token_url_for(&base, s.token_url.clone());
            let oauth = Arc::new(
                hlbridge_sellsy::oauth::SellsyOAuth::new(
                    &token_url,
                    &client_id,
                    s.client_secret.as_deref(),
                )
                .map_err(|e| e.to_string())?,
            );
            let tokens = oauth.client_credentials().await.map_err(|e| {
                format!("Sellsy client credentials (HLBRIDGE_SELLSY_CLIENT_ID): {e}")
            })?;
            let manager = TokenManager::create(
                "sellsy:flow",
                Arc::new(MemoryTokenStore::default()),
                Some(oauth),
                tokens,
            )
            .map_err(|e| e.to_string())?;
            SellsyAuth::OAuth(Arc::new(manager))
        }
        (None, None) => return Ok(None),
    };
    let mut b = SellsyClient::builder().base_url(&base).auth(auth);
    if let Some(budget) = budget {
        b = b.budget(budget);
    }
    b.build().map(Some).map_err(|e| e.to_string())
}

/// The first item of a read operation's answer: the answer itself when a list, else
/// its first list field (`contacts`, `data`, …).
fn first_item(answer: &Value) -> Option<Value> {
    match answer {
        Value::Array(items) => items.first().cloned(),
        Value::Object(map) => {
            for key in [
                "data",
                "contacts",
                "tasks",
                "notes",
                "opportunities",
                "items",
                "results",
            ] {
                if let Some(Value::Array(items)) = map.get(key) {
                    return items.first().cloned();
                }
            }
            map.values()
                .find_map(|v| v.as_array().and_then(|a| a.first().cloned()))
        }
        _ => None,
    }
}

/// `--sample`: the newest run's trigger item of `flow`, else one read of its poll.
pub(crate) async fn sample(flow: &Flow, db: &Path, apps: &Apps) -> Result<TriggerItem, String> {
    if let Some(store) = RunStore::open_existing(db).map_err(|e| e.to_string())? {
        let filter = hlbridge_flows::run::RunFilter {
            flow: Some(flow.name.clone()),
            status: None,
            limit: Some(1),
        };
        if let Some(run) = store
            .list(&filter)
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
        {
            return Ok(TriggerItem {
                key: run.run_key,
                payload: run.trigger.get("payload").cloned().unwrap_or(Value::Null),
                previous: run
                    .trigger
                    .get("previous")
                    .filter(|v| !v.is_null())
                    .cloned(),
            });
        }
    }
    let Trigger::Poll(t) = &flow.trigger else {
        return Err(format!(
            "--sample: flow {} has no recorded run and its trigger is not a poll: give --item JSON|@FILE",
            flow.name
        ));
    };
    let params: serde_json::Map<String, Value> = t.params.clone().into_iter().collect();
    let input = hlbridge_flows::run::call_input(&params, t.body.clone());
    let answer =
        match hlbridge_flows::model::split_operation(&t.operation) {
            Some((hlbridge_flows::model::App::Ghl, op)) => match &apps.ghl {
                Some(c) => c
                    .call(op, input)
                    .await
                    .map_err(|e| format!("{}: {e}", t.operation))?,
                None => {
                    return Err(
                        "--sample: no GHL connection: connect one or set HLBRIDGE_GHL_TOKEN".into(),
                    )
                }
            },
            Some((hlbridge_flows::model::App::Sellsy, op)) => match &apps.sellsy {
                Some(c) => c
                    .call(op, input)
                    .await
                    .map_err(|e| format!("{}: {e}", t.operation))?,
                None => return Err(
                    "--sample: no Sellsy connection: connect one or set HLBRIDGE_SELLSY_CLIENT_ID"
                        .into(),
                ),
            },
            None => {
                return Err(format!(
                    "--sample: operation {}: write ghl:OP or sellsy:OP",
                    t.operation
                ))
            }
        };
    let payload = first_item(&answer).ok_or_else(|| {
        format!(
            "--sample: {} returned no item: give --item JSON|@FILE",
            t.operation
        )
    })?;
    Ok(TriggerItem {
        key: item_key(&payload),
        payload,
        previous: None,
    })
}
