//! Counters shared by concurrent planners and the outbox during one cycle.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::Value;

use crate::error::EngineError;
use crate::mapping::ghl::Changes;
use crate::report::{CycleReport, SampleDiff};
use crate::store::{Kind, Link, Side};

const SAMPLES: usize = 10;

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
    /// Creates whose answer was lost, waiting for the target's search to show them.
    pub waiting: AtomicU64,
    pub capped: std::sync::atomic::AtomicBool,
    pub samples: Mutex<Vec<SampleDiff>>,
    /// Dry runs save no links: records already paired in this run.
    pub claimed: Mutex<HashSet<(Side, String)>>,
    pub errors: Mutex<Vec<String>>,
    /// Linked records found gone on their side while planning (a 404 on re-read).
    pub gone: Mutex<Vec<crate::intake::deletions::Gone>>,
    /// Contact pairs linked during this cycle (GHL id, Sellsy id).
    pub new_links: Mutex<Vec<(String, String)>>,
    /// Payloads of the contact creates pending when the round began, by (source side,
    /// source id): what a create whose outcome is unknown may have made the target
    /// hold (see [`super::landed`]).
    pub pending_creates: Mutex<HashMap<(Side, String), Value>>,
}

impl Tally {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn created(&self, target: Side) {
        Tally::add(match target {
            Side::Ghl => &self.ghl_created,
            Side::Sellsy => &self.sellsy_created,
        });
    }

    pub fn sample(&self, s: SampleDiff) {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples.len() < SAMPLES {
            samples.push(s);
        }
    }

    pub fn claim(&self, side: Side, id: &str) {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((side, id.to_string()));
    }

    pub fn is_claimed(&self, side: Side, id: &str) -> bool {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(side, id.to_string()))
    }

    pub fn error(&self, e: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.len() < 20 {
            errors.push(e);
        }
    }

    pub fn linked_now(&self, link: &Link) {
        if link.kind == Kind::Contact {
            self.new_links
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((link.ghl_id.clone(), link.sellsy_id.clone()));
        }
    }

    /// Remember the payloads of the pending contact creates (the latest per source).
    pub fn note_pending_creates(&self, pending: &[crate::store::OutboxEntry]) {
        let mut map = self
            .pending_creates
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.clear();
        for entry in pending {
            if let Some(source) = super::landed::create_source(entry) {
                map.insert(source, entry.payload.clone());
            }
        }
    }

    /// The payload of the pending create of (source side, source id), if any.
    pub fn pending_create(&self, side: Side, id: &str) -> Option<Value> {
        self.pending_creates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(side, id.to_string()))
            .cloned()
    }

    pub fn take_new_links(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.new_links.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn fold_into(&self, r: &mut CycleReport) {
        let get = |a: &AtomicU64| a.swap(0, Ordering::Relaxed);
        r.ghl.created += get(&self.ghl_created);
        r.ghl.updated += get(&self.ghl_updated);
        r.sellsy.created += get(&self.sellsy_created);
        r.sellsy.updated += get(&self.sellsy_updated);
        r.ghl.failed += get(&self.failed_ghl);
        r.sellsy.failed += get(&self.failed_sellsy);
        r.linked += get(&self.linked);
        r.conflicts_queued += get(&self.conflicts);
        r.waiting = self.waiting.load(Ordering::Relaxed);
        r.capped |= self.capped.load(Ordering::Relaxed);
        r.errors.extend(std::mem::take(
            &mut *self.errors.lock().unwrap_or_else(|p| p.into_inner()),
        ));
        r.errors.truncate(20);
        let samples = std::mem::take(&mut *self.samples.lock().unwrap_or_else(|p| p.into_inner()));
        for s in samples {
            if r.samples.len() < SAMPLES {
                r.samples.push(s);
            }
        }
    }
}

pub(crate) fn changes_json(c: &Changes) -> Value {
    Value::Object(
        c.iter()
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or(Value::Null)))
            .collect(),
    )
}

/// A 4xx the API will answer the same way again: give up on this write.
pub(crate) fn is_permanent(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Api {
            source: hlbridge_core::Error::Validation { .. }
                | hlbridge_core::Error::Api { .. }
                | hlbridge_core::Error::Forbidden { .. }
                | hlbridge_core::Error::PlanQuota { .. },
            ..
        } | EngineError::Data(_)
    )
}

/// The contact link of `id` on `side` and `partner` on the other.
pub(crate) fn pair(side: Side, id: &str, partner: &str) -> Link {
    match side {
        Side::Ghl => Link::new(Kind::Contact, id, partner),
        Side::Sellsy => Link::new(Kind::Contact, partner, id),
    }
}
