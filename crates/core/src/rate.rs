//! Client-side rate budgets: never send what the server would refuse.
//!
//! A [`RateBudget`] keeps, per key (e.g. `ghl:<locationId>`), a sliding log of send
//! times for each window (GHL: 100 / 10 s; Sellsy: per second, minute, day, month).
//! [`RateBudget::acquire`] (or [`RateBudget::try_acquire`]) takes a slot only when every
//! window has room. What the server reports in its headers is authoritative:
//! [`RateBudget::observe`] folds it in, so requests sent by other processes sharing the
//! same allowance are accounted for too.
//!
//! When a window is spent, the wait is the longest of "time until that window frees a
//! slot" over the spent windows only: a spent per-second window with room left in the
//! minute waits for the next second, a spent minute waits until the oldest request it
//! counted ages out. A window that would free only after [`MAX_WINDOW_WAIT`] (a day or a
//! month spent) is not slept on: the request fails with [`Error::DailyLimitReached`].
//!
//! Everything a server says is bounded before it is used (see the constants below): a
//! header can neither panic the client, nor make it allocate, nor make it sleep for
//! days. The log keeps at most [`LOG_BUCKETS`] + 1 entries per window whatever the
//! limit, so its memory never depends on a value a server sent.
//!
//! **Across processes.** A budget built with [`RateBudget::with_shared`] keeps its
//! windows, learned limits, 429 holds and daily exhaustion in the state database
//! ([`SharedSlots`]) instead of in memory, so every process using that database file
//! (CLI calls, `watch`, `sync`, `serve`) draws from the same allowance: short
//! `BEGIN IMMEDIATE` transactions to take a slot and to settle it when its answer
//! arrives (see [`shared`] for the in-flight rule). Until a key's first response is observed, one request at a time is sent
//! for it across all processes (the cold-start probe, see [`shared`]). A budget without
//! a shared store never touches a database. Should the database fail (locked past its
//! busy timeout, read-only), [`RateBudget::try_acquire`] fails with the error naming
//! the file (nothing is sent uncounted); what cannot fail (learning from headers, the
//! wait hints) logs one warning and goes on in memory.
//!
//! Hand-written rather than `governor` because the budget must learn from response
//! headers (remaining counts, limits, daily exhaustion), which GCRA state cannot take.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, RateLimitInfo};

pub mod shared;
pub use shared::SharedSlots;
use shared::Take;

// Bounds on what a server may teach the budget. Real allowances are far inside them
// (GHL: 100 per 10 s and 200 000 a day; Sellsy: a few per second); a value outside is a
// broken or hostile header, clamped rather than trusted.

/// A learned limit allows at most this many requests per second of its window
/// (100 000 for GHL's 10 s window, 10 000 for a 1 s window; never more than `u32::MAX`).
pub const MAX_LEARNED_RATE_PER_SEC: u64 = 10_000;
/// A learned window is at most one day long.
pub const MAX_LEARNED_INTERVAL: Duration = Duration::from_secs(86_400);
/// The longest pause after a 429, whatever `Retry-After` says (5 minutes).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// The longest [`RateBudget::acquire`] sleeps for a window to free a slot (15 minutes).
/// A window that frees later (a spent day or month) fails with
/// [`Error::DailyLimitReached`] instead of holding the caller for hours.
pub const MAX_WINDOW_WAIT: Duration = Duration::from_secs(15 * 60);
/// The longest a key is refused after [`RateBudget::mark_exhausted`] (31 days: a month).
pub const MAX_EXHAUSTED: Duration = Duration::from_secs(31 * 86_400);
/// Sends closer together than 1/`LOG_BUCKETS` of a window share one log entry, so a
/// window's log never holds more than `LOG_BUCKETS` + 1 entries, however large its
/// limit. Shared entries age out with their newest send, so counting stays
/// conservative (a slot frees at most 1/1024 of the window late, never early).
pub const LOG_BUCKETS: u32 = 1024;

/// The most requests a window of `interval` may be taught to allow (at least 1).
pub fn max_learned_limit(interval: Duration) -> u32 {
    let cap = (MAX_LEARNED_RATE_PER_SEC as f64 * interval.as_secs_f64()).floor();
    if cap >= u32::MAX as f64 {
        u32::MAX
    } else {
        (cap as u32).max(1)
    }
}

/// A limit a server reported for a window of `interval`: `None` for 0 ("unknown, keep
/// what we have"), otherwise at most [`max_learned_limit`].
pub fn clamp_limit(limit: u64, interval: Duration) -> Option<u32> {
    if limit == 0 {
        return None;
    }
    Some(limit.min(max_learned_limit(interval) as u64) as u32)
}

