//! Reconciling changed contacts: match before create, three-way merge against the
//! shadow, writes through the durable outbox, then links, shadow and records saved in
//! one transaction.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use futures::StreamExt;
use serde_json::{json, Map, Value};

use crate::canonical::{self, Fields};
use crate::engine::{Engine, ProgressFn};
use crate::error::{EngineError, Result};
use crate::mapping::ghl::Changes;
use crate::merge::{merge, MergeField, SideView};
use crate::poll::{fields_of, meta_of, record};
use crate::report::{CycleReport, Progress, SampleDiff};
use crate::store::{Commit, Kind, Link, NewConflict, NewOutbox, Outcome, Record, Side};

const SAMPLES: usize = 10;

/// Counters shared by concurrent reconcilers.
#[derive(Default)]
pub(crate) struct Tally {
    pub ghl_created: AtomicU64,
    pub ghl_updated: AtomicU64,
    pub sellsy_created: AtomicU64,
    pub sellsy_updated: AtomicU64,
    pub linked: AtomicU64,
    pub conflicts: AtomicU64,
    pub failed_ghl: AtomicU64,
    pub failed_sellsy: AtomicU64,
    pub writes: AtomicU64,
    pub capped: std::sync::atomic::AtomicBool,
    pub samples: Mutex<Vec<SampleDiff>>,
    /// Dry runs save no links: records already paired in this run.
    pub claimed: Mutex<HashSet<(Side, String)>>,
    pub errors: Mutex<Vec<String>>,
}

impl Tally {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn sample(&self, s: SampleDiff) {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples.len() < SAMPLES {
            samples.push(s);
        }
    }

    fn claim(&self, side: Side, id: &str) {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((side, id.to_string()));
    }

    fn is_claimed(&self, side: Side, id: &str) -> bool {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(side, id.to_string()))
    }

    fn error(&self, e: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.len() < 20 {
            errors.push(e);
        }
    }

    fn fold_into(self, r: &mut CycleReport) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        r.ghl.created += get(&self.ghl_created);
        r.ghl.updated += get(&self.ghl_updated);
        r.sellsy.created += get(&self.sellsy_created);
        r.sellsy.updated += get(&self.sellsy_updated);
        r.ghl.failed += get(&self.failed_ghl);
        r.sellsy.failed += get(&self.failed_sellsy);
        r.linked += get(&self.linked);
        r.conflicts_queued += get(&self.conflicts);
        r.capped |= self.capped.load(Ordering::Relaxed);
        r.errors
            .extend(self.errors.into_inner().unwrap_or_else(|p| p.into_inner()));
        let samples = self.samples.into_inner().unwrap_or_else(|p| p.into_inner());
        for s in samples {
            if r.samples.len() < SAMPLES {
                r.samples.push(s);
            }
        }
    }
}

fn changes_json(c: &Changes) -> Value {
    Value::Object(
        c.iter()
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or(Value::Null)))
            .collect(),
    )
}

/// A 4xx the API will answer the same way again: give up on this write.
fn is_permanent(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Api {
            source: hlbridge_core::Error::Validation { .. }
                | hlbridge_core::Error::Forbidden { .. }
                | hlbridge_core::Error::PlanQuota { .. },
            ..
        } | EngineError::Data(_)
    )
}

