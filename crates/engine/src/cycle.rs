//! One pair's cycle: intake → plan → outbox, and nothing else. `sync --once` brings
//! everything in scope across (tasks and notes of every linked contact included)
//! and reports what is left; in continuous mode the per-cycle caps and the daily
//! shares apply after the first cycle.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::DeletionPolicy;
use crate::engine::{Engine, ProgressFn};
use crate::error::{EngineError, Result};
use crate::intake::deletions::Gone;
use crate::plan::guard::guard;
use crate::plan::items::ItemCounts;
use crate::plan::tally::Tally;
use crate::report::{CycleReport, Progress};
use crate::store::{Kind, Side};

impl Engine {
    /// Whether this cycle runs the complete listings (deletions, GHL tasks): outside
    /// continuous mode always, then on its first cycle and every
    /// `sync.deletion_scan_every` cycles.
    fn scan_due(&self) -> bool {
        let n = self.continuous_cycles.load(Ordering::SeqCst);
        n <= 1 || (n - 1).is_multiple_of(self.cx.cfg.sync.deletion_scan_every.max(1))
    }

    /// One complete cycle.
    pub async fn run_once(&self, dry_run: bool, progress: ProgressFn<'_>) -> Result<CycleReport> {
        let started = Instant::now();
        let cx = &self.cx;
        cx.capped_mode.store(
            self.continuous_cycles.load(Ordering::SeqCst) > 1,
            Ordering::SeqCst,
        );
        let mut report = CycleReport {
            dry_run,
            ..CycleReport::default()
        };
        let failed_before = self.failed_writes()?;
        match self.cycle(dry_run, &mut report, progress).await {
            Ok(()) => {}
            Err(e) if e.is_daily_limit() => {
                report.paused = Some(format!("{e}; the sync resumes after the daily reset"));
            }
            Err(e) => return Err(e),
        }
        report.pending += cx.store.count_dirty(Kind::Contact)?;
        if !dry_run {
            cx.outbox().settle()?;
            report.pending += cx.store.pending()?.len() as u64;
            for kind in [Kind::Task, Kind::Note] {
                report.pending += cx.store.count_dirty(kind)?;
            }
            if cx.cfg.sync.notes {
                let cov = cx.store.notes_coverage()?;
                report.pending += cov.total - cov.covered;
            }
        }
        report.failed = self.failed_writes()?;
        report.failed_now = report.failed.saturating_sub(failed_before);
        report.seconds = started.elapsed().as_secs_f64();
        if !dry_run {
            cx.store.set_meta(
                "last_cycle",
                &json!({
                    "at": chrono::Utc::now().to_rfc3339(),
                    "report": serde_json::to_value(&report).unwrap_or(Value::Null),
                }),
            )?;
            cx.store.set_meta("paused", &json!(report.paused))?;
            cx.store
                .set_meta("deletions_held", &json!(report.deletions_held))?;
        }
        progress(Progress::Cycle(Box::new(report.clone())));
        Ok(report)
    }

    fn failed_writes(&self) -> Result<u64> {
        Ok(self
            .cx
            .store
            .outbox_counts()?
            .get("failed")
            .copied()
            .unwrap_or(0))
    }

