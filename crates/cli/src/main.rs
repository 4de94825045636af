//! The `hlbridge` command.

/// `println!` that ends the program quietly when standard output is closed.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::emit(format_args!($($arg)*))
    };
}

mod admin_cmd;
mod bench_cmd;
mod budgets;
mod connect_cmd;
mod connections_cmd;
mod emulator_cmd;
mod flow_cmd;
mod flow_deploy;
mod flow_online;
mod flow_run;
mod ghl_cmd;
mod history_cmd;
mod input;
mod ops_cmd;
mod output;
mod pairs_sync;
mod runs_cmd;
mod sellsy_cmd;
mod serve_cmd;
mod sync_cmd;
mod templates_cmd;
mod up_cmd;
mod watch_cmd;

use clap::{Parser, Subcommand};
use output::Exit;

#[derive(Debug, Parser)]
#[command(
    name = "hlbridge",
    version,
    about = "GoHighLevel and Sellsy operations, emulators and sync"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The operation catalog.
    Ops {
        #[command(subcommand)]
        command: OpsCommand,
    },
    /// Call a GoHighLevel operation.
    Ghl(ghl_cmd::GhlArgs),
    /// Connect an account with OAuth (authorization code; PKCE for Sellsy) and store the
    /// tokens, encrypted.
    Connect(connect_cmd::ConnectArgs),
    /// Call a Sellsy operation.
    Sellsy(sellsy_cmd::SellsyArgs),
    /// Poll a read operation and print each new or changed item once (JSON lines).
    Watch(watch_cmd::WatchArgs),
    /// Serve the local GHL and Sellsy emulators.
    Emulator(emulator_cmd::EmulatorArgs),
    /// Two-way GHL ↔ Sellsy sync: one cycle (--once), a dry run, or continuously.
    Sync(sync_cmd::SyncArgs),
    /// The sync's state: links, pending writes, conflicts, last cycle.
    Status(sync_cmd::StatusArgs),
    /// Sync conflicts waiting for a decision: list, resolve.
    Conflicts(sync_cmd::ConflictsArgs),
    /// The archive of both systems' notes: full-text search.
    Notes(sync_cmd::NotesArgs),
    /// The main job: the sandbox (both emulators with demo data) when no credentials are set.
    Up(up_cmd::UpArgs),
    /// Benchmarks against in-process emulators: `bench sync [--contacts N]`.
    Bench(bench_cmd::BenchArgs),
    /// Connected accounts: list, add (private token, client credentials), remove.
    Connections(connections_cmd::ConnectionsArgs),
    /// Pairs of a GHL location and a Sellsy account synced together: add, list, remove, config.
    Pairs(connections_cmd::PairsArgs),
    /// The service: webhooks, OAuth, REST API, metrics and every pair's sync.
    Serve(serve_cmd::ServeArgs),
    /// Flow files: validate, schema.
    Flow(flow_cmd::FlowArgs),
    /// Ready-made flows: list, use (writes an editable flow file).
    Templates(templates_cmd::TemplatesArgs),
    /// What happened to records: every applied write, its fields old → new.
    History(history_cmd::HistoryArgs),
    /// Recorded flow runs: list, show (every step), replay (from the failed step or the start).
    Runs(runs_cmd::RunsArgs),
    /// Bearer tokens for the service's `/api` and `/metrics`: create, list, revoke.
    #[command(name = "api-token")]
    ApiToken {
        #[command(subcommand)]
        command: admin_cmd::ApiTokenCommand,
    },
    /// The service's admin sign-in: set-password.
    Admin {
        #[command(subcommand)]
        command: admin_cmd::AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum OpsCommand {
    /// List operations.
    List(ops_cmd::ListArgs),
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HLBRIDGE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(Exit::Api as i32);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Ops {
                command: OpsCommand::List(args),
            } => ops_cmd::run(&args),
            Command::Ghl(args) => ghl_cmd::run(args).await as i32,
            Command::Sellsy(args) => sellsy_cmd::run(args).await as i32,
            Command::Connect(args) => connect_cmd::run(args).await as i32,
            Command::Watch(args) => watch_cmd::run(args).await as i32,
            Command::Emulator(args) => report(emulator_cmd::run(args).await),
            Command::Up(args) => up_cmd::run(args).await,
            Command::Sync(args) => sync_cmd::run_sync(args).await,
            Command::Status(args) => sync_cmd::run_status(args).await,
            Command::Conflicts(args) => sync_cmd::run_conflicts(args).await,
            Command::Notes(args) => sync_cmd::run_notes(args).await,
            Command::Bench(args) => bench_cmd::run(args).await,
            Command::Connections(args) => connections_cmd::run_connections(args).await,
            Command::Pairs(args) => connections_cmd::run_pairs(args).await,
            Command::Serve(args) => serve_cmd::run(args).await,
            Command::Flow(args) => flow_cmd::run(args).await,
            Command::Templates(args) => templates_cmd::run(args),
            Command::History(args) => history_cmd::run(args).await,
            Command::Runs(args) => runs_cmd::run(args).await,
            Command::ApiToken { command } => admin_cmd::run_api_token(command).await,
            Command::Admin { command } => admin_cmd::run_admin(command).await,
        }
    });
    std::process::exit(code);
}

fn report(result: anyhow::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Api as i32
        }
    }
}
