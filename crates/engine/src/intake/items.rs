//! Tasks and notes in, as change records (kind task/note, `parent` = the contact id on
//! the same side), with as few requests as each API allows:
//!
//! - GHL tasks: the location-wide `POST /locations/{id}/tasks/search`, paged (it has
//!   no updated filter: it runs with the deletion listings, and for contacts that were
//!   just linked or named by a webhook);
//! - Sellsy tasks: `tasks/search` over many contact ids per call on listing cycles,
//!   and the `created` filter from a cursor on every cycle;
//! - Sellsy comments: `comments/search` with the `updated` filter from a cursor (the
//!   whole listing on listing cycles, for deletions);
//! - GHL notes: no bulk listing exists: per contact, for contacts never read yet, then
//!   a rotating sweep within `sync.notes_sweep_daily_share` of the daily limit, plus
//!   `NoteCreate`/`NoteUpdate`/`NoteDelete` webhooks.
//!
//! Every note of both systems is also written to the notes archive (FTS5).

use std::collections::HashSet;

use serde_json::{json, Value};

use super::Intake;
use crate::canonical::{self, Fields};
use crate::error::Result;
use crate::items::{comment_fields, ghl_note_fields, ghl_task_fields, sellsy_task_fields};
use crate::store::{ArchivedNote, Kind, Record, Side};

const SELLSY_TASKS_CREATED: &str = "sellsy.tasks.created";
const SELLSY_COMMENTS: &str = "sellsy.comments";
/// Contact ids per Sellsy `tasks/search` call.
const BATCH: usize = 100;

/// A task or note as a change record.
pub fn item_record(
    side: Side,
    kind: Kind,
    id: &str,
    parent: Option<String>,
    fields: &Fields,
    updated: Option<String>,
) -> Record {
    let f = canonical::to_value(fields);
    Record {
        side,
        kind,
        id: id.to_string(),
        parent,
        hash: canonical::hash(&f),
        data: json!({ "f": f, "m": Value::Null }),
        updated,
        dirty: false,
    }
}

fn sellsy_contact_of(related: &[hlbridge_sellsy::Related]) -> Option<String> {
    related
        .iter()
        .find(|r| r.kind == "contact")
        .map(|r| r.id.to_string())
}

pub(crate) fn ghl_task_record(t: &hlbridge_ghl::Task, contact: Option<&str>) -> Record {
    let updated = t
        .extra
        .get("dateUpdated")
        .and_then(Value::as_str)
        .map(str::to_string);
    let parent = t.contact_id.clone().or(contact.map(str::to_string));
    item_record(
        Side::Ghl,
        Kind::Task,
        &t.id,
        parent,
        &ghl_task_fields(t),
        updated,
    )
}

pub(crate) fn sellsy_task_record(t: &hlbridge_sellsy::Task) -> Record {
    item_record(
        Side::Sellsy,
        Kind::Task,
        &t.id.to_string(),
        sellsy_contact_of(&t.related),
        &sellsy_task_fields(t),
        t.updated.clone(),
    )
}

pub(crate) fn comment_record(c: &hlbridge_sellsy::Comment) -> Record {
    item_record(
        Side::Sellsy,
        Kind::Note,
        &c.id.to_string(),
        sellsy_contact_of(&c.related),
        &comment_fields(c),
        c.updated.clone(),
    )
}

pub(crate) fn ghl_note_record(n: &hlbridge_ghl::Note, contact: &str) -> Record {
    item_record(
        Side::Ghl,
        Kind::Note,
        &n.id,
        Some(contact.to_string()),
        &ghl_note_fields(n),
        n.date_added.clone(),
    )
}

/// The archive row of a note record.
pub(crate) fn archived(rec: &Record, ghl: Option<&str>, sellsy: Option<&str>) -> ArchivedNote {
    ArchivedNote {
        side: rec.side,
        note_id: rec.id.clone(),
        ghl_contact_id: ghl.map(str::to_string),
        sellsy_contact_id: sellsy.map(str::to_string),
        body: super::fields_of(rec)
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        updated: rec.updated.clone(),
    }
}