/// A window length a server reported: `None` for zero, otherwise at most
/// [`MAX_LEARNED_INTERVAL`].
pub fn clamp_interval(interval: Duration) -> Option<Duration> {
    if interval.is_zero() {
        None
    } else {
        Some(interval.min(MAX_LEARNED_INTERVAL))
    }
}

/// One window: at most `limit` requests in any `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: u32,
    pub interval: Duration,
}

impl Window {
    pub const fn new(limit: u32, interval: Duration) -> Self {
        Window { limit, interval }
    }
}

/// What a response said about one window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observation {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    pub interval: Option<Duration>,
}

mod memory;
use memory::{KeyState, WindowState};

/// A slot taken by [`RateBudget::try_take`], for [`RateBudget::settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The in-flight rows a shared store recorded for it (one per window).
    shared: Option<Vec<i64>>,
}

/// What [`RateBudget::try_take`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Taken now: send, then [`RateBudget::settle`] it.
    Taken(Slot),
    /// Nothing taken: ask again after this long.
    Wait(Duration),
}

/// Counters for metrics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BudgetStats {
    /// Slots taken.
    pub acquired: u64,
    /// Times a caller had to wait for a slot.
    pub waited: u64,
    pub observed_429: u64,
}

#[derive(Debug)]
pub struct RateBudget {
    defaults: Vec<Window>,
    /// Extra wait after a window frees, to absorb clock and network skew between the
    /// moment we count a request and the moment the server does.
    margin: Duration,
    keys: Mutex<HashMap<String, KeyState>>,
    stats: Mutex<BudgetStats>,
    /// Windows kept in the state database, shared with other processes.
    shared: Option<Arc<SharedSlots>>,
    /// A shared-store failure was logged already (once per budget).
    warned: AtomicBool,
}

fn later(a: Option<Instant>, b: Instant) -> Instant {
    a.map_or(b, |a| a.max(b))
}

/// `now + d`, or (far past any wait the budget honours) `now + MAX_EXHAUSTED`.
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(MAX_EXHAUSTED))
        .unwrap_or(now)
}

impl RateBudget {
    /// A budget whose keys start with `defaults` (trusted as given: the bounds apply to
    /// what servers report, not to what the program configures).
    pub fn new(defaults: Vec<Window>) -> Self {
        RateBudget {
            defaults,
            margin: Duration::from_millis(50),
            keys: Mutex::new(HashMap::new()),
            stats: Mutex::new(BudgetStats::default()),
            shared: None,
            warned: AtomicBool::new(false),
        }
    }

    /// Keep this budget's windows in `slots` (the state database), shared with every
    /// process that opened the same file. The windows given to [`RateBudget::new`]
    /// remain the defaults of keys nothing was learned for yet.
    pub fn with_shared(mut self, slots: Arc<SharedSlots>) -> Self {
        self.shared = Some(slots);
        self
    }

    /// [`RateBudget::ghl_default`], shared through the database at `path` (created
    /// with mode 0600 when missing).
    pub fn ghl_shared(path: &Path) -> Result<Self, Error> {
        Ok(RateBudget::ghl_default().with_shared(SharedSlots::open(path)?))
    }

    /// The shared store, when the budget has one.
    pub fn shared(&self) -> Option<&Arc<SharedSlots>> {
        self.shared.as_ref()
    }

