//! `/ui/budgets`: each account's API requests per UTC hour of a day as a server-drawn
//! SVG bar chart (with a table for screen readers), beside what its rate windows
//! count right now.
//!
//! The hourly counts are recorded by [`recording`], the process's request observer:
//! every attempt the executors send names its rate allowance (`ghl:<location>`,
//! `sellsy:<account>`); counts are kept in memory and added to
//! `service_budget_hourly (account, hour)` at most every few seconds (and before the
//! page reads them).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use hlbridge_core::http::RequestObserver;
use serde::{Deserialize, Serialize};

use super::{error_page, render};
use crate::access::CurrentSession;
use crate::api::Lead;
use crate::{AppState, Db};

const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Counts each sent attempt per account and hour, then hands everything to `inner`.
pub struct Recorder {
    inner: Arc<dyn RequestObserver>,
    db: Db,
    counts: Mutex<HashMap<(String, String), u64>>,
    last_flush: Mutex<Instant>,
}

/// The recorder of this process (the request observer is process-global too).
static CURRENT: RwLock<Option<Arc<Recorder>>> = RwLock::new(None);

/// `inner` wrapped so that requests are also counted per account and hour in `db`.
pub fn recording(db: Db, inner: Arc<dyn RequestObserver>) -> Arc<dyn RequestObserver> {
    let rec = Arc::new(Recorder {
        inner,
        db,
        counts: Mutex::new(HashMap::new()),
        last_flush: Mutex::new(Instant::now()),
    });
    *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = Some(rec.clone());
    rec
}

fn hour_of(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H").to_string()
}

impl Recorder {
    fn take(&self) -> HashMap<(String, String), u64> {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Add the counts held in memory to the table (on the calling thread).
    pub fn flush(&self) {
        let counts = self.take();
        if counts.is_empty() {
            return;
        }
        let res = self.db.call_blocking(|c| write_counts(c, &counts));
        if let Err(e) = res {
            tracing::warn!(error = %e, "cannot record the hourly request counts");
            // Keep them for the next flush.
            let mut held = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            for (k, n) in counts {
                *held.entry(k).or_default() += n;
            }
        }
    }
}

fn write_counts(
    c: &mut rusqlite::Connection,
    counts: &HashMap<(String, String), u64>,
) -> rusqlite::Result<()> {
    let tx = c.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO service_budget_hourly (account, hour, requests) VALUES (?1, ?2, ?3)
             ON CONFLICT (account, hour) DO UPDATE SET requests = requests + excluded.requests",
        )?;
        for ((account, hour), n) in counts {
            stmt.execute(rusqlite::params![account, hour, *n as i64])?;
        }
    }
    tx.commit()
}

impl RequestObserver for Recorder {
    fn on_response(&self, app: &str, operation: &str, status: u16) {
        self.inner.on_response(app, operation, status);
    }

    fn on_retry(&self, app: &str, operation: &str) {
        self.inner.on_retry(app, operation);
    }

    fn on_transport_error(&self, app: &str, operation: &str) {
        self.inner.on_transport_error(app, operation);
    }

    fn on_sent(&self, budget_key: &str) {
        self.inner.on_sent(budget_key);
        let hour = hour_of(chrono::Utc::now());
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((budget_key.to_string(), hour))
            .or_default() += 1;
        let due = {
            let mut last = self.last_flush.lock().unwrap_or_else(|p| p.into_inner());
            let due = last.elapsed() >= FLUSH_EVERY;
            if due {
                *last = Instant::now();
            }
            due
        };
        if due {
            if let (Ok(handle), Some(me)) = (tokio::runtime::Handle::try_current(), current()) {
                handle.spawn_blocking(move || me.flush());
            }
        }
    }
}

fn current() -> Option<Arc<Recorder>> {
    CURRENT.read().unwrap_or_else(|p| p.into_inner()).clone()
}

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/ui/budgets", get(page))
}

#[derive(Deserialize, Default)]
pub(super) struct BudgetQuery {
    /// `YYYY-MM-DD` (UTC), default today.
    #[serde(default)]
    day: String,
}

#[derive(Serialize)]
struct Bar {
    hour: u32,
    /// `03`.
    label: String,
    requests: u64,
    x: u32,
    y: u32,
    height: u32,
}

#[derive(Serialize)]
struct WindowView {
    interval: String,
    used: u64,
    limit: u32,
}

#[derive(Serialize)]
struct AccountChart {
    key: String,
    label: String,
    slug: String,
    total: u64,
    max: u64,
    bars: Vec<Bar>,
    windows: Vec<WindowView>,
}

const CHART_H: u32 = 120;
const BAR_W: u32 = 24;

