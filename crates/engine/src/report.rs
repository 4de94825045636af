//! What a cycle did, for the CLI, `hlbridge up` and `hlbridge status`.

use std::collections::BTreeMap;

use serde::Serialize;

/// Counters of one side.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct SideCounts {
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    pub archived: u64,
    pub deleted: u64,
    pub failed: u64,
}

/// A planned change shown by a dry run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SampleDiff {
    pub target: String,
    pub action: String,
    pub source_id: String,
    pub target_id: Option<String>,
    pub changes: serde_json::Value,
}

/// The outcome of one cycle.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct CycleReport {
    pub dry_run: bool,
    pub ghl: SideCounts,
    pub sellsy: SideCounts,
    /// Pairs linked by matching (email, then phone) this cycle.
    pub linked: u64,
    pub tasks: SideCountsPair,
    pub notes: SideCountsPair,
    pub conflicts_queued: u64,
    /// Contacts whose tasks and notes were reconciled / linked contacts in total.
    pub swept: u64,
    pub sweep_total: u64,
    /// Records still waiting (dirty) and writes still pending after the cycle.
    pub pending: u64,
    /// Writes given up on, in all (see `hlbridge status`).
    pub failed: u64,
    /// Writes given up on during this cycle.
    pub failed_now: u64,
    /// Deletions the mass-deletion guard held (none applied; see `held_reasons`).
    pub deletions_held: u64,
    pub held_reasons: Vec<String>,
    /// Creates whose answer was lost, still waiting for the target's search.
    pub waiting: u64,
    /// Stopped early because the per-run cap was reached.
    pub capped: bool,
    /// Set when the daily API budget ran out: the sync pauses.
    pub paused: Option<String>,
    pub errors: Vec<String>,
    pub samples: Vec<SampleDiff>,
    pub seconds: f64,
}

/// Counters of tasks or notes on both sides.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct SideCountsPair {
    pub ghl: SideCounts,
    pub sellsy: SideCounts,
}

impl CycleReport {
    /// One line for the live status.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{}GHL +{} ~{} | Sellsy +{} ~{} | linked {} | tasks +{}/+{} | notes +{}/+{} | conflicts {} | pending {}",
            if self.dry_run { "[dry run] " } else { "" },
            self.ghl.created,
            self.ghl.updated,
            self.sellsy.created,
            self.sellsy.updated,
            self.linked,
            self.tasks.ghl.created,
            self.tasks.sellsy.created,
            self.notes.ghl.created,
            self.notes.sellsy.created,
            self.conflicts_queued,
            self.pending
        );
        if self.failed > 0 {
            s.push_str(&format!(" | failed {}", self.failed));
        }
        if self.deletions_held > 0 {
            s.push_str(&format!(" | deletions held {}", self.deletions_held));
        }
        if let Some(p) = &self.paused {
            s.push_str(&format!(" | paused: {p}"));
        }
        s.push_str(&format!(" ({:.1}s)", self.seconds));
        s
    }

    /// Nothing left to do, and nothing given up on in this cycle.
    pub fn is_clean(&self) -> bool {
        self.pending == 0
            && self.deletions_held == 0
            && self.failed_now == 0
            && self.paused.is_none()
            && !self.capped
    }
}

/// Progress of a cycle, reported as it goes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum Progress {
    /// Contacts read so far from one side.
    Read { side: &'static str, count: u64 },
    /// Contacts reconciled so far out of those that changed.
    Reconciled { done: u64, total: u64 },
    /// Linked contacts whose tasks and notes were swept.
    Swept { done: u64, total: u64 },
    /// A cycle ended.
    Cycle(Box<CycleReport>),
}

/// What `hlbridge status` shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    pub links: BTreeMap<String, u64>,
    pub records: BTreeMap<String, u64>,
    pub dirty: u64,
    pub outbox: BTreeMap<String, u64>,
    pub open_conflicts: u64,
    pub last_cycle: Option<serde_json::Value>,
    pub paused: Option<String>,
    /// Deletions the mass-deletion guard held in the last cycle.
    pub deletions_held: u64,
    /// The rotating GHL notes sweep's coverage.
    pub notes_sweep: NotesSweep,
}

/// How far the GHL notes sweep has got (`status --json` → `notes_sweep`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NotesSweep {
    /// Linked contacts whose GHL notes were read at least once.
    pub covered: u64,
    /// Linked contacts in all.
    pub total: u64,
    /// Seconds since the least recently read covered contact was read.
    pub oldest_age_seconds: Option<i64>,
}
