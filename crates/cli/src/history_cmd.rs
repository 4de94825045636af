//! `hlbridge history`: the per-record history of the sync's writes, read from the
//! state database (never created by this command): when, which pair, what triggered
//! the write (poll, webhook, flow), the side written, the record ids on both sides,
//! the fields changed (old → new), which side won and how the write ended.

use std::path::PathBuf;

use hlbridge_engine::store::HistoryFilter;

use crate::sync_cmd::{open_existing_store, EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Only writes of this pair (`default` for the pair configured by `HLBRIDGE_*`).
    #[arg(long)]
    pub pair: Option<String>,
    /// Only writes of this record: its GHL or Sellsy id, or the contact's e-mail
    /// (its tasks and notes included).
    #[arg(long)]
    pub record: Option<String>,
    /// Only writes since this date (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = "hlbridge.toml")]
    pub config: PathBuf,
}

pub async fn run(args: HistoryArgs) -> i32 {
    if args.limit == 0 {
        eprintln!("error: --limit 0: give at least 1");
        return EXIT_USAGE;
    }
    // Stored pairs keep their history in their own state files.
    let stores = match crate::pairs_sync::pair_stores(&args.config, args.pair.as_deref()) {
        Some(stores) => stores,
        None => match open_existing_store(&args.config, args.json) {
            Ok(s) => vec![(String::new(), s)],
            Err(code) => return code,
        },
    };
    let mut result: Result<
        Vec<hlbridge_engine::store::HistoryEntry>,
        hlbridge_engine::EngineError,
    > = Ok(Vec::new());
    for (pair, store) in &stores {
        let filter = HistoryFilter {
            // A pair's own file holds only its writes.
            pair: if pair.is_empty() {
                args.pair.clone()
            } else {
                None
            },
            record: args.record.clone(),
            since: args.since.clone(),
            limit: args.limit,
        };
        match hlbridge_engine::admin::history(store.as_ref(), &filter) {
            Ok(entries) => {
                if let Ok(all) = result.as_mut() {
                    all.extend(entries.into_iter().map(|mut e| {
                        if !pair.is_empty() {
                            e.pair = pair.clone();
                        }
                        e
                    }));
                }
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let result = result.map(|mut all| {
        all.sort_by(|a, b| b.at.cmp(&a.at));
        all.truncate(args.limit);
        all
    });
    match result {
        Ok(entries) if args.json => {
            outln!("{}", serde_json::to_string(&entries).unwrap_or_default());
            EXIT_OK
        }
        Ok(entries) => {
            if entries.is_empty() {
                outln!("no writes recorded");
            }
            for e in entries {
                outln!("{}", e.line());
            }
            EXIT_OK
        }
        Err(e @ hlbridge_engine::EngineError::Data(_)) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
        Err(e) => crate::sync_cmd::fail(&e, args.json),
    }
}
