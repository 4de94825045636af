//! Task and note writes, and the deletions the guard let through (contacts, tasks,
//! notes), each as an outbox intent. `sync.deletions` decides what a deletion on one
//! side does on the other:
//!
//! | | contact | task | note |
//! |---|---|---|---|
//! | `archive` (default) | Sellsy `is_archived`, GHL tag `sync.archive_tag` | marked done | kept |
//! | `propagate` | deleted | deleted | deleted |
//! | `ignore` | kept | kept | kept |
//!
//! In every mode the pair is unlinked (the link is retired), so nothing is created
//! again on the side it was deleted from.

use std::future::Future;

use serde_json::{json, Map, Value};

use super::history::Intent;
use super::Outbox;
use crate::canonical::Fields;
use crate::config::DeletionPolicy;
use crate::error::{EngineError, Result};
use crate::intake::deletions::Gone;
use crate::intake::items::{comment_record, ghl_note_record, ghl_task_record, sellsy_task_record};
use crate::items::{get, same_item};
use crate::plan::tally::Tally;
use crate::store::{Commit, Kind, NewOutbox, Record, Side};

/// The contact pair an item hangs on.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    pub ghl: String,
    pub sellsy: String,
}

impl Outbox<'_> {
    /// Record `intent`, run `send`, and on success return its value with the entry id
    /// (the caller commits `outbox_done` with its bookkeeping); `None` when it failed.
    pub async fn send<T, Fut>(
        &self,
        intent: NewOutbox,
        source: Option<&Record>,
        tally: &Tally,
        send: impl FnOnce() -> Fut,
    ) -> Result<Option<(T, i64)>>
    where
        Fut: Future<Output = Result<T>>,
    {
        let entry = self.intend(intent)?;
        self.send_entry(&entry, source, tally, send).await
    }

    /// As [`Outbox::send`] for an intent already recorded.
    pub async fn send_entry<T, Fut>(
        &self,
        entry: &crate::store::OutboxEntry,
        source: Option<&Record>,
        tally: &Tally,
        send: impl FnOnce() -> Fut,
    ) -> Result<Option<(T, i64)>>
    where
        Fut: Future<Output = Result<T>>,
    {
        let target = entry.target;
        match send().await {
            Ok(v) => Ok(Some((v, entry.id))),
            Err(e) => {
                self.failed(entry.id, target, source, e, tally)?;
                Ok(None)
            }
        }
    }

    /// Create `source`'s copy on `target` under `pair`; a retry first looks for the
    /// copy an earlier attempt may have made.
    pub async fn create_item(
        &self,
        source: &Record,
        target: Side,
        pair: &Pair,
        fields: &Fields,
        tally: &Tally,
    ) -> Result<Option<(Record, i64)>> {
        let kind = source.kind;
        let context = self.context(Intent {
            kind,
            target,
            target_id: None,
            source_id: &source.id,
            changes: fields
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
            winner: source.side.as_str(),
            contact_ghl_id: Some(&pair.ghl),
        })?;
        let intent = NewOutbox {
            key: format!(
                "create:{}:{}:{}:{}",
                target.as_str(),
                kind.as_str(),
                source.side.as_str(),
                source.id
            ),
            target,
            kind,
            op: "create".into(),
            target_id: None,
            source_id: source.id.clone(),
            payload: Value::Object(fields.clone().into_iter().collect()),
            context: Some(context),
        };
        let entry = self.intend(intent)?;
        if self.tried_before(&entry) {
            if let Some(found) = self.find_item(kind, target, pair, fields).await? {
                return Ok(Some((found, entry.id)));
            }
        }
        self.send_entry(&entry, Some(source), tally, || {
            self.write_item(kind, target, pair, None, fields)
        })
        .await
    }

    pub async fn update_item(
        &self,
        source: &Record,
        target: Side,
        id: &str,
        pair: &Pair,
        fields: &Fields,
        tally: &Tally,
    ) -> Result<Option<(Record, i64)>> {
        let payload = Value::Object(fields.clone().into_iter().collect());
        let context = self.context(Intent {
            kind: source.kind,
            target,
            target_id: Some(id),
            source_id: &source.id,
            changes: fields
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
            winner: source.side.as_str(),
            contact_ghl_id: Some(&pair.ghl),
        })?;
        let intent = NewOutbox {
            key: format!(
                "update:{}:{}:{id}:{}",
                target.as_str(),
                source.kind.as_str(),
                crate::canonical::hash(&payload)
            ),
            target,
            kind: source.kind,
            op: "update".into(),
            target_id: Some(id.to_string()),
            source_id: source.id.clone(),
            payload,
            context: Some(context),
        };
        self.send(intent, Some(source), tally, || {
            self.write_item(source.kind, target, pair, Some(id), fields)
        })
        .await
    }

    /// An unlinked item of the target contact with the same content.
    async fn find_item(
        &self,
        kind: Kind,
        target: Side,
        pair: &Pair,
        fields: &Fields,
    ) -> Result<Option<Record>> {
        let records: Vec<Record> = match (kind, target) {
            (Kind::Task, Side::Ghl) => self
                .ghl
                .tasks_of_many(std::slice::from_ref(&pair.ghl))
                .await?
                .iter()
                .map(|t| ghl_task_record(t, Some(&pair.ghl)))
                .collect(),
            (Kind::Task, Side::Sellsy) => self
                .sellsy
                .tasks_of_many(std::slice::from_ref(&pair.sellsy))
                .await?
                .iter()
                .map(sellsy_task_record)
                .collect(),
            (_, Side::Ghl) => self
                .ghl
                .notes(&pair.ghl)
                .await?
                .unwrap_or_default()
                .iter()
                .map(|n| ghl_note_record(n, &pair.ghl))
                .collect(),
            (_, Side::Sellsy) => self
                .sellsy
                .comments_of(&pair.sellsy)
                .await?
                .iter()
                .map(comment_record)
                .collect(),
        };
        for r in records {
            let linked = self.store.link_by(kind, target, &r.id)?.is_some();
            if !linked && same_item(kind, &crate::intake::fields_of(&r), fields) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Create (`id` = None) or update an item so it holds `f`; returns it as written.
    async fn write_item(
        &self,
        kind: Kind,
        target: Side,
        pair: &Pair,
        id: Option<&str>,
        f: &Fields,
    ) -> Result<Record> {
        let title = get(f, "title").unwrap_or("Task").to_string();
        let description = get(f, "description").map(str::to_string);
        let due = get(f, "due").map(str::to_string).unwrap_or_else(|| {
            (chrono::Utc::now() + chrono::Duration::days(1))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        });
        let done = f.get("done").and_then(Value::as_bool).unwrap_or(false);
        let body = get(f, "body").unwrap_or("").to_string();
        match (kind, target) {
            (Kind::Task, Side::Ghl) => {
                let input = hlbridge_ghl::TaskInput {
                    title: Some(title),
                    body: description,
                    due_date: Some(due),
                    completed: Some(done),
                    assigned_to: None,
                };
                let t = match id {
                    None => self.ghl.create_task(&pair.ghl, &input).await?,
                    Some(id) => self.ghl.update_task(&pair.ghl, id, &input).await?,
                };
                Ok(ghl_task_record(&t, Some(&pair.ghl)))
            }
            (Kind::Task, Side::Sellsy) => {
                let mut body = Map::new();
                body.insert("title".into(), json!(title));
                body.insert("description".into(), json!(description));
                body.insert("due_date".into(), json!(due));
                body.insert("status".into(), json!(if done { "done" } else { "todo" }));
                let t = match id {
                    None => {
                        let label = self.task_label.ok_or_else(|| {
                            EngineError::Config("Sellsy has no task label: create one, or set sync.sellsy_task_label".into())
                        })?;
                        body.insert("label_id".into(), json!(label));
                        self.sellsy.create_task(&pair.sellsy, &body).await?
                    }
                    Some(id) => self.sellsy.update_task(id, &body).await?,
                };
                let mut r = sellsy_task_record(&t);
                r.parent.get_or_insert_with(|| pair.sellsy.clone());
                Ok(r)
            }
            (_, Side::Ghl) => {
                let n = match id {
                    None => self.ghl.create_note(&pair.ghl, &body).await?,
                    Some(id) => self.ghl.update_note(&pair.ghl, id, &body).await?,
                };
                Ok(ghl_note_record(&n, &pair.ghl))
            }
            (_, Side::Sellsy) => {
                let c = match id {
                    None => self.sellsy.create_comment(&pair.sellsy, &body).await?,
                    Some(id) => self.sellsy.update_comment(id, &body).await?,
                };
                let mut r = comment_record(&c);
                r.parent.get_or_insert_with(|| pair.sellsy.clone());
                Ok(r)
            }
        }
    }

    /// Apply one deletion the guard let through, per `sync.deletions`.
    pub async fn apply_gone(&self, gone: &Gone, tally: &Tally) -> Result<bool> {
        let other = gone.side.other();
        let link = &gone.link;
        let other_id = link.id_of(other).to_string();
        let gone_id = link.id_of(gone.side).to_string();
        let policy = self.cfg.sync.deletions;
        let op = match (policy, gone.kind) {
            (DeletionPolicy::Ignore, _) | (DeletionPolicy::Archive, Kind::Note) => None,
            (DeletionPolicy::Archive, _) => Some("archive"),
            (DeletionPolicy::Propagate, _) => Some("delete"),
        };
        let mut done = Vec::new();
        if let Some(op) = op {
            let context = self.context(Intent {
                kind: gone.kind,
                target: other,
                target_id: Some(&other_id),
                source_id: &gone_id,
                changes: Vec::new(),
                winner: gone.side.as_str(),
                contact_ghl_id: link.parent_ghl_id.as_deref(),
            })?;
            let intent = NewOutbox {
                key: format!("{op}:{}:{}:{other_id}", other.as_str(), gone.kind.as_str()),
                target: other,
                kind: gone.kind,
                op: op.into(),
                target_id: Some(other_id.clone()),
                source_id: gone_id.clone(),
                payload: json!({ "gone_on": gone.side.as_str() }),
                context: Some(context),
            };
            let source = self.store.record(other, gone.kind, &other_id)?;
            let sent = self
                .send(intent, source.as_ref(), tally, || {
                    self.remove(gone.kind, other, op, link, &other_id)
                })
                .await?;
            match sent {
                Some(((), entry)) => done.push(entry),
                None => return Ok(false),
            }
        }
        let mut retired = link.clone();
        retired.state = format!("deleted-{}", gone.side.as_str());
        let mut commit = Commit {
            links: vec![retired],
            forget: vec![(gone.side, gone.kind, gone_id)],
            outbox_done: done,
            ..Commit::default()
        };
        if op == Some("delete") {
            commit.forget.push((other, gone.kind, other_id));
        } else if let Some(r) = self.store.record(other, gone.kind, &other_id)? {
            commit.clean.push((other, gone.kind, r.id, r.hash));
        }
        self.store.commit(&commit)?;
        Ok(true)
    }

    async fn remove(
        &self,
        kind: Kind,
        target: Side,
        op: &str,
        link: &crate::store::Link,
        id: &str,
    ) -> Result<()> {
        let contact_of = |side: Side| -> Option<String> {
            match side {
                Side::Ghl => link.parent_ghl_id.clone(),
                Side::Sellsy => None,
            }
        };
        let ignore_missing = |r: Result<()>| match r {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        };
        match (kind, target, op) {
            (Kind::Contact, Side::Sellsy, "archive") => {
                let mut body = Map::new();
                body.insert("is_archived".into(), Value::Bool(true));
                ignore_missing(self.sellsy.update(id, &body).await.map(|_| ()))
            }
            (Kind::Contact, Side::Ghl, "archive") => {
                ignore_missing(self.ghl.add_tag(id, &self.cfg.sync.archive_tag).await)
            }
            (Kind::Contact, Side::Sellsy, _) => self.sellsy.delete(id).await,
            (Kind::Contact, Side::Ghl, _) => self.ghl.delete(id).await,
            (Kind::Task, Side::Ghl, "archive") => {
                let contact = contact_of(Side::Ghl).unwrap_or_default();
                let input = hlbridge_ghl::TaskInput {
                    completed: Some(true),
                    ..Default::default()
                };
                ignore_missing(self.ghl.update_task(&contact, id, &input).await.map(|_| ()))
            }
            (Kind::Task, Side::Sellsy, "archive") => {
                let mut body = Map::new();
                body.insert("status".into(), json!("done"));
                ignore_missing(self.sellsy.update_task(id, &body).await.map(|_| ()))
            }
            (Kind::Task, Side::Ghl, _) => {
                let contact = contact_of(Side::Ghl).unwrap_or_default();
                self.ghl.delete_task(&contact, id).await
            }
            (Kind::Task, Side::Sellsy, _) => self.sellsy.delete_task(id).await,
            (_, Side::Ghl, _) => {
                let contact = contact_of(Side::Ghl).unwrap_or_default();
                self.ghl.delete_note(&contact, id).await
            }
            (_, Side::Sellsy, _) => self.sellsy.delete_comment(id).await,
        }
    }
}
