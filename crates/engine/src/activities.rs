//! Tasks and notes of linked contacts: a bounded reconciliation sweep per contact
//! pair (GHL lists them per contact only; Sellsy tasks have no updated filter).
//! Links, shadow and three-way merge work as for contacts; unlinked items are matched
//! (same title and due date, or same note text) before anything is created, so a crash
//! between a create and its link never duplicates. Every note of both systems is
//! archived for full-text search.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use serde_json::{json, Map, Value};

use crate::canonical::{self, FieldKind, Fields};
use crate::config::{ConflictPolicy, Direction};
use crate::engine::{Engine, ProgressFn};
use crate::error::{EngineError, Result};
use crate::merge::{merge, MergeField, SideView};
use crate::report::{CycleReport, Progress, SideCountsPair};
use crate::store::{ArchivedNote, Commit, Kind, Link, Side};

/// A task or note in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    pub fields: Fields,
    pub updated: Option<String>,
}

/// A GHL contact task in canonical form.
fn ghl_task_item(t: &hlbridge_ghl::Task) -> Item {
    Item {
        id: t.id.clone(),
        fields: task_fields(
            t.title.as_deref(),
            t.body.as_deref(),
            t.due_date.as_deref(),
            t.completed,
        ),
        updated: t
            .extra
            .get("dateUpdated")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

/// A Sellsy task in canonical form.
fn sellsy_task_item(t: &hlbridge_sellsy::Task) -> Item {
    Item {
        id: t.id.to_string(),
        fields: task_fields(
            t.title.as_deref(),
            t.description.as_deref(),
            t.due_date.as_deref(),
            t.is_done(),
        ),
        updated: t.updated.clone(),
    }
}

/// A Sellsy comment in canonical (note) form.
fn comment_item(c: &hlbridge_sellsy::Comment) -> Item {
    Item {
        id: c.id.to_string(),
        fields: note_fields(c.description.as_deref()),
        updated: c.updated.clone(),
    }
}

/// A GHL note of `pair`'s contact, for the notes archive.
fn ghl_note_archived(pair: &Pair<'_>, n: &hlbridge_ghl::Note) -> ArchivedNote {
    ArchivedNote {
        side: Side::Ghl,
        note_id: n.id.clone(),
        ghl_contact_id: Some(pair.ghl.to_string()),
        sellsy_contact_id: Some(pair.sellsy.to_string()),
        body: plain_text(n.body.as_deref().unwrap_or_default()),
        updated: n.date_added.clone(),
    }
}

/// A Sellsy comment of `pair`'s contact, for the notes archive.
fn comment_archived(pair: &Pair<'_>, c: &hlbridge_sellsy::Comment) -> ArchivedNote {
    ArchivedNote {
        side: Side::Sellsy,
        note_id: c.id.to_string(),
        ghl_contact_id: Some(pair.ghl.to_string()),
        sellsy_contact_id: Some(pair.sellsy.to_string()),
        body: plain_text(c.description.as_deref().unwrap_or_default()),
        updated: c.updated.clone(),
    }
}

/// Plain text of an HTML fragment (Sellsy comments are HTML).
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of any RFC 3339 time.
pub fn utc_seconds(s: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| {
        t.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    })
}

fn text(v: Option<&str>) -> Option<Value> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_string()))
}

fn task_fields(
    title: Option<&str>,
    description: Option<&str>,
    due: Option<&str>,
    done: bool,
) -> Fields {
    let mut f = Fields::new();
    if let Some(v) = text(title) {
        f.insert("title".into(), v);
    }
    if let Some(v) = description
        .map(plain_text)
        .as_deref()
        .and_then(|d| text(Some(d)))
    {
        f.insert("description".into(), v);
    }
    if let Some(v) = due.and_then(utc_seconds) {
        f.insert("due".into(), Value::String(v));
    }
    f.insert("done".into(), Value::Bool(done));
    f
}

