//! Outbox: every write of every kind (contacts, tasks, notes, tags, company links,
//! archiving, deletions) is an intent committed durably (`synchronous=FULL`) with an
//! idempotency key before it is sent; then applied; then finished (done, retry, or
//! failed for good when the API refuses the data). A write whose outcome is unknown
//! (a dropped connection, a timeout, a 5xx after the server may have applied it) is
//! never simply sent again: for a create, the record it may have made is first found
//! again on the target ([`recover`]).

pub mod contacts;
pub mod history;
pub mod items;
pub mod recover;

use std::sync::atomic::Ordering;

use crate::context::Ctx;
use crate::error::{EngineError, Result};
use crate::plan::tally::{is_permanent, Tally};
use crate::store::{Commit, NewOutbox, OutboxEntry, Outcome, Record, Side};

/// Prefix of the error of an attempt whose outcome is unknown (the connection was cut
/// or timed out before an answer: the server may have applied it).
pub(crate) const UNKNOWN: &str = "[outcome unknown] ";

fn unknown_outcome(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Api {
            source: hlbridge_core::Error::Network(_) | hlbridge_core::Error::Timeout(_),
            ..
        }
    )
}

/// The outbox stage.
pub(crate) struct Outbox<'a> {
    pub cx: &'a Ctx,
}

impl std::ops::Deref for Outbox<'_> {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        self.cx
    }
}

impl Ctx {
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { cx: self }
    }
}

impl Outbox<'_> {
    /// Record an intent (an entry with the same key still pending is returned).
    pub fn intend(&self, entry: NewOutbox) -> Result<OutboxEntry> {
        self.store.enqueue(&entry)
    }

    /// The entry was tried before (a failed attempt, or a run that was killed): its
    /// outcome may be unknown.
    pub fn tried_before(&self, entry: &OutboxEntry) -> bool {
        entry.attempts > 0 || entry.id < self.outbox_floor.load(Ordering::SeqCst)
    }

    /// Whether the target's search has had time to show what an earlier attempt may
    /// have created (`sync.lookback_minutes` since that attempt). Only attempts whose
    /// outcome is unknown wait; a refused one (an HTTP error answer) did not create.
    pub fn settled(&self, entry: &OutboxEntry) -> bool {
        if !entry
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with(UNKNOWN))
        {
            return true;
        }
        let lookback = chrono::Duration::milliseconds(
            (self.cfg.sync.lookback_minutes.max(0.0) * 60_000.0) as i64,
        );
        chrono::DateTime::parse_from_rfc3339(&entry.updated)
            .map(|t| chrono::Utc::now() >= t.with_timezone(&chrono::Utc) + lookback)
            .unwrap_or(true)
    }

    /// A per-run write allowance (continuous mode only).
    pub fn take_write(&self, tally: &Tally) -> bool {
        let n = tally.writes.fetch_add(1, Ordering::Relaxed);
        if self.capped() && n as usize >= self.cfg.sync.max_writes_per_run {
            tally.capped.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// A write failed: keep it for a retry, or give up when the API refuses the data
    /// (the source record is then parked clean, visible in `hlbridge status`).
    pub fn failed(
        &self,
        entry: i64,
        target: Side,
        source: Option<&Record>,
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
        let msg = if unknown_outcome(&e) {
            format!("{UNKNOWN}{e}")
        } else {
            e.to_string()
        };
        if is_permanent(&e) {
            self.store.finish(entry, Outcome::Failed(&msg))?;
            if let Some(rec) = source {
                self.store.commit(&Commit {
                    clean: vec![(rec.side, rec.kind, rec.id.clone(), rec.hash.clone())],
                    ..Commit::default()
                })?;
            }
        } else {
            self.store.finish(entry, Outcome::Retry(&msg))?;
        }
        tally.error(match source {
            Some(rec) => format!(
                "{} write for {} {} {}: {msg}",
                target.label(),
                rec.side.label(),
                rec.kind.as_str(),
                rec.id
            ),
            None => format!("{} write: {msg}", target.label()),
        });
        Ok(())
    }

    /// Pending writes of an earlier run are re-planned from fresh reads: their source
    /// record is queued again; creates keep their entry so the next attempt first
    /// looks for the record on the target.
    /// Also prunes the write history older than `sync.history_retention_days`.
    pub fn resume(&self) -> Result<()> {
        let days = self.cfg.sync.history_retention_days.max(1) as i64;
        let cutoff = chrono::Utc::now() - chrono::Duration::days(days);
        self.store.prune_history(&cutoff.to_rfc3339())?;
        let pending = self.store.pending()?;
        let floor = pending.iter().map(|e| e.id).max().map_or(0, |m| m + 1);
        self.outbox_floor.store(floor, Ordering::SeqCst);
        for entry in pending {
            let source_side = entry.target.other();
            if entry.op != "delete" && entry.op != "archive" {
                self.store
                    .mark_dirty(source_side, entry.kind, &entry.source_id)?;
            }
            if entry.op != "create" {
                self.store.finish(entry.id, Outcome::Superseded)?;
            }
        }
        Ok(())
    }

    /// Pending creates whose source got linked another way are done; those whose
    /// source is gone are superseded.
    pub fn settle(&self) -> Result<()> {
        for entry in self.store.pending()? {
            if entry.op != "create" {
                continue;
            }
            let source_side = entry.target.other();
            if self
                .store
                .link_by(entry.kind, source_side, &entry.source_id)?
                .is_some()
            {
                self.store.finish(entry.id, Outcome::Found)?;
            } else if self
                .store
                .record(source_side, entry.kind, &entry.source_id)?
                .is_none()
            {
                self.store.finish(entry.id, Outcome::Superseded)?;
            }
        }
        Ok(())
    }
}
