//! Client-side rate budgets: never send what the server would refuse.
//!
//! A [`RateBudget`] keeps, per key (e.g. `ghl:<locationId>`), a sliding log of send
//! times for each window (GHL: 100 / 10 s; Sellsy: per second, minute, day, month).
//! [`RateBudget::acquire`] waits until every window has room. What the server reports in
//! its headers is authoritative: [`RateBudget::observe`] folds it in, so requests sent
//! by other processes sharing the same allowance are accounted for too.
//!
//! Hand-written rather than `governor` because the budget must learn from response
//! headers (remaining counts, limits, daily exhaustion), which GCRA state cannot take.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, RateLimitInfo};

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

#[derive(Debug)]
struct WindowState {
    spec: Window,
    sent: VecDeque<Instant>,
}

impl WindowState {
    fn prune(&mut self, now: Instant) {
        while let Some(&front) = self.sent.front() {
            if now.duration_since(front) >= self.spec.interval {
                self.sent.pop_front();
            } else {
                break;
            }
        }
    }

    /// How long until one more request fits.
    fn wait(&self, now: Instant, margin: Duration) -> Duration {
        if (self.sent.len() as u32) < self.spec.limit {
            return Duration::ZERO;
        }
        let idx = self.sent.len() - self.spec.limit as usize;
        let free_at = self.sent[idx] + self.spec.interval + margin;
        free_at.saturating_duration_since(now)
    }
}

#[derive(Debug)]
struct KeyState {
    windows: Vec<WindowState>,
    blocked_until: Option<Instant>,
    exhausted: Option<(Instant, RateLimitInfo)>,
}

/// Counters for metrics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BudgetStats {
    pub acquired: u64,
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
}

impl RateBudget {
    pub fn new(defaults: Vec<Window>) -> Self {
        RateBudget {
            defaults,
            margin: Duration::from_millis(50),
            keys: Mutex::new(HashMap::new()),
            stats: Mutex::new(BudgetStats::default()),
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
            windows: self
                .defaults
                .iter()
                .map(|w| WindowState {
                    spec: *w,
                    sent: VecDeque::new(),
                })
                .collect(),
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

    /// Wait until a request for `key` fits every window, then count it.
    /// Fails at once when the daily allowance is known to be spent.
    pub async fn acquire(&self, key: &str) -> Result<(), Error> {
        let mut waited = false;
        loop {
            let now = Instant::now();
            let margin = self.margin;
            let decision = self.with_key(key, |st| {
                if let Some((until, info)) = &st.exhausted {
                    if now < *until {
                        return Err(Error::DailyLimitReached {
                            key: key.to_string(),
                            limits: Box::new(info.clone()),
                        });
                    }
                    st.exhausted = None;
                }
                let mut wait = st
                    .blocked_until
                    .map(|b| b.saturating_duration_since(now))
                    .unwrap_or_default();
                for w in &mut st.windows {
                    w.prune(now);
                    wait = wait.max(w.wait(now, margin));
                }
                if wait.is_zero() {
                    for w in &mut st.windows {
                        w.sent.push_back(now);
                    }
                }
                Ok(wait)
            })?;
            if decision.is_zero() {
                self.bump(|s| {
                    s.acquired += 1;
                    if waited {
                        s.waited += 1;
                    }
                });
                return Ok(());
            }
            waited = true;
            tokio::time::sleep(decision).await;
        }
    }

    /// Fold in what the server reported for window `index` of `key`.
    pub fn observe(&self, key: &str, index: usize, obs: Observation) {
        let now = Instant::now();
        self.with_key(key, |st| {
            let Some(w) = st.windows.get_mut(index) else {
                return;
            };
            if let Some(limit) = obs.limit.filter(|l| *l > 0) {
                w.spec.limit = limit;
            }
            if let Some(interval) = obs.interval.filter(|i| !i.is_zero()) {
                w.spec.interval = interval;
            }
            w.prune(now);
            if let Some(remaining) = obs.remaining {
                let server_used = w.spec.limit.saturating_sub(remaining) as usize;
                // Others (other processes, other tools) spent part of the window: count it.
                while w.sent.len() < server_used {
                    w.sent.push_back(now);
                }
                if remaining == 0 {
                    let until = now + w.spec.interval;
                    st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
                }
            }
        });
    }

    /// The daily allowance is spent: refuse requests for `key` until `resets_in` passes.
    pub fn mark_exhausted(&self, key: &str, resets_in: Duration, info: RateLimitInfo) {
        let until = Instant::now() + resets_in;
        self.with_key(key, |st| st.exhausted = Some((until, info)));
    }

    /// The server answered 429: hold every request for `key` for `pause`.
    pub fn on_rejected(&self, key: &str, pause: Duration) {
        let until = Instant::now() + pause;
        self.with_key(key, |st| {
            st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
        });
        self.bump(|s| s.observed_429 += 1);
    }

    /// The length of the first window of `key` (GHL's burst interval).
    pub fn first_interval(&self, key: &str) -> Duration {
        self.with_key(key, |st| {
            st.windows
                .first()
                .map(|w| w.spec.interval)
                .unwrap_or(Duration::from_secs(1))
        })
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
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_exceeds_a_window() {
        let budget = RateBudget::new(vec![Window::new(5, Duration::from_secs(1))])
            .with_margin(Duration::ZERO);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..12 {
            budget.acquire("k").await.unwrap();
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times
                .iter()
                .filter(|u| **u <= *t && *t - **u < Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 5,
                "request {i} at {t:?} saw {in_window} in its window"
            );
        }
        assert!(times[11] >= Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn learns_from_server_remaining() {
        let budget = RateBudget::new(vec![Window::new(10, Duration::from_secs(10))]);
        budget.observe(
            "k",
            0,
            Observation {
                limit: Some(10),
                remaining: Some(0),
                interval: None,
            },
        );
        let start = Instant::now();
        budget.acquire("k").await.unwrap();
        assert!(start.elapsed() >= Duration::from_secs(10));
    }

    #[tokio::test]
    async fn exhausted_daily_fails_fast() {
        let budget = RateBudget::ghl_default();
        budget.mark_exhausted("k", Duration::from_secs(60), RateLimitInfo::default());
        assert!(matches!(
            budget.acquire("k").await,
            Err(Error::DailyLimitReached { .. })
        ));
        assert!(budget.acquire("other").await.is_ok());
    }
}
