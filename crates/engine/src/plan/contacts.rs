//! Contacts: match before create, three-way merge against the shadow, conflicts; the
//! writes themselves are the outbox's ([`crate::outbox::contacts`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use serde_json::Value;

use super::landed::created_shadow;
use super::tally::{changes_json, pair, Tally};
use super::Planner;
use crate::canonical::Fields;
use crate::engine::ProgressFn;
use crate::error::{EngineError, Result};
use crate::intake::{fields_of, meta_of};
use crate::mapping::ghl::Changes;
use crate::merge::{merge, SideView};
use crate::outbox::contacts::Created;
use crate::report::{Progress, SampleDiff};
use crate::store::{Commit, Kind, Link, NewConflict, Record, Side};

/// Dirty records planned per page (the queue is streamed, never loaded whole).
const PAGE: usize = 500;

impl Planner<'_> {
    /// Plan every dirty contact, GHL side first.
    pub async fn contacts(
        &self,
        dry_run: bool,
        tally: &Tally,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        let mut daily: Option<EngineError> = None;
        let total = self.store.count_dirty(Kind::Contact)?;
        let done = AtomicU64::new(0);
        for side in [Side::Ghl, Side::Sellsy] {
            let mut after: Option<String> = None;
            loop {
                let batch = self
                    .store
                    .dirty_after(side, Kind::Contact, after.as_deref(), PAGE)?;
                let Some(last) = batch.last() else { break };
                after = Some(last.id.clone());
                let n = batch.len();
                let results: Vec<Result<()>> = futures::stream::iter(batch)
                    .map(|rec| {
                        let done = &done;
                        async move {
                            let r = self.one(rec, dry_run, tally).await;
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
                if daily.is_some() || n < PAGE || tally.capped.load(Ordering::Relaxed) {
                    break;
                }
            }
            if daily.is_some() {
                break;
            }
        }
        match daily {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub async fn one(&self, rec: Record, dry_run: bool, tally: &Tally) -> Result<()> {
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
            match self.find_partner(&rec, &fields, dry_run.then_some(tally))? {
                Some(partner) => {
                    let link = pair(rec.side, &rec.id, &partner.id);
                    if dry_run {
                        tally.claim(partner.side, &partner.id);
                    } else {
                        // One of the two may have been made from the other by a
                        // create whose outcome is unknown: what it holds as that
                        // create sent it is agreed.
                        let shadow = match tally.pending_create(rec.side, &rec.id) {
                            Some(payload) => created_shadow(&payload, &partner),
                            None => tally
                                .pending_create(partner.side, &partner.id)
                                .map(|payload| created_shadow(&payload, &rec))
                                .unwrap_or_default(),
                        };
                        self.save_new_link(&link, shadow, tally)?;
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

    /// Save a new contact link with its first shadow (empty = first sight) in one
    /// transaction; the items of both contacts are queued for pairing.
    pub fn save_new_link(
        &self,
        link: &Link,
        shadow: BTreeMap<String, Value>,
        tally: &Tally,
    ) -> Result<()> {
        let shadows = if shadow.is_empty() {
            Vec::new()
        } else {
            vec![(Kind::Contact, link.ghl_id.clone(), shadow)]
        };
        self.store.commit(&Commit {
            links: vec![link.clone()],
            shadows,
            ..Commit::default()
        })?;
        for kind in [Kind::Task, Kind::Note] {
            self.store
                .mark_children_dirty(Side::Ghl, kind, &link.ghl_id)?;
            self.store
                .mark_children_dirty(Side::Sellsy, kind, &link.sellsy_id)?;
        }
        tally.linked_now(link);
        Ok(())
    }

    /// An unlinked record of the other side that is this one: the GHL contact the
    /// sync created from this Sellsy contact (its `source` marker), else the same
    /// e-mail, else the same phone.
    fn find_partner(
        &self,
        rec: &Record,
        fields: &Fields,
        dry: Option<&Tally>,
    ) -> Result<Option<Record>> {
        let side = rec.side;
        let free = |c: &Record| -> Result<bool> {
            Ok(self
                .store
                .link_by(Kind::Contact, side.other(), &c.id)?
                .is_none()
                && !dry.is_some_and(|t| t.is_claimed(c.side, &c.id)))
        };
        if let Some(sellsy) = meta_of(rec).get("from_sellsy").and_then(Value::as_str) {
            if side == Side::Ghl {
                if let Some(c) = self.store.record(Side::Sellsy, Kind::Contact, sellsy)? {
                    if free(&c)? {
                        return Ok(Some(c));
                    }
                }
            }
        }
        for key in ["email", "phone"] {
            let Some(value) = fields.get(key).and_then(Value::as_str) else {
                continue;
            };
            for candidate in self
                .store
                .find_records(side.other(), Kind::Contact, key, value)?
            {
                if free(&candidate)? {
                    return Ok(Some(candidate));
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
            tally.created(target);
            tally.sample(SampleDiff {
                target: target.label().into(),
                action: "create".into(),
                source_id: rec.id.clone(),
                target_id: None,
                changes: changes_json(&wanted),
            });
            return Ok(());
        }
        let outbox = self.outbox();
        let created = match outbox.create_contact(&rec, &wanted, tally).await? {
            Created::New(r) => r,
            Created::Existing(found) => {
                // Made by an earlier attempt whose answer was lost, or refused as a
                // duplicate of this contact: link to it and merge. What it holds as
                // that attempt sent it is agreed (the source may have been edited
                // since; the merge must not take the sync's own values for edits).
                let link = pair(rec.side, &rec.id, &found.id);
                self.store.put_seen(std::slice::from_ref(&found), None)?;
                let shadow = tally
                    .pending_create(rec.side, &rec.id)
                    .map(|payload| created_shadow(&payload, &found))
                    .unwrap_or_default();
                self.save_new_link(&link, shadow, tally)?;
                Tally::add(&tally.linked);
                return self.sync_pair(link, false, tally).await;
            }
            Created::NotNow => return Ok(()),
        };
        let (created, entry, complete) = created;
        let link = pair(rec.side, &rec.id, &created.id);
        let created_fields = fields_of(&created);
        let mut shadow: BTreeMap<String, Value> = created_fields
            .iter()
            .filter(|(k, v)| fields.get(*k) == Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // What was sent counts as agreed, except address parts Sellsy could not take
        // (it creates an address only when all four parts are there).
        if complete {
            let address_keys = ["address", "city", "postal_code", "country"];
            for (k, v) in &wanted {
                // Address parts Sellsy could not take are not agreed (see apply_pair).
                let lost = target == Side::Sellsy
                    && address_keys.contains(&k.as_str())
                    && created_fields.get(k) != v.as_ref();
                if let (Some(v), false) = (v, lost) {
                    shadow.insert(k.clone(), v.clone());
                }
            }
        }
        // Never leave an empty shadow on a known pair (empty = first sight).
        shadow.insert("_linked".into(), Value::Bool(true));
        let mut commit = Commit {
            links: vec![link.clone()],
            shadows: vec![(Kind::Contact, link.ghl_id.clone(), shadow)],
            records: vec![created],
            outbox_done: vec![entry],
            ..Commit::default()
        };
        if complete {
            commit
                .clean
                .push((rec.side, Kind::Contact, rec.id.clone(), rec.hash.clone()));
        }
        self.store.commit(&commit)?;
        for kind in [Kind::Task, Kind::Note] {
            self.store.mark_children_dirty(rec.side, kind, &rec.id)?;
        }
        if target == Side::Ghl {
            // A contact the sync just created holds no notes but ours.
            self.store
                .mark_notes_covered(std::slice::from_ref(&link.ghl_id))?;
        }
        tally.linked_now(&link);
        Ok(())
    }

    /// Current record of one side of a link: the cache, else the API (`None` = gone).
    async fn current(&self, side: Side, id: &str) -> Result<Option<Record>> {
        if let Some(r) = self.store.record(side, Kind::Contact, id)? {
            return Ok(Some(r));
        }
        self.intake().contact(side, id).await
    }

    /// Merge a linked pair and apply the result.
    pub async fn sync_pair(&self, link: Link, dry_run: bool, tally: &Tally) -> Result<()> {
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
            // One side vanished: the deletion listings (and the guard) decide; until
            // then the record is not waiting on anything.
            (g, s) => {
                if !dry_run {
                    let side = if g.is_none() { Side::Ghl } else { Side::Sellsy };
                    tally.gone.lock().unwrap_or_else(|p| p.into_inner()).push(
                        crate::intake::deletions::Gone {
                            kind: Kind::Contact,
                            side,
                            link: link.clone(),
                        },
                    );
                    let mut commit = Commit::default();
                    for r in [g, s].into_iter().flatten() {
                        commit.clean.push((r.side, Kind::Contact, r.id, r.hash));
                    }
                    self.store.commit(&commit)?;
                }
                Ok(())
            }
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
        self.outbox()
            .apply_pair(link, g, s, &gf, plan, &old_shadow, tally)
            .await
    }
}
