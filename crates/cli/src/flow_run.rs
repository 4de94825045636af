//! `hlbridge flow test FILE` and `hlbridge flow run FILE --once`: a flow's runs from
//! the command line.
//!
//! - `flow test`: one item (`--item JSON|@FILE`, or `--sample`: the newest recorded
//!   trigger item of that flow, else the first item one read of its poll operation
//!   returns) through every step. Reads are real; every write is printed (method, URL,
//!   body; never the Authorization header) instead of being sent. Nothing is written.
//! - `flow run --once`: records the file as a version of its flow, continues that
//!   flow's runs a crash left `running`, polls the trigger once (`--item` for webhook
//!   and schedule triggers) and runs every item to completion. Delays of at most 30 s
//!   are waited; longer ones leave the run `waiting`. One line per run: `run ID STATUS`.
//!   Exit 0 when every run is ok, skipped or waiting, 1 when any failed, 2 on bad input.
//!
//! Connections and the database are those of `sync`: `HLBRIDGE_*` variables (or the
//! configuration file), else the stored connections.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hlbridge_flows::deploy::FlowRegistry;
use hlbridge_flows::model::{Flow, Trigger};
use hlbridge_flows::run::{Apps, Executor, RunOutcome, RunStore, TriggerItem};
use hlbridge_flows::template::Templates;
use serde_json::{json, Value};

use crate::sync_cmd::{load_config, EXIT_FAILED, EXIT_OK, EXIT_USAGE};

mod connect;
use connect::sample;
pub(crate) use connect::{apps, db_path};

/// Longest delay `flow run --once` waits for before exiting.
pub const WAIT_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    pub file: PathBuf,
    /// The trigger item: JSON text, or @FILE.
    #[arg(long, conflicts_with = "sample")]
    pub item: Option<String>,
    /// Use the latest real trigger item (the newest run's, else one poll of the trigger).
    #[arg(long)]
    pub sample: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = "hlbridge.toml")]
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    pub file: PathBuf,
    /// Poll the trigger once, run every item to completion, exit (exit 0 when every
    /// run is ok, skipped or waiting; 1 when any failed).
    #[arg(long, required = true)]
    pub once: bool,
    /// On the first poll, take the items already there (default: only later ones).
    #[arg(long)]
    pub from_beginning: bool,
    /// Run this item instead of polling (webhook and schedule triggers): JSON or @FILE.
    #[arg(long)]
    pub item: Option<String>,
    /// Print a JSON array of the runs.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = "hlbridge.toml")]
    pub config: PathBuf,
}

/// A usage error: message for stderr, exit 2.
pub(crate) struct Usage(pub String);

