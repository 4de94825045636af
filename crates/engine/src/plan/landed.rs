//! Contact writes whose outcome the sync never learnt: the run was killed after
//! sending them, or their answer was lost. The target may hold what was sent while
//! the shadow (what both sides last agreed on) still holds the older value. The
//! three-way merge would then take the sync's own write for an edit made on the
//! target, and a newer edit on the source for the other half of a conflict, which
//! newest-wins can settle for the sync's stale value: the target's update time is the
//! time of the sync's write (or of any later edit there), not of the value.
//!
//! So what the target holds exactly as it was sent is agreed before the pair is
//! merged again: pending contact updates are folded into their pair's shadow after
//! intake has re-read both sides and before the outbox drops them
//! ([`Planner::agree_landed_updates`]); a create found again seeds the new pair's
//! shadow from the payload that made it ([`landed`]).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Planner;
use crate::error::Result;
use crate::intake::fields_of;
use crate::store::{Commit, Kind, OutboxEntry, Record, Side};

/// Shadow key marking a known pair (an empty shadow means "first sight").
const LINKED: &str = "_linked";

/// The fields of an intent's `payload` (field → value, `null` = cleared) that
/// `target` holds exactly as they were sent. Tags are left out: they merge as sets
/// (Sellsy cannot unlink a tag, so "exactly as sent" says nothing about them).
pub(crate) fn landed(payload: &Value, target: &Record) -> BTreeMap<String, Option<Value>> {
    let now = fields_of(target);
    let Some(sent) = payload.as_object() else {
        return BTreeMap::new();
    };
    sent.iter()
        .filter(|(field, _)| field.as_str() != "tags" && !field.starts_with('_'))
        .map(|(field, v)| (field.clone(), (!v.is_null()).then(|| v.clone())))
        .filter(|(field, v)| now.get(field) == v.as_ref())
        .collect()
}

/// Fold the landed fields of one pending update into `shadow`; whether it changed.
/// A field is agreed only when the source has moved from the shadow's value (which
/// is why the write was planned): when the source is back at the shadow's value, the
/// intent is stale (a later write superseded it) and the target's value may be a
/// real edit made there, which the merge must see.
fn fold(
    shadow: &mut BTreeMap<String, Value>,
    landed: BTreeMap<String, Option<Value>>,
    source: &Record,
) -> bool {
    let source_now = fields_of(source);
    let mut changed = false;
    for (field, value) in landed {
        let agreed = shadow.get(&field);
        if agreed == value.as_ref() || source_now.get(&field) == agreed {
            continue;
        }
        match value {
            Some(v) => shadow.insert(field, v),
            None => shadow.remove(&field),
        };
        changed = true;
    }
    if changed {
        shadow.insert(LINKED.into(), Value::Bool(true));
    }
    changed
}

impl Planner<'_> {
    /// For each pending contact update (of a run that was killed, or whose answer
    /// was lost), agree in its pair's shadow what the target now holds exactly as
    /// sent. Runs after intake (the stored records are what both sides hold now) and
    /// before the outbox supersedes those intents; a kill in between leaves them
    /// pending, to be folded again. Returns how many shadows changed.
    pub fn agree_landed_updates(&self, pending: &[OutboxEntry]) -> Result<usize> {
        let mut changed = 0;
        for entry in pending {
            if entry.kind != Kind::Contact || entry.op != "update" {
                continue;
            }
            let Some(target_id) = entry.target_id.as_deref() else {
                continue;
            };
            let source_side = entry.target.other();
            let Some(link) = self.store.link_by(Kind::Contact, entry.target, target_id)? else {
                continue;
            };
            if link.state != "active" || link.id_of(source_side) != entry.source_id {
                continue;
            }
            let target = self.store.record(entry.target, Kind::Contact, target_id)?;
            let source = self
                .store
                .record(source_side, Kind::Contact, &entry.source_id)?;
            let (Some(target), Some(source)) = (target, source) else {
                continue;
            };
            let mut shadow = self.store.shadow(Kind::Contact, &link.ghl_id)?;
            if fold(&mut shadow, landed(&entry.payload, &target), &source) {
                self.store.commit(&Commit {
                    shadows: vec![(Kind::Contact, link.ghl_id.clone(), shadow)],
                    ..Commit::default()
                })?;
                changed += 1;
            }
        }
        Ok(changed)
    }
}

/// The shadow of a pair whose target was found again after a create of unknown
/// outcome: the fields it holds as the create sent them.
pub(crate) fn created_shadow(payload: &Value, found: &Record) -> BTreeMap<String, Value> {
    let mut shadow: BTreeMap<String, Value> = landed(payload, found)
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    if !shadow.is_empty() {
        shadow.insert(LINKED.into(), Value::Bool(true));
    }
    shadow
}

/// Whose create an entry is: (source side, source id).
pub(crate) fn create_source(entry: &OutboxEntry) -> Option<(Side, String)> {
    (entry.kind == Kind::Contact && entry.op == "create")
        .then(|| (entry.target.other(), entry.source_id.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(side: Side, f: Value) -> Record {
        let fields = crate::canonical::from_value(&f);
        crate::intake::record(side, "1", &fields, Value::Null, None)
    }

    fn shadow(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn what_the_target_holds_as_sent_is_agreed() {
        let target = rec(Side::Sellsy, json!({"first_name": "Kill1", "city": "Nice"}));
        let source = rec(Side::Ghl, json!({"first_name": "Kill2", "city": "Lyon"}));
        let payload = json!({"first_name": "Kill1", "city": "Lyon", "tags": ["a"]});
        let l = landed(&payload, &target);
        assert_eq!(l.len(), 1, "{l:?}");
        let mut sh = shadow(json!({"first_name": "Old", "city": "Nice"}));
        assert!(fold(&mut sh, l, &source));
        assert_eq!(sh["first_name"], "Kill1");
        assert_eq!(sh["city"], "Nice", "not landed: unchanged");
        assert_eq!(sh[LINKED], true);
    }

    #[test]
    fn a_stale_intent_does_not_hide_a_target_edit() {
        // The source is back at the agreed value: the target's equal value may be an
        // edit made there, so it stays an edit for the merge.
        let target = rec(Side::Sellsy, json!({"first_name": "A"}));
        let source = rec(Side::Ghl, json!({"first_name": "B"}));
        let mut sh = shadow(json!({"first_name": "B"}));
        assert!(!fold(
            &mut sh,
            landed(&json!({"first_name": "A"}), &target),
            &source
        ));
        assert_eq!(sh["first_name"], "B");
    }

    #[test]
    fn a_cleared_field_that_landed_is_agreed_as_cleared() {
        let target = rec(Side::Ghl, json!({"last_name": "X"}));
        let source = rec(Side::Sellsy, json!({"last_name": "X"}));
        let mut sh = shadow(json!({"website": "https://old.example", "last_name": "X"}));
        assert!(fold(
            &mut sh,
            landed(&json!({"website": null}), &target),
            &source
        ));
        assert!(!sh.contains_key("website"));
    }

    #[test]
    fn a_found_create_seeds_its_shadow_with_what_it_holds_as_sent() {
        let found = rec(
            Side::Sellsy,
            json!({"first_name": "Kill1", "email": "a@b.c"}),
        );
        let sh = created_shadow(
            &json!({"first_name": "Kill1", "email": "a@b.c", "city": "Lyon"}),
            &found,
        );
        assert_eq!(
            sh,
            shadow(json!({"first_name": "Kill1", "email": "a@b.c", "_linked": true}))
        );
        assert!(created_shadow(&json!({"city": "Lyon"}), &found).is_empty());
    }
}
