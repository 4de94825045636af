//! The executor: starts, resumes and replays runs, recording every step.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::store::{RunStore, StoreError};
use super::{Apps, RunOutcome, TriggerItem};
use crate::model::{Flow, Step, StepKind};
use crate::template::Templates;

/// Look up a flow by name: the flow and its version (the registry, or the file).
pub type FlowLookup = dyn Fn(&str) -> Option<(Flow, i64)> + Send + Sync;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
    /// Another executor holds an unexpired lease on the run: it was not executed here.
    #[error(
        "run {run} is leased by {owner} until {until} (another process is executing it): skipped"
    )]
    Leased {
        run: i64,
        owner: String,
        until: String,
    },
}

pub type RunResult<T> = Result<T, RunError>;

pub struct Executor {
    pub(crate) apps: Apps,
    pub(crate) store: Arc<RunStore>,
    pub(crate) templates: Arc<Templates>,
    pub(crate) flows: Option<Box<FlowLookup>>,
    /// This executor's lease owner id, and how long its leases last.
    pub(crate) owner: String,
    pub(crate) lease: std::time::Duration,
}

/// Where a run stopped.
pub(crate) enum Stop {
    /// A filter was false: the run is `skipped`.
    Skipped(String),
    /// A delay: the run is `waiting` until this RFC 3339 time.
    Waiting(String),
}

/// A step failure: the step path and the message.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub path: String,
    pub message: String,
    pub unknown: bool,
}

/// One run's state while it executes.
pub(crate) struct Ctx {
    pub store: Arc<RunStore>,
    pub run_id: i64,
    pub flow: String,
    pub version: i64,
    pub key: String,
    pub dry: bool,
    pub scope: Value,
    /// Dry run: the writes that would have been sent, in order.
    pub writes: Vec<Value>,
    /// Dry run: each step's path, input and output, in order.
    pub trace: Vec<Value>,
    pub depth: u32,
}

impl Ctx {
    pub fn set_step(&mut self, id: &str, output: &Value) {
        if let Some(steps) = self.scope.get_mut("steps").and_then(Value::as_object_mut) {
            steps.insert(id.to_string(), json!({ "output": output }));
        }
    }
}

impl Executor {
    pub fn new(apps: Apps, store: Arc<RunStore>, templates: Arc<Templates>) -> Executor {
        Executor {
            apps,
            store,
            templates,
            flows: None,
            owner: super::lease::new_owner(),
            lease: super::lease::DEFAULT_LEASE,
        }
    }

    /// Flows reachable by `call_flow`, and the flows of runs resumed by
    /// [`Executor::resume_all`] / [`Executor::resume_due`].
    pub fn with_flows(mut self, lookup: Box<FlowLookup>) -> Executor {
        self.flows = Some(lookup);
        self
    }

    /// The connected apps the runs call.
    pub fn apps(&self) -> &Apps {
        &self.apps
    }

    pub fn store(&self) -> &RunStore {
        &self.store
    }

    fn scope(&self, item: &Value, previous: Option<&Value>) -> Value {
        json!({
            "trigger": item,
            "previous": previous.cloned().unwrap_or(Value::Null),
            "steps": {},
            "pair": self.apps.pair,
            "now": chrono::Utc::now().to_rfc3339(),
        })
    }

    /// Start a run of `flow` for `item`. A second start with the same (flow name,
    /// version, key) returns the existing run and executes nothing.
    pub async fn start(
        &self,
        flow: &Flow,
        version: i64,
        item: TriggerItem,
    ) -> RunResult<RunOutcome> {
        self.start_with(flow, version, item, None, 0).await
    }

    /// Record a run of `flow` for `item` as `running` without executing it (a poll's
    /// emit callback: the run survives a crash before it starts). `Ok(new id)`, or
    /// `Err(existing id)` when a run with the same (flow, version, key) exists.
    /// Execute it with [`Executor::resume`] (or [`Executor::resume_all`]).
    pub fn enqueue(
        &self,
        flow: &Flow,
        version: i64,
        item: &TriggerItem,
    ) -> RunResult<Result<i64, i64>> {
        Ok(self.store.enqueue(&flow.name, version, item)?)
    }

