//! `hlbridge runs list|show|replay`: the recorded flow runs in the state database.
//!
//! - `list [--flow NAME] [--status S] [--limit N] [--json]`: newest first.
//! - `show ID [--json]`: the run and each step (path, status, attempt, input, output,
//!   error, the requests sent, timing).
//! - `replay ID|--failed [--from-failed-step|--from-start] [--latest-version]
//!   [--flow NAME]`: a new run (key `replay:ID:N`) of the run's version (or the
//!   latest), from its failed step (earlier steps' outputs reused, never re-sent) or
//!   from the start. `--failed`: every failed run not replayed yet.
//!
//! Exit codes: 0 done (for replay: every replay ok, skipped or waiting), 1 a replay
//! failed or the store failed, 2 bad input.

use std::path::PathBuf;
use std::sync::Arc;

use hlbridge_flows::deploy::FlowRegistry;
use hlbridge_flows::run::{Executor, RunFilter, RunRecord, RunStore};
use hlbridge_flows::template::Templates;
use serde_json::{json, Value};

use crate::flow_run::{db_path, flow_version, lookup};
use crate::sync_cmd::{load_config, EXIT_FAILED, EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: RunsCommand,
    #[arg(long, default_value = "hlbridge.toml", global = true)]
    pub config: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum RunsCommand {
    /// Recorded runs, newest first.
    List {
        #[arg(long)]
        flow: Option<String>,
        #[arg(long, value_parser = ["ok", "failed", "running", "waiting", "skipped"])]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// One run with every step: input, output, error, the requests sent, timing.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Run a recorded run again as a new run (exit 1 when a replay fails).
    Replay {
        /// The run to replay (or --failed).
        #[arg(required_unless_present = "failed", conflicts_with = "failed")]
        id: Option<i64>,
        /// Every failed run not replayed yet (with --flow: of that flow).
        #[arg(long)]
        failed: bool,
        /// Reuse the outputs of the steps before the failed one (default).
        #[arg(long, conflicts_with = "from_start")]
        from_failed_step: bool,
        /// Run every step again from the trigger item.
        #[arg(long)]
        from_start: bool,
        /// Use the flow's latest recorded version instead of the run's own.
        #[arg(long)]
        latest_version: bool,
        #[arg(long)]
        flow: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn err(msg: &str, json: bool, code: i32) -> i32 {
    if json {
        eprintln!("{}", json!({"error": {"message": msg}}));
    } else {
        eprintln!("error: {msg}");
    }
    code
}

pub async fn run(args: RunsArgs) -> i32 {
    let json = match &args.command {
        RunsCommand::List { json, .. }
        | RunsCommand::Show { json, .. }
        | RunsCommand::Replay { json, .. } => *json,
    };
    let cfg = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => return err(&e.to_string(), json, EXIT_USAGE),
    };
    let db = match db_path(&cfg) {
        Ok(p) => p,
        Err(m) => return err(&m, json, EXIT_USAGE),
    };
    // Reading never creates the database.
    let store = match RunStore::open_existing(&db) {
        Ok(Some(s)) => Arc::new(s),
        Ok(None) => {
            return match args.command {
                RunsCommand::List { json, .. } => {
                    if json {
                        outln!("[]");
                    }
                    EXIT_OK
                }
                _ => err(
                    &format!(
                        "no state database at {} yet: no run is recorded",
                        db.display()
                    ),
                    json,
                    EXIT_USAGE,
                ),
            }
        }
        Err(e) => return err(&e.to_string(), json, EXIT_FAILED),
    };
    match args.command {
        RunsCommand::List {
            flow,
            status,
            limit,
            json,
        } => list(&store, flow, status, limit, json),
        RunsCommand::Show { id, json } => show(&store, id, json),
        RunsCommand::Replay {
            id,
            failed,
            from_failed_step: _,
            from_start,
            latest_version,
            flow,
            json,
        } => {
            let ids = match (id, failed) {
                (Some(id), _) => vec![id],
                (None, _) => match failed_not_replayed(&store, flow.as_deref()) {
                    Ok(ids) => ids,
                    Err(m) => return err(&m, json, EXIT_FAILED),
                },
            };
            replay(
                &cfg,
                &db,
                store,
                ids,
                !from_start,
                latest_version,
                flow,
                json,
            )
            .await
        }
    }
}

fn list(
    store: &RunStore,
    flow: Option<String>,
    status: Option<String>,
    limit: usize,
    json: bool,
) -> i32 {
    if limit == 0 {
        return err("--limit 0: give at least 1", json, EXIT_USAGE);
    }
    let runs = match store.list(&RunFilter {
        flow,
        status,
        limit: Some(limit),
    }) {
        Ok(r) => r,
        Err(e) => return err(&e.to_string(), json, EXIT_FAILED),
    };
    if json {
        outln!(
            "{}",
            serde_json::to_string(&runs).unwrap_or_else(|_| "[]".into())
        );
    } else {
        for r in &runs {
            outln!("{}", run_line(r));
        }
    }
    EXIT_OK
}

fn run_line(r: &RunRecord) -> String {
    let mut s = format!(
        "run {} {} {} v{} key {} started {}",
        r.id, r.status, r.flow, r.version, r.run_key, r.started
    );
    if let Some(at) = r.resume_at.as_ref().filter(|_| r.status == "waiting") {
        s.push_str(&format!(" resumes {at}"));
    }
    if let Some(step) = &r.failed_step {
        s.push_str(&format!(" at step {step}"));
    }
    if let Some(e) = &r.error {
        s.push_str(&format!(": {}", e.replace('\n', " ")));
    }
    s
}

fn show(store: &RunStore, id: i64, json: bool) -> i32 {
    let run = match store.get(id) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return err(
                &format!("no run {id}: `hlbridge runs list` shows the recorded runs"),
                json,
                EXIT_USAGE,
            )
        }
        Err(e) => return err(&e.to_string(), json, EXIT_FAILED),
    };
    let steps = match store.steps(id) {
        Ok(s) => s,
        Err(e) => return err(&e.to_string(), json, EXIT_FAILED),
    };
    if json {
        let mut v = serde_json::to_value(&run).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "steps".into(),
                serde_json::to_value(&steps).unwrap_or(Value::Null),
            );
        }
        outln!("{v}");
        return EXIT_OK;
    }
    outln!("{}", run_line(&run));
    outln!("trigger: {}", run.trigger);
    if let Ok(Some(h)) = store.lease_holder(id) {
        outln!(
            "leased by {} until {} (being executed there)",
            h.owner,
            h.until
        );
    }
    for s in &steps {
        outln!(
            "step {} {} attempt {} started {} finished {}",
            s.step_path,
            s.status,
            s.attempt,
            s.started,
            s.finished.as_deref().unwrap_or("-")
        );
        outln!("  input: {}", s.input);
        if let Some(o) = &s.output {
            outln!("  output: {o}");
        }
        if let Some(e) = &s.error {
            outln!("  error: {e}");
        }
        for r in s.requests.as_array().into_iter().flatten() {
            outln!(
                "  sent: {} {} {}",
                r["method"].as_str().unwrap_or_default(),
                r["url"].as_str().unwrap_or_default(),
                r["body"]
            );
        }
    }
    EXIT_OK
}

