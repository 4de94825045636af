//! Leases on runs: a run is executed only by the executor holding an unexpired lease
//! on its row (`flow_runs.lease_owner`, `lease_until`), so `serve` and
//! `hlbridge flow run --once` on one database never execute the same run together.
//!
//! - Taken atomically: one `UPDATE … WHERE` the lease is absent, expired or already
//!   ours; a new run (start, replay, call_flow) is inserted with its lease.
//! - Renewed while the run executes: a timer every third of the lease, and before
//!   every write is sent (a write is refused when the lease was lost).
//! - Released when the run ends or parks (a delay); a crashed owner's lease (SIGKILL)
//!   expires and the next resume takes the run over.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::exec::{Executor, RunError};
use super::store::{RunStore, StoreResult};

/// How long a lease lasts unless renewed ([`Executor::with_lease`] changes it).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Who holds a run, until when (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    pub owner: String,
    pub until: String,
}

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn until(lease: Duration) -> String {
    stamp(chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default())
}

/// A fresh owner id: the process and a per-executor counter, unique across processes
/// sharing a database (the start time tells restarted processes with a reused pid apart).
pub(crate) fn new_owner() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("pid{}-{:x}-{n}", std::process::id(), nanos)
}

/// Add the lease columns to a database created before leases existed.
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('flow_runs')")?;
    let cols: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for col in ["lease_owner", "lease_until"] {
        if cols.iter().any(|c| c == col) {
            continue;
        }
        match conn.execute_batch(&format!("ALTER TABLE flow_runs ADD COLUMN {col} TEXT")) {
            Ok(()) => {}
            // Another process migrated the same database meanwhile.
            Err(e) if e.to_string().contains("duplicate column") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl RunStore {
    /// Take (or renew) the lease on run `id` for `owner` for `lease`: true when taken,
    /// false when someone else holds an unexpired lease (or the run does not exist).
    pub fn take_lease(&self, id: i64, owner: &str, lease: Duration) -> StoreResult<bool> {
        let now = stamp(chrono::Utc::now());
        let n = self.conn().execute(
            "UPDATE flow_runs SET lease_owner=?2, lease_until=?3
             WHERE id=?1 AND (lease_owner IS NULL OR lease_owner=?2 OR lease_until IS NULL OR lease_until < ?4)",
            params![id, owner, until(lease), now],
        )?;
        Ok(n == 1)
    }

    /// Extend `owner`'s lease on run `id`; false when the lease is no longer ours.
    pub fn renew_lease(&self, id: i64, owner: &str, lease: Duration) -> StoreResult<bool> {
        let n = self.conn().execute(
            "UPDATE flow_runs SET lease_until=?3 WHERE id=?1 AND lease_owner=?2",
            params![id, owner, until(lease)],
        )?;
        Ok(n == 1)
    }

    /// Give up `owner`'s lease on run `id` (the run ended or parks).
    pub fn release_lease(&self, id: i64, owner: &str) -> StoreResult<()> {
        self.conn().execute(
            "UPDATE flow_runs SET lease_owner=NULL, lease_until=NULL WHERE id=?1 AND lease_owner=?2",
            params![id, owner],
        )?;
        Ok(())
    }

    /// The unexpired lease on run `id`, if any.
    pub fn lease_holder(&self, id: i64) -> StoreResult<Option<LeaseHolder>> {
        let now = stamp(chrono::Utc::now());
        Ok(self
            .conn()
            .query_row(
                "SELECT lease_owner, lease_until FROM flow_runs
                 WHERE id=?1 AND lease_owner IS NOT NULL AND lease_until >= ?2",
                params![id, now],
                |r| {
                    Ok(LeaseHolder {
                        owner: r.get(0)?,
                        until: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Insert a new run holding `owner`'s lease from the start (see `insert_run`).
    pub(crate) fn insert_run_leased(
        &self,
        flow: &str,
        version: i64,
        key: &str,
        trigger: &serde_json::Value,
        replay_of: Option<i64>,
        (owner, lease): (&str, Duration),
    ) -> StoreResult<Result<i64, i64>> {
        let until = until(lease);
        self.insert_with_lease(
            flow,
            version,
            key,
            trigger,
            replay_of,
            Some((owner, &until)),
        )
    }
}

/// Renews a lease on a timer while a run executes; stops when dropped.
pub(crate) struct Heartbeat(Option<tokio::task::JoinHandle<()>>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

impl Executor {
    /// This executor's lease owner id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Leases last `lease` (renewed every third of it while a run executes).
    pub fn with_lease(mut self, lease: Duration) -> Executor {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// Take the lease on run `id`, or say who holds it.
    pub(crate) fn take(&self, id: i64) -> Result<(), RunError> {
        if self.store.take_lease(id, &self.owner, self.lease)? {
            return Ok(());
        }
        match self.store.lease_holder(id)? {
            Some(h) => Err(RunError::Leased {
                run: id,
                owner: h.owner,
                until: h.until,
            }),
            // Expired or released between the two statements: try once more.
            None if self.store.take_lease(id, &self.owner, self.lease)? => Ok(()),
            None => Err(RunError::Refused(format!(
                "no run {id}: see `hlbridge runs list`"
            ))),
        }
    }

    /// Refuse to go on when run `id`'s lease is no longer ours (checked before a write).
    pub(crate) fn hold(&self, id: i64) -> Result<(), String> {
        match self.store.renew_lease(id, &self.owner, self.lease) {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!(
                "run {id}: the lease was lost (this process stalled longer than the lease and another one took the run over); nothing was sent"
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Renew the lease on run `id` every third of the lease until the heartbeat drops.
    pub(crate) fn heartbeat(&self, id: i64) -> Heartbeat {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return Heartbeat(None);
        };
        let store: Arc<RunStore> = self.store.clone();
        let owner = self.owner.clone();
        let lease = self.lease;
        Heartbeat(Some(rt.spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match store.renew_lease(id, &owner, lease) {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(run = id, error = %e, "lease not renewed"),
                }
            }
        })))
    }
}