    /// Log a shared-store failure (once); the caller goes on in memory.
    fn degraded(&self, e: &Error) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!("shared rate budget unavailable, pacing this process alone: {e}");
        }
    }

    /// GHL's documented allowance: 100 requests per 10 s per location (the daily
    /// 200k is tracked from the `X-RateLimit-Daily-Remaining` header).
    pub fn ghl_default() -> Self {
        RateBudget::new(vec![Window::new(100, Duration::from_secs(10))])
    }

    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    pub fn stats(&self) -> BudgetStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn with_key<R>(&self, key: &str, f: impl FnOnce(&mut KeyState) -> R) -> R {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let state = keys.entry(key.to_string()).or_insert_with(|| KeyState {
            windows: self.defaults.iter().map(|w| WindowState::new(*w)).collect(),
            blocked_until: None,
            exhausted: None,
        });
        f(state)
    }

    fn bump(&self, f: impl FnOnce(&mut BudgetStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    /// Take a slot for `key` now if every window has room (`Ok(ZERO)`); otherwise take
    /// nothing and say how long to wait before asking again. Fails when the daily
    /// allowance is known to be spent, or when a window frees only after
    /// [`MAX_WINDOW_WAIT`].
    pub fn try_acquire(&self, key: &str) -> Result<Duration, Error> {
        match self.take(key, false)? {
            Acquired::Taken(_) => Ok(Duration::ZERO),
            Acquired::Wait(wait) => Ok(wait),
        }
    }

    /// [`RateBudget::try_acquire`] for a request about to be sent: the slot taken
    /// counts as in flight (in a shared budget) until [`RateBudget::settle`] is told
    /// its answer arrived. The executor sends this way.
    pub fn try_take(&self, key: &str) -> Result<Acquired, Error> {
        self.take(key, true)
    }

    fn take(&self, key: &str, in_flight: bool) -> Result<Acquired, Error> {
        if let Some(shared) = &self.shared {
            match shared.try_take(key, &self.defaults, self.margin, in_flight) {
                Ok(Take::Taken(rows)) => {
                    self.bump(|s| s.acquired += 1);
                    return Ok(Acquired::Taken(Slot { shared: Some(rows) }));
                }
                Ok(Take::Wait(wait)) => {
                    self.bump(|s| s.waited += 1);
                    return Ok(Acquired::Wait(wait));
                }
                Ok(Take::Refused(limits)) => {
                    return Err(Error::DailyLimitReached {
                        key: key.to_string(),
                        limits: Box::new(limits),
                    })
                }
                // Sending without the shared count could exceed the allowance.
                Err(e) => return Err(e),
            }
        }
        let now = Instant::now();
        let margin = self.margin;
        let wait = self.with_key(key, |st| {
            if let Some((until, info)) = &st.exhausted {
                if now < *until {
                    return Err(Error::DailyLimitReached {
                        key: key.to_string(),
                        limits: Box::new(info.clone()),
                    });
                }
                st.exhausted = None;
            }
            let wait = st
                .wait(now, margin)
                .map_err(|limits| Error::DailyLimitReached {
                    key: key.to_string(),
                    limits: Box::new(limits),
                })?;
            if wait.is_zero() {
                for w in &mut st.windows {
                    w.record(now, 1);
                }
            }
            Ok(wait)
        })?;
        if wait.is_zero() {
            self.bump(|s| s.acquired += 1);
            Ok(Acquired::Taken(Slot { shared: None }))
        } else {
            self.bump(|s| s.waited += 1);
            Ok(Acquired::Wait(wait))
        }
    }

    /// The request sent on `slot` was answered (or failed) now. A shared budget counts
    /// a slot as in flight from when it is taken until it is settled (at most
    /// [`shared::PENDING_MAX`]), then from now: the server counted the request on
    /// arrival, in between, and on a busy machine the gap can exceed the margin. In
    /// memory (where sends follow their slot at once) this does nothing.
    pub fn settle(&self, key: &str, slot: Slot) {
        if let (Some(shared), Some(rows)) = (&self.shared, slot.shared) {
            if let Err(e) = shared.settle(key, &self.defaults, &rows) {
                self.degraded(&e);
            }
        }
    }

    /// Wait until a request for `key` fits every window, then count it.
    /// Fails at once when the daily allowance is known to be spent.
    pub async fn acquire(&self, key: &str) -> Result<(), Error> {
        loop {
            let wait = self.try_acquire(key)?;
            if wait.is_zero() {
                return Ok(());
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// How long until a request for `key` would fit, without taking a slot: the longest
    /// over the spent windows (and a 429 hold) of the time until each frees a slot.
    /// `Duration::MAX` when a window would not free within [`MAX_WINDOW_WAIT`].
    pub fn next_slot_in(&self, key: &str) -> Duration {
        if let Some(shared) = &self.shared {
            match shared.next_slot_in(key, &self.defaults, self.margin) {
                Ok(wait) => return wait.unwrap_or(Duration::MAX),
                Err(e) => self.degraded(&e),
            }
        }
        let now = Instant::now();
        let margin = self.margin;
        self.with_key(key, |st| st.wait(now, margin).unwrap_or(Duration::MAX))
    }

    /// When the newest slot of `key` was taken (or the newest request the server
    /// reported was counted), if any is still inside a window.
    pub fn newest_slot(&self, key: &str) -> Option<Instant> {
        if let Some(shared) = &self.shared {
            match shared.newest_slot_age(key, &self.defaults) {
                Ok(age) => return age.and_then(|a| Instant::now().checked_sub(a)),
                Err(e) => self.degraded(&e),
            }
        }
        self.with_key(key, |st| {
            st.windows
                .iter()
                .filter_map(|w| w.log.back().map(|e| e.last))
                .max()
        })
    }

    /// Fold in what the server reported for window `index` of `key`. Out-of-range
    /// values are clamped ([`clamp_limit`], [`clamp_interval`]); a limit or interval of
    /// 0 is ignored.
    pub fn observe(&self, key: &str, index: usize, obs: Observation) {
        if let (Some(shared), Some(default)) = (&self.shared, self.defaults.get(index)) {
            if let Err(e) = shared.observe(key, index, *default, obs) {
                self.degraded(&e);
            }
        }
        let now = Instant::now();
        self.with_key(key, |st| {
            let Some(w) = st.windows.get_mut(index) else {
                return;
            };
            if let Some(interval) = obs.interval.and_then(clamp_interval) {
                w.spec.interval = interval;
                if w.limit_known {
                    w.spec.limit = w.spec.limit.min(max_learned_limit(interval));
                }
                // A spent window frees within its (new) length.
                let bound = after(now, interval);
                w.spent_until = w.spent_until.map(|s| s.min(bound));
            }
            if let Some(limit) = obs
                .limit
                .and_then(|l| clamp_limit(u64::from(l), w.spec.interval))
            {
                w.spec.limit = limit;
                w.limit_known = true;
            }
            w.prune(now);
            let Some(remaining) = obs.remaining else {
                return;
            };
            let server_used = u64::from(w.spec.limit.saturating_sub(remaining));
            // Others (other processes, other tools) spent part of the window: count it.
            // Their requests are placed now, the latest they can have been counted.
            if w.total < server_used {
                w.record(now, server_used - w.total);
            }
            if remaining == 0 && !w.limit_known {
                // With a known limit the log says when the oldest request the server
                // counted ages out. With a guessed one it cannot tell which of our
                // requests the server counted; the one just answered was, so the window
                // frees a slot at the latest one interval after now.
                let until = after(now, w.spec.interval);
                w.spent_until = Some(later(w.spent_until, until));
            }
        });
    }

    /// The daily allowance is spent: refuse requests for `key` until `resets_in` passes
    /// (at most [`MAX_EXHAUSTED`]).
    pub fn mark_exhausted(&self, key: &str, resets_in: Duration, info: RateLimitInfo) {
        if let Some(shared) = &self.shared {
            if let Err(e) = shared.mark_exhausted(key, resets_in, &info) {
                self.degraded(&e);
            }
        }
        let until = after(Instant::now(), resets_in.min(MAX_EXHAUSTED));
        self.with_key(key, |st| st.exhausted = Some((until, info)));
    }

    /// The server answered 429: hold every request for `key` for `pause` (at most
    /// [`MAX_RETRY_AFTER`]).
    pub fn on_rejected(&self, key: &str, pause: Duration) {
        if let Some(shared) = &self.shared {
            if let Err(e) = shared.on_rejected(key, pause) {
                self.degraded(&e);
            }
        }
        let until = after(Instant::now(), pause.min(MAX_RETRY_AFTER));
        self.with_key(key, |st| {
            st.blocked_until = Some(later(st.blocked_until, until));
        });
        self.bump(|s| s.observed_429 += 1);
    }

    /// The length of the first window of `key` (GHL's burst interval).
    pub fn first_interval(&self, key: &str) -> Duration {
        if self.shared.is_some() {
            if let Some(first) = self.windows(key).first() {
                return first.interval;
            }
        }
        self.with_key(key, |st| {
            st.windows
                .first()
                .map(|w| w.spec.interval)
                .unwrap_or(Duration::from_secs(1))
        })
    }

    /// The current limits of `key`'s windows (defaults, or what the server taught).
    pub fn windows(&self, key: &str) -> Vec<Window> {
        if let Some(shared) = &self.shared {
            match shared.windows(key, &self.defaults) {
                Ok(windows) => return windows,
                Err(e) => self.degraded(&e),
            }
        }
        self.with_key(key, |st| st.windows.iter().map(|w| w.spec).collect())
    }

    /// Per window of `key`: its current limits and how many sends it counts right now
    /// (for metrics: `limit - used` is the budget left). Shared budgets report every
    /// process's sends.
    pub fn usage(&self, key: &str) -> Vec<WindowUsage> {
        if let Some(shared) = &self.shared {
            match shared.usage(key, &self.defaults) {
                Ok(usage) => {
                    return usage
                        .into_iter()
                        .map(|(window, used)| WindowUsage { window, used })
                        .collect()
                }
                Err(e) => self.degraded(&e),
            }
        }
        let now = Instant::now();
        self.with_key(key, |st| {
            st.windows
                .iter_mut()
                .map(|w| {
                    w.prune(now);
                    WindowUsage {
                        window: w.spec,
                        used: w.total,
                    }
                })
                .collect()
        })
    }
}

/// One window's limits and the sends it counts now ([`RateBudget::usage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUsage {
    pub window: Window,
    pub used: u64,
}

impl WindowUsage {
    /// Sends the window still allows now.
    pub fn left(&self) -> u64 {
        u64::from(self.window.limit).saturating_sub(self.used)
    }
}

/// Time left until the next UTC midnight (when daily allowances reset).
pub fn until_utc_midnight() -> Duration {
    let now = chrono::Utc::now();
    let tomorrow = (now + chrono::Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0);
    match tomorrow {
        Some(t) => (t.and_utc() - now)
            .to_std()
            .unwrap_or(Duration::from_secs(3600)),
        None => Duration::from_secs(3600),
    }
}
#[cfg(test)]
mod tests;
