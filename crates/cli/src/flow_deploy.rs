//! `hlbridge flow deploy FILE [--pair ID]`, `flow list [--json]`, `flow enable NAME`,
//! `flow disable NAME`: the registry of deployed flows (run by `hlbridge serve`).
//!
//! Exit codes: 0 done; 2 an invalid file (one `FILE:LINE:COL: message` per problem on
//! stderr), an unknown pair or flow; 1 the state database failed.

use std::path::PathBuf;

use hlbridge_flows::deploy::{DeployError, Deployed, FlowRegistry};
use hlbridge_flows::model::Trigger;
use serde_json::json;

use crate::sync_cmd::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The flow file (`NAME.flow.yaml`); it is validated first.
    pub file: PathBuf,
    /// The GHL ↔ Sellsy pair the flow runs for (`hlbridge pairs list`).
    #[arg(long)]
    pub pair: Option<String>,
    #[arg(
        long,
        env = "HLBRIDGE_DATABASE_URL",
        default_value = "sqlite://hlbridge.sqlite"
    )]
    pub database_url: String,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// One JSON array: name, version, enabled, pair, trigger, deployed_at.
    #[arg(long)]
    pub json: bool,
    #[arg(
        long,
        env = "HLBRIDGE_DATABASE_URL",
        default_value = "sqlite://hlbridge.sqlite"
    )]
    pub database_url: String,
}

#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// A deployed flow's name (`hlbridge flow list`).
    pub name: String,
    #[arg(
        long,
        env = "HLBRIDGE_DATABASE_URL",
        default_value = "sqlite://hlbridge.sqlite"
    )]
    pub database_url: String,
}

fn db_path(url: &str) -> Result<PathBuf, i32> {
    hlbridge_accounts::sqlite_path(url).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })
}

fn registry(url: &str) -> Result<FlowRegistry, i32> {
    FlowRegistry::open(&db_path(url)?).map_err(report)
}

fn report(e: DeployError) -> i32 {
    match &e {
        DeployError::Invalid(problems) => {
            for p in problems {
                eprintln!("{p}");
            }
            EXIT_USAGE
        }
        DeployError::NotFound(_) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
        DeployError::Store(_) => {
            eprintln!("error: {e}");
            EXIT_FAILED
        }
    }
}

/// One line saying what starts the flow.
pub fn trigger_summary(text: &str) -> String {
    let Ok(flow) = hlbridge_flows::validate::parse("flow", text) else {
        return "?".into();
    };
    match flow.trigger {
        Trigger::Poll(p) => {
            let on = format!("{:?}", p.on).to_lowercase();
            format!("poll {} every {} ({on})", p.operation, p.every)
        }
        Trigger::Webhook(w) => format!("webhook {}: {}", w.app, w.events.join(", ")),
        Trigger::Schedule(s) => format!(
            "schedule \"{}\" {}",
            s.cron,
            s.tz.as_deref().unwrap_or("UTC")
        ),
    }
}

fn check_pair(url: &str, pair: &str) -> Result<(), i32> {
    let path = db_path(url)?;
    let reg = hlbridge_accounts::Registry::open_existing(&path).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_FAILED
    })?;
    let found = match reg {
        Some(reg) => reg.pair(pair).map_err(|e| {
            eprintln!("error: {e}");
            EXIT_FAILED
        })?,
        None => None,
    };
    if found.is_none() {
        eprintln!(
            "error: --pair {pair}: no such pair in {url}; `hlbridge pairs list` shows them, `hlbridge pairs add` creates one"
        );
        return Err(EXIT_USAGE);
    }
    Ok(())
}

pub async fn deploy(args: DeployArgs) -> i32 {
    let file = args.file.display().to_string();
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}:1:1: cannot read the file: {e}");
            return EXIT_USAGE;
        }
    };
    // Problems of the file come before a problem of the pair.
    if let Err(problems) = hlbridge_flows::validate::validate(&file, &text) {
        return report(DeployError::Invalid(problems));
    }
    if let Some(pair) = &args.pair {
        if let Err(code) = check_pair(&args.database_url, pair) {
            return code;
        }
    }
    let reg = match registry(&args.database_url) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match reg.deploy_file(&file, &text, args.pair.as_deref()) {
        Ok(d) => {
            outln!("deployed {} version {}", d.name, d.version);
            EXIT_OK
        }
        Err(e) => report(e),
    }
}

fn row(d: &Deployed) -> serde_json::Value {
    json!({
        "name": d.name,
        "version": d.version,
        "enabled": d.enabled,
        "pair": d.pair,
        "trigger": trigger_summary(&d.text),
        "deployed_at": d.deployed_at,
    })
}

pub async fn list(args: ListArgs) -> i32 {
    let path = match db_path(&args.database_url) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // A read never creates the state database.
    let flows = if path.exists() {
        match FlowRegistry::open(&path).and_then(|r| r.list()) {
            Ok(f) => f,
            Err(e) => return report(e),
        }
    } else {
        Vec::new()
    };
    if args.json {
        let rows: Vec<_> = flows.iter().map(row).collect();
        outln!("{}", serde_json::Value::Array(rows));
        return EXIT_OK;
    }
    if flows.is_empty() {
        outln!("no deployed flows: `hlbridge flow deploy FILE` deploys one");
        return EXIT_OK;
    }
    let name_w = flows.iter().map(|d| d.name.len()).max().unwrap_or(4).max(4);
    let pair_w = flows
        .iter()
        .map(|d| d.pair.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(4)
        .max(4);
    outln!(
        "{:<name_w$}  {:>7}  {:<8}  {:<pair_w$}  {:<20}  TRIGGER",
        "NAME",
        "VERSION",
        "ENABLED",
        "PAIR",
        "DEPLOYED_AT"
    );
    for d in &flows {
        outln!(
            "{:<name_w$}  {:>7}  {:<8}  {:<pair_w$}  {:<20}  {}",
            d.name,
            d.version,
            if d.enabled { "yes" } else { "no" },
            d.pair.as_deref().unwrap_or("-"),
            d.deployed_at,
            trigger_summary(&d.text)
        );
    }
    EXIT_OK
}

pub async fn set_enabled(args: NameArgs, enabled: bool) -> i32 {
    let path = match db_path(&args.database_url) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !path.exists() {
        return report(DeployError::NotFound(args.name));
    }
    let reg = match registry(&args.database_url) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match reg.set_enabled(&args.name, enabled) {
        Ok(()) => {
            outln!(
                "{} {}",
                if enabled { "enabled" } else { "disabled" },
                args.name
            );
            EXIT_OK
        }
        Err(e) => report(e),
    }
}
