//! Polls served by the sync's own intake: a flow whose poll trigger reads exactly what
//! the pair's intake already reads takes its items from the pair's intake feed
//! (`hlbridge_engine::intake::feed`) instead of sending its own request. The flow keeps
//! its own trigger state (baseline, seen ids and hashes, `previous`) and its own
//! position in the feed, so it emits what its own poll would have: each item once
//! (`on: new`) or once per real change (`on: updated`).
//!
//! Served reads (no other parameter, no filter, no query):
//! - `ghl:contacts.search-contacts-advanced` (body: at most `pageLimit`, `locationId`
//!   and `sort` by `dateUpdated` ascending, the default);
//! - `sellsy:contacts.search-contacts` (no filters or only empty ones) and
//!   `sellsy:contacts.get-list`, with at most `order`, `direction` and `limit`.
//!
//! Any other trigger keeps polling by itself.

use std::path::Path;

use hlbridge_engine::intake::feed::{FeedSource, IntakeFeed};
use hlbridge_engine::triggers::{SqliteTriggerStore, TriggerStore};
use serde_json::{json, Value};

use super::poll::{engine_err, prepare, store_err, Pass, Previous};
use super::{PollSummary, TriggerError};
use crate::model::{split_operation, Flow, Trigger as FlowTrigger};
use crate::run::TriggerItem;

/// Feed items walked per batch.
const BATCH: usize = 500;

fn only_keys(v: &serde_json::Map<String, Value>, allowed: &[&str]) -> bool {
    v.keys().all(|k| allowed.contains(&k.as_str()))
}

/// Which intake read serves `flow`'s poll trigger, if its parameters are exactly what
/// the intake reads (see the module documentation).
pub fn intake_source(flow: &Flow) -> Option<FeedSource> {
    let FlowTrigger::Poll(t) = &flow.trigger else {
        return None;
    };
    let (app, op) = split_operation(&t.operation)?;
    let params: serde_json::Map<String, Value> = t
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let body = match &t.body {
        None => serde_json::Map::new(),
        Some(Value::Object(b)) => b.clone(),
        Some(_) => return None,
    };
    match (app, op) {
        (crate::model::App::Ghl, "contacts.search-contacts-advanced") => {
            let sort_ok = body
                .get("sort")
                .is_none_or(|s| s == &json!([{"field": "dateUpdated", "direction": "asc"}]));
            (only_keys(&params, &["locationId"])
                && only_keys(&body, &["pageLimit", "locationId", "sort"])
                && sort_ok)
                .then_some(FeedSource::GhlContacts)
        }
        (crate::model::App::Sellsy, "contacts.search-contacts" | "contacts.get-list") => {
            let filters_ok = body.get("filters").is_none_or(|f| {
                f.as_object()
                    .is_some_and(|m| m.values().all(|v| v.is_null() || v == &json!({})))
            });
            (only_keys(&params, &["order", "direction", "limit"])
                && only_keys(&body, &["filters"])
                && filters_ok)
                .then_some(FeedSource::SellsyContacts)
        }
        _ => None,
    }
}

/// Walk the feed of `flow`'s intake source for the flow: the items read since its last
/// walk, each handed to `emit` (before it is remembered) as its own poll would have. The
/// first walk records the baseline from the whole feed (unless `from_beginning`).
/// `Ok(None)` when the feed cannot serve the flow yet (no whole read of the source went
/// into it): the caller waits for the sync's first read.
pub fn poll_feed(
    db_path: &Path,
    feed: &IntakeFeed,
    flow: &Flow,
    from_beginning: bool,
    emit: &mut (dyn FnMut(TriggerItem) -> Result<(), String> + Send),
) -> Result<Option<PollSummary>, TriggerError> {
    let source = intake_source(flow).ok_or_else(|| {
        TriggerError::Operation(format!(
            "flow {}: its poll is not one the intake reads (see triggers::intake_source)",
            flow.name
        ))
    })?;
    // Said on every walk: the sync's intake publishes a source only while it is read.
    feed.want(source).map_err(engine_err)?;
    if !feed.complete(source).map_err(engine_err)? {
        return Ok(None);
    }
    let (_, trigger) = prepare(flow)?;
    hlbridge_core::fsutil::ensure_private_db(db_path).map_err(store_err)?;
    let store = SqliteTriggerStore::open(db_path).map_err(engine_err)?;
    let previous = Previous::open(db_path)?;
    let position_key = format!("{}@feed:{}", trigger.key, source.as_str());
    let started = store.started(&trigger.key).map_err(engine_err)?;
    let baseline = !started && !from_beginning;
    let position = store.cursor(&position_key).map_err(engine_err)?;
    // A flow that polled by itself before keeps its seen items: its first walk of the
    // feed emits the ids it never saw; for the ones it saw, the feed's form of the item
    // becomes the one changes are measured against (no change is assumed from the
    // switch of source alone).
    let switching = started && position.is_none();
    let mut after = match position {
        Some(v) if started => v.as_i64().unwrap_or(0),
        _ => 0,
    };
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
    loop {
        let batch = feed.since(source, after, BATCH).map_err(engine_err)?;
        let Some(last) = batch.last().map(|i| i.seq) else {
            break;
        };
        for item in batch {
            if switching {
                let id = hlbridge_engine::triggers::item_id(&item.item);
                pass.baseline = store.seen(&trigger.key, &id).map_err(engine_err)?.is_some();
            }
            pass.item(item.item, emit)?;
        }
        after = last;
        // The position moves after the batch's items were handed over and remembered.
        store
            .set_cursor(&position_key, &json!(after))
            .map_err(engine_err)?;
    }
    store.mark_started(&trigger.key).map_err(engine_err)?;
    Ok(Some(pass.summary))
}
