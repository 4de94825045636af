//! Sellsy read operations as polling triggers, with the same store and the same
//! `new`/`updated` semantics as the GHL ones: a list or search is paged through with the
//! client's seek paging (every item once per poll); a single-object read (`get-*`)
//! yields its object, or the array under its response key.
//!
//! A Sellsy trigger's state key starts with `sellsy:` so it never shares state with a
//! GHL operation of the same id.

use futures::TryStreamExt;
use hlbridge_core::call::CallInput;
use hlbridge_core::optable::{App, Operation, Pagination};
use hlbridge_sellsy::{PagingMode, SellsyClient};
use serde_json::Value;

use super::{content_hash, item_id, Mode, PollOutcome, Trigger, TriggerStore};
use crate::error::{EngineError, Result};

/// A Sellsy trigger: the operation must be a Sellsy read (`hlbridge ops list --app
/// sellsy --kind trigger`).
pub fn sellsy_trigger(op: &'static Operation, input: CallInput, mode: Mode) -> Result<Trigger> {
    if op.app != App::Sellsy {
        return Err(EngineError::Config(format!(
            "{} is not a Sellsy operation: watch it with --app ghl",
            op.id
        )));
    }
    let mut trigger = Trigger::new(op, input, mode)?;
    trigger.key = format!("sellsy:{}", trigger.key);
    Ok(trigger)
}

/// The items of one non-paged response: the array under the response key (or the body
/// when it is an array), else the object itself.
pub fn sellsy_items(op: &Operation, body: &Value) -> Vec<Value> {
    if let Value::Array(items) = body {
        return items.clone();
    }
    match op.response_key.and_then(|k| body.get(k)) {
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
        None if body.is_null() => Vec::new(),
        None => vec![body.clone()],
    }
}

/// Every item a Sellsy read returns now, page after page.
pub async fn sellsy_fetch(
    client: &SellsyClient,
    op: &'static Operation,
    input: &CallInput,
) -> Result<Vec<Value>> {
    if op.pagination == Pagination::Seek {
        let stream = client.stream(op, input.clone(), PagingMode::Seek);
        futures::pin_mut!(stream);
        let mut items = Vec::new();
        while let Some(item) = stream.try_next().await.map_err(EngineError::sellsy)? {
            items.push(item);
        }
        return Ok(items);
    }
    let body = client
        .call_op(op, input)
        .await
        .map_err(EngineError::sellsy)?
        .body;
    Ok(sellsy_items(op, &body))
}

/// Poll a Sellsy trigger once: like [`super::poll`], each new (or really changed) item
/// goes to `emit` before it is remembered, so a crash re-emits rather than loses. The
/// first poll only records the baseline unless `from_beginning` is set.
pub async fn poll_sellsy(
    client: &SellsyClient,
    store: &dyn TriggerStore,
    trigger: &Trigger,
    from_beginning: bool,
    mut emit: impl FnMut(&Value),
) -> Result<PollOutcome> {
    let baseline = !store.started(&trigger.key)? && !from_beginning;
    let items = sellsy_fetch(client, trigger.op, &trigger.input).await?;
    let mut outcome = PollOutcome {
        baseline,
        ..Default::default()
    };
    for item in items {
        outcome.seen += 1;
        let id = item_id(&item);
        let hash = content_hash(&item);
        let known = store.seen(&trigger.key, &id)?;
        let fresh = match trigger.mode {
            Mode::New => known.is_none(),
            Mode::Updated => known.as_deref() != Some(hash.as_str()),
        };
        if fresh {
            if !baseline {
                emit(&item);
                outcome.emitted += 1;
            }
            store.remember(&trigger.key, &id, &hash)?;
        }
    }
    store.mark_started(&trigger.key)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_reads_yield_their_object_and_lists_their_array() {
        let get = hlbridge_sellsy::operation("contacts.get-informations").unwrap();
        assert_eq!(sellsy_items(get, &json!({"id": 3})), vec![json!({"id": 3})]);
        let addresses = hlbridge_sellsy::operation("contacts.get-addresses").unwrap();
        assert_eq!(
            sellsy_items(addresses, &json!({"data": [{"id": 1}, {"id": 2}]})).len(),
            2
        );
        assert!(sellsy_items(get, &Value::Null).is_empty());
    }

    #[test]
    fn sellsy_triggers_refuse_ghl_operations_and_writes() {
        let ghl = hlbridge_ghl::operation("contacts.get-contact").unwrap();
        assert!(sellsy_trigger(ghl, CallInput::new(), Mode::New).is_err());
        let write = hlbridge_sellsy::operation("contacts.create-contact").unwrap();
        assert!(sellsy_trigger(write, CallInput::new(), Mode::New).is_err());
        let list = hlbridge_sellsy::operation("contacts.get-list").unwrap();
        let t = sellsy_trigger(list, CallInput::new(), Mode::New).unwrap();
        assert!(t.key.starts_with("sellsy:contacts.get-list#"), "{}", t.key);
    }
}
