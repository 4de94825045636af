use super::*;
use crate::auth::{MemoryTokenStore, Refresher, TokenStore, Tokens};
use crate::rate::{Window, MAX_LEARNED_INTERVAL};
use futures::future::BoxFuture;
use reqwest::header::HeaderValue;
use secrecy::SecretString;
use std::sync::Mutex;
use tokio::time::Instant;

struct Plain;

impl Flavor for Plain {
    fn parse_error(&self, status: u16, _headers: &HeaderMap, _body: &[u8]) -> Error {
        if status == 401 {
            Error::Auth {
                status,
                message: "unauthorized".into(),
                trace_id: None,
            }
        } else {
            Error::Server {
                status,
                message: "failed".into(),
                trace_id: None,
            }
        }
    }
    fn observe(&self, _budget: &RateBudget, _key: &str, _headers: &HeaderMap) {}
}

/// A refresh that takes a while; remembers when it handed the new token back.
struct SlowRefresh {
    delay: Duration,
    done: Mutex<Vec<Instant>>,
}

impl Refresher for SlowRefresh {
    fn refresh<'a>(&'a self, _current: &'a Tokens) -> BoxFuture<'a, Result<Tokens>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            let n = {
                let mut done = self.done.lock().unwrap();
                done.push(Instant::now());
                done.len()
            };
            let mut t = Tokens::static_token(format!("access-{n}"));
            t.refresh_token = Some(SecretString::from(format!("refresh-{n}")));
            t.expires_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
            Ok(t)
        })
    }
}

/// What the test server saw: arrival time and bearer token of each request.
type Seen = Arc<Mutex<Vec<(Instant, Option<String>)>>>;

/// A server answering 401 to `access-0`, `fail_first` × 503 first, then 200 `{}`.
async fn server(fail_first: usize) -> (String, Seen) {
    use axum::http::{HeaderMap as AxHeaders, StatusCode};
    let seen: Seen = Arc::default();
    let state = seen.clone();
    let app = axum::Router::new().fallback(move |headers: AxHeaders| {
        let seen = state.clone();
        async move {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string);
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push((Instant::now(), token.clone()));
                seen.len()
            };
            if token.as_deref() == Some("access-0") {
                (StatusCode::UNAUTHORIZED, "{}")
            } else if n <= fail_first {
                (StatusCode::SERVICE_UNAVAILABLE, "{}")
            } else {
                (StatusCode::OK, "{}")
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn manager(expires_in: chrono::Duration, refresher: Arc<SlowRefresh>) -> Arc<TokenManager> {
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
    let mut t = Tokens::static_token("access-0");
    t.refresh_token = Some(SecretString::from("refresh-0".to_string()));
    t.expires_at = Some(chrono::Utc::now() + expires_in);
    Arc::new(TokenManager::create("k", store, Some(refresher), t).unwrap())
}

fn slow_refresh() -> Arc<SlowRefresh> {
    Arc::new(SlowRefresh {
        delay: Duration::from_millis(300),
        done: Mutex::new(Vec::new()),
    })
}

#[tokio::test]
async fn the_slot_is_taken_after_a_slow_token_refresh() {
    let (url, seen) = server(0).await;
    let refresher = slow_refresh();
    // Expires within the 60 s skew: the first access_token() refreshes.
    let auth = manager(chrono::Duration::seconds(10), refresher.clone());
    let budget = Arc::new(RateBudget::new(vec![Window::new(
        1,
        Duration::from_secs(5),
    )]));
    let exec = Executor::new(&url, Arc::new(Plain), budget.clone(), Some(auth)).unwrap();
    let started = Instant::now();
    exec.send(&Request::new(Method::Get, "/x", "k"))
        .await
        .unwrap();
    let refreshed = refresher.done.lock().unwrap()[0];
    let slot = budget.newest_slot("k").expect("a slot was taken");
    assert!(
        slot >= refreshed,
        "slot taken {:?} after start, token back {:?} after start",
        slot - started,
        refreshed - started
    );
    assert!(slot - started >= Duration::from_millis(300));
    assert_eq!(budget.stats().acquired, 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1.as_deref(), Some("access-1"));
    assert!(seen[0].0 >= slot);
}

#[tokio::test]
async fn the_retry_after_a_401_refresh_takes_a_new_slot_after_the_refresh() {
    let (url, seen) = server(0).await;
    let refresher = slow_refresh();
    let auth = manager(chrono::Duration::hours(1), refresher.clone());
    let budget = Arc::new(RateBudget::new(vec![Window::new(
        10,
        Duration::from_secs(5),
    )]));
    let exec = Executor::new(&url, Arc::new(Plain), budget.clone(), Some(auth)).unwrap();
    exec.send(&Request::new(Method::Get, "/x", "k"))
        .await
        .unwrap();
    assert_eq!(ExecutorStats::get(&exec.stats().reauthentications), 1);
    assert_eq!(refresher.done.lock().unwrap().len(), 1, "one refresh");
    let refreshed = refresher.done.lock().unwrap()[0];
    assert_eq!(budget.stats().acquired, 2, "each attempt has its own slot");
    assert!(budget.newest_slot("k").unwrap() >= refreshed);
    let seen = seen.lock().unwrap();
    let tokens: Vec<_> = seen.iter().map(|(_, t)| t.as_deref()).collect();
    assert_eq!(tokens, vec![Some("access-0"), Some("access-1")]);
}

#[tokio::test]
async fn a_retry_waits_for_a_slot_of_its_own() {
    let (url, seen) = server(1).await;
    let window = Duration::from_millis(400);
    let budget =
        Arc::new(RateBudget::new(vec![Window::new(1, window)]).with_margin(Duration::ZERO));
    let exec = Executor::new(&url, Arc::new(Plain), budget.clone(), None)
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        });
    exec.send(&Request::new(Method::Get, "/x", "k"))
        .await
        .unwrap();
    assert_eq!(budget.stats().acquired, 2);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].0 - seen[0].0;
    assert!(
        gap >= window - Duration::from_millis(20),
        "retried after {gap:?}"
    );
}

