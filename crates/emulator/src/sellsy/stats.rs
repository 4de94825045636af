//! Request counters behind `GET /emulator/stats`, kept by the outermost layer (so
//! injected faults and quota refusals are counted too; `/emulator/*` is not).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hlbridge_core::optable::Method;
use serde::Serialize;

use super::SellsyState;
use crate::faults::FaultCounts;

#[derive(Debug, Default)]
pub struct Stats {
    total: AtomicU64,
    quota_refused: AtomicU64,
    by_status: Mutex<BTreeMap<u16, u64>>,
    by_operation: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    fn record(&self, status: u16, operation: Option<&'static str>) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut by_status = self.by_status.lock().unwrap_or_else(|e| e.into_inner());
        *by_status.entry(status).or_default() += 1;
        drop(by_status);
        if let Some(id) = operation {
            let mut by_op = self.by_operation.lock().unwrap_or_else(|e| e.into_inner());
            *by_op.entry(id.to_string()).or_default() += 1;
        }
    }

    /// A request refused because a quota window was spent.
    pub fn record_quota_refusal(&self) {
        self.quota_refused.fetch_add(1, Ordering::Relaxed);
    }
}

/// Webhook notifications attempted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryCounts {
    pub sent: u64,
    /// Answered 2xx.
    pub delivered: u64,
    /// Answered otherwise, or unreachable.
    pub failed: u64,
}

/// `GET /emulator/stats`: the shape of the GHL emulator's, with Sellsy's sizes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsSnapshot {
    pub requests: u64,
    pub by_status: BTreeMap<u16, u64>,
    /// By operation id of `hlbridge_sellsy::TABLE` (`contacts.list`, …).
    pub by_operation: BTreeMap<String, u64>,
    /// 429 answers served (quota windows and injected faults).
    pub rate_limited: u64,
    /// 429 answers because a quota window was spent.
    pub quota_refused: u64,
    pub faults: FaultCounts,
    pub webhooks: DeliveryCounts,
    pub contacts: usize,
    pub companies: usize,
    pub individuals: usize,
    pub tasks: usize,
    pub comments: usize,
}

impl SellsyState {
    /// What `GET /emulator/stats` serves.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.stats;
        let by_status = s.by_status.lock().map(|m| m.clone()).unwrap_or_default();
        let deliveries = self.deliveries();
        let delivered = deliveries
            .iter()
            .filter(|d| d.status.is_some_and(|st| (200..300).contains(&st)))
            .count() as u64;
        let store = self.store();
        StatsSnapshot {
            requests: s.total.load(Ordering::Relaxed),
            rate_limited: by_status.get(&429).copied().unwrap_or(0),
            by_status,
            by_operation: s.by_operation.lock().map(|m| m.clone()).unwrap_or_default(),
            quota_refused: s.quota_refused.load(Ordering::Relaxed),
            faults: self.faults().counts(),
            webhooks: DeliveryCounts {
                sent: deliveries.len() as u64,
                delivered,
                failed: deliveries.len() as u64 - delivered,
            },
            contacts: store.contacts.len(),
            companies: store.companies.len(),
            individuals: store.individuals.len(),
            tasks: store.tasks.len(),
            comments: store.comments.len(),
        }
    }
}

/// The `/v2` operation a request is for, if the table has it.
fn operation_of(request: &Request) -> Option<&'static str> {
    let path = request.uri().path().strip_prefix("/v2")?;
    let method = Method::parse(request.method().as_str())?;
    hlbridge_sellsy::TABLE
        .route(method, path)
        .map(|(op, _)| op.id)
}

/// Middleware: count every response but the control endpoints' (a dropped
/// connection counts as status 0).
pub async fn count(
    State(state): State<Arc<SellsyState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with("/emulator/") {
        return next.run(request).await;
    }
    let operation = operation_of(&request);
    let response = next.run(request).await;
    let dropped = response
        .headers()
        .get("x-emulator-fault")
        .is_some_and(|v| v == "drop" || v == "commit_drop");
    let status = if dropped {
        0
    } else {
        response.status().as_u16()
    };
    state.stats.record(status, operation);
    response
}
