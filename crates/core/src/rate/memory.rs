//! The in-memory state of a [`super::RateBudget`]: per key, a coalesced send log for
//! each window.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{Window, LOG_BUCKETS, MAX_WINDOW_WAIT};
use crate::error::RateLimitInfo;

/// Requests counted between `first` and `last` (one entry per slice of the window).
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub(super) first: Instant,
    pub(super) last: Instant,
    pub(super) count: u64,
}

#[derive(Debug)]
pub(super) struct WindowState {
    pub(super) spec: Window,
    /// Oldest first; at most [`LOG_BUCKETS`] + 1 entries.
    pub(super) log: VecDeque<Entry>,
    /// Sum of the entries' counts.
    pub(super) total: u64,
    /// The server stated this window's limit (a limit header, Sellsy's `/quotas`); until
    /// then `spec.limit` is our guess.
    pub(super) limit_known: bool,
    /// The server said the window is spent; it has no room before this instant.
    pub(super) spent_until: Option<Instant>,
}

impl WindowState {
    pub(super) fn new(spec: Window) -> Self {
        WindowState {
            spec,
            log: VecDeque::new(),
            total: 0,
            limit_known: false,
            spent_until: None,
        }
    }

    pub(super) fn prune(&mut self, now: Instant) {
        while let Some(front) = self.log.front() {
            if now.saturating_duration_since(front.last) >= self.spec.interval {
                self.total = self.total.saturating_sub(front.count);
                self.log.pop_front();
            } else {
                break;
            }
        }
        if self.spent_until.is_some_and(|s| s <= now) {
            self.spent_until = None;
        }
    }

    /// Count `n` requests at `now`.
    pub(super) fn record(&mut self, now: Instant, n: u64) {
        if n == 0 {
            return;
        }
        let slice = (self.spec.interval / LOG_BUCKETS).max(Duration::from_micros(1));
        self.total = self.total.saturating_add(n);
        if let Some(back) = self.log.back_mut() {
            if now.saturating_duration_since(back.first) < slice {
                back.last = back.last.max(now);
                back.count = back.count.saturating_add(n);
                return;
            }
        }
        self.log.push_back(Entry {
            first: now,
            last: now,
            count: n,
        });
    }

    /// How long until one more request fits (`Duration::MAX`: not in any foreseeable
    /// time). Zero when the window has room.
    pub(super) fn wait(&self, now: Instant, margin: Duration) -> Duration {
        let spent = self
            .spent_until
            .map(|s| s.saturating_duration_since(now))
            .unwrap_or_default();
        let limit = u64::from(self.spec.limit);
        if self.total < limit {
            return spent;
        }
        // The slot frees when enough of the oldest requests age out.
        let mut to_free = self.total - limit + 1;
        let mut free_at = None;
        for e in &self.log {
            if e.count >= to_free {
                free_at = e.last.checked_add(self.spec.interval);
                break;
            }
            to_free -= e.count;
        }
        let log_wait = match free_at.and_then(|f| f.checked_add(margin)) {
            Some(at) => at.saturating_duration_since(now),
            // A limit of 0 (a window that never has room) or an instant past the clock.
            None => Duration::MAX,
        };
        log_wait.max(spent)
    }

    /// The spent window, as the error reports it.
    pub(super) fn info(&self) -> RateLimitInfo {
        RateLimitInfo {
            max: Some(u64::from(self.spec.limit)),
            remaining: Some(0),
            interval: Some(self.spec.interval),
            ..RateLimitInfo::default()
        }
    }
}

#[derive(Debug)]
pub(super) struct KeyState {
    pub(super) windows: Vec<WindowState>,
    pub(super) blocked_until: Option<Instant>,
    pub(super) exhausted: Option<(Instant, RateLimitInfo)>,
}

impl KeyState {
    /// How long until a request fits: the 429 hold and every window (pruned to `now`).
    /// `Err` with the window's limits when one would not free within
    /// [`MAX_WINDOW_WAIT`].
    pub(super) fn wait(
        &mut self,
        now: Instant,
        margin: Duration,
    ) -> Result<Duration, RateLimitInfo> {
        let mut wait = self
            .blocked_until
            .map(|b| b.saturating_duration_since(now))
            .unwrap_or_default();
        for w in &mut self.windows {
            w.prune(now);
            let w_wait = w.wait(now, margin);
            if w_wait > MAX_WINDOW_WAIT {
                return Err(w.info());
            }
            wait = wait.max(w_wait);
        }
        Ok(wait)
    }
}
