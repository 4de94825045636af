//! Targeted syncs triggered by verified webhook events: the record is re-read from
//! its API (the event is only a hint), planned, and its contact's tasks and notes
//! read and planned. Cursors are left alone: polling stays the safety net. A deletion
//! a webhook reports (the record answers 404) is explicit, not inferred from a
//! listing, so the mass-deletion guard does not hold it.

use std::time::Instant;

use hlbridge_sellsy::CallInput;
use serde_json::Value;

use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::intake::deletions::Gone;
use crate::plan::items::ItemCounts;
use crate::plan::tally::Tally;
use crate::report::CycleReport;
use crate::store::{Kind, Side};
use crate::webhooks::Hint;

impl Engine {
    /// Sync what `hint` names, now.
    pub async fn sync_hint(&self, hint: &Hint) -> Result<CycleReport> {
        let started = Instant::now();
        let cx = &self.cx;
        let mut report = CycleReport::default();
        let tally = Tally::default();
        let mut gone = Vec::new();
        let contact: Option<(Side, String)> = match hint {
            Hint::GhlContact(id) | Hint::SellsyContact(id) => {
                let side = if matches!(hint, Hint::GhlContact(_)) {
                    Side::Ghl
                } else {
                    Side::Sellsy
                };
                match cx.intake().contact(side, id).await? {
                    Some(_) => Some((side, id.clone())),
                    None => {
                        if let Some(link) = cx.store.link_by(Kind::Contact, side, id)? {
                            if link.state == "active" {
                                gone.push(Gone {
                                    kind: Kind::Contact,
                                    side,
                                    link,
                                });
                            }
                        }
                        None
                    }
                }
            }
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
                match cx
                    .sellsy
                    .client
                    .call(op, CallInput::new().param("id", id))
                    .await
                {
                    Ok(v) => v
                        .get("contact_id")
                        .and_then(Value::as_i64)
                        .or_else(|| {
                            v.get("related")
                                .and_then(Value::as_array)
                                .and_then(|r| {
                                    r.iter().find(|x| {
                                        x.get("type").and_then(Value::as_str) == Some("contact")
                                    })
                                })
                                .and_then(|x| x.get("id"))
                                .and_then(Value::as_i64)
                        })
                        .map(|c| (Side::Sellsy, c.to_string())),
                    // Deleted since: the next listing of its contact sees it.
                    Err(hlbridge_core::Error::NotFound { .. }) => None,
                    Err(e) => return Err(EngineError::sellsy(e)),
                }
            }
        };
        // A create whose outcome is unknown, found again now: what it carried is agreed.
        tally.note_pending_creates(&cx.store.pending()?);
        cx.plan().contacts(false, &tally, &|_| {}).await?;
        if let Some((side, id)) = contact {
            if let Some(link) = cx.store.link_by(Kind::Contact, side, &id)? {
                if link.state == "active" && (cx.cfg.sync.tasks || cx.cfg.sync.notes) {
                    let intake = cx.intake();
                    if cx.cfg.sync.tasks {
                        let seen = intake
                            .ghl_tasks_of(std::slice::from_ref(&link.ghl_id))
                            .await?;
                        let parents = [link.ghl_id.clone()];
                        gone.extend(intake.item_deletions(
                            Kind::Task,
                            Side::Ghl,
                            &seen,
                            Some(&parents),
                        )?);
                        intake
                            .sellsy_tasks_of(std::slice::from_ref(&link.sellsy_id))
                            .await?;
                    }
                    if cx.cfg.sync.notes {
                        if let Some(seen) = intake.ghl_notes_of(&link.ghl_id).await? {
                            let parents = [link.ghl_id.clone()];
                            gone.extend(intake.item_deletions(
                                Kind::Note,
                                Side::Ghl,
                                &seen,
                                Some(&parents),
                            )?);
                        }
                        intake.sellsy_comments(false).await?;
                    }
                    report.swept += 1;
                }
            }
        }
        self.apply_gone(gone, &tally, &mut report).await?;
        let counts = ItemCounts::default();
        if cx.cfg.sync.tasks {
            cx.plan().items(Kind::Task, &tally, &counts).await?;
        }
        if cx.cfg.sync.notes {
            cx.plan().items(Kind::Note, &tally, &counts).await?;
        }
        counts.fold(&mut report);
        tally.fold_into(&mut report);
        report.pending = cx.store.count_dirty(Kind::Contact)?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }
}
