//! Prometheus metrics (`GET /metrics`), on an explicit registry with the `hlbridge_`
//! prefix. Counters get the `_total` suffix in the output
//! (`hlbridge_requests_total`, ...), as the Prometheus text format wants.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Content type of `GET /metrics` (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    app: String,
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    app: String,
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    app: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PairLabels {
    pair: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    retries: Family<OperationLabels, Counter>,
    rate_limited: Family<OperationLabels, Counter>,
    budget_remaining: Family<AccountLabels, Gauge>,
    webhook_events: Family<WebhookLabels, Counter>,
    queue_depth: Gauge,
    sync_lag: Family<PairLabels, FloatGauge>,
    outbox_depth: Family<PairLabels, Gauge>,
}

/// The service's metrics. Cheap to clone; every clone updates the same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hlbridge");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests to GHL and Sellsy, by app, operation and HTTP status",
            requests.clone(),
        );
        let retries = Family::<OperationLabels, Counter>::default();
        registry.register(
            "retries",
            "Requests to GHL and Sellsy that were retried",
            retries.clone(),
        );
        let rate_limited = Family::<OperationLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests to GHL and Sellsy answered 429",
            rate_limited.clone(),
        );
        let budget_remaining = Family::<AccountLabels, Gauge>::default();
        registry.register(
            "budget_remaining",
            "Requests left in the current rate window, per account",
            budget_remaining.clone(),
        );
        let webhook_events = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhook_events",
            "Webhook events received or processed, by app and outcome",
            webhook_events.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Webhook events waiting to be processed",
            queue_depth.clone(),
        );
        let sync_lag = Family::<PairLabels, FloatGauge>::default();
        registry.register(
            "sync_lag_seconds",
            "Seconds since the pair's last completed sync cycle",
            sync_lag.clone(),
        );
        let outbox_depth = Family::<PairLabels, Gauge>::default();
        registry.register(
            "outbox_depth",
            "Writes waiting in the pair's outbox",
            outbox_depth.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                retries,
                rate_limited,
                budget_remaining,
                webhook_events,
                queue_depth,
                sync_lag,
                outbox_depth,
            }),
        }
    }

    /// One request to `app` (`ghl`, `sellsy`) for `operation` answered `status`. A 429
    /// also counts in `hlbridge_rate_limited`; do not report it twice.
    pub fn record_request(&self, app: &str, operation: &str, status: u16) {
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                app: app.to_string(),
                operation: operation.to_string(),
                status: status.to_string(),
            })
            .inc();
        if status == 429 {
            self.inner
                .rate_limited
                .get_or_create(&OperationLabels {
                    app: app.to_string(),
                    operation: operation.to_string(),
                })
                .inc();
        }
    }

    /// One retry of a request to `app` for `operation`.
    pub fn record_retry(&self, app: &str, operation: &str) {
        self.inner
            .retries
            .get_or_create(&OperationLabels {
                app: app.to_string(),
                operation: operation.to_string(),
            })
            .inc();
    }

    /// Requests left in the rate window of `account` (e.g. `ghl:LOCATION`).
    pub fn set_budget_remaining(&self, account: &str, remaining: i64) {
        self.inner
            .budget_remaining
            .get_or_create(&AccountLabels {
                account: account.to_string(),
            })
            .set(remaining);
    }

    /// A webhook event of `app` with `outcome` (`queued`, `duplicate`, `forged`,
    /// `stale`, `malformed`, `refused`, `done`, `ignored`, `retry`, `failed`).
    pub fn record_webhook(&self, app: &str, outcome: &str) {
        self.inner
            .webhook_events
            .get_or_create(&WebhookLabels {
                app: app.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Events waiting in the webhook queue.
    pub fn set_queue_depth(&self, depth: i64) {
        self.inner.queue_depth.set(depth);
    }

    /// Seconds since `pair` last completed a cycle.
    pub fn set_sync_lag(&self, pair: &str, secs: f64) {
        self.inner
            .sync_lag
            .get_or_create(&PairLabels {
                pair: pair.to_string(),
            })
            .set(secs);
    }

    /// Writes waiting in `pair`'s outbox.
    pub fn set_outbox_depth(&self, pair: &str, depth: i64) {
        self.inner
            .outbox_depth
            .get_or_create(&PairLabels {
                pair: pair.to_string(),
            })
            .set(depth);
    }

    /// Drop the series of a removed pair.
    pub fn remove_pair(&self, pair: &str) {
        let labels = PairLabels {
            pair: pair.to_string(),
        };
        self.inner.sync_lag.remove(&labels);
        self.inner.outbox_depth.remove(&labels);
    }

    /// The registry in Prometheus text format 0.0.4.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.inner.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
