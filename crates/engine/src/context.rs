//! What every stage of a cycle shares: the two API sides, the store, the mapping and
//! the configuration. Stages ([`crate::intake::Intake`], [`crate::plan::Planner`],
//! [`crate::outbox::Outbox`]) are thin views over one `Ctx`, each with one job.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use hlbridge_ghl::Contact;
use serde_json::{json, Value};

use crate::canonical::Fields;
use crate::config::EngineConfig;
use crate::error::Result;
use crate::intake::{fields_of, record};
use crate::mapping::Mapping;
use crate::merge::MergeField;
use crate::sides::ghl::GhlSide;
use crate::sides::sellsy::SellsySide;
use crate::store::{Record, Side, StateStore};

pub(crate) struct Ctx {
    pub cfg: EngineConfig,
    pub ghl: GhlSide,
    pub sellsy: SellsySide,
    pub store: Arc<dyn StateStore>,
    pub mapping: Mapping,
    pub sellsy_embeds: Vec<String>,
    pub task_label: Option<i64>,
    /// Serialises matching, so two records never claim the same partner at once.
    pub link_lock: tokio::sync::Mutex<()>,
    /// Outbox entries with a smaller id were recorded by an earlier run.
    pub outbox_floor: AtomicI64,
    /// `sync --once` (false) or continuous mode after its first cycle (true): only
    /// then do the per-cycle caps and the daily shares apply.
    pub capped_mode: std::sync::atomic::AtomicBool,
}

/// The marker a contact created by the sync carries on GHL (`source`), naming the
/// Sellsy contact it came from: a create whose answer was lost is recognised by it.
pub(crate) fn ghl_marker(sellsy_id: &str) -> String {
    format!("hlbridge sellsy:{sellsy_id}")
}

/// The Sellsy id a GHL `source` marker names.
pub(crate) fn marker_sellsy_id(source: &str) -> Option<&str> {
    source.strip_prefix("hlbridge sellsy:")
}

impl Ctx {
    pub fn capped(&self) -> bool {
        self.capped_mode.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn merge_fields(&self) -> Vec<MergeField> {
        self.mapping
            .fields
            .iter()
            .map(|f| MergeField {
                name: f.name.clone(),
                kind: f.kind,
                direction: f.direction,
                conflict: f.conflict,
            })
            .collect()
    }

    /// Whether a record takes part (scope tag, updated-since).
    pub fn in_scope(&self, rec: &Record) -> bool {
        let fields = fields_of(rec);
        if let Some(tag) = &self.cfg.sync.scope_tag {
            let tag = tag.to_lowercase();
            let has = fields
                .get("tags")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|t| t.as_str() == Some(tag.as_str())));
            if !has {
                return false;
            }
        }
        if let Some(since) = &self.cfg.sync.updated_since {
            let since = if since.len() == 10 {
                format!("{since}T00:00:00Z")
            } else {
                since.clone()
            };
            match &rec.updated {
                Some(u) => return !crate::intake::later(&since, Some(u)),
                None => return false,
            }
        }
        true
    }

    pub fn ghl_record(&self, c: &Contact) -> Record {
        let fields = crate::mapping::ghl::read(c, &self.mapping);
        let meta = match c.source.as_deref().and_then(marker_sellsy_id) {
            Some(sellsy) => json!({ "from_sellsy": sellsy }),
            None => Value::Null,
        };
        record(Side::Ghl, &c.id, &fields, meta, c.date_updated.clone())
    }

    /// The record of a Sellsy contact JSON (company from the directory).
    pub fn sellsy_record(&self, c: &Value) -> Result<Record> {
        let id = c
            .get("id")
            .and_then(Value::as_i64)
            .unwrap_or_default()
            .to_string();
        let company = if self.mapping.field("company").is_some() {
            self.sellsy.company_of(&id)
        } else {
            None
        };
        let mut fields = crate::mapping::sellsy::read(c, company.as_deref(), &self.mapping);
        let placeholder = self.placeholder_of(&id);
        if let Some(p) = &placeholder {
            // The last name Sellsy required at create time is not a real value.
            if fields.get("last_name").and_then(Value::as_str) == Some(p.as_str()) {
                fields.remove("last_name");
            }
        }
        let meta = json!({
            "mobile": c.get("mobile_number").cloned().unwrap_or(Value::Null),
            "phone": c.get("phone_number").cloned().unwrap_or(Value::Null),
            "address": c.pointer("/_embed/invoicing_address").cloned().unwrap_or(Value::Null),
            "archived": c.get("is_archived").cloned().unwrap_or(Value::Null),
            "placeholder": placeholder,
        });
        Ok(record(
            Side::Sellsy,
            &id,
            &fields,
            meta,
            c.get("updated").and_then(Value::as_str).map(str::to_string),
        ))
    }

    /// The placeholder last name the sync wrote on a Sellsy contact it created.
    fn placeholder_of(&self, sellsy_id: &str) -> Option<String> {
        self.store
            .meta(&format!("placeholder:{sellsy_id}"))
            .ok()
            .flatten()
            .and_then(|v| v.as_str().map(str::to_string))
    }
}

/// `fields` with the changes applied.
pub(crate) fn apply(fields: &mut Fields, changes: &crate::mapping::ghl::Changes) {
    for (k, v) in changes {
        match v {
            Some(v) => {
                fields.insert(k.clone(), v.clone());
            }
            None => {
                fields.remove(k);
            }
        }
    }
}
