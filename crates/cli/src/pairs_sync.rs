//! `hlbridge sync` over stored pairs: `--pair ID`, or every stored pair when the state
//! database holds any. Without stored pairs, `sync` runs on the accounts given by the
//! `HLBRIDGE_*` variables and the configuration file, as it always did.

use hlbridge_accounts::{Accounts, Pair};
use hlbridge_engine::Progress;
use hlbridge_service::runner::{engine_for_pair, RunnerError};

use crate::sync_cmd::{
    left_over, print_progress, SyncArgs, EXIT_FAILED, EXIT_OK, EXIT_PENDING, EXIT_USAGE,
};

fn runner_exit(e: &RunnerError) -> i32 {
    match e {
        RunnerError::Accounts(a) if a.is_input() => EXIT_USAGE,
        RunnerError::Config(_) => EXIT_USAGE,
        RunnerError::Engine(hlbridge_engine::EngineError::Config(_)) => EXIT_USAGE,
        _ => EXIT_FAILED,
    }
}

/// `None`: no stored pair applies, run the implicit (environment) pair.
pub async fn run(args: &SyncArgs) -> Option<i32> {
    let cfg = match crate::sync_cmd::load_config(&args.config) {
        Ok(c) => c,
        // The implicit path reports configuration errors itself.
        Err(_) if args.pair.is_none() => return None,
        Err(e) => return Some(crate::sync_cmd::fail(&e, args.json)),
    };
    let url = cfg.database_url();
    let registry = match crate::connections_cmd::existing_registry(&url) {
        Ok(Some(r)) => r,
        Ok(None) if args.pair.is_none() => return None,
        Ok(None) => {
            eprintln!(
                "error: --pair {}: no state database at {url}",
                args.pair.as_deref().unwrap_or_default()
            );
            return Some(EXIT_USAGE);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Some(EXIT_FAILED);
        }
    };
    let pairs: Vec<Pair> = match registry.pairs() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Some(EXIT_FAILED);
        }
    };
    let chosen: Vec<Pair> = match &args.pair {
        Some(id) => match pairs.into_iter().find(|p| &p.id == id) {
            Some(p) => vec![p],
            None => {
                eprintln!("error: --pair {id}: no such pair; `hlbridge pairs list` shows them");
                return Some(EXIT_USAGE);
            }
        },
        None if pairs.is_empty() => return None,
        None => pairs,
    };
    let accounts = Accounts::new(registry, crate::budgets::shared_for(&url));
    Some(sync_pairs(args, &accounts, &chosen).await)
}

async fn sync_pairs(args: &SyncArgs, accounts: &Accounts, pairs: &[Pair]) -> i32 {
    let json = args.json;
    let mut engines = Vec::new();
    for pair in pairs {
        match engine_for_pair(accounts, pair).await {
            Ok(e) => {
                e.confirm_deletions(args.confirm_deletions);
                engines.push((pair.id.clone(), e));
            }
            Err(e) => {
                eprintln!("error: pair {}: {e}", pair.id);
                return runner_exit(&e);
            }
        }
    }
    if args.once || args.dry_run {
        let mut code = EXIT_OK;
        for (id, engine) in &engines {
            if !json && engines.len() > 1 {
                eprintln!("pair {id}:");
            }
            let progress = move |p: Progress| print_progress(&p, json);
            match engine.run_once(args.dry_run, &progress).await {
                Ok(report) if args.dry_run || report.is_clean() => {}
                Ok(report) => {
                    if !json {
                        for why in left_over(&report) {
                            eprintln!("not done: pair {id}: {why}");
                        }
                    }
                    code = code.max(EXIT_PENDING);
                }
                Err(e) => {
                    eprintln!("error: pair {id}: {e}");
                    code = if code == EXIT_OK { EXIT_FAILED } else { code };
                }
            }
        }
        return code;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runs = engines.iter().map(|(id, engine)| {
        let mut rx = stop_rx.clone();
        let id = id.clone();
        async move {
            let progress = move |p: Progress| {
                if let Progress::Cycle(r) = &p {
                    if !json {
                        outln!("pair {id}: {}", r.line());
                        return;
                    }
                }
                print_progress(&p, json)
            };
            let shutdown = async move {
                let _ = rx.changed().await;
            };
            engine.run_continuous(&progress, shutdown).await
        }
    });
    let all = futures::future::join_all(runs);
    tokio::pin!(all);
    let results = tokio::select! {
        r = &mut all => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("stopping (Ctrl-C): the state is saved, the next start resumes");
            let _ = stop_tx.send(true);
            all.await
        }
    };
    for r in results {
        if let Err(e) = r {
            return crate::sync_cmd::fail(&e, json);
        }
    }
    EXIT_OK
}

/// The state stores a read-only command looks at: with `--pair ID` of a stored pair,
/// that pair's own state file; without it, every stored pair's that exists. `None`:
/// no stored pair applies (the command reads the configured database as before).
/// Nothing is created.
pub fn pair_stores(
    config_path: &std::path::Path,
    pair: Option<&str>,
) -> Option<
    Vec<(
        String,
        std::sync::Arc<dyn hlbridge_engine::store::StateStore>,
    )>,
> {
    let cfg = crate::sync_cmd::load_config(config_path).ok()?;
    let registry = crate::connections_cmd::existing_registry(&cfg.database_url()).ok()??;
    let pairs = registry.pairs().ok()?;
    let chosen: Vec<Pair> = match pair {
        Some(id) => pairs.into_iter().filter(|p| p.id == id).collect(),
        None => pairs,
    };
    if chosen.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for p in chosen {
        let url = format!("sqlite://{}", registry.pair_state_path(&p.id).display());
        if let Ok(Some(store)) = hlbridge_engine::store::open_existing(&url) {
            out.push((p.id, store));
        }
    }
    Some(out)
}
