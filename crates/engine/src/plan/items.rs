//! Tasks and notes: every dirty item record is merged with its linked partner, or
//! paired with an unlinked item of the partner contact with the same content, or
//! created there. Items of contacts that are not linked wait (clean) until their
//! contact links; linking queues them again.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use futures::StreamExt;
use serde_json::Value;

use super::tally::Tally;
use super::Planner;
use crate::error::{EngineError, Result};
use crate::intake::fields_of;
use crate::items::{same_item, specs};
use crate::merge::{merge, SideView};
use crate::outbox::items::Pair;
use crate::report::{CycleReport, SideCountsPair};
use crate::store::{Commit, Kind, Link, Record, Side};

const PAGE: usize = 500;

/// Per-kind counters of one cycle.
#[derive(Default)]
pub(crate) struct ItemCounts {
    pub tasks: std::sync::Mutex<SideCountsPair>,
    pub notes: std::sync::Mutex<SideCountsPair>,
}

impl ItemCounts {
    fn bump(&self, kind: Kind, side: Side, what: fn(&mut crate::report::SideCounts) -> &mut u64) {
        let m = if kind == Kind::Task {
            &self.tasks
        } else {
            &self.notes
        };
        let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
        let c = match side {
            Side::Ghl => &mut g.ghl,
            Side::Sellsy => &mut g.sellsy,
        };
        *what(c) += 1;
    }

    pub fn fold(self, r: &mut CycleReport) {
        let add = |into: &mut SideCountsPair, from: SideCountsPair| {
            for (i, f) in [(&mut into.ghl, from.ghl), (&mut into.sellsy, from.sellsy)] {
                i.created += f.created;
                i.updated += f.updated;
                i.deleted += f.deleted;
                i.archived += f.archived;
            }
        };
        add(
            &mut r.tasks,
            self.tasks.into_inner().unwrap_or_else(|p| p.into_inner()),
        );
        add(
            &mut r.notes,
            self.notes.into_inner().unwrap_or_else(|p| p.into_inner()),
        );
    }
}