/// Failed runs (of `flow`) that no replay was made of yet, oldest first.
fn failed_not_replayed(store: &RunStore, flow: Option<&str>) -> Result<Vec<i64>, String> {
    let all = store
        .list(&RunFilter {
            flow: flow.map(str::to_string),
            status: None,
            limit: Some(100_000),
        })
        .map_err(|e| e.to_string())?;
    let replayed: std::collections::BTreeSet<i64> =
        all.iter().filter_map(|r| r.replay_of).collect();
    let mut ids: Vec<i64> = all
        .iter()
        .filter(|r| r.status == "failed" && !replayed.contains(&r.id))
        .map(|r| r.id)
        .collect();
    ids.sort();
    Ok(ids)
}

#[allow(clippy::too_many_arguments)]
async fn replay(
    cfg: &hlbridge_engine::config::EngineConfig,
    db: &std::path::Path,
    store: Arc<RunStore>,
    ids: Vec<i64>,
    from_failed_step: bool,
    latest: bool,
    flow: Option<String>,
    json: bool,
) -> i32 {
    let registry = match FlowRegistry::open(db) {
        Ok(r) => Arc::new(r),
        Err(e) => return err(&e.to_string(), json, EXIT_FAILED),
    };
    let apps = match crate::flow_run::apps(cfg, true).await {
        Ok(a) => a,
        Err(m) => return err(&m, json, EXIT_FAILED),
    };
    let exec = Executor::new(apps, store.clone(), Arc::new(Templates::new()))
        .with_flows(lookup(Some(registry.clone()), None));
    let mut rows = Vec::new();
    let mut code = EXIT_OK;
    for id in ids {
        let result = replay_one(
            &exec,
            &store,
            &registry,
            id,
            from_failed_step,
            latest,
            flow.as_deref(),
        )
        .await;
        match result {
            Ok(o) => {
                if !matches!(o.status.as_str(), "ok" | "skipped" | "waiting") {
                    code = EXIT_FAILED;
                }
                if json {
                    rows.push(json!({"replay_of": id, "id": o.run_id, "status": o.status, "error": o.error, "failed_step": o.failed_step}));
                } else {
                    let mut line = format!("run {} {} (replay of run {id})", o.run_id, o.status);
                    if let Some(e) = &o.error {
                        line.push_str(&format!(": {}", e.replace('\n', " ")));
                    }
                    outln!("{line}");
                }
            }
            Err((m, c)) => {
                code = code.max(c);
                if json {
                    rows.push(json!({"replay_of": id, "error": m}));
                } else {
                    eprintln!("error: run {id}: {m}");
                }
            }
        }
    }
    if json {
        outln!("{}", Value::Array(rows));
    }
    code
}

async fn replay_one(
    exec: &Executor,
    store: &RunStore,
    registry: &FlowRegistry,
    id: i64,
    from_failed_step: bool,
    latest: bool,
    flow: Option<&str>,
) -> Result<hlbridge_flows::run::RunOutcome, (String, i32)> {
    let usage = |m: String| (m, EXIT_USAGE);
    let run = store
        .get(id)
        .map_err(|e| (e.to_string(), EXIT_FAILED))?
        .ok_or_else(|| {
            usage(format!(
                "no run {id}: `hlbridge runs list` shows the recorded runs"
            ))
        })?;
    if let Some(name) = flow.filter(|n| *n != run.flow) {
        return Err(usage(format!(
            "run {id} is of flow {}, not {name}",
            run.flow
        )));
    }
    let version = if latest {
        registry
            .latest_version(&run.flow)
            .map_err(|e| (e.to_string(), EXIT_FAILED))?
            .unwrap_or(run.version)
    } else {
        run.version
    };
    let f = flow_version(registry, &run.flow, version).map_err(usage)?;
    exec.replay(id, from_failed_step, &f, version)
        .await
        .map_err(|e| match e {
            hlbridge_flows::run::RunError::Refused(m) => usage(m),
            other => (other.to_string(), EXIT_FAILED),
        })
}