#[test]
fn retry_after_forms() {
    let now = chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let p = |s: &str| parse_retry_after(s, now);
    assert_eq!(p("120"), Some(Duration::from_secs(120)));
    assert_eq!(p(" 1.5 "), Some(Duration::from_millis(1500)));
    assert_eq!(p("1e20"), Some(MAX_RETRY_AFTER));
    assert_eq!(p("18446744073709551616"), Some(MAX_RETRY_AFTER));
    assert_eq!(p("0"), Some(Duration::ZERO));
    assert_eq!(p("-5"), None);
    assert_eq!(p("-0"), None);
    assert_eq!(p("abc"), None);
    assert_eq!(p("NaN"), None);
    assert_eq!(p("inf"), None);
    assert_eq!(p(""), None);
    assert_eq!(
        p("Wed, 21 Oct 2015 07:29:00 GMT"),
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        p("Wednesday, 21-Oct-15 07:28:30 GMT"),
        Some(Duration::from_secs(30))
    );
    assert_eq!(p("Wed Oct 21 07:28:10 2015"), Some(Duration::from_secs(10)));
    assert_eq!(
        p("Tue, 20 Oct 2015 07:28:00 GMT"),
        Some(Duration::ZERO),
        "past"
    );
    assert_eq!(p("Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_RETRY_AFTER));
}

#[test]
fn counts() {
    assert_eq!(parse_count("42"), Some(42));
    assert_eq!(parse_count(" 100.0 "), Some(100));
    assert_eq!(parse_count("4294967295"), Some(4_294_967_295));
    assert_eq!(parse_count("99999999999999999999999"), Some(u64::MAX));
    assert_eq!(parse_count("1e30"), Some(u64::MAX));
    assert_eq!(parse_count("-1"), None);
    assert_eq!(parse_count("-0"), None);
    assert_eq!(parse_count("0.5"), None);
    assert_eq!(parse_count("NaN"), None);
    assert_eq!(parse_count("abc"), None);
    let mut h = HeaderMap::new();
    h.insert("x-count", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
    assert_eq!(header_u64(&h, "x-count"), None, "not text");
}

#[tokio::test(start_paused = true)]
async fn pause_after_429_follows_the_spent_windows() {
    let budget = RateBudget::new(vec![
        Window::new(2, Duration::from_secs(1)),
        Window::new(100, Duration::from_secs(60)),
    ]);
    let none = HeaderMap::new();
    assert_eq!(pause_after_429(&budget, "k", &none), Duration::from_secs(1));
    budget.acquire("k").await.unwrap();
    budget.acquire("k").await.unwrap();
    let pause = pause_after_429(&budget, "k", &none);
    assert!(pause > Duration::ZERO && pause <= Duration::from_millis(1_050));
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("1e20"));
    assert_eq!(pause_after_429(&budget, "k", &h), MAX_RETRY_AFTER);
    // A spent day: the pause stays bounded (the next acquire reports the day).
    let day = RateBudget::new(vec![Window::new(1, MAX_LEARNED_INTERVAL)]);
    day.acquire("k").await.unwrap();
    assert_eq!(pause_after_429(&day, "k", &none), MAX_RETRY_AFTER);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Header values: anything printable, and numbers in every spelling.
    pub fn header_value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -~]{0,40}",
            any::<i64>().prop_map(|v| v.to_string()),
            any::<u64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:e}")),
            "-?[0-9]{1,40}(\\.[0-9]{0,5})?([eE][-+]?[0-9]{1,4})?",
            Just("NaN".to_string()),
            Just("inf".to_string()),
            Just("Fri, 31 Dec 9999 23:59:59 GMT".to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn retry_after_is_bounded(raw in header_value()) {
            if let Some(d) = parse_retry_after(&raw, chrono::Utc::now()) {
                prop_assert!(d <= MAX_RETRY_AFTER);
            }
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&raw) {
                h.insert("retry-after", v);
                let budget = RateBudget::ghl_default();
                prop_assert!(pause_after_429(&budget, "k", &h) <= MAX_RETRY_AFTER);
            }
        }

        #[test]
        fn counts_are_whole_and_not_negative(raw in header_value()) {
            let parsed = raw.trim().parse::<f64>().ok();
            match parse_count(&raw) {
                Some(n) => {
                    let v = parsed.expect("a count is a number");
                    prop_assert!(v >= 0.0 && v.fract() == 0.0 && !v.is_sign_negative());
                    let err = (n as f64 - v).abs();
                    prop_assert!(err <= v * 1e-12 || n == u64::MAX, "{raw} read as {n}");
                }
                None => prop_assert!(parsed.is_none_or(|v| {
                    !v.is_finite() || v.is_sign_negative() || v.fract() != 0.0
                }), "{raw} refused"),
            }
        }

        #[test]
        fn whole_numbers_read_exactly(n in any::<u64>(), neg in 1..i64::MAX) {
            prop_assert_eq!(parse_count(&n.to_string()), Some(n));
            let negative = format!("-{neg}");
            prop_assert_eq!(parse_count(&negative), None);
        }
    }
}