impl Planner<'_> {
    /// Plan every dirty task or note of `kind`, GHL side first, grouped by contact so
    /// two items of one contact are never paired at once.
    pub async fn items(&self, kind: Kind, tally: &Tally, counts: &ItemCounts) -> Result<()> {
        for side in [Side::Ghl, Side::Sellsy] {
            let mut after: Option<String> = None;
            loop {
                let batch = self.store.dirty_after(side, kind, after.as_deref(), PAGE)?;
                let Some(last) = batch.last() else { break };
                after = Some(last.id.clone());
                let n = batch.len();
                let mut groups: HashMap<String, Vec<Record>> = HashMap::new();
                for r in batch {
                    groups
                        .entry(r.parent.clone().unwrap_or_default())
                        .or_default()
                        .push(r);
                }
                let results: Vec<Result<()>> = futures::stream::iter(groups.into_values())
                    .map(|group| async move {
                        for r in group {
                            self.item(r, tally, counts).await?;
                        }
                        Ok(())
                    })
                    .buffer_unordered(self.cfg.sync.concurrency.max(1))
                    .collect()
                    .await;
                for r in results {
                    match r {
                        Ok(()) => {}
                        Err(e) if e.is_daily_limit() => return Err(e),
                        Err(e @ EngineError::Store(_)) => return Err(e),
                        Err(e) => tally.error(e.to_string()),
                    }
                }
                if n < PAGE || tally.capped.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
        Ok(())
    }

    fn clean(&self, r: &Record) -> Result<()> {
        self.store.commit(&Commit {
            clean: vec![(r.side, r.kind, r.id.clone(), r.hash.clone())],
            ..Commit::default()
        })
    }

    async fn item(&self, rec: Record, tally: &Tally, counts: &ItemCounts) -> Result<()> {
        let kind = rec.kind;
        if let Some(link) = self.store.link_by(kind, rec.side, &rec.id)? {
            if link.state != "active" {
                return self.clean(&rec);
            }
            let partner =
                self.store
                    .record(rec.side.other(), kind, link.id_of(rec.side.other()))?;
            let Some(partner) = partner else {
                // Not read on its side (yet): the listings decide whether it is gone.
                return self.clean(&rec);
            };
            let (g, s) = match rec.side {
                Side::Ghl => (rec, partner),
                Side::Sellsy => (partner, rec),
            };
            return self.merge_items(&link, &g, &s, tally, counts).await;
        }
        let Some(parent) = rec.parent.clone() else {
            return self.clean(&rec);
        };
        let contact = self.store.link_by(Kind::Contact, rec.side, &parent)?;
        let Some(contact) = contact.filter(|l| l.state == "active") else {
            return self.clean(&rec);
        };
        let pair = Pair {
            ghl: contact.ghl_id.clone(),
            sellsy: contact.sellsy_id.clone(),
        };
        let other = rec.side.other();
        if kind == Kind::Note && other == Side::Ghl {
            // GHL notes are read per contact: make sure this contact's are known.
            if !self.store.notes_covered(&pair.ghl)? {
                self.intake().ghl_notes_of(&pair.ghl).await?;
            }
        }
        let fields = fields_of(&rec);
        for candidate in self.store.children(other, kind, contact.id_of(other))? {
            if self.store.link_by(kind, other, &candidate.id)?.is_some() {
                continue;
            }
            if same_item(kind, &fields_of(&candidate), &fields) {
                let (g, s) = match rec.side {
                    Side::Ghl => (&rec, &candidate),
                    Side::Sellsy => (&candidate, &rec),
                };
                return self.save_item_link(&pair, g, s, None);
            }
        }
        if !self.outbox().take_write(tally) {
            return Ok(());
        }
        let created = self
            .outbox()
            .create_item(&rec, other, &pair, &fields, tally)
            .await?;
        if let Some((made, entry)) = created {
            counts.bump(kind, other, |c| &mut c.created);
            self.store.put_seen(std::slice::from_ref(&made), None)?;
            let (g, s) = match rec.side {
                Side::Ghl => (&rec, &made),
                Side::Sellsy => (&made, &rec),
            };
            self.save_item_link(&pair, g, s, Some(entry))?;
        }
        Ok(())
    }

    /// Notes the sync wrote land in the archive like the ones it read.
    fn archive(&self, pair: &Pair, notes: &[&Record]) -> Result<()> {
        for n in notes.iter().filter(|n| n.kind == Kind::Note) {
            self.store.archive_note(&crate::intake::items::archived(
                n,
                Some(&pair.ghl),
                Some(&pair.sellsy),
            ))?;
        }
        Ok(())
    }

    fn save_item_link(
        &self,
        pair: &Pair,
        g: &Record,
        s: &Record,
        entry: Option<i64>,
    ) -> Result<()> {
        let mut link = Link::new(g.kind, &g.id, &s.id);
        link.parent_ghl_id = Some(pair.ghl.clone());
        link.ghl_hash = Some(g.hash.clone());
        link.sellsy_hash = Some(s.hash.clone());
        let gf = fields_of(g);
        let sf = fields_of(s);
        let shadow: BTreeMap<String, Value> = gf
            .iter()
            .filter(|(k, v)| sf.get(*k) == Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(std::iter::once(("_linked".to_string(), Value::Bool(true))))
            .collect();
        self.archive(pair, &[g, s])?;
        let mut g2 = g.clone();
        g2.dirty = false;
        let mut s2 = s.clone();
        s2.dirty = false;
        self.store.commit(&Commit {
            links: vec![link],
            shadows: vec![(g.kind, g.id.clone(), shadow)],
            records: vec![g2, s2],
            outbox_done: entry.into_iter().collect(),
            ..Commit::default()
        })
    }

    async fn merge_items(
        &self,
        link: &Link,
        g: &Record,
        s: &Record,
        tally: &Tally,
        counts: &ItemCounts,
    ) -> Result<()> {
        let kind = link.kind;
        let mut shadow = self.store.shadow(kind, &link.ghl_id)?;
        shadow.remove("_linked");
        let gf = fields_of(g);
        let sf = fields_of(s);
        let plan = merge(
            &specs(kind),
            SideView {
                fields: &gf,
                updated: g.updated.as_deref(),
            },
            SideView {
                fields: &sf,
                updated: s.updated.as_deref(),
            },
            &shadow,
            false,
            &[],
        );
        let pair = Pair {
            ghl: link.parent_ghl_id.clone().unwrap_or_default(),
            sellsy: s.parent.clone().unwrap_or_default(),
        };
        let mut g_now = g.clone();
        let mut s_now = s.clone();
        let mut done = Vec::new();
        let mut ok = true;
        for (target, changes, current) in [
            (Side::Ghl, &plan.to_ghl, &mut g_now),
            (Side::Sellsy, &plan.to_sellsy, &mut s_now),
        ] {
            if changes.is_empty() {
                continue;
            }
            if !self.outbox().take_write(tally) {
                ok = false;
                continue;
            }
            let mut want = fields_of(current);
            crate::context::apply(&mut want, changes);
            let source = if target == Side::Ghl { s } else { g };
            let id = current.id.clone();
            match self
                .outbox()
                .update_item(source, target, &id, &pair, &want, tally)
                .await?
            {
                Some((written, entry)) => {
                    counts.bump(kind, target, |c| &mut c.updated);
                    let mut written = written;
                    written.parent = written.parent.or(current.parent.clone());
                    *current = written;
                    done.push(entry);
                }
                None => ok = false,
            }
        }
        if !ok {
            return Ok(());
        }
        self.archive(&pair, &[&g_now, &s_now])?;
        let mut new_shadow = plan.shadow;
        new_shadow.insert("_linked".into(), Value::Bool(true));
        let mut link = link.clone();
        link.ghl_hash = Some(g_now.hash.clone());
        link.sellsy_hash = Some(s_now.hash.clone());
        g_now.dirty = false;
        s_now.dirty = false;
        self.store.commit(&Commit {
            links: vec![link],
            shadows: vec![(kind, g.id.clone(), new_shadow)],
            records: vec![g_now, s_now],
            clean: vec![
                (Side::Ghl, kind, g.id.clone(), g.hash.clone()),
                (Side::Sellsy, kind, s.id.clone(), s.hash.clone()),
            ],
            outbox_done: done,
            ..Commit::default()
        })
    }
}
