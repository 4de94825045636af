//! `hlbridge ghl <operation-id>`: call any GHL operation.

use futures::TryStreamExt;
use hlbridge_core::error::Error;
use std::sync::Arc;

use hlbridge_core::auth::TokenManager;
use hlbridge_core::optable::TokenType;
use hlbridge_ghl::oauth::{GhlOAuth, UserType};
use hlbridge_ghl::{CallInput, GhlAuth, GhlClient};
use serde_json::Value;

use crate::input::{parse_body, parse_params};
use crate::output::{print_error, Exit};

#[derive(Debug, clap::Args)]
pub struct GhlArgs {
    /// Operation id, as `hlbridge ops list` shows it (e.g. contacts.get-contact).
    pub operation: String,
    /// A path or query parameter, NAME=VALUE (repeat for several or for a list).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// The request body: JSON text, or @file (@- for standard input).
    #[arg(long)]
    pub body: Option<String>,
    /// Print compact JSON (errors as JSON on standard error).
    #[arg(long)]
    pub json: bool,
    /// Follow pagination and print every item, one JSON line each.
    #[arg(long)]
    pub all: bool,
    /// Write the response body to this file as received (recordings, downloads).
    #[arg(long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// API base URL.
    #[arg(long, env = "HLBRIDGE_GHL_BASE_URL", default_value = hlbridge_ghl::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Private integration token (sub-account), or an access token.
    #[arg(long, env = "HLBRIDGE_GHL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Treat the token as an agency (company) token.
    #[arg(long)]
    pub agency: bool,
    /// Sub-account id, filled in where an operation needs `locationId`.
    #[arg(long, env = "HLBRIDGE_GHL_LOCATION_ID")]
    pub location_id: Option<String>,
    /// Where `hlbridge connect ghl` stored its tokens (`sqlite://PATH`), used when no
    /// token is given.
    #[arg(
        long,
        env = "HLBRIDGE_DATABASE_URL",
        default_value = "sqlite://hlbridge.sqlite"
    )]
    pub database_url: String,
    /// The marketplace app's credentials, to refresh stored OAuth tokens.
    #[arg(long, env = "HLBRIDGE_GHL_CLIENT_ID")]
    pub client_id: Option<String>,
    #[arg(long, env = "HLBRIDGE_GHL_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// A stored connection (`hlbridge connections list`); without a token, the only GHL
    /// location connection (or the one of --location-id) is used.
    #[arg(long)]
    pub connection: Option<String>,
}

/// OAuth tokens stored by `hlbridge connect ghl` for `location`, with their refresher.
fn stored_auth(args: &GhlArgs, location: &str) -> Result<Option<GhlAuth>, Error> {
    let Ok(path) = crate::connect_cmd::sqlite_path(&args.database_url) else {
        return Ok(None);
    };
    if !path.exists() {
        return Ok(None);
    }
    let store = crate::connect_cmd::open_token_store(&args.database_url)?;
    let key = crate::connect_cmd::ghl_key(location);
    if store.load(&key)?.is_none() {
        return Ok(None);
    }
    let refresher: Option<Arc<dyn hlbridge_core::auth::Refresher>> =
        match (&args.client_id, &args.client_secret) {
            (Some(id), Some(secret)) => {
                let exec = Arc::new(hlbridge_core::http::Executor::new(
                    &args.base_url,
                    Arc::new(hlbridge_ghl::flavor::GhlFlavor),
                    Arc::new(hlbridge_core::rate::RateBudget::ghl_default()),
                    None,
                )?);
                Some(Arc::new(GhlOAuth::new(
                    exec,
                    id,
                    secret,
                    UserType::Location,
                )))
            }
            _ => None,
        };
    let manager = TokenManager::load(&key, store, refresher)?;
    Ok(Some(GhlAuth::OAuth {
        manager: Arc::new(manager),
        token_type: TokenType::Location,
    }))
}

pub async fn run(args: GhlArgs) -> Exit {
    let json = args.json;
    match call(args).await {
        Ok(()) => Exit::Ok,
        Err(e) => print_error(&e, json),
    }
}

