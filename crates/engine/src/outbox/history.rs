//! What the history records of each intent ([`WriteContext`]): the pair, the source
//! of the write (poll, webhook, flow), the ids on both sides, the contact's e-mail,
//! the fields changed (the target's value as last read → the value sent) and which
//! side won. The store turns it into a history row when the entry is settled.

use serde_json::Value;

use super::Outbox;
use crate::error::Result;
use crate::intake::fields_of;
use crate::store::history::{current_source, FieldChange, WriteContext};
use crate::store::{Kind, Side};

/// The `meta` key under which a conflict resolution waits to be written across
/// (a JSON array of field names); the write that carries it out is `manual`.
pub(crate) fn manual_key(kind: Kind, ghl_id: &str) -> String {
    format!("manual:{}:{ghl_id}", kind.as_str())
}

/// One intended write, as the history sees it.
pub(crate) struct Intent<'a> {
    pub kind: Kind,
    pub target: Side,
    /// The record written to (none for a create).
    pub target_id: Option<&'a str>,
    /// The record on the other side the values come from.
    pub source_id: &'a str,
    /// Field → value sent (`None`: cleared).
    pub changes: Vec<(String, Option<Value>)>,
    /// `ghl`, `sellsy` or `merge`.
    pub winner: &'a str,
    /// For tasks and notes: their contact's GHL id (for its e-mail).
    pub contact_ghl_id: Option<&'a str>,
}

fn email_of(fields: &crate::canonical::Fields) -> Option<String> {
    fields
        .get("email")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .map(str::to_lowercase)
}

impl Outbox<'_> {
    /// The history context of `intent`.
    pub(crate) fn context(&self, intent: Intent<'_>) -> Result<WriteContext> {
        let old = match intent.target_id {
            Some(id) => self
                .store
                .record(intent.target, intent.kind, id)?
                .map(|r| fields_of(&r))
                .unwrap_or_default(),
            None => Default::default(),
        };
        let changes: Vec<FieldChange> = intent
            .changes
            .into_iter()
            .map(|(field, new)| FieldChange {
                old: old.get(&field).cloned().unwrap_or(Value::Null),
                new: new.unwrap_or(Value::Null),
                field,
            })
            .filter(|c| c.old != c.new)
            .collect();
        let source_id = Some(intent.source_id.to_string());
        let target_id = intent.target_id.map(str::to_string);
        let (ghl_id, sellsy_id) = match intent.target {
            Side::Ghl => (target_id, source_id),
            Side::Sellsy => (source_id, target_id),
        };
        let email = match intent.kind {
            Kind::Contact => {
                let sent = changes
                    .iter()
                    .find(|c| c.field == "email")
                    .and_then(|c| c.new.as_str())
                    .map(str::to_lowercase);
                match sent.or_else(|| email_of(&old)) {
                    Some(e) => Some(e),
                    None => self
                        .store
                        .record(intent.target.other(), Kind::Contact, intent.source_id)?
                        .and_then(|r| email_of(&fields_of(&r))),
                }
            }
            _ => match intent.contact_ghl_id {
                Some(contact) => self
                    .store
                    .record(Side::Ghl, Kind::Contact, contact)?
                    .and_then(|r| email_of(&fields_of(&r))),
                None => None,
            },
        };
        let mut winner = intent.winner.to_string();
        let mut manual = None;
        if let (Kind::Contact, Some(ghl)) = (intent.kind, ghl_id.as_deref()) {
            let key = manual_key(Kind::Contact, ghl);
            if let Some(fields) = self.store.meta(&key)? {
                let resolved = fields
                    .as_array()
                    .is_some_and(|f| changes.iter().any(|c| f.iter().any(|x| x == &c.field)));
                if resolved {
                    winner = "manual".into();
                    manual = Some(key);
                }
            }
        }
        Ok(WriteContext {
            pair: self.cfg.pair_label().to_string(),
            source: current_source(),
            ghl_id,
            sellsy_id,
            email,
            changes,
            winner: Some(winner),
            manual_key: manual,
        })
    }
}
