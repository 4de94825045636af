//! One poll of a flow's poll trigger, over either app.

use std::path::Path;
use std::sync::Mutex;

use futures::TryStreamExt;
use hlbridge_core::call::CallInput;
use hlbridge_engine::triggers::{
    content_hash, item_id, sellsy_fetch, sellsy_trigger, Mode, SqliteTriggerStore, Trigger,
    TriggerStore,
};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::TriggerError;
use crate::model::{split_operation, App, Flow, PollMode, PollTrigger, Trigger as FlowTrigger};
use crate::run::{Apps, TriggerItem};
use crate::template::Templates;

/// What one poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PollSummary {
    /// Items the operation returned.
    pub seen: usize,
    /// Items handed to `emit`.
    pub emitted: usize,
    /// True when this poll only recorded the baseline (nothing emitted).
    pub baseline: bool,
}

pub(super) fn store_err(e: impl std::fmt::Display) -> TriggerError {
    TriggerError::Store(e.to_string())
}

pub(super) fn engine_err(e: hlbridge_engine::EngineError) -> TriggerError {
    match e {
        hlbridge_engine::EngineError::Api { side, source } => TriggerError::Api { side, source },
        other => TriggerError::Store(other.to_string()),
    }
}

fn hash16(v: &Value) -> String {
    hex::encode(Sha256::digest(v.to_string().as_bytes()))[..16].to_string()
}

/// The name of a flow's poll state: the flow, the operation and a hash of the trigger
/// as written (before rendering, so `{{ now }}` in a parameter keeps the same state). A
/// changed trigger starts over with a new baseline; a new flow version that keeps the
/// trigger keeps its state.
pub fn poll_state_key(flow_name: &str, t: &PollTrigger) -> String {
    let identity = json!({"params": t.params, "body": t.body, "on": t.on});
    format!("flow:{flow_name}:{}#{}", t.operation, hash16(&identity))
}

/// The rendered parameters and body: templates over `now` only.
fn call_input(t: &PollTrigger) -> Result<CallInput, TriggerError> {
    let templates = Templates::new();
    let scope = json!({"now": chrono::Utc::now().to_rfc3339()});
    let params: Map<String, Value> = t.params.clone().into_iter().collect();
    let rendered = templates
        .render(&Value::Object(params), &scope)
        .map_err(|e| TriggerError::Template(format!("params: {e}")))?;
    let body = match &t.body {
        Some(b) => Some(
            templates
                .render(b, &scope)
                .map_err(|e| TriggerError::Template(format!("body: {e}")))?,
        ),
        None => None,
    };
    let mut input = CallInput {
        params: Default::default(),
        body,
    };
    if let Value::Object(map) = rendered {
        for (name, value) in map {
            let values: Vec<String> = match value {
                Value::Null => continue,
                Value::Array(items) => items.iter().map(scalar).collect(),
                other => vec![scalar(&other)],
            };
            input.params.insert(name, values);
        }
    }
    Ok(input)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The item as last emitted, per trigger state and item id (for `previous`).
pub(super) struct Previous {
    conn: Mutex<Connection>,
}

impl Previous {
    pub(super) fn open(path: &Path) -> Result<Previous, TriggerError> {
        let conn = Connection::open(path).map_err(store_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS flow_trigger_previous (
                 trigger TEXT NOT NULL,
                 item_id TEXT NOT NULL,
                 item TEXT NOT NULL,
                 PRIMARY KEY (trigger, item_id)
             );",
        )
        .map_err(store_err)?;
        Ok(Previous {
            conn: Mutex::new(conn),
        })
    }

    fn get(&self, trigger: &str, id: &str) -> Result<Option<Value>, TriggerError> {
        let raw: Option<String> = self
            .conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .query_row(
                "SELECT item FROM flow_trigger_previous WHERE trigger = ?1 AND item_id = ?2",
                params![trigger, id],
                |r| r.get(0),
            )
            .optional()
            .map_err(store_err)?;
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }

    fn set(&self, trigger: &str, id: &str, item: &Value) -> Result<(), TriggerError> {
        self.conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .execute(
                "INSERT INTO flow_trigger_previous (trigger, item_id, item) VALUES (?1, ?2, ?3)
                 ON CONFLICT(trigger, item_id) DO UPDATE SET item = excluded.item",
                params![trigger, id, item.to_string()],
            )
            .map_err(store_err)?;
        Ok(())
    }
}

/// One poll's walk over the items.
pub(super) struct Pass<'a> {
    pub(super) store: &'a SqliteTriggerStore,
    pub(super) previous: &'a Previous,
    pub(super) trigger: &'a Trigger,
    pub(super) baseline: bool,
    pub(super) summary: PollSummary,
}

