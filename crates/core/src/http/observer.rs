//! A process-global hook on every API request the executor makes, for metrics
//! (`serve` exports them to Prometheus).
//!
//! Unset (the default), reporting costs one relaxed atomic load per response. Set it
//! once at start-up with [`set_request_observer`]; every [`super::Executor`] of the
//! process then reports each HTTP response (status included, errors too) and each
//! retry, with the app (`ghl`, `sellsy`) and the operation id of the table (e.g.
//! `contacts.get-contact`; [`OTHER_OPERATION`] for requests built by hand, such as
//! token exchanges).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// Told about every request the executors of this process make.
pub trait RequestObserver: Send + Sync {
    /// A response arrived (any status, 2xx or not).
    fn on_response(&self, app: &str, operation: &str, status: u16);
    /// The request is sent again (after a 429, a 5xx, a timeout or a cut connection).
    fn on_retry(&self, app: &str, operation: &str);
    /// No response: the connection failed or timed out.
    fn on_transport_error(&self, app: &str, operation: &str) {
        let _ = (app, operation);
    }
    /// An attempt was sent on the rate allowance `budget_key` (e.g. `ghl:<locationId>`,
    /// `sellsy:<account>`), whatever came of it: per-account usage counts these.
    fn on_sent(&self, budget_key: &str) {
        let _ = budget_key;
    }
}

/// The operation name reported for requests that are not in an operation table.
pub const OTHER_OPERATION: &str = "other";

static SET: AtomicBool = AtomicBool::new(false);
static OBSERVER: RwLock<Option<Arc<dyn RequestObserver>>> = RwLock::new(None);

/// Report every request of this process to `observer` (replacing any set before).
pub fn set_request_observer(observer: Arc<dyn RequestObserver>) {
    *OBSERVER.write().unwrap_or_else(|p| p.into_inner()) = Some(observer);
    SET.store(true, Ordering::Release);
}

/// Stop reporting.
pub fn clear_request_observer() {
    SET.store(false, Ordering::Release);
    *OBSERVER.write().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Run `f` on the observer, if one is set.
pub(super) fn notify(f: impl FnOnce(&dyn RequestObserver)) {
    if !SET.load(Ordering::Acquire) {
        return;
    }
    let observer = OBSERVER.read().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(observer) = observer {
        f(observer.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Executor, Flavor, Request};
    use crate::optable::Method;
    use crate::rate::RateBudget;
    use crate::retry::RetryPolicy;
    use crate::Error;
    use reqwest::header::HeaderMap;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;
    use std::time::Duration;

    struct Plain;

    impl Flavor for Plain {
        fn parse_error(&self, status: u16, _headers: &HeaderMap, _body: &[u8]) -> Error {
            Error::Server {
                status,
                message: "failed".into(),
                trace_id: None,
            }
        }
        fn observe(&self, _budget: &RateBudget, _key: &str, _headers: &HeaderMap) {}
    }

    /// Counts what it is told about one operation (other tests of this binary send
    /// requests too, and the observer is process-global).
    #[derive(Default)]
    struct Counting {
        responses: Mutex<Vec<(String, u16)>>,
        retries: AtomicUsize,
    }

    const OP: &str = "test.observed-operation";

    impl RequestObserver for Counting {
        fn on_response(&self, app: &str, operation: &str, status: u16) {
            if operation == OP {
                self.responses
                    .lock()
                    .unwrap()
                    .push((app.to_string(), status));
            }
        }
        fn on_retry(&self, _app: &str, operation: &str) {
            if operation == OP {
                self.retries.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Answers 503 twice, then 200.
    async fn flaky_server() -> String {
        let hits = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new().fallback(move || {
            let hits = hits.clone();
            async move {
                if hits.fetch_add(1, Ordering::SeqCst) < 2 {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "{}")
                } else {
                    (axum::http::StatusCode::OK, "{}")
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn every_response_and_retry_is_reported() {
        let url = flaky_server().await;
        let counting = Arc::new(Counting::default());
        set_request_observer(counting.clone());
        let exec = Executor::new(
            &url,
            Arc::new(Plain),
            Arc::new(RateBudget::new(vec![])),
            None,
        )
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        });
        let mut req = Request::new(Method::Get, "/x", "sellsy:acct");
        req.operation = Some(OP);
        exec.send(&req).await.unwrap();
        assert_eq!(
            *counting.responses.lock().unwrap(),
            vec![
                ("sellsy".to_string(), 503),
                ("sellsy".to_string(), 503),
                ("sellsy".to_string(), 200)
            ]
        );
        assert_eq!(counting.retries.load(Ordering::SeqCst), 2);
        // Named by the table when built from it.
        req.app = Some("ghl");
        assert_eq!(req.app_name(), "ghl");
        clear_request_observer();
        exec.send(&req).await.unwrap();
        assert_eq!(counting.responses.lock().unwrap().len(), 3, "cleared");
    }
}
