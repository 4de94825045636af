//! Polling triggers: every read operation of the GHL table can be watched.
//!
//! A poll pages through the operation's results (within the location's shared rate
//! budget) and emits each item once: once per id for `new` triggers, once per real
//! change for `updated` triggers — the change is a content hash with volatile timestamp
//! fields left out, so a bare `dateUpdated` bump emits nothing. What was emitted is
//! remembered in the [`TriggerStore`], so restarts do not re-emit. The first poll only
//! records a baseline (no history replay) unless `from_beginning` is set. For the
//! contacts search the poll is incremental: it sorts by `dateUpdated` and resumes after
//! the last item seen (its `searchAfter`), saved after every item — never the clock.
//! Sellsy reads are polled the same way ([`poll_sellsy`]).

mod sellsy;
mod store;

use std::time::Duration;

use futures::TryStreamExt;
use hlbridge_core::call::CallInput;
use hlbridge_core::optable::{Kind, Operation, Pagination};
use hlbridge_ghl::GhlClient;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

pub use sellsy::{poll_sellsy, sellsy_fetch, sellsy_items, sellsy_trigger};
pub use store::{SqliteTriggerStore, TriggerStore};

use crate::error::{EngineError, Result};

/// Fields that change without the item changing.
const VOLATILE: &[&str] = &[
    "dateUpdated",
    "updatedAt",
    "updated",
    "updated_at",
    "lastActivity",
    "lastSessionActivityAt",
    "searchAfter",
    "traceId",
];

/// What makes an item worth emitting again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Each item once.
    New,
    /// Each item again whenever its content really changes.
    Updated,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "new" => Ok(Mode::New),
            "updated" => Ok(Mode::Updated),
            other => Err(format!(
                "unknown trigger mode {other:?}: use new or updated"
            )),
        }
    }
}

/// The shortest and longest poll intervals, in minutes.
pub const MIN_MINUTES: u64 = 1;
pub const MAX_MINUTES: u64 = 15;

/// Parse `1m`, `90s`, `15m` (or plain minutes) and check it is between 1 and 15
/// minutes; `minute` is the length of a minute (shortened only in tests).
pub fn parse_interval(text: &str, minute: Duration) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let (num, unit_secs) = if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 60.0)
    };
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("--every {text:?} is not a duration: write e.g. 1m, 5m, 90s"))?;
    let minutes = value * unit_secs / 60.0;
    if !(MIN_MINUTES as f64..=MAX_MINUTES as f64).contains(&minutes) {
        return Err(format!(
            "--every {text:?} is outside the allowed range: polls run every {MIN_MINUTES}m to {MAX_MINUTES}m"
        ));
    }
    Ok(minute.mul_f64(minutes))
}

/// One watched operation with its parameters.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub op: &'static Operation,
    pub input: CallInput,
    pub mode: Mode,
    /// Names the trigger's state: the operation, its parameters and the mode.
    pub key: String,
}

impl Trigger {
    pub fn new(op: &'static Operation, mut input: CallInput, mode: Mode) -> Result<Self> {
        if op.kind != Kind::Trigger {
            return Err(EngineError::Config(format!(
                "{} is an action (a write); only reads can be watched — see `hlbridge ops list --kind trigger`",
                op.id
            )));
        }
        if op.pagination == Pagination::SearchAfter {
            let body = input.body.get_or_insert_with(|| json!({}));
            if let Value::Object(map) = body {
                map.entry("pageLimit").or_insert(json!(100));
                map.entry("sort")
                    .or_insert(json!([{"field": "dateUpdated", "direction": "asc"}]));
            }
        }
        let identity = json!({
            "op": op.id,
            "params": input.params,
            "body": input.body,
            "mode": format!("{mode:?}"),
        });
        let key = format!("{}#{}", op.id, &hash_value(&identity)[..16]);
        Ok(Trigger {
            op,
            input,
            mode,
            key,
        })
    }

    /// Incremental triggers resume after the last item seen.
    pub fn incremental(&self) -> bool {
        self.op.pagination == Pagination::SearchAfter
            && self
                .input
                .body
                .as_ref()
                .and_then(|b| b.get("sort"))
                .and_then(|s| s.get(0))
                .and_then(|s| s.get("field"))
                .and_then(Value::as_str)
                == Some("dateUpdated")
    }
}

/// What one poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollOutcome {
    pub seen: usize,
    pub emitted: usize,
    /// True when this poll only recorded the baseline.
    pub baseline: bool,
}

/// The item's id: `id`, `_id`, else the hash of its content.
pub fn item_id(item: &Value) -> String {
    for key in ["id", "_id"] {
        match item.get(key) {
            Some(Value::String(s)) if !s.is_empty() => return s.clone(),
            Some(Value::Number(n)) => return n.to_string(),
            _ => {}
        }
    }
    hash_value(item)
}

/// Hash of the item's content, volatile timestamp fields left out.
pub fn content_hash(item: &Value) -> String {
    match item {
        Value::Object(map) => {
            let stable: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| !VOLATILE.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            hash_value(&Value::Object(stable))
        }
        other => hash_value(other),
    }
}

fn hash_value(v: &Value) -> String {
    // serde_json keeps insertion order; sort keys so equal content hashes equally.
    hex::encode(Sha256::digest(canonical(v).as_bytes()))
}

fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&map[*k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// Poll once: page through the results and hand each new or changed item to `emit`
/// (before it is remembered, so a crash re-emits rather than loses).
pub async fn poll(
    client: &GhlClient,
    store: &dyn TriggerStore,
    trigger: &Trigger,
    from_beginning: bool,
    mut emit: impl FnMut(&Value),
) -> Result<PollOutcome> {
    let baseline = !store.started(&trigger.key)? && !from_beginning;
    let mut input = trigger.input.clone();
    let incremental = trigger.incremental();
    if incremental {
        if let (Some(cursor), Some(Value::Object(body))) =
            (store.cursor(&trigger.key)?, input.body.as_mut())
        {
            body.remove("page");
            body.insert("searchAfter".into(), cursor);
        }
    }
    let mut outcome = PollOutcome {
        baseline,
        ..Default::default()
    };
    let stream = hlbridge_ghl::pages::stream(client, trigger.op, input);
    futures::pin_mut!(stream);
    while let Some(item) = stream.try_next().await.map_err(EngineError::ghl)? {
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
        if incremental {
            if let Some(after) = item.get("searchAfter") {
                store.set_cursor(&trigger.key, after)?;
            }
        }
    }
    store.mark_started(&trigger.key)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_outside_one_to_fifteen_minutes_are_refused() {
        let m = Duration::from_secs(60);
        assert_eq!(parse_interval("1m", m).unwrap(), Duration::from_secs(60));
        assert_eq!(parse_interval("90s", m).unwrap(), Duration::from_secs(90));
        assert_eq!(parse_interval("15", m).unwrap(), Duration::from_secs(900));
        for bad in ["30s", "16m", "0m", "abc", ""] {
            assert!(parse_interval(bad, m).is_err(), "{bad}");
        }
        assert_eq!(
            parse_interval("2m", Duration::from_millis(100)).unwrap(),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn timestamp_bumps_do_not_change_the_hash() {
        let a = json!({"id": "1", "name": "x", "dateUpdated": "2020-01-01"});
        let b = json!({"name": "x", "dateUpdated": "2021-01-01", "id": "1"});
        let c = json!({"id": "1", "name": "y", "dateUpdated": "2021-01-01"});
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
        assert_eq!(item_id(&a), "1");
    }
}