    async fn cycle(
        &self,
        dry_run: bool,
        report: &mut CycleReport,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        let cx = &self.cx;
        let cycle_start = chrono::Utc::now().to_rfc3339();
        let tally = Tally::default();
        let intake = cx.intake();
        let scan = self.scan_due();
        intake.ghl_contacts(report, progress).await?;
        intake.sellsy_contacts(report, progress, scan).await?;
        if !dry_run {
            // Writes of an earlier run that may have landed: what the targets (just
            // re-read) hold as sent is agreed before those intents are re-planned.
            cx.plan().agree_landed_updates(&cx.store.pending()?)?;
            cx.outbox().resume()?;
        }
        let mut gone: Vec<Gone> = Vec::new();
        if !dry_run && scan && cx.cfg.sync.deletions != DeletionPolicy::Ignore {
            gone.extend(intake.contact_deletions().await?);
        }
        self.contacts(dry_run, &tally, progress).await?;
        tally.fold_into(report);
        if dry_run || report.capped || !(cx.cfg.sync.tasks || cx.cfg.sync.notes) {
            return self.deletions(gone, &tally, report).await;
        }
        let new_links = tally.take_new_links();
        if cx.cfg.sync.tasks {
            if scan {
                let seen = intake.ghl_tasks_all().await?;
                gone.extend(intake.item_deletions(Kind::Task, Side::Ghl, &seen, None)?);
                let linked = self.linked_sellsy_contacts()?;
                let seen = intake.sellsy_tasks_of(&linked).await?;
                gone.extend(intake.item_deletions(Kind::Task, Side::Sellsy, &seen, None)?);
            } else {
                let (g, s): (Vec<String>, Vec<String>) = new_links.iter().cloned().unzip();
                intake.ghl_tasks_of(&g).await?;
                intake.sellsy_tasks_of(&s).await?;
            }
            intake.sellsy_tasks_new(&cycle_start).await?;
        }
        if cx.cfg.sync.notes {
            if let Some(seen) = intake.sellsy_comments(scan).await? {
                gone.extend(intake.item_deletions(Kind::Note, Side::Sellsy, &seen, None)?);
            }
            gone.extend(self.notes_sweep(report, progress).await?);
        }
        self.deletions(gone, &tally, report).await?;
        let counts = ItemCounts::default();
        let plan = cx.plan();
        if cx.cfg.sync.tasks {
            plan.items(Kind::Task, &tally, &counts).await?;
        }
        if cx.cfg.sync.notes {
            plan.items(Kind::Note, &tally, &counts).await?;
        }
        counts.fold(report);
        tally.fold_into(report);
        Ok(())
    }

    /// Plan contacts in rounds: writes that failed on a transient error are retried,
    /// and (outside continuous mode) creates whose answer was lost are waited for
    /// until GHL's search can show them.
    async fn contacts(&self, dry_run: bool, tally: &Tally, progress: ProgressFn<'_>) -> Result<()> {
        let cx = &self.cx;
        let lookback =
            Duration::from_millis((cx.cfg.sync.lookback_minutes.max(0.0) * 60_000.0) as u64);
        let waited = Instant::now();
        let mut round = 0u64;
        loop {
            tally.waiting.store(0, Ordering::Relaxed);
            if !dry_run {
                // Creates of an earlier run or round whose outcome is unknown: when one
                // is found again, what it carried is agreed.
                tally.note_pending_creates(&cx.store.pending()?);
            }
            cx.plan().contacts(dry_run, tally, progress).await?;
            round += 1;
            let dirty = cx.store.count_dirty(Kind::Contact)?;
            if dry_run || tally.capped.load(Ordering::Relaxed) || dirty == 0 {
                return Ok(());
            }
            let waiting = tally.waiting.load(Ordering::Relaxed) > 0;
            let more_rounds = round < 4;
            // `sync --once` waits for GHL's search a while (at most 90 s), then says so.
            let wait_limit = (lookback + Duration::from_secs(5)).min(Duration::from_secs(90));
            let may_wait = waiting && !cx.capped() && waited.elapsed() < wait_limit;
            if !more_rounds && !may_wait {
                return Ok(());
            }
            let pause = if waiting {
                Duration::from_millis(500).min(lookback.max(Duration::from_millis(100)))
            } else {
                Duration::from_millis(200 * round)
            };
            tokio::time::sleep(pause).await;
            if waiting {
                // What a lost create made may now be visible (it carries its marker).
                let mut scratch = CycleReport::default();
                cx.intake().ghl_contacts(&mut scratch, &|_| {}).await?;
            }
        }
    }

    fn linked_sellsy_contacts(&self) -> Result<Vec<String>> {
        Ok(self
            .cx
            .store
            .links(Kind::Contact, None)?
            .into_iter()
            .filter(|l| l.state == "active")
            .map(|l| l.sellsy_id)
            .collect())
    }