/// `--item JSON` or `--item @FILE`.
pub(crate) fn parse_item(raw: &str) -> Result<Value, Usage> {
    let (text, source) = match raw.strip_prefix('@') {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| Usage(format!("--item @{path}: cannot read the file: {e}")))?,
            format!("--item @{path}"),
        ),
        None => (raw.to_string(), "--item".to_string()),
    };
    serde_json::from_str(&text).map_err(|e| {
        Usage(format!(
            "{source} is not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })
}

use hlbridge_flows::run::item_key;

fn load_flow(file: &Path) -> Result<(Flow, String), Usage> {
    hlbridge_flows::validate::load(file).map_err(|problems| {
        Usage(
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// The flows `call_flow` reaches: `own` at `version`, the others as deployed.
pub(crate) fn lookup(
    registry: Option<Arc<FlowRegistry>>,
    own: Option<(Flow, i64)>,
) -> Box<hlbridge_flows::run::FlowLookup> {
    Box::new(move |name: &str| {
        if let Some((f, v)) = own.as_ref().filter(|(f, _)| f.name == name) {
            return Some((f.clone(), *v));
        }
        let d = registry.as_ref()?.get(name).ok()??;
        let flow = hlbridge_flows::validate::parse(&d.name, &d.text).ok()?;
        Some((flow, d.version))
    })
}

fn usage(msg: &str, json: bool) -> i32 {
    if json {
        eprintln!("{}", json!({"error": {"message": msg}}));
    } else {
        for line in msg.lines() {
            eprintln!("{line}");
        }
    }
    EXIT_USAGE
}

fn failed(msg: &str, json: bool) -> i32 {
    if json {
        eprintln!("{}", json!({"error": {"message": msg}}));
    } else {
        eprintln!("error: {msg}");
    }
    EXIT_FAILED
}

pub async fn run_test(args: TestArgs) -> i32 {
    let (flow, _) = match load_flow(&args.file) {
        Ok(f) => f,
        Err(Usage(m)) => return usage(&m, args.json),
    };
    if args.item.is_none() && !args.sample {
        return usage(
            "flow test: give the trigger item with --item JSON|@FILE, or --sample",
            args.json,
        );
    }
    let cfg = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => return usage(&e.to_string(), args.json),
    };
    let db = match db_path(&cfg) {
        Ok(p) => p,
        Err(m) => return usage(&m, args.json),
    };
    // No outbox: a dry run writes nothing, not even the notes archive.
    let apps = match apps(&cfg, false).await {
        Ok(a) => a,
        Err(m) => return failed(&m, args.json),
    };
    let item = match &args.item {
        Some(raw) => match parse_item(raw) {
            Ok(payload) => TriggerItem {
                key: item_key(&payload),
                payload,
                previous: None,
            },
            Err(Usage(m)) => return usage(&m, args.json),
        },
        None => match sample(&flow, &db, &apps).await {
            Ok(i) => i,
            Err(m) => return failed(&m, args.json),
        },
    };
    // Only read: a missing database is not created.
    let registry = if db.exists() {
        FlowRegistry::open(&db).ok().map(Arc::new)
    } else {
        None
    };
    let scratch = match RunStore::open(Path::new(":memory:")) {
        Ok(s) => Arc::new(s),
        Err(e) => return failed(&e.to_string(), args.json),
    };
    let exec =
        Executor::new(apps, scratch, Arc::new(Templates::new())).with_flows(lookup(registry, None));
    let out = match exec.dry_run(&flow, item).await {
        Ok(o) => o,
        Err(e) => return failed(&e.to_string(), args.json),
    };
    if args.json {
        outln!(
            "{}",
            json!({"status": out.status, "error": out.error, "failed_step": out.failed_step, "writes": out.writes, "steps": out.trace})
        );
    } else {
        for t in &out.trace {
            let step = t["step"].as_str().unwrap_or_default();
            match (t.get("error"), t.get("status")) {
                (Some(e), _) => outln!("step {step}: failed: {}", e.as_str().unwrap_or_default()),
                (None, Some(s)) => outln!("step {step}: {}", s.as_str().unwrap_or_default()),
                _ => outln!("step {step}: ok {}", t["output"]),
            }
        }
        for w in &out.writes {
            let step = w["step"].as_str().unwrap_or_default();
            let op = w["operation"].as_str().unwrap_or_default();
            if let Some(why) = w.get("unresolved") {
                outln!(
                    "would send {op} (step {step}), not rendered: {}",
                    why.as_str().unwrap_or_default()
                );
                continue;
            }
            let r = &w["request"];
            match (r["method"].as_str(), r["url"].as_str()) {
                (Some(m), Some(u)) => {
                    outln!("would send {m} {u} (step {step})\n  body: {}", r["body"])
                }
                _ => outln!("would run {op} (step {step}): {r}"),
            }
        }
        outln!(
            "result: {}{}",
            out.status,
            out.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
    if out.status == "failed" {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn line(o: &RunOutcome) -> String {
    let mut s = format!("run {} {}", o.run_id, o.status);
    if let Some(e) = &o.error {
        s.push_str(&format!(": {}", e.replace('\n', " ")));
    }
    s
}

/// The flow a run of `name` version `v` was started with.
pub(crate) fn flow_version(registry: &FlowRegistry, name: &str, v: i64) -> Result<Flow, String> {
    let d = registry
        .version(name, v)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("version {v} of flow {name} is not recorded"))?;
    hlbridge_flows::validate::parse(&d.name, &d.text).map_err(|p| {
        format!(
            "version {v} of flow {name} no longer parses: {}",
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

pub async fn run_once(args: RunArgs) -> i32 {
    let json = args.json;
    let (flow, text) = match load_flow(&args.file) {
        Ok(f) => f,
        Err(Usage(m)) => return usage(&m, json),
    };
    let given = match args.item.as_deref().map(parse_item).transpose() {
        Ok(i) => i,
        Err(Usage(m)) => return usage(&m, json),
    };
    if given.is_none() && !matches!(flow.trigger, Trigger::Poll(_) | Trigger::Schedule(_)) {
        return usage(
            &format!(
                "flow {} has a webhook trigger: give the event with --item JSON|@FILE",
                flow.name
            ),
            json,
        );
    }
    let cfg = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => return usage(&e.to_string(), json),
    };
    let db = match db_path(&cfg) {
        Ok(p) => p,
        Err(m) => return usage(&m, json),
    };
    let registry = match FlowRegistry::open(&db) {
        Ok(r) => Arc::new(r),
        Err(e) => return failed(&e.to_string(), json),
    };
    let version = match registry.record_version(&text) {
        Ok(d) => d.version,
        Err(e) => return usage(&e.to_string(), json),
    };
    let apps = match apps(&cfg, true).await {
        Ok(a) => a,
        Err(m) => return failed(&m, json),
    };
    let store = match RunStore::open(&db) {
        Ok(s) => Arc::new(s),
        Err(e) => return failed(&e.to_string(), json),
    };
    let exec = Executor::new(apps, store.clone(), Arc::new(Templates::new())).with_flows(lookup(
        Some(registry.clone()),
        Some((flow.clone(), version)),
    ));
    let mut outcomes: Vec<RunOutcome> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    // 1. Runs a crash left running (and, when enqueued, never started).
    let running = exec.runs_of(&flow.name, "running").unwrap_or_default();
    for (id, v) in running {
        let f = if v == version {
            Ok(flow.clone())
        } else {
            flow_version(&registry, &flow.name, v)
        };
        match f {
            Ok(f) => match exec.resume(id, &f).await {
                Ok(o) => outcomes.push(o),
                // Another process (`serve`) is executing it: not ours to run.
                Err(e @ hlbridge_flows::run::RunError::Leased { .. }) => eprintln!("{e}"),
                Err(e) => problems.push(format!("run {id}: {e}")),
            },
            Err(m) => problems.push(format!("run {id}: {m}")),
        }
    }
    // 2. The new items: given, or one poll (each recorded before it is remembered).
    let mut new_ids: Vec<i64> = Vec::new();
    match given {
        Some(payload) => {
            let item = TriggerItem {
                key: item_key(&payload),
                payload,
                previous: None,
            };
            match exec.enqueue(&flow, version, &item) {
                Ok(Ok(id)) => new_ids.push(id),
                Ok(Err(id)) => {
                    if let Ok(Some(run)) = store.get(id) {
                        eprintln!("run {id} already ran this item ({})", run.status);
                    }
                }
                Err(e) => return failed(&e.to_string(), json),
            }
        }
        None => {
            let mut emit = |item: TriggerItem| -> Result<(), String> {
                match exec.enqueue(&flow, version, &item) {
                    Ok(Ok(id)) => {
                        new_ids.push(id);
                        Ok(())
                    }
                    Ok(Err(_)) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            };
            let polled = match &flow.trigger {
                Trigger::Schedule(_) => {
                    let slot = chrono::Utc::now();
                    emit(hlbridge_flows::triggers::schedule_item(&flow, slot)).map(|_| ())
                }
                _ => hlbridge_flows::triggers::poll_once(exec_apps(&exec), &db, &flow, args.from_beginning, &mut emit)
                    .await
                    .map(|s| {
                        if s.baseline && !json {
                            eprintln!(
                                "first poll of {}: {} existing items recorded as seen (use --from-beginning to run them)",
                                flow.name, s.seen
                            );
                        }
                    })
                    .map_err(|e| e.to_string()),
            };
            if let Err(m) = polled {
                return failed(&format!("trigger of {}: {m}", flow.name), json);
            }
        }
    }
    for id in new_ids {
        match exec.resume(id, &flow).await {
            Ok(o) => outcomes.push(o),
            Err(e) => problems.push(format!("run {id}: {e}")),
        }
    }
    // 3. Short delays are waited for; longer ones stay waiting.
    wait_short_delays(
        &exec,
        &store,
        &flow,
        version,
        &registry,
        &mut outcomes,
        &mut problems,
    )
    .await;
    print_outcomes(&outcomes, &problems, json)
}

fn exec_apps(exec: &Executor) -> &Apps {
    exec.apps()
}

async fn wait_short_delays(
    exec: &Executor,
    store: &RunStore,
    flow: &Flow,
    version: i64,
    registry: &FlowRegistry,
    outcomes: &mut Vec<RunOutcome>,
    problems: &mut Vec<String>,
) {
    loop {
        let waiting = exec.runs_of(&flow.name, "waiting").unwrap_or_default();
        let now = chrono::Utc::now();
        let mut next: Option<(i64, i64, chrono::DateTime<chrono::Utc>)> = None;
        for (id, v) in waiting {
            let at = store
                .resume_at(id)
                .ok()
                .flatten()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or(now);
            if at - now <= chrono::Duration::from_std(WAIT_LIMIT).unwrap_or_default()
                && next.is_none_or(|(_, _, n)| at < n)
            {
                next = Some((id, v, at));
            }
        }
        let Some((id, v, at)) = next else { return };
        if let Ok(wait) = (at - now).to_std() {
            tokio::time::sleep(wait + Duration::from_millis(5)).await;
        }
        let f = if v == version {
            Ok(flow.clone())
        } else {
            flow_version(registry, &flow.name, v)
        };
        let result = match f {
            Ok(f) => exec.resume(id, &f).await.map_err(|e| e.to_string()),
            Err(m) => Err(m),
        };
        outcomes.retain(|o| o.run_id != id);
        match result {
            Ok(o) => outcomes.push(o),
            Err(m) => {
                problems.push(format!("run {id}: {m}"));
                return;
            }
        }
    }
}

fn print_outcomes(outcomes: &[RunOutcome], problems: &[String], json: bool) -> i32 {
    let mut sorted: Vec<&RunOutcome> = outcomes.iter().collect();
    sorted.sort_by_key(|o| o.run_id);
    if json {
        let rows: Vec<Value> = sorted
            .iter()
            .map(|o| json!({"id": o.run_id, "status": o.status, "error": o.error, "failed_step": o.failed_step}))
            .collect();
        outln!("{}", Value::Array(rows));
    } else {
        for o in &sorted {
            outln!("{}", line(o));
        }
    }
    for p in problems {
        eprintln!("error: {p}");
    }
    let any_failed = sorted
        .iter()
        .any(|o| !matches!(o.status.as_str(), "ok" | "skipped" | "waiting"));
    if any_failed || !problems.is_empty() {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}
