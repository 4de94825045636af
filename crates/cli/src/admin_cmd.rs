//! `hlbridge api-token create|list|revoke` and `hlbridge admin set-password`: the
//! credentials of `hlbridge serve` (bearer tokens for `/api` and `/metrics`, the
//! admin password of the web sign-in), kept in the state database.
//!
//! Exit codes: 0 done, 1 the database failed or the token does not exist, 2 bad input.

use std::path::PathBuf;

use hlbridge_service::db::{self, DbError};
use hlbridge_service::{admin, api_tokens};

/// Where the state database is.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArg {
    /// The state database (`sqlite://PATH`).
    #[arg(
        long,
        env = "HLBRIDGE_DATABASE_URL",
        default_value = "sqlite://hlbridge.sqlite"
    )]
    pub database_url: String,
}

/// `hlbridge api-token ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ApiTokenCommand {
    /// Create an API token and print it once (standard output, one line).
    Create {
        /// A name to recognise the token by.
        #[arg(long, default_value = "api")]
        name: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// List the API tokens (id, name, prefix, created, last used; never the token).
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Revoke an API token by id (see `api-token list`).
    Revoke {
        /// The token's id.
        id: i64,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

/// `hlbridge admin ...`.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Set the admin password of the web sign-in. Read from the terminal without echo
    /// (asked twice), or from the first line of standard input when it is not a
    /// terminal; never from the command line. Signs out every session.
    SetPassword {
        #[command(flatten)]
        db: DatabaseArg,
    },
}

enum Failure {
    Usage(String),
    Failed(String),
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Config(m) => Failure::Usage(m),
            other => Failure::Failed(other.to_string()),
        }
    }
}

fn report(result: Result<(), Failure>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            2
        }
        Err(Failure::Failed(m)) => {
            eprintln!("error: {m}");
            1
        }
    }
}

fn path_of(db: &DatabaseArg) -> Result<PathBuf, Failure> {
    Ok(db::path_from_url(&db.database_url)?)
}

/// Run `hlbridge api-token ...`; returns the exit code.
pub async fn run_api_token(command: ApiTokenCommand) -> i32 {
    let result = tokio::task::spawn_blocking(move || api_token(command))
        .await
        .unwrap_or_else(|e| Err(Failure::Failed(e.to_string())));
    report(result)
}

fn api_token(command: ApiTokenCommand) -> Result<(), Failure> {
    match command {
        ApiTokenCommand::Create { name, db } => {
            let conn = db::open_connection(&path_of(&db)?)?;
            let (id, token) = api_tokens::create(&conn, &name)?;
            eprintln!(
                "API token {id} ({}) created. It is shown only once: keep it now.",
                name.trim()
            );
            outln!("{token}");
            Ok(())
        }
        ApiTokenCommand::List { json, db } => {
            let path = path_of(&db)?;
            // Reading never creates a database.
            let tokens = if path.exists() {
                api_tokens::list(&db::open_existing(&path)?)?
            } else {
                Vec::new()
            };
            if json {
                let text = serde_json::to_string_pretty(&tokens)
                    .map_err(|e| Failure::Failed(e.to_string()))?;
                outln!("{text}");
            } else if tokens.is_empty() {
                eprintln!(
                    "No API tokens; create one with `hlbridge api-token create --name NAME`."
                );
            } else {
                outln!(
                    "{:<6} {:<20} {:<14} {:<22} LAST USED",
                    "ID",
                    "NAME",
                    "PREFIX",
                    "CREATED"
                );
                for t in tokens {
                    outln!(
                        "{:<6} {:<20} {:<14} {:<22} {}",
                        t.id,
                        t.name,
                        t.prefix,
                        t.created,
                        t.last_used.as_deref().unwrap_or("never")
                    );
                }
            }
            Ok(())
        }
        ApiTokenCommand::Revoke { id, db } => {
            let conn = db::open_existing(&path_of(&db)?)?;
            if api_tokens::revoke(&conn, id)? {
                eprintln!("API token {id} revoked.");
                Ok(())
            } else {
                Err(Failure::Failed(format!(
                    "no API token with id {id}; `hlbridge api-token list` shows the ids"
                )))
            }
        }
    }
}

/// Run `hlbridge admin ...`; returns the exit code.
pub async fn run_admin(command: AdminCommand) -> i32 {
    let result = tokio::task::spawn_blocking(move || admin_command(command))
        .await
        .unwrap_or_else(|e| Err(Failure::Failed(e.to_string())));
    report(result)
}

fn admin_command(command: AdminCommand) -> Result<(), Failure> {
    match command {
        AdminCommand::SetPassword { db } => {
            let path = path_of(&db)?;
            let password = admin::read_new_password()
                .map_err(|e| Failure::Usage(format!("cannot read the password: {e}")))?;
            if password.is_empty() {
                return Err(Failure::Usage(
                    "no password given: type it at the prompt, or pipe it on standard input".into(),
                ));
            }
            let conn = db::open_connection(&path)?;
            admin::set_password(&conn, &password).map_err(|e| match e {
                admin::PasswordError::Db(d) => Failure::from(d),
                other => Failure::Usage(other.to_string()),
            })?;
            eprintln!("Admin password set; every signed-in session was signed out.");
            Ok(())
        }
    }
}