fn bars(per_hour: &BTreeMap<u32, u64>) -> (Vec<Bar>, u64) {
    let max = per_hour.values().copied().max().unwrap_or(0);
    let bars = (0..24u32)
        .map(|h| {
            let n = per_hour.get(&h).copied().unwrap_or(0);
            // At least 2 px for a non-zero hour so it stays visible.
            let height = if max == 0 || n == 0 {
                0
            } else {
                ((n * u64::from(CHART_H)) / max).max(2) as u32
            };
            Bar {
                hour: h,
                label: format!("{h:02}"),
                requests: n,
                x: 30 + h * BAR_W,
                y: 10 + CHART_H - height,
                height,
            }
        })
        .collect();
    (bars, max)
}

fn interval_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms", d.as_millis()),
        s if s % 86_400 == 0 => format!("{} day(s)", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Each connection's allowance key and label.
fn known_accounts(lead: &Lead) -> Vec<(String, String)> {
    let Ok(conns) = lead.accounts.registry.list() else {
        return Vec::new();
    };
    conns
        .into_iter()
        .map(|c| {
            let key = match c.app {
                hlbridge_accounts::App::Ghl if c.kind.is_location() => {
                    format!("ghl:{}", c.account)
                }
                hlbridge_accounts::App::Ghl => format!("ghl:company:{}", c.account),
                hlbridge_accounts::App::Sellsy => format!("sellsy:{}", c.account),
            };
            let label = match &c.label {
                Some(l) => format!("{} ({}, {})", l, c.app.as_str(), c.id),
                None => format!("{} {} ({})", c.app.as_str(), c.account, c.id),
            };
            (key, label)
        })
        .collect()
}

pub(super) async fn page(
    session: CurrentSession,
    State(state): State<AppState>,
    Extension(lead): Extension<Arc<Lead>>,
    Query(q): Query<BudgetQuery>,
) -> Response {
    let day = if q.day.trim().is_empty() {
        chrono::Utc::now().date_naive()
    } else {
        match chrono::NaiveDate::parse_from_str(q.day.trim(), "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    &format!("day={:?}: write the day as YYYY-MM-DD (UTC)", q.day),
                )
            }
        }
    };
    if let Some(rec) = current() {
        let _ = tokio::task::spawn_blocking(move || rec.flush()).await;
    }
    let prefix = day.format("%Y-%m-%dT").to_string();
    let rows = state
        .db
        .call(move |c| {
            let mut stmt = c.prepare(
                "SELECT account, hour, requests FROM service_budget_hourly
                 WHERE hour >= ?1 AND hour < ?2 ORDER BY account, hour",
            )?;
            let rows = stmt
                .query_map(
                    rusqlite::params![format!("{prefix}00"), format!("{prefix}99")],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    },
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await;
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let mut per: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
    for (account, hour, n) in rows {
        let h: u32 = hour
            .rsplit('T')
            .next()
            .and_then(|h| h.parse().ok())
            .unwrap_or(0);
        *per.entry(account).or_default().entry(h).or_default() += n.max(0) as u64;
    }
    let known = known_accounts(&lead);
    for (key, _) in &known {
        per.entry(key.clone()).or_default();
    }
    let charts: Vec<AccountChart> = per
        .into_iter()
        .map(|(key, hours)| {
            let (bars, max) = bars(&hours);
            let budget = if key.starts_with("sellsy:") {
                lead.accounts.budgets.sellsy.as_ref()
            } else {
                lead.accounts.budgets.ghl.as_ref()
            };
            let windows = budget
                .map(|b| {
                    b.usage(&key)
                        .into_iter()
                        .map(|u| WindowView {
                            interval: interval_text(u.window.interval),
                            used: u.used,
                            limit: u.window.limit,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let label = known
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, l)| l.clone())
                .unwrap_or_else(|| key.clone());
            AccountChart {
                slug: key
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect(),
                total: hours.values().sum(),
                key,
                label,
                max,
                bars,
                windows,
            }
        })
        .collect();
    render(
        "budgets.html",
        "Budgets",
        &session,
        minijinja::context! {
            day => day.format("%Y-%m-%d").to_string(),
            charts => charts,
            chart_h => CHART_H,
            bar_w => BAR_W - 4,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_hour() {
        let mut h = BTreeMap::new();
        h.insert(3, 10);
        h.insert(4, 1);
        let (b, max) = bars(&h);
        assert_eq!(max, 10);
        assert_eq!(b.len(), 24);
        assert_eq!(b[3].height, CHART_H);
        assert_eq!(b[4].height, 12);
        assert_eq!(b[0].height, 0);
        assert_eq!(b[3].y, 10);
    }
}