fn note_fields(body: Option<&str>) -> Fields {
    let mut f = Fields::new();
    if let Some(v) = body.map(plain_text).as_deref().and_then(|b| text(Some(b))) {
        f.insert("body".into(), v);
    }
    f
}

fn specs(kind: Kind) -> Vec<MergeField> {
    let f = |name: &str, kind| MergeField {
        name: name.into(),
        kind,
        direction: Direction::Both,
        conflict: ConflictPolicy::NewestWins,
    };
    match kind {
        Kind::Task => vec![
            f("title", FieldKind::Text),
            f("description", FieldKind::Text),
            f("due", FieldKind::Text),
            f("done", FieldKind::Bool),
        ],
        _ => vec![f("body", FieldKind::Text)],
    }
}

fn get<'a>(f: &'a Fields, k: &str) -> Option<&'a str> {
    f.get(k).and_then(Value::as_str)
}

fn same_item(kind: Kind, a: &Fields, b: &Fields) -> bool {
    match kind {
        Kind::Task => get(a, "title") == get(b, "title") && get(a, "due") == get(b, "due"),
        _ => get(a, "body") == get(b, "body"),
    }
}

/// The contact pair being swept.
struct Pair<'a> {
    ghl: &'a str,
    sellsy: &'a str,
}

#[derive(Default)]
struct Counts {
    created: [AtomicU64; 2],
    updated: [AtomicU64; 2],
    deleted: [AtomicU64; 2],
}

fn idx(side: Side) -> usize {
    match side {
        Side::Ghl => 0,
        Side::Sellsy => 1,
    }
}

impl Counts {
    fn fold(&self, into: &mut SideCountsPair) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        into.ghl.created += g(&self.created[0]);
        into.sellsy.created += g(&self.created[1]);
        into.ghl.updated += g(&self.updated[0]);
        into.sellsy.updated += g(&self.updated[1]);
        into.ghl.deleted += g(&self.deleted[0]);
        into.sellsy.deleted += g(&self.deleted[1]);
    }
}