    /// GHL notes (no bulk listing): every linked contact never read, then the least
    /// recently read within `sync.notes_sweep_daily_share` of the daily limit spread
    /// over the day's cycles. In continuous mode the never-read ones are bounded by
    /// `sync.sweep_max_contacts` per cycle.
    async fn notes_sweep(
        &self,
        report: &mut CycleReport,
        progress: ProgressFn<'_>,
    ) -> Result<Vec<Gone>> {
        let cx = &self.cx;
        let cycles_per_day = cx
            .cfg
            .poll_interval()
            .map(|i| (86_400 / i.as_secs().max(1)).max(1))
            .unwrap_or(288);
        let uncovered_cap = if cx.capped() {
            cx.cfg
                .sync
                .sweep_max_contacts
                .min((cx.cfg.sync.sweep_daily_calls / cycles_per_day).max(1) as usize)
        } else {
            usize::MAX >> 1
        };
        let mut due = cx.store.notes_due(uncovered_cap, true)?;
        let share = (cx.cfg.sync.ghl_daily_limit as f64 * cx.cfg.sync.notes_sweep_daily_share
            / cycles_per_day as f64)
            .floor() as usize;
        if share > 0 {
            let mut chosen: std::collections::HashSet<String> = due.iter().cloned().collect();
            let mut extra = 0;
            for id in cx.store.notes_due(share + due.len(), false)? {
                if extra >= share {
                    break;
                }
                if chosen.insert(id.clone()) {
                    due.push(id);
                    extra += 1;
                }
            }
        }
        let total = due.len() as u64;
        report.sweep_total = cx.store.notes_coverage()?.total;
        let results =
            crate::intake::bounded(due, cx.cfg.sync.concurrency, |c: String| async move {
                let r = cx.intake().ghl_notes_of(&c).await;
                (c, r)
            })
            .await;
        let mut gone = Vec::new();
        for (i, (contact, r)) in results.into_iter().enumerate() {
            match r {
                Ok(Some(seen)) => {
                    report.swept += 1;
                    gone.extend(cx.intake().item_deletions(
                        Kind::Note,
                        Side::Ghl,
                        &seen,
                        Some(std::slice::from_ref(&contact)),
                    )?);
                }
                // The contact itself is gone: the contact listings decide.
                Ok(None) => {}
                Err(e) if e.is_daily_limit() => return Err(e),
                Err(e @ EngineError::Store(_)) => return Err(e),
                Err(e) => {
                    if report.errors.len() < 20 {
                        report.errors.push(e.to_string());
                    }
                }
            }
            let n = i as u64 + 1;
            if n.is_multiple_of(100) || n == total {
                progress(Progress::Swept { done: n, total });
            }
        }
        Ok(gone)
    }

    /// Deletion candidates through the guard, then the outbox.
    async fn deletions(
        &self,
        mut gone: Vec<Gone>,
        tally: &Tally,
        report: &mut CycleReport,
    ) -> Result<()> {
        let cx = &self.cx;
        gone.extend(std::mem::take(
            &mut *tally.gone.lock().unwrap_or_else(|p| p.into_inner()),
        ));
        if gone.is_empty() {
            return Ok(());
        }
        if report.dry_run {
            return Ok(());
        }
        // Tasks and notes of a contact that is itself gone follow their contact: their
        // links are retired with it, and they are not deletions of their own.
        let gone_contacts: std::collections::HashSet<String> = gone
            .iter()
            .filter(|g| g.kind == Kind::Contact)
            .map(|g| g.link.ghl_id.clone())
            .collect();
        let mut orphans = Vec::new();
        let mut kept = Vec::new();
        for g in gone {
            let parent = g.link.parent_ghl_id.clone().unwrap_or_default();
            let parent_active = g.kind == Kind::Contact
                || (!gone_contacts.contains(&parent)
                    && cx
                        .store
                        .link_by(Kind::Contact, Side::Ghl, &parent)?
                        .is_some_and(|l| l.state == "active"));
            if parent_active {
                kept.push(g);
            } else {
                orphans.push(g);
            }
        }
        let gone = kept;
        for g in orphans {
            let mut retired = g.link.clone();
            retired.state = format!("deleted-{}", g.side.as_str());
            cx.store.commit(&crate::store::Commit {
                links: vec![retired],
                forget: vec![(g.side, g.kind, g.link.id_of(g.side).to_string())],
                ..crate::store::Commit::default()
            })?;
        }
        let mut linked = std::collections::BTreeMap::new();
        for kind in [Kind::Contact, Kind::Task, Kind::Note] {
            linked.insert(kind, cx.store.count_links(kind)?);
        }
        let decided = guard(
            gone,
            |k| linked.get(&k).copied().unwrap_or(0),
            cx.cfg.sync.deletion_guard_share,
            cx.cfg.sync.deletion_guard_max,
            self.confirm_deletions.load(Ordering::SeqCst),
        );
        report.deletions_held += decided.held;
        report.errors.extend(decided.reasons.iter().cloned());
        report.held_reasons.extend(decided.reasons);
        self.apply_gone(decided.apply, tally, report).await
    }

