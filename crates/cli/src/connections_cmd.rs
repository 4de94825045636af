//! `hlbridge connections list|add|remove` and `hlbridge pairs add|list|remove|config`:
//! the accounts every command uses, and which of them are synced together.
//!
//! Exit codes: 0 done, 1 the provider or the state database failed, 2 bad input
//! (the message names the argument and the fix).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hlbridge_accounts::{
    sqlite_path, Accounts, AccountsError, App, Budgets, ConnKind, ConnStatus, Connection, Registry,
};
use serde_json::json;

use crate::sync_cmd::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// The state database (`sqlite://PATH`).
    #[arg(
        long,
        env = "HLBRIDGE_DATABASE_URL",
        default_value = "sqlite://hlbridge.sqlite",
        global = true
    )]
    pub database_url: String,
}

#[derive(Debug, clap::Args)]
pub struct ConnectionsArgs {
    #[command(subcommand)]
    pub command: ConnectionsCommand,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConnectionsCommand {
    /// Every connection: id, app, account, kind, status (never a secret).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a connection from credentials (OAuth connections: `hlbridge connect`).
    Add {
        #[command(subcommand)]
        app: AddCommand,
    },
    /// Remove a connection and its stored tokens.
    Remove {
        id: String,
        /// Also remove the pairs that use it (their state files are kept).
        #[arg(long)]
        with_pairs: bool,
    },
    /// Agency connections: add a connection for each location the app is installed on.
    Refresh { id: String },
}

#[derive(Debug, clap::Subcommand)]
pub enum AddCommand {
    /// A GHL location by private integration token.
    Ghl {
        #[arg(long, env = "HLBRIDGE_GHL_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long, env = "HLBRIDGE_GHL_LOCATION_ID")]
        location: String,
        #[arg(long, env = "HLBRIDGE_GHL_BASE_URL", default_value = hlbridge_ghl::DEFAULT_BASE_URL)]
        base_url: String,
        #[arg(long)]
        json: bool,
    },
    /// A Sellsy account by Personal API client (client credentials).
    Sellsy {
        #[arg(long, env = "HLBRIDGE_SELLSY_CLIENT_ID")]
        client_id: String,
        #[arg(long, env = "HLBRIDGE_SELLSY_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        #[arg(long, env = "HLBRIDGE_SELLSY_BASE_URL", default_value = hlbridge_sellsy::DEFAULT_BASE_URL)]
        base_url: String,
        #[arg(long, env = "HLBRIDGE_SELLSY_TOKEN_URL")]
        token_url: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct PairsArgs {
    #[command(subcommand)]
    pub command: PairsCommand,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum PairsCommand {
    /// Pair a GHL location connection with a Sellsy connection; prints the pair id.
    Add {
        #[arg(long)]
        ghl: String,
        #[arg(long)]
        sellsy: String,
        /// The pair's mapping and sync settings (`hlbridge.toml` format, without
        /// credentials); default: the built-in mapping.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Every pair with its connections.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a pair (its state file is kept).
    Remove { id: String },
    /// Show a pair's configuration, or replace it with `--set FILE` (validated first).
    Config {
        id: String,
        #[arg(long)]
        set: Option<PathBuf>,
    },
}

fn fail(e: &AccountsError) -> i32 {
    eprintln!("error: {e}");
    if e.is_input() {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    }
}

/// The registry of `database_url`, created if missing.
pub fn open_registry(database_url: &str) -> Result<Arc<Registry>, AccountsError> {
    Ok(Arc::new(Registry::open(&sqlite_path(database_url)?)?))
}

/// The registry when the database exists (read-only commands never create it).
pub fn existing_registry(database_url: &str) -> Result<Option<Arc<Registry>>, AccountsError> {
    Ok(Registry::open_existing(&sqlite_path(database_url)?)?.map(Arc::new))
}

/// Connections given by `HLBRIDGE_*` variables: used by every command as they were
/// before connections were stored; listed, never stored.
pub fn implicit_connections() -> Vec<Connection> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut out = Vec::new();
    if let (Some(_), Some(location)) = (var("HLBRIDGE_GHL_TOKEN"), var("HLBRIDGE_GHL_LOCATION_ID"))
    {
        out.push(Connection {
            id: "env-ghl".into(),
            app: App::Ghl,
            account: location,
            kind: ConnKind::GhlPit,
            status: ConnStatus::Ok,
            label: Some("HLBRIDGE_GHL_TOKEN".into()),
            base_url: var("HLBRIDGE_GHL_BASE_URL")
                .unwrap_or_else(|| hlbridge_ghl::DEFAULT_BASE_URL.into()),
            parent: None,
            last_error: None,
            created: String::new(),
            implicit: true,
            settings: Default::default(),
        });
    }
    if let (Some(client), Some(_)) = (
        var("HLBRIDGE_SELLSY_CLIENT_ID"),
        var("HLBRIDGE_SELLSY_CLIENT_SECRET"),
    ) {
        out.push(Connection {
            id: "env-sellsy".into(),
            app: App::Sellsy,
            account: format!("client-{client}"),
            kind: ConnKind::SellsyClientCredentials,
            status: ConnStatus::Ok,
            label: Some("HLBRIDGE_SELLSY_CLIENT_ID".into()),
            base_url: var("HLBRIDGE_SELLSY_BASE_URL")
                .unwrap_or_else(|| hlbridge_sellsy::DEFAULT_BASE_URL.into()),
            parent: None,
            last_error: None,
            created: String::new(),
            implicit: true,
            settings: Default::default(),
        });
    }
    out
}

fn row(c: &Connection, status: ConnStatus) -> serde_json::Value {
    json!({
        "id": c.id,
        "app": c.app,
        "account": c.account,
        "kind": c.kind,
        "status": status,
        "label": c.label,
        "parent": c.parent,
        "implicit": c.implicit,
        "last_error": c.last_error,
    })
}

pub async fn run_connections(args: ConnectionsArgs) -> i32 {
    match connections(args).await {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

async fn connections(args: ConnectionsArgs) -> Result<i32, AccountsError> {
    let url = &args.db.database_url;
    match args.command {
        ConnectionsCommand::List { json } => {
            let mut rows = Vec::new();
            if let Some(reg) = existing_registry(url)? {
                let accounts = Accounts::new(reg.clone(), Budgets::default());
                for c in reg.list()? {
                    rows.push(row(&c, accounts.status_of(&c)));
                }
            }
            for c in implicit_connections() {
                rows.push(row(&c, c.status));
            }
            if json {
                outln!("{}", serde_json::Value::Array(rows));
            } else if rows.is_empty() {
                outln!("no connections: `hlbridge connections add ghl|sellsy …` or `hlbridge connect ghl|sellsy`");
            } else {
                for r in &rows {
                    outln!(
                        "{:<16} {:<7} {:<20} {:<18} {}",
                        r["id"].as_str().unwrap_or_default(),
                        r["app"].as_str().unwrap_or_default(),
                        r["account"].as_str().unwrap_or_default(),
                        r["kind"].as_str().unwrap_or_default(),
                        r["status"].as_str().unwrap_or_default()
                    );
                }
            }
            Ok(EXIT_OK)
        }
        ConnectionsCommand::Add { app } => {
            let reg = open_registry(url)?;
            let accounts = Accounts::new(reg, Budgets::default());
            let (conn, json) = match app {
                AddCommand::Ghl {
                    token,
                    location,
                    base_url,
                    json,
                } => (
                    accounts.add_ghl_pit(&token, &location, &base_url).await?,
                    json,
                ),
                AddCommand::Sellsy {
                    client_id,
                    client_secret,
                    base_url,
                    token_url,
                    json,
                } => (
                    accounts
                        .add_sellsy_client(
                            &client_id,
                            &client_secret,
                            &base_url,
                            token_url.as_deref(),
                        )
                        .await?,
                    json,
                ),
            };
            if json {
                outln!("{}", row(&conn, conn.status));
            } else {
                outln!("{}", conn.id);
                eprintln!(
                    "connected {} account {} ({}); secrets stored encrypted",
                    conn.app.as_str(),
                    conn.account,
                    conn.kind.as_str()
                );
            }
            Ok(EXIT_OK)
        }
        ConnectionsCommand::Remove { id, with_pairs } => {
            let reg = existing_registry(url)?.ok_or_else(|| no_state(url))?;
            for removed in reg.remove(&id, with_pairs)? {
                eprintln!("removed {removed}");
            }
            Ok(EXIT_OK)
        }
        ConnectionsCommand::Refresh { id } => {
            let reg = existing_registry(url)?.ok_or_else(|| no_state(url))?;
            let accounts = Accounts::new(reg.clone(), Budgets::default());
            let agency = reg.require(&id)?;
            if agency.kind != ConnKind::GhlOAuthAgency {
                return Err(AccountsError::Input(format!(
                    "{id} is not an agency connection (kind {})",
                    agency.kind.as_str()
                )));
            }
            for c in accounts.sync_agency(&agency).await? {
                outln!("{} {}", c.id, c.account);
            }
            Ok(EXIT_OK)
        }
    }
}

fn no_state(url: &str) -> AccountsError {
    AccountsError::NotFound(format!(
        "no state database at {url}: add a connection first (`hlbridge connections add …`)"
    ))
}

fn read_config(path: Option<&Path>) -> Result<String, AccountsError> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            AccountsError::Input(format!("--config {}: cannot read it ({e})", p.display()))
        })?,
        None => String::new(),
    };
    hlbridge_service::runner::validate_pair_config(&text).map_err(|e| {
        AccountsError::Input(match path {
            Some(p) => format!("--config {}: {e}", p.display()),
            None => e,
        })
    })?;
    Ok(text)
}

pub async fn run_pairs(args: PairsArgs) -> i32 {
    match pairs(args) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

fn pairs(args: PairsArgs) -> Result<i32, AccountsError> {
    let url = &args.db.database_url;
    match args.command {
        PairsCommand::Add {
            ghl,
            sellsy,
            config,
            json,
        } => {
            // Validate before creating anything.
            let text = read_config(config.as_deref())?;
            let reg = existing_registry(url)?.ok_or_else(|| no_state(url))?;
            let pair = reg.add_pair(&ghl, &sellsy, &text)?;
            if json {
                outln!(
                    "{}",
                    json!({"id": pair.id, "ghl": pair.ghl, "sellsy": pair.sellsy})
                );
            } else {
                outln!("{}", pair.id);
            }
            Ok(EXIT_OK)
        }
        PairsCommand::List { json } => {
            let pairs = match existing_registry(url)? {
                Some(reg) => reg.pairs()?,
                None => Vec::new(),
            };
            if json {
                outln!("{}", serde_json::to_string(&pairs).unwrap_or_default());
            } else if pairs.is_empty() {
                outln!("no pairs: `hlbridge pairs add --ghl CONN --sellsy CONN`");
            } else {
                for p in pairs {
                    outln!("{:<16} ghl {:<16} sellsy {}", p.id, p.ghl, p.sellsy);
                }
            }
            Ok(EXIT_OK)
        }
        PairsCommand::Remove { id } => {
            let reg = existing_registry(url)?.ok_or_else(|| no_state(url))?;
            if !reg.remove_pair(&id)? {
                return Err(AccountsError::NotFound(format!(
                    "no pair {id}: `hlbridge pairs list` shows them"
                )));
            }
            eprintln!(
                "removed {id}; its state stays in {}",
                reg.pair_state_path(&id).display()
            );
            Ok(EXIT_OK)
        }
        PairsCommand::Config { id, set } => {
            let reg = existing_registry(url)?.ok_or_else(|| no_state(url))?;
            let pair = reg.pair(&id)?.ok_or_else(|| {
                AccountsError::NotFound(format!("no pair {id}: `hlbridge pairs list` shows them"))
            })?;
            match set {
                Some(path) => {
                    let text = read_config(Some(&path))?;
                    reg.set_pair_config(&pair.id, &text)?;
                    eprintln!("pair {} configuration replaced", pair.id);
                }
                None => outln!("{}", pair.config),
            }
            Ok(EXIT_OK)
        }
    }
}

fn core_err(e: AccountsError) -> hlbridge_core::error::Error {
    match e {
        AccountsError::Core(e) => e,
        other => hlbridge_core::error::Error::Config(other.to_string()),
    }
}

/// The stored connection a command without a token uses: `--connection ID`, else the
/// one of `location` (GHL), else the only one of `app` that can be used. `None` when the
/// database holds none.
pub fn stored_connection(
    database_url: &str,
    app: App,
    connection: Option<&str>,
    location: Option<&str>,
) -> Result<Option<(Accounts, Connection)>, hlbridge_core::error::Error> {
    let Some(reg) = existing_registry(database_url).map_err(core_err)? else {
        return match connection {
            Some(id) => Err(hlbridge_core::error::Error::Config(format!(
                "--connection {id}: no state database at {database_url}"
            ))),
            None => Ok(None),
        };
    };
    let accounts = Accounts::new(reg.clone(), crate::budgets::shared_for(database_url));
    if let Some(id) = connection {
        let c = reg.require(id).map_err(core_err)?;
        if c.app != app {
            return Err(hlbridge_core::error::Error::Config(format!(
                "--connection {id} is a {} connection, not {}",
                c.app.as_str(),
                app.as_str()
            )));
        }
        return Ok(Some((accounts, c)));
    }
    let usable: Vec<Connection> = reg
        .list()
        .map_err(core_err)?
        .into_iter()
        .filter(|c| c.app == app && (app == App::Sellsy || c.kind.is_location()))
        .filter(|c| location.is_none_or(|l| c.account == l))
        .collect();
    match usable.len() {
        0 => Ok(None),
        1 => Ok(usable.into_iter().next().map(|c| (accounts, c))),
        _ => Err(hlbridge_core::error::Error::Config(format!(
            "{} stored {} connections ({}): choose one with --connection ID{}",
            usable.len(),
            app.as_str(),
            usable
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if app == App::Ghl {
                " or --location-id"
            } else {
                ""
            }
        ))),
    }
}

/// A GHL client over a stored connection (see [`stored_connection`]).
pub fn stored_ghl_client(
    database_url: &str,
    connection: Option<&str>,
    location: Option<&str>,
) -> Result<Option<hlbridge_ghl::GhlClient>, hlbridge_core::error::Error> {
    match stored_connection(database_url, App::Ghl, connection, location)? {
        Some((accounts, c)) => accounts.ghl_client(&c).map(Some).map_err(core_err),
        None => Ok(None),
    }
}

/// A Sellsy client over a stored connection (see [`stored_connection`]).
pub fn stored_sellsy_client(
    database_url: &str,
    connection: Option<&str>,
) -> Result<Option<hlbridge_sellsy::SellsyClient>, hlbridge_core::error::Error> {
    match stored_connection(database_url, App::Sellsy, connection, None)? {
        Some((accounts, c)) => accounts.sellsy_client(&c).map(Some).map_err(core_err),
        None => Ok(None),
    }
}
