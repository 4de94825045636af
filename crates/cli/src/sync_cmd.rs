//! `hlbridge sync`, `hlbridge status`, `hlbridge conflicts`, `hlbridge notes search`:
//! the two-way GHL ↔ Sellsy sync and its state.
//!
//! Exit codes: 0 done (for `sync --once`: nothing left pending), 1 an API or state
//! store failure, 2 bad configuration or input, 3 `sync --once` finished with work
//! still pending (capped, paused on the daily limit, writes to retry, or deletions
//! held by the mass-deletion guard), each named on stderr.

use std::path::PathBuf;

use hlbridge_engine::config::EngineConfig;
use hlbridge_engine::store::Side;
use hlbridge_engine::{Engine, EngineError, Progress};
use serde_json::json;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_PENDING: i32 = 3;

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Run one complete cycle and exit (0 only when nothing is left pending).
    #[arg(long)]
    pub once: bool,
    /// Show what would be created, updated and linked (counts and a sample), write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Configuration file (mapping, policies, intervals); `HLBRIDGE_*` variables override it.
    #[arg(long, default_value = "hlbridge.toml")]
    pub config: PathBuf,
    /// Print one JSON object per cycle.
    #[arg(long)]
    pub json: bool,
    /// Apply the deletions the mass-deletion guard holds (more than 10% or 50 of
    /// the linked records of a kind vanished from one side in one cycle).
    #[arg(long)]
    pub confirm_deletions: bool,
    /// Sync only this stored pair (default: every stored pair, or, when none is
    /// stored, the accounts given by `HLBRIDGE_*` variables and the configuration file).
    #[arg(long)]
    pub pair: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[arg(long, default_value = "hlbridge.toml")]
    pub config: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ConflictsArgs {
    #[command(subcommand)]
    pub command: Option<ConflictsCommand>,
    #[arg(long, default_value = "hlbridge.toml", global = true)]
    pub config: PathBuf,
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConflictsCommand {
    /// List conflicts waiting for a decision (`--all`: resolved ones too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Resolve a conflict by taking one side's value; the next sync writes it across.
    Resolve {
        id: i64,
        #[arg(long, value_parser = ["ghl", "sellsy"])]
        take: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct NotesArgs {
    #[command(subcommand)]
    pub command: NotesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum NotesCommand {
    /// Full-text search over every archived note of both systems.
    Search {
        /// Words to find (all of them).
        text: String,
        /// Only notes of this contact (GHL or Sellsy id).
        #[arg(long)]
        contact: Option<String>,
        #[arg(long, default_value = "hlbridge.toml")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

fn exit_for(e: &EngineError) -> i32 {
    match e {
        EngineError::Config(_) | EngineError::Mapping(_) => EXIT_USAGE,
        EngineError::Api { source, .. } if source.is_input_error() => EXIT_USAGE,
        _ => EXIT_FAILED,
    }
}

pub(crate) fn fail(e: &EngineError, json: bool) -> i32 {
    if json {
        eprintln!("{}", json!({ "error": { "message": e.to_string() } }));
    } else {
        eprintln!("error: {}", e.to_string().replace('\n', " "));
    }
    exit_for(e)
}

/// The config file is optional unless given explicitly with a non-default name.
pub(crate) fn load_config(path: &std::path::Path) -> Result<EngineConfig, EngineError> {
    let required = path != std::path::Path::new("hlbridge.toml");
    EngineConfig::load(Some(path), required)
}

pub(crate) fn print_progress(p: &Progress, json: bool) {
    match p {
        Progress::Cycle(report) => {
            if json {
                outln!("{}", serde_json::to_string(report).unwrap_or_default());
            } else {
                outln!("{}", report.line());
                for e in report.errors.iter().take(5) {
                    eprintln!("  warning: {e}");
                }
                if report.dry_run {
                    for s in &report.samples {
                        outln!(
                            "  {} {} {} → {}: {}",
                            s.action,
                            s.target,
                            s.target_id.as_deref().unwrap_or("(new)"),
                            s.source_id,
                            s.changes
                        );
                    }
                }
            }
        }
        Progress::Read { side, count } if !json => {
            eprintln!("  read {count} changed contacts from {side}")
        }
        Progress::Reconciled { done, total } if !json && (*done == *total || done % 500 == 0) => {
            eprintln!("  reconciled {done}/{total}")
        }
        Progress::Swept { done, total } if !json && *done == *total => {
            eprintln!("  read the GHL notes of {done}/{total} linked contacts due this cycle")
        }
        _ => {}
    }
}

pub async fn run_sync(args: SyncArgs) -> i32 {
    if let Some(code) = crate::pairs_sync::run(&args).await {
        return code;
    }
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(e) => return fail(&e, args.json),
    };
    if !args.once && !args.dry_run {
        if let Err(e) = config.poll_interval() {
            return fail(&e, args.json);
        }
    }
    let engine = match Engine::connect(config).await {
        Ok(e) => e,
        Err(e) => return fail(&e, args.json),
    };
    let json = args.json;
    engine.confirm_deletions(args.confirm_deletions);
    let progress = move |p: Progress| print_progress(&p, json);
    if args.once || args.dry_run {
        return match engine.run_once(args.dry_run, &progress).await {
            Ok(report) if args.dry_run || report.is_clean() => EXIT_OK,
            Ok(report) => {
                if !json {
                    for why in left_over(&report) {
                        eprintln!("not done: {why}");
                    }
                }
                EXIT_PENDING
            }
            Err(e) => fail(&e, json),
        };
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("stopping (Ctrl-C): the state is saved, the next start resumes");
    };
    match engine.run_continuous(&progress, shutdown).await {
        Ok(()) => EXIT_OK,
        Err(e) => fail(&e, json),
    }
}

/// What keeps a `sync --once` from being complete, in words.
pub(crate) fn left_over(r: &hlbridge_engine::CycleReport) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(r.held_reasons.iter().cloned());
    if r.pending > 0 {
        out.push(format!(
            "{} records or writes still pending (`hlbridge status` lists them; run again to continue)",
            r.pending
        ));
    }
    if r.waiting > 0 {
        out.push(format!(
            "{} creates whose answer was lost wait for GHL's search to show them",
            r.waiting
        ));
    }
    if r.failed_now > 0 {
        out.push(format!(
            "{} writes were refused by an API and given up on (see `hlbridge status`)",
            r.failed_now
        ));
    }
    if r.capped {
        out.push("the per-run write cap (sync.max_writes_per_run) was reached".into());
    }
    if let Some(p) = &r.paused {
        out.push(p.clone());
    }
    out
}

/// The state store of a command that only reads it (or resolves a conflict in it):
/// while no sync has created it, a plain message and exit 2, and nothing is created.
pub(crate) fn open_existing_store(
    config_path: &std::path::Path,
    json: bool,
) -> Result<std::sync::Arc<dyn hlbridge_engine::store::StateStore>, i32> {
    let config = load_config(config_path).map_err(|e| fail(&e, json))?;
    let url = config.database_url();
    match hlbridge_engine::store::open_existing(&url) {
        Ok(Some(store)) => Ok(store),
        Ok(None) => {
            let path = hlbridge_engine::store::sqlite_path(&url)
                .map(|p| p.display().to_string())
                .unwrap_or(url);
            let msg = format!("no sync state at {path} yet: run `hlbridge sync` first");
            if json {
                eprintln!("{}", json!({ "error": { "message": msg } }));
            } else {
                eprintln!("error: {msg}");
            }
            Err(EXIT_USAGE)
        }
        Err(e) => Err(fail(&e, json)),
    }
}

pub async fn run_status(args: StatusArgs) -> i32 {
    let store = match open_existing_store(&args.config, args.json) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match hlbridge_engine::admin::status(store.as_ref()) {
        Ok(st) if args.json => {
            outln!("{}", serde_json::to_string(&st).unwrap_or_default());
            EXIT_OK
        }
        Ok(st) => {
            outln!(
                "links: {} contacts, {} tasks, {} notes",
                st.links.get("contact").unwrap_or(&0),
                st.links.get("task").unwrap_or(&0),
                st.links.get("note").unwrap_or(&0)
            );
            outln!(
                "contacts seen: GHL {}, Sellsy {}; waiting to reconcile: {}",
                st.records.get("ghl").unwrap_or(&0),
                st.records.get("sellsy").unwrap_or(&0),
                st.dirty
            );
            let outbox: Vec<String> = st.outbox.iter().map(|(k, v)| format!("{k} {v}")).collect();
            outln!(
                "writes: {}",
                if outbox.is_empty() {
                    "none".into()
                } else {
                    outbox.join(", ")
                }
            );
            outln!("open conflicts: {}", st.open_conflicts);
            if st.deletions_held > 0 {
                outln!(
                    "deletions held by the mass-deletion guard: {} (apply with `hlbridge sync --once --confirm-deletions`)",
                    st.deletions_held
                );
            }
            outln!(
                "GHL notes sweep: {}/{} linked contacts read{}",
                st.notes_sweep.covered,
                st.notes_sweep.total,
                st.notes_sweep
                    .oldest_age_seconds
                    .map(|s| format!(", oldest read {s} s ago"))
                    .unwrap_or_default()
            );
            if let Some(p) = &st.paused {
                outln!("PAUSED: {p}");
            }
            match st.last_cycle.as_ref() {
                Some(c) => outln!(
                    "last cycle: {} ({})",
                    c.get("at").and_then(|v| v.as_str()).unwrap_or("?"),
                    c.pointer("/report/seconds")
                        .and_then(|v| v.as_f64())
                        .map_or("?".into(), |s| format!("{s:.1}s"))
                ),
                None => outln!("last cycle: never"),
            }
            EXIT_OK
        }
        Err(e) => fail(&e, args.json),
    }
}

pub async fn run_conflicts(args: ConflictsArgs) -> i32 {
    let store = match open_existing_store(&args.config, args.json) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match args
        .command
        .unwrap_or(ConflictsCommand::List { all: false })
    {
        ConflictsCommand::List { all } => {
            match hlbridge_engine::admin::conflicts(store.as_ref(), all) {
                Ok(list) if args.json => {
                    outln!("{}", serde_json::to_string(&list).unwrap_or_default());
                    EXIT_OK
                }
                Ok(list) => {
                    if list.is_empty() {
                        outln!("no conflicts");
                    }
                    for c in list {
                        outln!(
                            "#{} {} {} (GHL {} / Sellsy {}): GHL {} vs Sellsy {}{}",
                            c.id,
                            c.kind.as_str(),
                            c.field,
                            c.ghl_id,
                            c.sellsy_id,
                            c.ghl_value,
                            c.sellsy_value,
                            c.resolution.map(|r| format!(" [{r}]")).unwrap_or_default()
                        );
                    }
                    EXIT_OK
                }
                Err(e) => fail(&e, args.json),
            }
        }
        ConflictsCommand::Resolve { id, take } => {
            let side = if take == "ghl" {
                Side::Ghl
            } else {
                Side::Sellsy
            };
            match hlbridge_engine::admin::resolve_conflict(store.as_ref(), id, side) {
                Ok(c) => {
                    if args.json {
                        outln!(
                            "{}",
                            json!({ "resolved": id, "take": take, "field": c.field })
                        );
                    } else {
                        outln!(
                            "conflict #{id} resolved: {} takes the {take} value at the next sync",
                            c.field
                        );
                    }
                    EXIT_OK
                }
                Err(e) => fail(&e, args.json),
            }
        }
    }
}

pub async fn run_notes(args: NotesArgs) -> i32 {
    let NotesCommand::Search {
        text,
        contact,
        config,
        json,
    } = args.command;
    let store = match open_existing_store(&config, json) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match hlbridge_engine::admin::search_notes(store.as_ref(), &text, contact.as_deref()) {
        Ok(hits) if json => {
            outln!("{}", serde_json::to_string(&hits).unwrap_or_default());
            EXIT_OK
        }
        Ok(hits) => {
            if hits.is_empty() {
                outln!("no notes match");
            }
            for h in hits {
                outln!(
                    "{} note {} (GHL contact {}, Sellsy contact {}): {}",
                    h.side.label(),
                    h.note_id,
                    h.ghl_contact_id.as_deref().unwrap_or("-"),
                    h.sellsy_contact_id.as_deref().unwrap_or("-"),
                    h.snippet
                );
            }
            EXIT_OK
        }
        Err(e) => fail(&e, json),
    }
}
