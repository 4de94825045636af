//! One read serving several flows: flows whose poll triggers read the same operation
//! with the same parameters (and account) share one fetch per poll; each flow then walks
//! the items with its own state (baseline, seen hashes, `previous`), so what each emits
//! is exactly what its own poll would have emitted. GHL reads resumed from a cursor
//! (the contacts search by `dateUpdated`) keep a cursor per flow and are not shared.

use std::path::Path;

use futures::TryStreamExt;
use hlbridge_engine::triggers::{sellsy_fetch, SqliteTriggerStore, Trigger, TriggerStore};
use serde_json::{json, Value};

use super::poll::{engine_err, prepare, store_err, Pass, Previous};
use super::{PollSummary, TriggerError};
use crate::model::{App, Flow};
use crate::run::{Apps, TriggerItem};

/// What a shareable read is: the app, the operation and its rendered input. `None` for
/// a trigger that is not a poll, does not parse, or resumes from a per-flow cursor.
pub fn shared_read_key(flow: &Flow) -> Option<String> {
    let (app, trigger) = prepare(flow).ok()?;
    if trigger.incremental() {
        return None;
    }
    let app = match app {
        App::Ghl => "ghl",
        App::Sellsy => "sellsy",
    };
    Some(json!([app, trigger.op.id, trigger.input.params, trigger.input.body]).to_string())
}

async fn fetch(apps: &Apps, app: App, trigger: &Trigger) -> Result<Vec<Value>, TriggerError> {
    let op_err = |e: &str| TriggerError::Operation(e.to_string());
    match app {
        App::Ghl => {
            let client = apps.ghl.as_ref().ok_or_else(|| op_err("no GHL connection: store one (`hlbridge connections add ghl`) or set HLBRIDGE_GHL_TOKEN"))?;
            let stream = hlbridge_ghl::pages::stream(client, trigger.op, trigger.input.clone());
            futures::pin_mut!(stream);
            let mut items = Vec::new();
            while let Some(item) = stream
                .try_next()
                .await
                .map_err(|source| TriggerError::Api {
                    side: "GHL",
                    source,
                })?
            {
                items.push(item);
            }
            Ok(items)
        }
        App::Sellsy => {
            let client = apps.sellsy.as_ref().ok_or_else(|| op_err("no Sellsy connection: store one (`hlbridge connections add sellsy`) or set HLBRIDGE_SELLSY_TOKEN"))?;
            sellsy_fetch(client, trigger.op, &trigger.input)
                .await
                .map_err(engine_err)
        }
    }
}

/// Poll `flows` (which share one [`shared_read_key`]) with one fetch; `emit` gets the
/// flow's index and each item, before the item is remembered for that flow. One result
/// per flow, in order.
pub async fn poll_shared(
    apps: &Apps,
    db_path: &Path,
    flows: &[Flow],
    from_beginning: bool,
    emit: &mut (dyn FnMut(usize, TriggerItem) -> Result<(), String> + Send),
) -> Result<Vec<Result<PollSummary, TriggerError>>, TriggerError> {
    let prepared: Vec<(App, Trigger)> = flows.iter().map(prepare).collect::<Result<_, _>>()?;
    let Some((app, first)) = prepared.first() else {
        return Ok(Vec::new());
    };
    let key = shared_read_key(&flows[0]);
    if key.is_none() || flows.iter().any(|f| shared_read_key(f) != key) {
        return Err(TriggerError::Operation(
            "poll_shared: the flows do not read the same thing (see shared_read_key)".into(),
        ));
    }
    hlbridge_core::fsutil::ensure_private_db(db_path).map_err(store_err)?;
    let store = SqliteTriggerStore::open(db_path).map_err(engine_err)?;
    let previous = Previous::open(db_path)?;
    let items = fetch(apps, *app, first).await?;
    let mut out = Vec::new();
    for (i, (_, trigger)) in prepared.iter().enumerate() {
        let result = (|| {
            let baseline = !store.started(&trigger.key).map_err(engine_err)? && !from_beginning;
            let mut pass = Pass {
                store: &store,
                previous: &previous,
                trigger,
                baseline,
                summary: PollSummary {
                    baseline,
                    ..Default::default()
                },
            };
            let mut one = |item: TriggerItem| emit(i, item);
            for item in &items {
                pass.item(item.clone(), &mut one)?;
            }
            store.mark_started(&trigger.key).map_err(engine_err)?;
            Ok(pass.summary)
        })();
        out.push(result);
    }
    Ok(out)
}