impl Intake<'_> {
    /// Store item records (changed ones become dirty) and archive the notes.
    fn put_items(&self, records: &[Record]) -> Result<usize> {
        for r in records.iter().filter(|r| r.kind == Kind::Note) {
            let (g, s) = match r.side {
                Side::Ghl => (r.parent.clone(), None),
                Side::Sellsy => (None, r.parent.clone()),
            };
            let (g, s) = self.pair_ids(r.side, g, s)?;
            self.store
                .archive_note(&archived(r, g.as_deref(), s.as_deref()))?;
        }
        self.store.put_seen(records, None)
    }

    /// Fill in the partner contact id of a note's contact, when linked.
    fn pair_ids(
        &self,
        side: Side,
        ghl: Option<String>,
        sellsy: Option<String>,
    ) -> Result<(Option<String>, Option<String>)> {
        let own = match side {
            Side::Ghl => ghl.clone(),
            Side::Sellsy => sellsy.clone(),
        };
        let Some(own) = own else {
            return Ok((ghl, sellsy));
        };
        match self.store.link_by(Kind::Contact, side, &own)? {
            Some(l) => Ok((Some(l.ghl_id), Some(l.sellsy_id))),
            None => Ok((ghl, sellsy)),
        }
    }

    /// Every GHL task of the location; returns the ids seen.
    pub async fn ghl_tasks_all(&self) -> Result<HashSet<String>> {
        let mut seen = HashSet::new();
        let mut skip = 0u64;
        loop {
            let page = self.ghl.location_tasks(skip).await?;
            let n = page.len() as u64;
            let records: Vec<Record> = page.iter().map(|t| ghl_task_record(t, None)).collect();
            seen.extend(records.iter().map(|r| r.id.clone()));
            self.put_items(&records)?;
            if n < crate::sides::ghl::TASK_PAGE {
                return Ok(seen);
            }
            skip += n;
        }
    }

    /// GHL tasks of a few contacts (one search).
    pub async fn ghl_tasks_of(&self, contacts: &[String]) -> Result<HashSet<String>> {
        let mut seen = HashSet::new();
        for chunk in contacts.chunks(BATCH) {
            let tasks = self.ghl.tasks_of_many(chunk).await?;
            let records: Vec<Record> = tasks.iter().map(|t| ghl_task_record(t, None)).collect();
            seen.extend(records.iter().map(|r| r.id.clone()));
            self.put_items(&records)?;
        }
        Ok(seen)
    }

    /// Sellsy tasks of these contacts, `BATCH` contacts per call; returns the ids seen.
    pub async fn sellsy_tasks_of(&self, contacts: &[String]) -> Result<HashSet<String>> {
        let mut seen = HashSet::new();
        for chunk in contacts.chunks(BATCH) {
            let tasks = self.sellsy.tasks_of_many(chunk).await?;
            let records: Vec<Record> = tasks.iter().map(sellsy_task_record).collect();
            seen.extend(records.iter().map(|r| r.id.clone()));
            self.put_items(&records)?;
        }
        Ok(seen)
    }

    /// Sellsy tasks created since the cursor (one call per cycle).
    pub async fn sellsy_tasks_new(&self, cycle_start: &str) -> Result<()> {
        if let Some(since) = self
            .store
            .cursor(SELLSY_TASKS_CREATED)?
            .and_then(|v| v.as_str().map(str::to_string))
        {
            let tasks = self.sellsy.tasks_created_since(&since).await?;
            let records: Vec<Record> = tasks.iter().map(sellsy_task_record).collect();
            self.put_items(&records)?;
        }
        self.store
            .set_cursor(SELLSY_TASKS_CREATED, &json!(cycle_start))
    }

    /// Sellsy comments: changed since the cursor, or all of them (`full`), which also
    /// returns the ids seen for deletion detection.
    pub async fn sellsy_comments(&self, full: bool) -> Result<Option<HashSet<String>>> {
        let since = if full {
            None
        } else {
            self.store
                .cursor(SELLSY_COMMENTS)?
                .and_then(|v| v.as_str().map(str::to_string))
        };
        let full = full || since.is_none();
        let comments = self.sellsy.comments_since(since.as_deref()).await?;
        let records: Vec<Record> = comments.iter().map(comment_record).collect();
        let mut max = since.clone();
        for r in &records {
            if let Some(u) = &r.updated {
                if super::later(u, max.as_deref()) {
                    max = Some(u.clone());
                }
            }
        }
        self.put_items(&records)?;
        if let Some(max) = max {
            self.store.set_cursor(SELLSY_COMMENTS, &json!(max))?;
        }
        Ok(full.then(|| records.into_iter().map(|r| r.id).collect()))
    }

    /// The GHL notes of one contact (one request); `None` when the contact is gone.
    pub async fn ghl_notes_of(&self, contact: &str) -> Result<Option<HashSet<String>>> {
        let Some(notes) = self.ghl.notes(contact).await? else {
            return Ok(None);
        };
        let records: Vec<Record> = notes.iter().map(|n| ghl_note_record(n, contact)).collect();
        self.put_items(&records)?;
        self.store.mark_notes_covered(&[contact.to_string()])?;
        Ok(Some(records.into_iter().map(|r| r.id).collect()))
    }
}