/// A client on an explicit token or legacy stored tokens, on the shared budget.
fn build_client(args: &GhlArgs, auth: GhlAuth) -> Result<GhlClient, Error> {
    // One budget per location for every process sharing the state database.
    let db = crate::connect_cmd::sqlite_path(&args.database_url)?;
    let budget = Arc::new(
        hlbridge_core::rate::RateBudget::ghl_default()
            .with_shared(hlbridge_core::rate::SharedSlots::lazy(&db)),
    );
    let mut builder = GhlClient::builder()
        .base_url(args.base_url.clone())
        .auth(auth)
        .budget(budget);
    if let Some(loc) = args.location_id.clone().filter(|l| !l.is_empty()) {
        builder = builder.location_id(loc);
    }
    builder.build()
}

async fn call(args: GhlArgs) -> Result<(), Error> {
    let op = hlbridge_ghl::operation(&args.operation)?;
    let params = parse_params(&args.params).map_err(|e| Error::InvalidInput(e.0))?;
    let body = parse_body(args.body.as_deref()).map_err(|e| Error::InvalidInput(e.0))?;
    let location = args.location_id.clone().filter(|l| !l.is_empty());
    let token = args.token.clone().filter(|t| !t.is_empty());
    let legacy = match (&token, &location, &args.connection) {
        (None, Some(loc), None) => stored_auth(&args, loc)?,
        _ => None,
    };
    let client = match (token, legacy) {
        (Some(token), _) if args.connection.is_none() => {
            let auth = if args.agency {
                GhlAuth::AgencyToken(token)
            } else {
                GhlAuth::LocationToken(token)
            };
            build_client(&args, auth)?
        }
        (None, Some(auth)) => build_client(&args, auth)?,
        _ => crate::connections_cmd::stored_ghl_client(
            &args.database_url,
            args.connection.as_deref(),
            location.as_deref(),
        )?
        .ok_or_else(|| {
            Error::Config(match &location {
                Some(loc) => format!(
                    "no GHL token: set HLBRIDGE_GHL_TOKEN (a private integration token), or store a connection for location {loc} (`hlbridge connections add ghl` or `hlbridge connect ghl`)"
                ),
                None => "no GHL token: set HLBRIDGE_GHL_TOKEN or pass --token (a private integration token), or store a connection (`hlbridge connections add ghl`)".into(),
            })
        })?,
    };
    let input = CallInput { params, body };
    if args.all {
        let stream = hlbridge_ghl::pages::stream(&client, op, input);
        futures::pin_mut!(stream);
        while let Some(item) = stream.try_next().await? {
            outln!("{item}");
        }
        return Ok(());
    }
    let resp = client.call_op(op, &input).await?;
    write_response(&resp, args.output.as_deref(), args.json)
}

/// Print a JSON body, or write the raw body to `--output`; refuse to print a file.
pub fn write_response(
    resp: &hlbridge_core::http::Response,
    output: Option<&std::path::Path>,
    json: bool,
) -> Result<(), Error> {
    if let Some(path) = output {
        std::fs::write(path, &resp.raw)
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("wrote {} bytes to {}", resp.raw.len(), path.display());
        return Ok(());
    }
    if !resp.is_json() {
        let ct = resp
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown type");
        if ct.starts_with("text/") {
            outln!("{}", String::from_utf8_lossy(&resp.raw));
            return Ok(());
        }
        // Like curl: bytes go to a pipe or a file, never to a terminal.
        use std::io::{IsTerminal, Write};
        let mut stdout = std::io::stdout().lock();
        if stdout.is_terminal() {
            return Err(Error::Api {
                status: resp.status,
                message: format!(
                    "the response is a file ({ct}, {} bytes) and was not printed to the terminal: \
                     pass --output FILE or redirect standard output",
                    resp.raw.len()
                ),
                trace_id: None,
                body: Box::new(serde_json::Value::Null),
            });
        }
        if stdout
            .write_all(&resp.raw)
            .and_then(|_| stdout.flush())
            .is_err()
        {
            std::process::exit(0);
        }
        return Ok(());
    }
    print_body(&resp.body, json);
    Ok(())
}

pub fn print_body(body: &Value, compact: bool) {
    if compact {
        outln!("{body}");
    } else {
        outln!(
            "{}",
            serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string())
        );
    }
}