    /// The ids of `flow`'s runs in `status` (any version), oldest first.
    pub fn runs_of(&self, flow: &str, status: &str) -> RunResult<Vec<(i64, i64)>> {
        Ok(self.store.ids_of_flow(flow, status)?)
    }

    pub(crate) async fn start_with(
        &self,
        flow: &Flow,
        version: i64,
        item: TriggerItem,
        replay_of: Option<i64>,
        depth: u32,
    ) -> RunResult<RunOutcome> {
        let trigger = json!({"payload": item.payload, "previous": item.previous});
        let id = match self.store.insert_run_leased(
            &flow.name,
            version,
            &item.key,
            &trigger,
            replay_of,
            (&self.owner, self.lease),
        )? {
            Ok(id) => id,
            Err(existing) => {
                return Self::outcome(&self.store, existing, true, Vec::new(), Vec::new())
            }
        };
        let mut ctx = Ctx {
            store: self.store.clone(),
            run_id: id,
            flow: flow.name.clone(),
            version,
            key: item.key,
            dry: false,
            scope: self.scope(&item.payload, item.previous.as_ref()),
            writes: Vec::new(),
            trace: Vec::new(),
            depth,
        };
        self.drive_leased(flow, &mut ctx).await
    }

    /// [`Executor::drive`] a run whose lease this executor holds: renewed while it
    /// executes, released when it ends or parks.
    pub(crate) async fn drive_leased(&self, flow: &Flow, ctx: &mut Ctx) -> RunResult<RunOutcome> {
        let beat = self.heartbeat(ctx.run_id);
        let out = self.drive(flow, ctx).await;
        drop(beat);
        self.store.release_lease(ctx.run_id, &self.owner)?;
        out
    }

    /// Run (or continue) every step of `flow` in `ctx`, then record the run's status.
    pub(crate) async fn drive(&self, flow: &Flow, ctx: &mut Ctx) -> RunResult<RunOutcome> {
        let result = self.run_steps(ctx, &flow.steps, String::new()).await;
        if !ctx.dry {
            // A run whose lease another executor took over (this one stalled past its
            // lease) is theirs now: nothing more is recorded here.
            if let Some(h) = ctx.store.lease_holder(ctx.run_id)? {
                if h.owner != self.owner {
                    return Err(RunError::Leased {
                        run: ctx.run_id,
                        owner: h.owner,
                        until: h.until,
                    });
                }
            }
        }
        match result {
            Ok(None) => ctx.store.finish_run(ctx.run_id, "ok", None, None)?,
            Ok(Some(Stop::Skipped(path))) => {
                let why = format!("filter {path} was false");
                ctx.store
                    .finish_run(ctx.run_id, "skipped", Some(&why), None)?
            }
            Ok(Some(Stop::Waiting(at))) => ctx.store.set_waiting(ctx.run_id, &at)?,
            Err(f) => {
                if !flow.on_failure.is_empty() {
                    if let Some(scope) = ctx.scope.as_object_mut() {
                        scope.insert(
                            "error".into(),
                            json!({"message": f.message, "step": f.path}),
                        );
                    }
                    // The failure handler's own failures are recorded on its steps; the
                    // run stays failed with the original error.
                    let _ = self
                        .run_steps(ctx, &flow.on_failure, "on_failure.".to_string())
                        .await;
                }
                ctx.store
                    .finish_run(ctx.run_id, "failed", Some(&f.message), Some(&f.path))?
            }
        }
        let writes = std::mem::take(&mut ctx.writes);
        let trace = std::mem::take(&mut ctx.trace);
        Self::outcome(&ctx.store, ctx.run_id, false, writes, trace)
    }