impl Engine {
    /// Sweep up to `sweep_max_contacts` linked contacts, resuming where the last
    /// sweep stopped.
    pub(crate) async fn sweep(
        &self,
        report: &mut CycleReport,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        let links: Vec<Link> = self
            .store
            .links(Kind::Contact, None)?
            .into_iter()
            .filter(|l| l.state == "active")
            .collect();
        let total = links.len();
        report.sweep_total = total as u64;
        if total == 0 {
            return Ok(());
        }
        let mut max = self.cfg.sync.sweep_max_contacts.min(total);
        if self.continuous_cycles.load(Ordering::SeqCst) > 1 {
            // Continuous mode after the initial cycle: two GHL reads per contact, within
            // the daily allowance spread over the day's cycles.
            let cycles_per_day = self
                .cfg
                .poll_interval()
                .map(|i| (86_400 / i.as_secs().max(1)).max(1))
                .unwrap_or(288);
            let affordable = (self.cfg.sync.sweep_daily_calls / cycles_per_day / 2).max(1) as usize;
            max = max.min(affordable);
        }
        let start = self
            .store
            .cursor("sweep.position")?
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as usize
            % total;
        let chosen: Vec<Link> = (0..max)
            .map(|i| links[(start + i) % total].clone())
            .collect();
        let tasks = Counts::default();
        let notes = Counts::default();
        let done = AtomicU64::new(0);
        let results: Vec<Result<()>> = futures::stream::iter(chosen)
            .map(|link: Link| {
                let (tasks, notes, done) = (&tasks, &notes, &done);
                async move {
                    let r = self.sweep_link(&link, tasks, notes).await;
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n % 100 == 0 || n as usize == max {
                        progress(Progress::Swept {
                            done: n,
                            total: max as u64,
                        });
                    }
                    r
                }
            })
            .buffer_unordered(self.cfg.sync.concurrency.max(1))
            .collect()
            .await;
        tasks.fold(&mut report.tasks);
        notes.fold(&mut report.notes);
        let mut daily = None;
        let mut failed = 0;
        for r in results {
            match r {
                Ok(()) => {}
                Err(e) if e.is_daily_limit() => daily = Some(e),
                Err(e @ EngineError::Store(_)) => return Err(e),
                Err(e) => {
                    failed += 1;
                    if report.errors.len() < 20 {
                        report.errors.push(e.to_string());
                    }
                }
            }
        }
        report.swept = max as u64 - failed;
        // Contacts whose sweep failed count as pending: the next cycle redoes them.
        report.pending += failed;
        self.store
            .set_cursor("sweep.position", &json!(((start + max) % total) as u64))?;
        match daily {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn sweep_link(&self, link: &Link, tasks: &Counts, notes: &Counts) -> Result<()> {
        let pair = Pair {
            ghl: &link.ghl_id,
            sellsy: &link.sellsy_id,
        };
        if self.cfg.sync.tasks {
            self.sweep_tasks(&pair, tasks).await?;
        }
        if self.cfg.sync.notes {
            self.sweep_notes(&pair, notes).await?;
        }
        Ok(())
    }

    /// Reconcile the tasks and notes of one linked contact now (webhook hints).
    pub(crate) async fn sweep_one(&self, link: &Link, report: &mut CycleReport) -> Result<()> {
        let tasks = Counts::default();
        let notes = Counts::default();
        let r = self.sweep_link(link, &tasks, &notes).await;
        tasks.fold(&mut report.tasks);
        notes.fold(&mut report.notes);
        report.swept += 1;
        r
    }

    async fn sweep_tasks(&self, pair: &Pair<'_>, counts: &Counts) -> Result<()> {
        let Some(ghl_tasks) = self.ghl.tasks(pair.ghl).await? else {
            return Ok(());
        };
        let ghl: Vec<Item> = ghl_tasks.iter().map(ghl_task_item).collect();
        let sellsy: Vec<Item> = self
            .sellsy
            .tasks_of(pair.sellsy)
            .await?
            .iter()
            .map(sellsy_task_item)
            .collect();
        self.reconcile_items(Kind::Task, pair, ghl, sellsy, counts)
            .await
    }

    async fn sweep_notes(&self, pair: &Pair<'_>, counts: &Counts) -> Result<()> {
        let Some(ghl_notes) = self.ghl.notes(pair.ghl).await? else {
            return Ok(());
        };
        let comments = self.sellsy.comments_of(pair.sellsy).await?;
        for n in &ghl_notes {
            self.store.archive_note(&ghl_note_archived(pair, n))?;
        }
        for c in &comments {
            self.store.archive_note(&comment_archived(pair, c))?;
        }
        let ghl: Vec<Item> = ghl_notes
            .iter()
            .map(|n| Item {
                id: n.id.clone(),
                fields: note_fields(n.body.as_deref()),
                updated: n
                    .extra
                    .get("dateUpdated")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
            .collect();
        let sellsy: Vec<Item> = comments.iter().map(comment_item).collect();
        self.reconcile_items(Kind::Note, pair, ghl, sellsy, counts)
            .await
    }

    async fn reconcile_items(
        &self,
        kind: Kind,
        pair: &Pair<'_>,
        ghl: Vec<Item>,
        sellsy: Vec<Item>,
        counts: &Counts,
    ) -> Result<()> {
        let mut gmap: HashMap<String, Item> = ghl.into_iter().map(|i| (i.id.clone(), i)).collect();
        let mut smap: HashMap<String, Item> =
            sellsy.into_iter().map(|i| (i.id.clone(), i)).collect();
        for link in self.store.links(kind, Some(pair.ghl))? {
            match (gmap.remove(&link.ghl_id), smap.remove(&link.sellsy_id)) {
                (Some(g), Some(s)) => self.merge_items(kind, pair, &link, &g, &s, counts).await?,
                (None, Some(s)) => {
                    self.delete_item(kind, Side::Sellsy, pair, &s.id).await?;
                    counts.deleted[idx(Side::Sellsy)].fetch_add(1, Ordering::Relaxed);
                    self.store.delete_link(kind, &link.ghl_id)?;
                }
                (Some(g), None) => {
                    self.delete_item(kind, Side::Ghl, pair, &g.id).await?;
                    counts.deleted[idx(Side::Ghl)].fetch_add(1, Ordering::Relaxed);
                    self.store.delete_link(kind, &link.ghl_id)?;
                }
                (None, None) => self.store.delete_link(kind, &link.ghl_id)?,
            }
        }
        // Unlinked items: pair identical ones, create the rest on the other side.
        let mut ghl_left: Vec<Item> = gmap.into_values().collect();
        ghl_left.sort_by(|a, b| a.id.cmp(&b.id));
        let mut sellsy_left: Vec<Item> = smap.into_values().collect();
        sellsy_left.sort_by(|a, b| a.id.cmp(&b.id));
        for g in ghl_left {
            if let Some(pos) = sellsy_left
                .iter()
                .position(|s| same_item(kind, &g.fields, &s.fields))
            {
                let s = sellsy_left.remove(pos);
                self.save_item_link(kind, pair, &g, &s)?;
                continue;
            }
            let s = self
                .create_item(kind, Side::Sellsy, pair, &g.fields)
                .await?;
            counts.created[idx(Side::Sellsy)].fetch_add(1, Ordering::Relaxed);
            self.save_item_link(kind, pair, &g, &s)?;
        }
        for s in sellsy_left {
            let g = self.create_item(kind, Side::Ghl, pair, &s.fields).await?;
            counts.created[idx(Side::Ghl)].fetch_add(1, Ordering::Relaxed);
            self.save_item_link(kind, pair, &g, &s)?;
        }
        Ok(())
    }

    fn save_item_link(&self, kind: Kind, pair: &Pair<'_>, g: &Item, s: &Item) -> Result<()> {
        let mut link = Link::new(kind, &g.id, &s.id);
        link.parent_ghl_id = Some(pair.ghl.to_string());
        link.ghl_hash = Some(canonical::hash(&canonical::to_value(&g.fields)));
        link.sellsy_hash = Some(canonical::hash(&canonical::to_value(&s.fields)));
        let shadow: BTreeMap<String, Value> = g
            .fields
            .iter()
            .filter(|(k, v)| s.fields.get(*k) == Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(std::iter::once(("_linked".to_string(), Value::Bool(true))))
            .collect();
        self.store.commit(&Commit {
            links: vec![link],
            shadows: vec![(kind, g.id.clone(), shadow)],
            ..Commit::default()
        })
    }

    async fn merge_items(
        &self,
        kind: Kind,
        pair: &Pair<'_>,
        link: &Link,
        g: &Item,
        s: &Item,
        counts: &Counts,
    ) -> Result<()> {
        let mut shadow = self.store.shadow(kind, &link.ghl_id)?;
        shadow.remove("_linked");
        let plan = merge(
            &specs(kind),
            SideView {
                fields: &g.fields,
                updated: g.updated.as_deref(),
            },
            SideView {
                fields: &s.fields,
                updated: s.updated.as_deref(),
            },
            &shadow,
            false,
            &[],
        );
        if plan.is_noop() && plan.shadow == shadow {
            return Ok(());
        }
        let mut g_now = g.clone();
        let mut s_now = s.clone();
        if !plan.to_ghl.is_empty() {
            let mut want = g.fields.clone();
            apply(&mut want, &plan.to_ghl);
            g_now = self
                .update_item(kind, Side::Ghl, pair, &g.id, &want)
                .await?;
            counts.updated[idx(Side::Ghl)].fetch_add(1, Ordering::Relaxed);
        }
        if !plan.to_sellsy.is_empty() {
            let mut want = s.fields.clone();
            apply(&mut want, &plan.to_sellsy);
            s_now = self
                .update_item(kind, Side::Sellsy, pair, &s.id, &want)
                .await?;
            counts.updated[idx(Side::Sellsy)].fetch_add(1, Ordering::Relaxed);
        }
        let mut new_shadow = plan.shadow;
        new_shadow.insert("_linked".into(), Value::Bool(true));
        let mut link = link.clone();
        link.ghl_hash = Some(canonical::hash(&canonical::to_value(&g_now.fields)));
        link.sellsy_hash = Some(canonical::hash(&canonical::to_value(&s_now.fields)));
        self.store.commit(&Commit {
            links: vec![link],
            shadows: vec![(kind, g.id.clone(), new_shadow)],
            ..Commit::default()
        })
    }

    async fn create_item(
        &self,
        kind: Kind,
        target: Side,
        pair: &Pair<'_>,
        f: &Fields,
    ) -> Result<Item> {
        self.write_item(kind, target, pair, None, f).await
    }

    async fn update_item(
        &self,
        kind: Kind,
        target: Side,
        pair: &Pair<'_>,
        id: &str,
        f: &Fields,
    ) -> Result<Item> {
        self.write_item(kind, target, pair, Some(id), f).await
    }

    /// Create (`id` = None) or update an item so it holds `f`; returns it as written.
    async fn write_item(
        &self,
        kind: Kind,
        target: Side,
        pair: &Pair<'_>,
        id: Option<&str>,
        f: &Fields,
    ) -> Result<Item> {
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
                    None => self.ghl.create_task(pair.ghl, &input).await?,
                    Some(id) => self.ghl.update_task(pair.ghl, id, &input).await?,
                };
                Ok(ghl_task_item(&t))
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
                        self.sellsy.create_task(pair.sellsy, &body).await?
                    }
                    Some(id) => self.sellsy.update_task(id, &body).await?,
                };
                Ok(sellsy_task_item(&t))
            }
            (_, Side::Ghl) => {
                let n = match id {
                    None => self.ghl.create_note(pair.ghl, &body).await?,
                    Some(id) => self.ghl.update_note(pair.ghl, id, &body).await?,
                };
                self.store.archive_note(&ghl_note_archived(pair, &n))?;
                Ok(Item {
                    id: n.id.clone(),
                    fields: note_fields(n.body.as_deref()),
                    updated: None,
                })
            }
            (_, Side::Sellsy) => {
                let c = match id {
                    None => self.sellsy.create_comment(pair.sellsy, &body).await?,
                    Some(id) => self.sellsy.update_comment(id, &body).await?,
                };
                self.store.archive_note(&comment_archived(pair, &c))?;
                Ok(comment_item(&c))
            }
        }
    }

    async fn delete_item(&self, kind: Kind, target: Side, pair: &Pair<'_>, id: &str) -> Result<()> {
        match (kind, target) {
            (Kind::Task, Side::Ghl) => self.ghl.delete_task(pair.ghl, id).await,
            (Kind::Task, Side::Sellsy) => self.sellsy.delete_task(id).await,
            (_, Side::Ghl) => self.ghl.delete_note(pair.ghl, id).await,
            (_, Side::Sellsy) => self.sellsy.delete_comment(id).await,
        }
    }
}

fn apply(fields: &mut Fields, changes: &crate::mapping::ghl::Changes) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_times_normalise() {
        assert_eq!(
            plain_text("<p>First meeting &amp; demo</p>"),
            "First meeting & demo"
        );
        assert_eq!(
            utc_seconds("2024-01-08T10:00:00.000Z").as_deref(),
            Some("2024-01-08T10:00:00Z")
        );
        assert_eq!(
            utc_seconds("2024-01-08T11:00:00+01:00").as_deref(),
            Some("2024-01-08T10:00:00Z")
        );
    }
}