    pub(crate) async fn apply_gone(
        &self,
        gone: Vec<Gone>,
        tally: &Tally,
        report: &mut CycleReport,
    ) -> Result<()> {
        let policy = self.cx.cfg.sync.deletions;
        for g in gone {
            if !self.cx.outbox().apply_gone(&g, tally).await? {
                continue;
            }
            let other = g.side.other();
            let counts = match g.kind {
                Kind::Contact => match other {
                    Side::Ghl => &mut report.ghl,
                    Side::Sellsy => &mut report.sellsy,
                },
                Kind::Task => match other {
                    Side::Ghl => &mut report.tasks.ghl,
                    Side::Sellsy => &mut report.tasks.sellsy,
                },
                Kind::Note => match other {
                    Side::Ghl => &mut report.notes.ghl,
                    Side::Sellsy => &mut report.notes.sellsy,
                },
            };
            match policy {
                DeletionPolicy::Archive => counts.archived += 1,
                DeletionPolicy::Propagate => counts.deleted += 1,
                DeletionPolicy::Ignore => {}
            }
        }
        Ok(())
    }

    /// Cycles every poll interval until `shutdown` resolves (Ctrl-C); with
    /// `[webhooks] listen` set, verified events trigger a targeted sync in between.
    /// Stopping mid-cycle is safe: every step is durable and resumes at the next start.
    pub async fn run_continuous<F>(&self, progress: ProgressFn<'_>, shutdown: F) -> Result<()>
    where
        F: Future<Output = ()>,
    {
        let cfg = &self.cx.cfg;
        let interval = cfg.poll_interval()?;
        let (hints_tx, mut hints) = tokio::sync::mpsc::unbounded_channel();
        let server = match &cfg.webhooks.listen {
            Some(addr) => {
                let router = crate::webhooks::router(
                    cfg.webhooks.ghl_public_key.as_deref(),
                    cfg.webhooks.sellsy_secret.as_deref(),
                    hints_tx.clone(),
                )?;
                let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    EngineError::Config(format!("webhooks.listen = {addr}: cannot listen ({e})"))
                })?;
                Some(tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, router).await {
                        tracing::warn!(error = %e, "webhook receiver stopped");
                    }
                }))
            }
            None => None,
        };
        let result = self
            .continuous_loop(progress, shutdown, interval, &mut hints)
            .await;
        drop(hints_tx);
        if let Some(server) = server {
            server.abort();
        }
        result
    }

    async fn continuous_loop<F>(
        &self,
        progress: ProgressFn<'_>,
        shutdown: F,
        interval: Duration,
        hints: &mut tokio::sync::mpsc::UnboundedReceiver<crate::webhooks::Hint>,
    ) -> Result<()>
    where
        F: Future<Output = ()>,
    {
        tokio::pin!(shutdown);
        loop {
            self.continuous_cycles.fetch_add(1, Ordering::SeqCst);
            tokio::select! {
                r = self.run_once(false, progress) => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "sync cycle failed; retrying next interval");
                        progress(Progress::Cycle(Box::new(CycleReport {
                            errors: vec![e.to_string()],
                            ..CycleReport::default()
                        })));
                    }
                }
                _ = &mut shutdown => return Ok(()),
            }
            let next = tokio::time::Instant::now() + interval;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(next) => break,
                    Some(hint) = hints.recv() => {
                        match self.sync_hint(&hint).await {
                            Ok(report) => progress(Progress::Cycle(Box::new(report))),
                            Err(e) => tracing::warn!(error = %e, ?hint, "targeted sync failed; polling will catch up"),
                        }
                    }
                    _ = &mut shutdown => return Ok(()),
                }
            }
        }
    }
}