    fn outcome(
        store: &RunStore,
        id: i64,
        existing: bool,
        writes: Vec<Value>,
        trace: Vec<Value>,
    ) -> RunResult<RunOutcome> {
        let run = store
            .get(id)?
            .ok_or_else(|| RunError::Refused(format!("run {id} vanished from the store")))?;
        Ok(RunOutcome {
            run_id: id,
            status: run.status,
            error: run.error,
            failed_step: run.failed_step,
            existing,
            writes,
            trace,
        })
    }

    /// Rebuild a run's context from the store (the steps reuse their recorded outputs).
    pub(crate) fn reload(&self, run_id: i64, dry: bool) -> RunResult<(super::RunRecord, Ctx)> {
        let run = self.store.get(run_id)?.ok_or_else(|| {
            RunError::Refused(format!("no run {run_id}: see `hlbridge runs list`"))
        })?;
        let payload = run.trigger.get("payload").cloned().unwrap_or(Value::Null);
        let previous = run
            .trigger
            .get("previous")
            .filter(|v| !v.is_null())
            .cloned();
        let ctx = Ctx {
            store: self.store.clone(),
            run_id,
            flow: run.flow.clone(),
            version: run.version,
            key: run.run_key.clone(),
            dry,
            scope: self.scope(&payload, previous.as_ref()),
            writes: Vec::new(),
            trace: Vec::new(),
            depth: 0,
        };
        Ok((run, ctx))
    }

    /// Replay run `run_id` as a new run (key `replay:<orig>:<n>`): from its failed step
    /// (earlier steps' recorded outputs reused, never re-sent) or from the start.
    /// `flow`/`version` is the flow to run: the run's own version, or the latest one
    /// (refused when a step the run relies on is gone).
    pub async fn replay(
        &self,
        run_id: i64,
        from_failed_step: bool,
        flow: &Flow,
        version: i64,
    ) -> RunResult<RunOutcome> {
        let (orig, _) = self.reload(run_id, false)?;
        if let Some(h) = self
            .store
            .lease_holder(run_id)?
            .filter(|h| h.owner != self.owner)
        {
            return Err(RunError::Leased {
                run: run_id,
                owner: h.owner,
                until: h.until,
            });
        }
        if orig.flow != flow.name {
            return Err(RunError::Refused(format!(
                "run {run_id} is of flow {}, not {}",
                orig.flow, flow.name
            )));
        }
        if from_failed_step && orig.status != "failed" {
            return Err(RunError::Refused(format!(
                "run {run_id} is {}, not failed: replay it --from-start",
                orig.status
            )));
        }
        let steps = self.store.steps(run_id)?;
        if from_failed_step && version != orig.version {
            let ids = super::steps::step_paths(&flow.steps);
            // The failure handler of the original run is not carried over.
            for s in steps
                .iter()
                .filter(|s| s.status == "ok" && !s.step_path.starts_with("on_failure."))
            {
                let base = super::steps::strip_indexes(&s.step_path);
                if !ids.contains(&base) {
                    return Err(RunError::Refused(format!(
                        "version {version} of {} has no step {base}, which run {run_id} relies on: replay --from-start",
                        flow.name
                    )));
                }
            }
        }
        let n = self.store.replay_count(run_id)? + 1;
        let key = format!("replay:{run_id}:{n}");
        let trigger = orig.trigger.clone();
        let id = match self.store.insert_run_leased(
            &flow.name,
            version,
            &key,
            &trigger,
            Some(run_id),
            (&self.owner, self.lease),
        )? {
            Ok(id) => id,
            Err(existing) => {
                return Self::outcome(&self.store, existing, true, Vec::new(), Vec::new())
            }
        };
        if from_failed_step {
            self.store.copy_ok_steps(run_id, id)?;
        }
        let (_, mut ctx) = self.reload(id, false)?;
        self.drive_leased(flow, &mut ctx).await
    }

