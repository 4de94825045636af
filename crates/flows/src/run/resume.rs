//! Continuing runs: one by id ([`Executor::resume`]), every run a crash left `running`
//! ([`Executor::resume_all`]), the delayed runs whose time came
//! ([`Executor::resume_due`]). Each takes the run's lease first; a run leased by
//! another executor is skipped and reported ([`RunError::Leased`]).

use super::exec::{Executor, RunError, RunResult};
use super::RunOutcome;
use crate::model::Flow;

impl Executor {
    /// Continue run `run_id` with `flow` (recorded steps are not run again). Refused
    /// with [`RunError::Leased`] when another executor holds the run's lease.
    pub async fn resume(&self, run_id: i64, flow: &Flow) -> RunResult<RunOutcome> {
        self.take(run_id)?;
        self.resume_leased(run_id, flow).await
    }

    /// Continue run `run_id`, whose lease this executor holds.
    async fn resume_leased(&self, run_id: i64, flow: &Flow) -> RunResult<RunOutcome> {
        let (_, mut ctx) = match self.reload(run_id, false) {
            Ok(x) => x,
            Err(e) => {
                self.store.release_lease(run_id, &self.owner)?;
                return Err(e);
            }
        };
        self.store.finish_run(run_id, "running", None, None)?;
        self.drive_leased(flow, &mut ctx).await
    }

    fn flow_of(&self, run: &super::RunRecord) -> Result<Flow, String> {
        let lookup = self
            .flows
            .as_ref()
            .ok_or("no flows known to the executor (Executor::with_flows)")?;
        match lookup(&run.flow) {
            Some((flow, v)) if v == run.version => Ok(flow),
            Some((_, v)) => Err(format!(
                "run {} is of {} version {}, but version {v} is deployed; replay it with `hlbridge runs replay {} --latest-version`",
                run.id, run.flow, run.version, run.id
            )),
            None => Err(format!("run {}: flow {} is not known", run.id, run.flow)),
        }
    }

    /// Continue every run a crash left `running`. Returns the outcomes (and, for runs
    /// whose flow is gone or that another process holds, the reason they were not run).
    pub async fn resume_all(&self) -> RunResult<Vec<Result<RunOutcome, String>>> {
        let ids = self.store.ids_with_status("running", None)?;
        self.resume_ids(ids, "running").await
    }

    /// Continue the `waiting` runs whose delay is over.
    pub async fn resume_due(&self) -> RunResult<Vec<Result<RunOutcome, String>>> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let ids = self.store.ids_with_status("waiting", Some(&now))?;
        self.resume_ids(ids, "waiting").await
    }

    async fn resume_ids(
        &self,
        ids: Vec<i64>,
        status: &str,
    ) -> RunResult<Vec<Result<RunOutcome, String>>> {
        let mut out = Vec::new();
        for id in ids {
            let Some(run) = self.store.get(id)? else {
                continue;
            };
            if run.status != status {
                // Continued meanwhile (a sub-run resumed by its parent).
                continue;
            }
            let flow = match self.flow_of(&run) {
                Ok(flow) => flow,
                Err(why) => {
                    out.push(Err(why));
                    continue;
                }
            };
            match self.take(id) {
                Ok(()) => {}
                Err(e @ RunError::Leased { .. }) => {
                    out.push(Err(e.to_string()));
                    continue;
                }
                Err(e) => return Err(e),
            }
            // Under the lease, the run may have been finished by its previous holder.
            if self.store.get(id)?.is_none_or(|r| r.status != status) {
                self.store.release_lease(id, &self.owner)?;
                continue;
            }
            out.push(Ok(self.resume_leased(id, &flow).await?));
        }
        Ok(out)
    }
}
