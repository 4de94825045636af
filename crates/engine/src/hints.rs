//! Targeted syncs triggered by verified webhook events: the record is re-read from
//! its API (the event is only a hint), reconciled, and its contact's tasks and notes
//! swept. Cursors are left alone: polling stays the safety net.

use std::time::Instant;

use hlbridge_sellsy::CallInput;
use serde_json::Value;

use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::report::CycleReport;
use crate::store::{Kind, Side};
use crate::webhooks::Hint;

impl Engine {
    /// Sync what `hint` names, now.
    pub async fn sync_hint(&self, hint: &Hint) -> Result<CycleReport> {
        let started = Instant::now();
        let mut report = CycleReport::default();
        let contact: Option<(Side, String)> = match hint {
            Hint::GhlContact(id) => match self.ghl.get(id).await? {
                Some(c) => {
                    self.store.put_seen(&[self.ghl_record(&c)], None)?;
                    Some((Side::Ghl, id.clone()))
                }
                None => {
                    if let Some(link) = self.store.link_by(Kind::Contact, Side::Ghl, id)? {
                        if link.state == "active" {
                            self.on_deleted(Side::Ghl, &link).await?;
                        }
                    }
                    None
                }
            },
            Hint::SellsyContact(id) => match self.sellsy.get(id, &self.sellsy_embeds).await? {
                Some(c) => {
                    let rec = self.sellsy_record(&c).await?;
                    self.store.put_seen(&[rec], None)?;
                    Some((Side::Sellsy, id.clone()))
                }
                None => {
                    if let Some(link) = self.store.link_by(Kind::Contact, Side::Sellsy, id)? {
                        if link.state == "active" {
                            self.on_deleted(Side::Sellsy, &link).await?;
                        }
                    }
                    None
                }
            },
            Hint::GhlActivities(contact) => Some((Side::Ghl, contact.clone())),
            Hint::SellsyTask(id) | Hint::SellsyComment(id) => {
                let op = if matches!(hint, Hint::SellsyTask(_)) {
                    "tasks.get-by-id"
                } else {
                    "comments.get-details"
                };
                let id: i64 = id
                    .parse()
                    .map_err(|_| EngineError::Data(format!("`{id}` is not a Sellsy id")))?;
                match self
                    .sellsy
                    .client
                    .call(op, CallInput::new().param("id", id))
                    .await
                {
                    Ok(v) => v
                        .get("contact_id")
                        .and_then(Value::as_i64)
                        .map(|c| (Side::Sellsy, c.to_string())),
                    // Deleted since: the next sweep of its contact sees it.
                    Err(hlbridge_core::Error::NotFound { .. }) => None,
                    Err(e) => return Err(EngineError::sellsy(e)),
                }
            }
        };
        self.reconcile_contacts(false, &mut report, &|_| {}).await?;
        if let Some((side, id)) = contact {
            if let Some(link) = self.store.link_by(Kind::Contact, side, &id)? {
                if link.state == "active" && (self.cfg.sync.tasks || self.cfg.sync.notes) {
                    self.sweep_one(&link, &mut report).await?;
                }
            }
        }
        report.pending = self.store.count_dirty(Kind::Contact)?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }
}