impl Pass<'_> {
    pub(super) fn item(
        &mut self,
        item: Value,
        emit: &mut (dyn FnMut(TriggerItem) -> Result<(), String> + Send),
    ) -> Result<(), TriggerError> {
        self.summary.seen += 1;
        let key = &self.trigger.key;
        let id = item_id(&item);
        let hash = content_hash(&item);
        let known = self.store.seen(key, &id).map_err(engine_err)?;
        let updated = self.trigger.mode == Mode::Updated;
        let fresh = if updated {
            known.as_deref() != Some(hash.as_str())
        } else {
            known.is_none()
        };
        if fresh {
            if !self.baseline {
                let (item_key, previous) = if updated {
                    (
                        format!("{id}:{}", &hash[..16]),
                        self.previous.get(key, &id)?,
                    )
                } else {
                    (id.clone(), None)
                };
                emit(TriggerItem {
                    key: item_key.clone(),
                    payload: item.clone(),
                    previous,
                })
                .map_err(|message| TriggerError::Emit {
                    key: item_key,
                    message,
                })?;
                self.summary.emitted += 1;
            }
            if updated {
                self.previous.set(key, &id, &item)?;
            }
            self.store.remember(key, &id, &hash).map_err(engine_err)?;
        }
        if self.trigger.incremental() {
            if let Some(after) = item.get("searchAfter") {
                self.store.set_cursor(key, after).map_err(engine_err)?;
            }
        }
        Ok(())
    }
}

/// The flow's poll trigger as the engine's trigger (its state key set), and its app.
pub(super) fn prepare(flow: &Flow) -> Result<(App, Trigger), TriggerError> {
    let t = match &flow.trigger {
        FlowTrigger::Poll(t) => t,
        FlowTrigger::Webhook(_) => return Err(TriggerError::NotPoll(flow.name.clone(), "webhook")),
        FlowTrigger::Schedule(_) => {
            return Err(TriggerError::NotPoll(flow.name.clone(), "schedule"))
        }
    };
    let (app, op_id) = split_operation(&t.operation).ok_or_else(|| {
        TriggerError::Operation(format!(
            "{:?}: write ghl:OPERATION or sellsy:OPERATION",
            t.operation
        ))
    })?;
    let mode = match t.on {
        PollMode::New => Mode::New,
        PollMode::Updated => Mode::Updated,
    };
    let input = call_input(t)?;
    let op_err = |e: String| TriggerError::Operation(e);
    let mut trigger = match app {
        App::Ghl => {
            let op = hlbridge_ghl::operation(op_id).map_err(|e| op_err(e.to_string()))?;
            Trigger::new(op, input, mode).map_err(|e| op_err(e.to_string()))?
        }
        App::Sellsy => {
            let op = hlbridge_sellsy::operation(op_id).map_err(|e| op_err(e.to_string()))?;
            sellsy_trigger(op, input, mode).map_err(|e| op_err(e.to_string()))?
        }
    };
    trigger.key = poll_state_key(&flow.name, t);
    Ok((app, trigger))
}

/// Poll `flow`'s poll trigger once and hand each new (or, for `on: updated`, really
/// changed) item to `emit`, before it is remembered: a crash or a refused item comes
/// again on the next poll rather than being lost. Keys are stable: the item id for
/// `new`, `id:hash16` for `updated`, where `previous` is the item as last emitted (or as
/// the baseline saw it). The first poll records a baseline unless `from_beginning`.
pub async fn poll_once(
    apps: &Apps,
    db_path: &Path,
    flow: &Flow,
    from_beginning: bool,
    emit: &mut (dyn FnMut(TriggerItem) -> Result<(), String> + Send),
) -> Result<PollSummary, TriggerError> {
    let (app, trigger) = prepare(flow)?;
    let op_err = |e: String| TriggerError::Operation(e);
    hlbridge_core::fsutil::ensure_private_db(db_path).map_err(store_err)?;
    let store = SqliteTriggerStore::open(db_path).map_err(engine_err)?;
    let previous = Previous::open(db_path)?;
    let baseline = !store.started(&trigger.key).map_err(engine_err)? && !from_beginning;
    let mut pass = Pass {
        store: &store,
        previous: &previous,
        trigger: &trigger,
        baseline,
        summary: PollSummary {
            baseline,
            ..Default::default()
        },
    };
    match app {
        App::Ghl => {
            let client = apps.ghl.as_ref().ok_or_else(|| {
                op_err("no GHL connection: store one (`hlbridge connections add ghl`) or set HLBRIDGE_GHL_TOKEN".into())
            })?;
            let mut input = trigger.input.clone();
            if trigger.incremental() {
                if let (Some(cursor), Some(Value::Object(body))) = (
                    store.cursor(&trigger.key).map_err(engine_err)?,
                    input.body.as_mut(),
                ) {
                    body.remove("page");
                    body.insert("searchAfter".into(), cursor);
                }
            }
            let stream = hlbridge_ghl::pages::stream(client, trigger.op, input);
            futures::pin_mut!(stream);
            while let Some(item) = stream
                .try_next()
                .await
                .map_err(|source| TriggerError::Api {
                    side: "GHL",
                    source,
                })?
            {
                pass.item(item, emit)?;
            }
        }
        App::Sellsy => {
            let client = apps.sellsy.as_ref().ok_or_else(|| {
                op_err("no Sellsy connection: store one (`hlbridge connections add sellsy`) or set HLBRIDGE_SELLSY_TOKEN".into())
            })?;
            let items = sellsy_fetch(client, trigger.op, &trigger.input)
                .await
                .map_err(engine_err)?;
            for item in items {
                pass.item(item, emit)?;
            }
        }
    }
    store.mark_started(&trigger.key).map_err(engine_err)?;
    Ok(pass.summary)
}