    /// `flow test`: run `flow` on `item` without recording anything. Reads are real;
    /// every write is replaced by a printout of its exact request (in
    /// [`RunOutcome::writes`]) and the fake output `{"dry_run": true}`.
    pub async fn dry_run(&self, flow: &Flow, item: TriggerItem) -> RunResult<RunOutcome> {
        // The dry run keeps its records in a private in-memory store.
        let scratch = Arc::new(RunStore::open(std::path::Path::new(":memory:"))?);
        let trigger = json!({"payload": item.payload, "previous": item.previous});
        let id = match scratch.insert_run(&flow.name, 0, &item.key, &trigger, None)? {
            Ok(id) | Err(id) => id,
        };
        let mut ctx = Ctx {
            store: scratch,
            run_id: id,
            flow: flow.name.clone(),
            version: 0,
            key: item.key,
            dry: true,
            scope: self.scope(&item.payload, item.previous.as_ref()),
            writes: Vec::new(),
            trace: Vec::new(),
            depth: 0,
        };
        self.drive(flow, &mut ctx).await
    }

    /// Run the sub-flow `name` with `input` as its trigger, waiting for it. A sub-run
    /// started before (the parent is resumed) is continued, not started again.
    pub(crate) async fn call_flow(
        &self,
        ctx: &Ctx,
        path: &str,
        name: &str,
        input: Value,
    ) -> Result<Result<Value, String>, String> {
        if ctx.depth >= 5 {
            return Err(format!(
                "{path}: call_flow nested more than 5 deep (a flow calling itself?)"
            ));
        }
        let lookup = self.flows.as_ref().ok_or_else(|| {
            format!("{path}: call_flow `{name}` needs the deployed flows (none are known here)")
        })?;
        let (flow, version) = lookup(name)
            .ok_or_else(|| format!("{path}: call_flow: no flow named `{name}`; deploy it first"))?;
        let item = TriggerItem {
            key: format!("call:{}:{}", ctx.run_id, path),
            payload: input,
            previous: None,
        };
        let mut out = if ctx.dry {
            Box::pin(self.dry_run(&flow, item)).await
        } else {
            Box::pin(self.start_with(&flow, version, item, None, ctx.depth + 1)).await
        }
        .map_err(|e| format!("{path}: {e}"))?;
        if out.existing && out.status == "running" {
            out = Box::pin(self.resume(out.run_id, &flow))
                .await
                .map_err(|e| format!("{path}: {e}"))?;
        }
        if out.existing && out.status == "waiting" {
            let due = self
                .store
                .resume_at(out.run_id)
                .map_err(|e| format!("{path}: {e}"))?;
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            if due.as_deref().is_some_and(|at| at <= now.as_str()) {
                out = Box::pin(self.resume(out.run_id, &flow))
                    .await
                    .map_err(|e| format!("{path}: {e}"))?;
            }
        }
        if out.status == "failed" {
            return Err(format!(
                "{path}: flow {name} (run {}) failed: {}",
                out.run_id,
                out.error.unwrap_or_default()
            ));
        }
        if out.status == "waiting" {
            // The parent waits as long as its sub-run does.
            let at = self
                .store
                .resume_at(out.run_id)
                .map_err(|e| format!("{path}: {e}"))?
                .unwrap_or_default();
            return Ok(Err(at));
        }
        Ok(Ok(
            json!({"run_id": out.run_id, "status": out.status, "writes": out.writes}),
        ))
    }
}

/// The output object of a map step, rendered.
pub(crate) fn object(map: Map<String, Value>) -> Value {
    Value::Object(map)
}

pub(crate) fn kind_name(step: &Step) -> &'static str {
    match step.kind {
        StepKind::Filter(_) => "filter",
        StepKind::Map(_) => "map",
        StepKind::Action(_) => "action",
        StepKind::FindOrCreate(_) => "find_or_create",
        StepKind::Branch(_) => "branch",
        StepKind::ForEach(_) => "for_each",
        StepKind::Delay(_) => "delay",
        StepKind::CallFlow(_) => "call_flow",
    }
}
