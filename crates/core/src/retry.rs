//! When to try a request again, and how long to wait first.
//!
//! Exponential backoff with full jitter (`random(0, min(cap, base·2^n))`), and a
//! classifier that retries only what is safe: 429 always (the server did not act on
//! it), 5xx, timeouts and cut connections only for requests that may be repeated
//! (reads and idempotent writes), and a connection that was never established always.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// What went wrong on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be made: nothing reached the server.
    Connect,
    /// The connection broke after the request was (maybe) sent.
    Transport,
    Timeout,
    Status(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Wait the backoff, then try again.
    Backoff,
    /// 429: wait for the rate window, then try again.
    RateLimited,
    /// 401: refresh the token once, then try again.
    Reauthenticate,
    /// Give up and report the error.
    Fail,
}

/// Decide what to do after `failure` for a request that is (or is not) safe to repeat.
pub fn classify(failure: Failure, safe_to_repeat: bool) -> Verdict {
    match failure {
        Failure::Connect => Verdict::Backoff,
        Failure::Transport | Failure::Timeout if safe_to_repeat => Verdict::Backoff,
        Failure::Transport | Failure::Timeout => Verdict::Fail,
        Failure::Status(429) => Verdict::RateLimited,
        Failure::Status(401) => Verdict::Reauthenticate,
        Failure::Status(408 | 500 | 502 | 503 | 504) if safe_to_repeat => Verdict::Backoff,
        Failure::Status(_) => Verdict::Fail,
    }
}

impl RetryPolicy {
    /// Full-jitter delay before attempt `attempt + 1` (attempt counts from 0).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        let cap = exp.min(self.max_delay);
        let millis = cap.as_millis() as u64;
        Duration::from_millis(if millis == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=millis)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_not_repeated_after_a_server_error() {
        assert_eq!(classify(Failure::Status(503), false), Verdict::Fail);
        assert_eq!(classify(Failure::Status(503), true), Verdict::Backoff);
        assert_eq!(classify(Failure::Status(429), false), Verdict::RateLimited);
        assert_eq!(classify(Failure::Connect, false), Verdict::Backoff);
        assert_eq!(classify(Failure::Transport, false), Verdict::Fail);
        assert_eq!(classify(Failure::Status(404), true), Verdict::Fail);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for attempt in 0..30 {
            assert!(p.backoff(attempt) <= Duration::from_secs(1));
        }
        let distinct: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(4)).collect();
        assert!(distinct.len() > 5);
    }
}