impl Engine {
    fn merge_fields(&self) -> Vec<MergeField> {
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

    fn in_scope(&self, rec: &Record) -> bool {
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
                Some(u) => return !crate::poll::later(&since, Some(u)),
                None => return false,
            }
        }
        true
    }

    /// Reconcile every dirty contact, GHL side first.
    pub(crate) async fn reconcile_contacts(
        &self,
        dry_run: bool,
        report: &mut CycleReport,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        let tally = Tally::default();
        let mut daily: Option<EngineError> = None;
        for side in [Side::Ghl, Side::Sellsy] {
            let batch = self.store.dirty(side, Kind::Contact, 1_000_000)?;
            let total = batch.len() as u64;
            let done = AtomicU64::new(0);
            let results: Vec<Result<()>> = futures::stream::iter(batch)
                .map(|rec| {
                    let tally = &tally;
                    let done = &done;
                    async move {
                        let r = self.reconcile_one(rec, dry_run, tally).await;
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if n.is_multiple_of(100) || n == total {
                            progress(Progress::Reconciled { done: n, total });
                        }
                        r
                    }
                })
                .buffer_unordered(self.cfg.sync.concurrency.max(1))
                .collect()
                .await;
            for r in results {
                match r {
                    Ok(()) => {}
                    Err(e) if e.is_daily_limit() => daily = Some(e),
                    Err(e @ EngineError::Store(_)) => return Err(e),
                    Err(e) => tally.error(e.to_string()),
                }
            }
            if daily.is_some() {
                break;
            }
        }
        tally.fold_into(report);
        match daily {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn take_write(&self, tally: &Tally) -> bool {
        let n = tally.writes.fetch_add(1, Ordering::Relaxed);
        if n as usize >= self.cfg.sync.max_writes_per_run {
            tally.capped.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    async fn reconcile_one(&self, rec: Record, dry_run: bool, tally: &Tally) -> Result<()> {
        if let Some(link) = self.store.link_by(Kind::Contact, rec.side, &rec.id)? {
            return self.sync_pair(link, dry_run, tally).await;
        }
        if !self.in_scope(&rec) {
            if !dry_run {
                self.store.commit(&Commit {
                    clean: vec![(rec.side, Kind::Contact, rec.id.clone(), rec.hash.clone())],
                    ..Commit::default()
                })?;
            }
            return Ok(());
        }
        if dry_run && tally.is_claimed(rec.side, &rec.id) {
            return Ok(());
        }
        let fields = fields_of(&rec);
        let partner = {
            let _guard = self.link_lock.lock().await;
            if let Some(link) = self.store.link_by(Kind::Contact, rec.side, &rec.id)? {
                drop(_guard);
                return self.sync_pair(link, dry_run, tally).await;
            }
            match self.find_partner(rec.side, &fields, dry_run.then_some(tally))? {
                Some(partner) => {
                    let link = pair(rec.side, &rec.id, &partner.id);
                    if dry_run {
                        tally.claim(partner.side, &partner.id);
                    } else {
                        self.store.commit(&Commit {
                            links: vec![link.clone()],
                            ..Commit::default()
                        })?;
                    }
                    Some((link, partner))
                }
                None => None,
            }
        };
        match partner {
            Some((link, partner)) => {
                Tally::add(&tally.linked);
                if dry_run {
                    let (g, s) = match rec.side {
                        Side::Ghl => (rec, partner),
                        Side::Sellsy => (partner, rec),
                    };
                    return self.plan_pair(&link, &g, &s, true, tally).await;
                }
                self.sync_pair(link, dry_run, tally).await
            }
            None => self.create_from(rec, dry_run, tally).await,
        }
    }

    /// An unlinked record of the other side with the same email, else the same phone.
    fn find_partner(
        &self,
        side: Side,
        fields: &Fields,
        dry: Option<&Tally>,
    ) -> Result<Option<Record>> {
        for key in ["email", "phone"] {
            let Some(value) = fields.get(key).and_then(Value::as_str) else {
                continue;
            };
            for candidate in self
                .store
                .find_records(side.other(), Kind::Contact, key, value)?
            {
                if self
                    .store
                    .link_by(Kind::Contact, side.other(), &candidate.id)?
                    .is_none()
                    && !dry.is_some_and(|t| t.is_claimed(candidate.side, &candidate.id))
                {
                    return Ok(Some(candidate));
                }
            }
        }
        Ok(None)
    }

    /// Look the record up on `target` through the API (email, then phone).
    async fn find_remote(&self, target: Side, fields: &Fields) -> Result<Option<Record>> {
        let email = fields.get("email").and_then(Value::as_str);
        let phone = fields.get("phone").and_then(Value::as_str);
        match target {
            Side::Ghl => {
                for (key, v) in [("email", email), ("phone", phone)] {
                    let Some(v) = v else { continue };
                    for c in self.ghl.find_by(key, v).await? {
                        if self
                            .store
                            .link_by(Kind::Contact, Side::Ghl, &c.id)?
                            .is_none()
                        {
                            return Ok(Some(self.ghl_record(&c)));
                        }
                    }
                }
            }
            Side::Sellsy => {
                let keys = [
                    ("email", email),
                    ("mobile_number", phone),
                    ("phone_number", phone),
                ];
                for (key, v) in keys {
                    let Some(v) = v else { continue };
                    for c in self.sellsy.find_by(key, v, &self.sellsy_embeds).await? {
                        let id = c
                            .get("id")
                            .and_then(Value::as_i64)
                            .unwrap_or_default()
                            .to_string();
                        if self
                            .store
                            .link_by(Kind::Contact, Side::Sellsy, &id)?
                            .is_none()
                        {
                            return Ok(Some(self.sellsy_record(&c).await?));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// Create `rec` on the other side (idempotently), link it, and merge the rest.
    async fn create_from(&self, rec: Record, dry_run: bool, tally: &Tally) -> Result<()> {
        let target = rec.side.other();
        let fields = fields_of(&rec);
        let wanted: Changes = fields
            .iter()
            .filter(|(k, _)| self.mapping.field(k).is_some_and(|f| f.flows_to(target)))
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        if dry_run {
            Tally::add(match target {
                Side::Ghl => &tally.ghl_created,
                Side::Sellsy => &tally.sellsy_created,
            });
            tally.sample(SampleDiff {
                target: target.label().into(),
                action: "create".into(),
                source_id: rec.id.clone(),
                target_id: None,
                changes: changes_json(&wanted),
            });
            return Ok(());
        }
        if !self.take_write(tally) {
            return Ok(());
        }
        let entry = self.store.enqueue(&NewOutbox {
            key: format!(
                "create:{}:{}:{}",
                target.as_str(),
                rec.side.as_str(),
                rec.id
            ),
            target,
            kind: Kind::Contact,
            op: "create".into(),
            target_id: None,
            source_id: rec.id.clone(),
            payload: changes_json(&wanted),
        })?;
        // Recorded before (a crash or a failed attempt): it may exist already.
        if entry.attempts > 0 || entry.id < self.outbox_floor.load(Ordering::SeqCst) {
            if let Some(found) = self.find_remote(target, &fields).await? {
                let link = pair(rec.side, &rec.id, &found.id);
                self.store.put_seen(std::slice::from_ref(&found), None)?;
                self.store.commit(&Commit {
                    links: vec![link.clone()],
                    outbox_done: vec![entry.id],
                    ..Commit::default()
                })?;
                Tally::add(&tally.linked);
                return self.sync_pair(link, false, tally).await;
            }
        }
        let created = match target {
            Side::Ghl => {
                let input = crate::mapping::ghl::write(&wanted, &self.mapping);
                self.ghl.create(&input).await.map(|c| self.ghl_record(&c))
            }
            Side::Sellsy => self.create_sellsy(&wanted).await,
        };
        let mut created = match created {
            Ok(c) => c,
            Err(e) => return self.write_failed(entry.id, target, &rec, e, tally),
        };
        Tally::add(match target {
            Side::Ghl => &tally.ghl_created,
            Side::Sellsy => &tally.sellsy_created,
        });
        // What the Sellsy create body cannot carry (tags, address, company, custom
        // fields) follows under the same intent; a failure leaves the source dirty and
        // the next round merges the pair.
        let mut complete = true;
        if target == Side::Sellsy {
            let extras: Changes = wanted
                .iter()
                .filter(|(k, _)| {
                    ![
                        "first_name",
                        "last_name",
                        "email",
                        "phone",
                        "website",
                        "birth_date",
                        "dnd",
                    ]
                    .contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !extras.is_empty() {
                match self.send_sellsy(&created.id, &created, &extras).await {
                    Ok(r) => created = r,
                    Err(e) if e.is_daily_limit() => return Err(e),
                    Err(e) => {
                        complete = false;
                        tally.error(format!("Sellsy extras for {}: {e}", created.id));
                    }
                }
            }
        }
        let link = pair(rec.side, &rec.id, &created.id);
        let created_fields = fields_of(&created);
        let mut shadow: BTreeMap<String, Value> = created_fields
            .iter()
            .filter(|(k, v)| fields.get(*k) == Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // What was sent counts as agreed, even where the target could not take it
        // (a partial Sellsy address): the target then shows an "emptied" field, which
        // never overwrites a filled one, instead of a change to send again and again.
        if complete {
            for (k, v) in &wanted {
                if let Some(v) = v {
                    shadow.insert(k.clone(), v.clone());
                }
            }
        }
        // Never leave an empty shadow on a known pair (empty = first sight).
        shadow.insert("_linked".into(), Value::Bool(true));
        let mut commit = Commit {
            links: vec![link],
            shadows: vec![(
                Kind::Contact,
                pair(rec.side, &rec.id, &created.id).ghl_id,
                shadow,
            )],
            records: vec![created],
            outbox_done: vec![entry.id],
            ..Commit::default()
        };
        if complete {
            commit
                .clean
                .push((rec.side, Kind::Contact, rec.id.clone(), rec.hash.clone()));
        }
        self.store.commit(&commit)
    }

    async fn create_sellsy(&self, wanted: &Changes) -> Result<Record> {
        let w = crate::mapping::sellsy::write(wanted, &Fields::new(), None, &self.mapping);
        let mut body: Map<String, Value> = w.contact;
        body.retain(|_, v| !v.is_null());
        if body
            .get("last_name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            let fallback = wanted
                .get("email")
                .and_then(|v| v.as_ref())
                .and_then(Value::as_str)
                .and_then(|e| e.split('@').next())
                .filter(|s| !s.is_empty())
                .unwrap_or("—")
                .to_string();
            body.insert("last_name".into(), Value::String(fallback));
        }
        let created = self.sellsy.create(&body).await?;
        let fields = crate::mapping::sellsy::read(&created, None, &self.mapping);
        let id = created
            .get("id")
            .and_then(Value::as_i64)
            .unwrap_or_default()
            .to_string();
        let meta = json!({
            "mobile": created.get("mobile_number").cloned().unwrap_or(Value::Null),
            "phone": created.get("phone_number").cloned().unwrap_or(Value::Null),
            "address": Value::Null,
        });
        Ok(record(
            Side::Sellsy,
            &id,
            &fields,
            meta,
            created
                .get("updated")
                .and_then(Value::as_str)
                .map(str::to_string),
        ))
    }

    fn write_failed(
        &self,
        entry: i64,
        target: Side,
        rec: &Record,
        e: EngineError,
        tally: &Tally,
    ) -> Result<()> {
        if e.is_daily_limit() {
            self.store.finish(entry, Outcome::Retry(&e.to_string()))?;
            return Err(e);
        }
        Tally::add(match target {
            Side::Ghl => &tally.failed_ghl,
            Side::Sellsy => &tally.failed_sellsy,
        });
        let msg = e.to_string();
        if is_permanent(&e) {
            // The API refuses this data: park it (see `hlbridge status`), stop retrying.
            self.store.finish(entry, Outcome::Failed(&msg))?;
            self.store.commit(&Commit {
                clean: vec![(rec.side, Kind::Contact, rec.id.clone(), rec.hash.clone())],
                ..Commit::default()
            })?;
        } else {
            self.store.finish(entry, Outcome::Retry(&msg))?;
        }
        tally.error(format!(
            "{} write for {} {}: {msg}",
            target.label(),
            rec.side.label(),
            rec.id
        ));
        Ok(())
    }

    /// Current record of one side of a link: the cache, else the API (`None` = gone).
    async fn current(&self, side: Side, id: &str) -> Result<Option<Record>> {
        if let Some(r) = self.store.record(side, Kind::Contact, id)? {
            return Ok(Some(r));
        }
        let fetched = match side {
            Side::Ghl => self.ghl.get(id).await?.map(|c| self.ghl_record(&c)),
            Side::Sellsy => match self.sellsy.get(id, &self.sellsy_embeds).await? {
                Some(c) => Some(self.sellsy_record(&c).await?),
                None => None,
            },
        };
        if let Some(r) = &fetched {
            self.store.put_seen(std::slice::from_ref(r), None)?;
        }
        Ok(fetched)
    }

    /// Merge a linked pair and apply the result.
    async fn sync_pair(&self, link: Link, dry_run: bool, tally: &Tally) -> Result<()> {
        if link.state != "active" {
            if !dry_run {
                let mut commit = Commit::default();
                for side in [Side::Ghl, Side::Sellsy] {
                    if let Some(r) = self.store.record(side, Kind::Contact, link.id_of(side))? {
                        commit.clean.push((side, Kind::Contact, r.id, r.hash));
                    }
                }
                self.store.commit(&commit)?;
            }
            return Ok(());
        }
        let g = self.current(Side::Ghl, &link.ghl_id).await?;
        let s = self.current(Side::Sellsy, &link.sellsy_id).await?;
        match (g, s) {
            (Some(g), Some(s)) => self.plan_pair(&link, &g, &s, dry_run, tally).await,
            (None, _) if !dry_run => self.on_deleted(Side::Ghl, &link).await,
            (_, None) if !dry_run => self.on_deleted(Side::Sellsy, &link).await,
            _ => Ok(()),
        }
    }

    async fn plan_pair(
        &self,
        link: &Link,
        g: &Record,
        s: &Record,
        dry_run: bool,
        tally: &Tally,
    ) -> Result<()> {
        let gf = fields_of(g);
        let sf = fields_of(s);
        let old_shadow = if dry_run
            && self
                .store
                .link_by(Kind::Contact, Side::Ghl, &link.ghl_id)?
                .is_none()
        {
            BTreeMap::new()
        } else {
            self.store.shadow(Kind::Contact, &link.ghl_id)?
        };
        let mut shadow_for_merge = old_shadow.clone();
        shadow_for_merge.remove("_linked");
        let blocked = self
            .store
            .open_conflict_fields(Kind::Contact, &link.ghl_id)?;
        let plan = merge(
            &self.merge_fields(),
            SideView {
                fields: &gf,
                updated: g.updated.as_deref(),
            },
            SideView {
                fields: &sf,
                updated: s.updated.as_deref(),
            },
            &shadow_for_merge,
            self.mapping.empty_overwrites,
            &blocked,
        );
        if !dry_run {
            for (field, gv, sv) in &plan.manual {
                self.store.add_conflict(&NewConflict {
                    kind: Kind::Contact,
                    ghl_id: link.ghl_id.clone(),
                    sellsy_id: link.sellsy_id.clone(),
                    field: field.clone(),
                    ghl_value: gv.clone(),
                    sellsy_value: sv.clone(),
                })?;
                Tally::add(&tally.conflicts);
            }
        }
        if dry_run {
            for (target, changes, counter) in [
                (Side::Ghl, &plan.to_ghl, &tally.ghl_updated),
                (Side::Sellsy, &plan.to_sellsy, &tally.sellsy_updated),
            ] {
                if !changes.is_empty() {
                    Tally::add(counter);
                    tally.sample(SampleDiff {
                        target: target.label().into(),
                        action: "update".into(),
                        source_id: link.id_of(target.other()).to_string(),
                        target_id: Some(link.id_of(target).to_string()),
                        changes: changes_json(changes),
                    });
                }
            }
            return Ok(());
        }
        let mut commit = Commit::default();
        let mut shadow = plan.shadow.clone();
        if shadow.is_empty() {
            shadow.insert("_linked".into(), Value::Bool(true));
        }
        let mut all_ok = true;
        let mut concurrent_ghl_edit = false;
        let mut new_g = g.clone();
        let mut new_s = s.clone();
        if !plan.to_ghl.is_empty() {
            match self.write_ghl(link, &plan.to_ghl, tally).await? {
                Some((rec, entry)) => {
                    Tally::add(&tally.ghl_updated);
                    // The answer shows the whole contact: a field we did not write that
                    // changed meanwhile (a concurrent edit) must still be merged.
                    let mut expected = gf.clone();
                    for (k, v) in &plan.to_ghl {
                        match v {
                            Some(v) => {
                                expected.insert(k.clone(), v.clone());
                            }
                            None => {
                                expected.remove(k);
                            }
                        }
                    }
                    concurrent_ghl_edit = fields_of(&rec) != expected;
                    new_g = rec;
                    commit.outbox_done.push(entry);
                }
                None => {
                    all_ok = false;
                    restore(&mut shadow, &old_shadow, &plan.to_ghl);
                }
            }
        }
        if !plan.to_sellsy.is_empty() {
            match self.write_sellsy(link, s, &plan.to_sellsy, tally).await? {
                Some((rec, entry)) => {
                    Tally::add(&tally.sellsy_updated);
                    new_s = rec;
                    commit.outbox_done.push(entry);
                }
                None => {
                    all_ok = false;
                    restore(&mut shadow, &old_shadow, &plan.to_sellsy);
                }
            }
        }
        let mut link = link.clone();
        link.ghl_hash = Some(new_g.hash.clone());
        link.sellsy_hash = Some(new_s.hash.clone());
        link.ghl_updated = new_g.updated.clone();
        link.sellsy_updated = new_s.updated.clone();
        commit.links.push(link.clone());
        commit
            .shadows
            .push((Kind::Contact, link.ghl_id.clone(), shadow));
        if all_ok {
            new_g.dirty = concurrent_ghl_edit;
            new_s.dirty = false;
            if new_g.hash != g.hash {
                commit.records.push(new_g);
            }
            if new_s.hash != s.hash {
                commit.records.push(new_s);
            }
            commit
                .clean
                .push((Side::Ghl, Kind::Contact, g.id.clone(), g.hash.clone()));
            commit
                .clean
                .push((Side::Sellsy, Kind::Contact, s.id.clone(), s.hash.clone()));
        }
        self.store.commit(&commit)?;
        Ok(())
    }

    /// Send GHL changes through the outbox; `None` when the write failed (kept for retry).
    async fn write_ghl(
        &self,
        link: &Link,
        changes: &Changes,
        tally: &Tally,
    ) -> Result<Option<(Record, i64)>> {
        if !self.take_write(tally) {
            return Ok(None);
        }
        let payload = changes_json(changes);
        let entry = self.store.enqueue(&NewOutbox {
            key: format!("update:ghl:{}:{}", link.ghl_id, canonical::hash(&payload)),
            target: Side::Ghl,
            kind: Kind::Contact,
            op: "update".into(),
            target_id: Some(link.ghl_id.clone()),
            source_id: link.sellsy_id.clone(),
            payload,
        })?;
        match self.send_ghl(&link.ghl_id, changes).await {
            Ok(rec) => Ok(Some((rec, entry.id))),
            Err(e) => {
                let src = self
                    .store
                    .record(Side::Sellsy, Kind::Contact, &link.sellsy_id)?;
                if let Some(src) = src {
                    self.write_failed(entry.id, Side::Ghl, &src, e, tally)?;
                } else {
                    self.store
                        .finish(entry.id, Outcome::Retry(&e.to_string()))?;
                }
                Ok(None)
            }
        }
    }

    /// Update a GHL contact; `companyName` goes through an upsert on the contact's
    /// e-mail (the update operation does not take it).
    async fn send_ghl(&self, id: &str, changes: &Changes) -> Result<Record> {
        let mut rest = changes.clone();
        let company = rest.remove("company");
        let mut contact = None;
        if !rest.is_empty() || company.is_none() {
            let input = crate::mapping::ghl::write(&rest, &self.mapping);
            contact = Some(self.ghl.update(id, &input).await?);
        }
        if let Some(company) = company {
            let email = match &contact {
                Some(c) => c.email.clone(),
                None => self.ghl.get(id).await?.and_then(|c| c.email),
            };
            let name = company.as_ref().and_then(Value::as_str).unwrap_or("");
            if let Some(email) = email.filter(|e| !e.is_empty()) {
                self.ghl.set_company(id, &email, name).await?;
            }
            contact = self.ghl.get(id).await?;
        }
        let contact = contact.ok_or_else(|| {
            EngineError::Data(format!("GHL contact {id} vanished during the update"))
        })?;
        Ok(self.ghl_record(&contact))
    }

    async fn write_sellsy(
        &self,
        link: &Link,
        current: &Record,
        changes: &Changes,
        tally: &Tally,
    ) -> Result<Option<(Record, i64)>> {
        if !self.take_write(tally) {
            return Ok(None);
        }
        let payload = changes_json(changes);
        let entry = self.store.enqueue(&NewOutbox {
            key: format!(
                "update:sellsy:{}:{}",
                link.sellsy_id,
                canonical::hash(&payload)
            ),
            target: Side::Sellsy,
            kind: Kind::Contact,
            op: "update".into(),
            target_id: Some(link.sellsy_id.clone()),
            source_id: link.ghl_id.clone(),
            payload,
        })?;
        match self.send_sellsy(&link.sellsy_id, current, changes).await {
            Ok(rec) => Ok(Some((rec, entry.id))),
            Err(e) => {
                let src = self.store.record(Side::Ghl, Kind::Contact, &link.ghl_id)?;
                if let Some(src) = src {
                    self.write_failed(entry.id, Side::Sellsy, &src, e, tally)?;
                } else {
                    self.store
                        .finish(entry.id, Outcome::Retry(&e.to_string()))?;
                }
                Ok(None)
            }
        }
    }

    /// Apply changes to a Sellsy contact (body, tags, address, company, custom
    /// fields); returns the record as it now stands.
    async fn send_sellsy(&self, id: &str, current: &Record, changes: &Changes) -> Result<Record> {
        let cur_fields = fields_of(current);
        let meta = meta_of(current).clone();
        let raw = json!({ "mobile_number": meta.get("mobile"), "phone_number": meta.get("phone") });
        let w = crate::mapping::sellsy::write(changes, &cur_fields, Some(&raw), &self.mapping);
        let mut meta = meta;
        if !w.contact.is_empty() {
            let updated = self.sellsy.update(id, &w.contact).await?;
            meta["mobile"] = updated.get("mobile_number").cloned().unwrap_or(Value::Null);
            meta["phone"] = updated.get("phone_number").cloned().unwrap_or(Value::Null);
        }
        self.sellsy.link_tags(id, &w.tags_add).await?;
        let address = meta.get("address").filter(|a| a.is_object()).cloned();
        let address_written = if w.address.is_empty() {
            true
        } else {
            self.sellsy
                .set_address(id, address.as_ref(), &w.address)
                .await?
        };
        if let Some(name) = w.company.as_deref().filter(|n| !n.is_empty()) {
            let previous = cur_fields.get("company").and_then(Value::as_str);
            self.sellsy.link_company(id, name, previous).await?;
        }
        self.sellsy.set_custom(id, &w.custom).await?;
        let mut fields = cur_fields;
        for (k, v) in changes {
            if !address_written
                && ["address", "city", "postal_code", "country"].contains(&k.as_str())
            {
                continue;
            }
            if k == "company" && v.is_none() {
                continue;
            }
            match (k.as_str(), v) {
                ("tags", Some(Value::Array(add))) => {
                    let mut all: Vec<Value> = fields
                        .get("tags")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    all.extend(add.iter().cloned());
                    if let Some(v) =
                        canonical::normalise(canonical::FieldKind::Tags, &Value::Array(all))
                    {
                        fields.insert(k.clone(), v);
                    }
                }
                ("tags", None) => {}
                (_, Some(v)) => {
                    fields.insert(k.clone(), v.clone());
                }
                (_, None) => {
                    fields.remove(k);
                }
            }
        }
        if address_written && !w.address.is_empty() && address.is_none() {
            // A new address: its id is learnt at the next read.
            meta["address"] = Value::Null;
        }
        Ok(record(
            Side::Sellsy,
            id,
            &fields,
            meta,
            current.updated.clone(),
        ))
    }

    /// One side of a linked pair is gone: archive, delete or ignore on the other.
    pub(crate) async fn on_deleted(&self, gone: Side, link: &Link) -> Result<()> {
        use crate::config::DeletionPolicy;
        let other = gone.other();
        let other_id = link.id_of(other).to_string();
        match self.cfg.sync.deletions {
            DeletionPolicy::Ignore => {}
            DeletionPolicy::Archive => match other {
                Side::Sellsy => {
                    let mut body = Map::new();
                    body.insert("is_archived".into(), Value::Bool(true));
                    if let Err(e) = self.sellsy.update(&other_id, &body).await {
                        if !e.is_not_found() {
                            return Err(e);
                        }
                    }
                }
                Side::Ghl => {
                    if let Err(e) = self
                        .ghl
                        .add_tag(&other_id, &self.cfg.sync.archive_tag)
                        .await
                    {
                        if !e.is_not_found() {
                            return Err(e);
                        }
                    }
                }
            },
            DeletionPolicy::Propagate => match other {
                Side::Sellsy => self.sellsy.delete(&other_id).await?,
                Side::Ghl => self.ghl.delete(&other_id).await?,
            },
        }
        let gone_id = link.id_of(gone).to_string();
        let mut link = link.clone();
        link.state = format!("deleted-{}", gone.as_str());
        let mut commit = Commit {
            links: vec![link],
            forget: vec![(gone, Kind::Contact, gone_id)],
            ..Commit::default()
        };
        if let Some(r) = self.store.record(other, Kind::Contact, &other_id)? {
            commit.clean.push((other, Kind::Contact, r.id, r.hash));
        }
        self.store.commit(&commit)?;
        Ok(())
    }

    /// Links whose record vanished from a complete id listing are deletions.
    pub(crate) async fn detect_deletions(&self, report: &mut CycleReport) -> Result<()> {
        let ghl_ids: HashSet<String> = self.ghl.all_ids().await?.into_iter().collect();
        let sellsy_ids: HashSet<String> = self.sellsy.all_ids().await?.into_iter().collect();
        for link in self.store.links(Kind::Contact, None)? {
            if link.state != "active" {
                continue;
            }
            let gone = if !ghl_ids.contains(&link.ghl_id) {
                Side::Ghl
            } else if !sellsy_ids.contains(&link.sellsy_id) {
                Side::Sellsy
            } else {
                continue;
            };
            self.on_deleted(gone, &link).await?;
            match gone.other() {
                Side::Ghl => report.ghl.archived += 1,
                Side::Sellsy => report.sellsy.archived += 1,
            }
        }
        let mut forget = Vec::new();
        for (side, ids) in [(Side::Ghl, &ghl_ids), (Side::Sellsy, &sellsy_ids)] {
            for id in self.store.record_ids(side, Kind::Contact)? {
                if !ids.contains(&id) {
                    forget.push((side, Kind::Contact, id));
                }
            }
        }
        if !forget.is_empty() {
            self.store.commit(&Commit {
                forget,
                ..Commit::default()
            })?;
        }
        Ok(())
    }
}

fn pair(side: Side, id: &str, partner: &str) -> Link {
    match side {
        Side::Ghl => Link::new(Kind::Contact, id, partner),
        Side::Sellsy => Link::new(Kind::Contact, partner, id),
    }
}

/// Undo the shadow update of fields whose write failed.
fn restore(shadow: &mut BTreeMap<String, Value>, old: &BTreeMap<String, Value>, changes: &Changes) {
    for k in changes.keys() {
        match old.get(k) {
            Some(v) => {
                shadow.insert(k.clone(), v.clone());
            }
            None => {
                shadow.remove(k);
            }
        }
    }
}
