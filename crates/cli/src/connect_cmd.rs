//! `hlbridge connect sellsy|ghl`: the OAuth authorization-code flow from the command line.
//!
//! Opens a one-shot listener on 127.0.0.1, prints the authorize URL to visit, receives the
//! redirect with the code, checks `state`, exchanges the code (with the PKCE verifier for
//! Sellsy) and keeps the tokens in the encrypted token store, where `hlbridge sellsy`,
//! `hlbridge ghl` and the sync find them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hlbridge_core::auth::{Cipher, SqliteTokenStore, TokenStore, Tokens};
use hlbridge_core::error::Error;
use hlbridge_core::rate::RateBudget;
use hlbridge_ghl::oauth::{GhlOAuth, UserType};
use hlbridge_sellsy::oauth::{corp_id, Pkce, SellsyOAuth};
use rand::RngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::output::{print_error, Exit};

/// Where stored Sellsy tokens live in the token store.
pub const SELLSY_KEY: &str = "sellsy:default";

/// The token-store key of a GHL location connection.
pub fn ghl_key(location: &str) -> String {
    format!("ghl:{location}")
}

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// Which account to connect.
    #[arg(value_parser = ["sellsy", "ghl"])]
    pub app: String,
    /// Port of the local redirect listener (0 picks a free one). Register
    /// `http://127.0.0.1:PORT/callback` as the app's redirect URI.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Give up when no redirect arrives within this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// Where the encrypted tokens are kept (`sqlite://PATH`).
    #[arg(
        long,
        env = "HLBRIDGE_DATABASE_URL",
        default_value = "sqlite://hlbridge.sqlite"
    )]
    pub database_url: String,
    #[arg(long, env = "HLBRIDGE_SELLSY_CLIENT_ID")]
    pub sellsy_client_id: Option<String>,
    #[arg(long, env = "HLBRIDGE_SELLSY_CLIENT_SECRET", hide_env_values = true)]
    pub sellsy_client_secret: Option<String>,
    #[arg(long, env = "HLBRIDGE_SELLSY_BASE_URL", default_value = hlbridge_sellsy::DEFAULT_BASE_URL)]
    pub sellsy_base_url: String,
    #[arg(long, env = "HLBRIDGE_SELLSY_TOKEN_URL")]
    pub sellsy_token_url: Option<String>,
    /// Sellsy's authorize page (default Sellsy's, or the emulator's beside its base URL).
    #[arg(long, env = "HLBRIDGE_SELLSY_AUTHORIZE_URL")]
    pub sellsy_authorize_url: Option<String>,
    #[arg(long, env = "HLBRIDGE_GHL_CLIENT_ID")]
    pub ghl_client_id: Option<String>,
    #[arg(long, env = "HLBRIDGE_GHL_CLIENT_SECRET", hide_env_values = true)]
    pub ghl_client_secret: Option<String>,
    #[arg(long, env = "HLBRIDGE_GHL_BASE_URL", default_value = hlbridge_ghl::DEFAULT_BASE_URL)]
    pub ghl_base_url: String,
    /// GHL's location chooser (default the marketplace's, or the emulator's beside its base URL).
    #[arg(long, env = "HLBRIDGE_GHL_AUTHORIZE_URL")]
    pub ghl_authorize_url: Option<String>,
    /// Scopes to ask GHL for, space-separated.
    #[arg(
        long,
        default_value = "contacts.readonly contacts.write locations.readonly locations/customFields.readonly locations/tasks.readonly oauth.readonly oauth.write"
    )]
    pub ghl_scopes: String,
    /// Connect a GHL agency (Company): its installed locations become connections.
    #[arg(long)]
    pub agency: bool,
}

fn accounts_of(database_url: &str) -> Result<hlbridge_accounts::Accounts, Error> {
    let path = sqlite_path(database_url)?;
    let registry = hlbridge_accounts::Registry::open(&path).map_err(accounts_err)?;
    Ok(hlbridge_accounts::Accounts::new(
        Arc::new(registry),
        hlbridge_accounts::Budgets::default(),
    ))
}

fn accounts_err(e: hlbridge_accounts::AccountsError) -> Error {
    match e {
        hlbridge_accounts::AccountsError::Core(e) => e,
        other => Error::Config(other.to_string()),
    }
}

/// The SQLite file behind `sqlite://PATH`.
pub fn sqlite_path(url: &str) -> Result<PathBuf, Error> {
    url.strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::Config(format!(
                "HLBRIDGE_DATABASE_URL {url:?}: tokens are kept in sqlite://PATH"
            ))
        })
}

/// The encrypted token store beside the database; the key comes from
/// `HLBRIDGE_SECRET_KEY` or `<database>.key` (created with mode 0600).
pub fn open_token_store(database_url: &str) -> Result<Arc<dyn TokenStore>, Error> {
    let path = sqlite_path(database_url)?;
    let key_file = key_file_for(&path);
    let cipher = Cipher::from_env_or_file(&key_file)?;
    Ok(Arc::new(SqliteTokenStore::open(&path, cipher)?))
}

fn key_file_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".key");
    db.with_file_name(name)
}

pub async fn run(args: ConnectArgs) -> Exit {
    match connect(args).await {
        Ok(()) => Exit::Ok,
        Err(e) => print_error(&e, false),
    }
}

fn random_state() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn connect(args: ConnectArgs) -> Result<(), Error> {
    let store = open_token_store(&args.database_url)?;
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| Error::Config(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::Config(e.to_string()))?
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let state = random_state();
    let timeout = Duration::from_secs(args.timeout_secs);
    match args.app.as_str() {
        "sellsy" => {
            let client_id = args
                .sellsy_client_id
                .clone()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    Error::Config("set HLBRIDGE_SELLSY_CLIENT_ID (the API client's id)".into())
                })?;
            let token_url = crate::sellsy_cmd::token_url_for(
                &args.sellsy_base_url,
                args.sellsy_token_url.clone(),
            );
            let authorize = args.sellsy_authorize_url.clone().unwrap_or_else(|| {
                hlbridge_sellsy::oauth::authorize_url_for(&args.sellsy_base_url)
            });
            let oauth =
                SellsyOAuth::new(&token_url, &client_id, args.sellsy_client_secret.as_deref())?;
            let pkce = Pkce::new();
            outln!("Open this URL to connect Sellsy:");
            outln!(
                "{}",
                oauth.authorize_url(&authorize, &redirect, &state, &pkce)
            );
            let code = receive_code(&listener, &state, timeout).await?;
            use secrecy::ExposeSecret;
            let mut tokens = oauth
                .exchange_code(&code, pkce.verifier.expose_secret(), &redirect)
                .await?;
            tokens
                .extra
                .insert("client_id".into(), client_id.clone().into());
            store.save(SELLSY_KEY, &tokens)?;
            let account = corp_id(&tokens)
                .map(|c| format!(" (account {c})"))
                .unwrap_or_default();
            let conn = accounts_of(&args.database_url)?
                .add_sellsy_oauth(
                    tokens,
                    &client_id,
                    args.sellsy_client_secret.as_deref(),
                    &args.sellsy_base_url,
                    &token_url,
                )
                .map_err(accounts_err)?;
            outln!(
                "Sellsy connected{account} as connection {}; tokens stored encrypted in {}",
                conn.id,
                args.database_url
            );
        }
        _ => {
            let (Some(client_id), Some(secret)) =
                (args.ghl_client_id.clone(), args.ghl_client_secret.clone())
            else {
                return Err(Error::Config(
                    "set HLBRIDGE_GHL_CLIENT_ID and HLBRIDGE_GHL_CLIENT_SECRET (the marketplace app's credentials)".into(),
                ));
            };
            let exec = Arc::new(hlbridge_core::http::Executor::new(
                &args.ghl_base_url,
                Arc::new(hlbridge_ghl::flavor::GhlFlavor),
                Arc::new(RateBudget::ghl_default()),
                None,
            )?);
            let user_type = if args.agency {
                UserType::Company
            } else {
                UserType::Location
            };
            let oauth =
                GhlOAuth::new(exec, &client_id, &secret, user_type).with_redirect_uri(&redirect);
            let authorize = args
                .ghl_authorize_url
                .clone()
                .unwrap_or_else(|| hlbridge_ghl::oauth::authorize_url_for(&args.ghl_base_url));
            let scopes: Vec<&str> = args.ghl_scopes.split_whitespace().collect();
            let url = format!(
                "{}&state={state}",
                oauth.authorize_url(&authorize, &redirect, &scopes)
            );
            outln!("Open this URL to connect a GHL sub-account:");
            outln!("{url}");
            let code = receive_code(&listener, &state, timeout).await?;
            let tokens: Tokens = oauth.exchange_code(&code, Some(&redirect)).await?;
            if let Some(location) = tokens.extra_str("locationId") {
                store.save(&ghl_key(location), &tokens)?;
            }
            let conns = accounts_of(&args.database_url)?
                .add_ghl_oauth(tokens, &args.ghl_base_url, &client_id, &secret)
                .await
                .map_err(accounts_err)?;
            for c in &conns {
                outln!(
                    "GHL {} {} connected as connection {}",
                    if c.kind == hlbridge_accounts::ConnKind::GhlOAuthAgency {
                        "agency"
                    } else {
                        "location"
                    },
                    c.account,
                    c.id
                );
            }
            outln!("tokens stored encrypted in {}", args.database_url);
        }
    }
    Ok(())
}

/// Wait for the browser's redirect to `/callback?code=..&state=..` and answer it.
async fn receive_code(
    listener: &TcpListener,
    state: &str,
    timeout: Duration,
) -> Result<String, Error> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let accepted = tokio::time::timeout_at(deadline, listener.accept())
            .await
            .map_err(|_| {
                Error::Config(
                    "no authorization arrived in time; run `hlbridge connect` again".into(),
                )
            })?;
        let Ok((mut socket, _)) = accepted else {
            continue;
        };
        let mut buf = vec![0u8; 8192];
        let n = socket.read(&mut buf).await.unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]);
        let target = head.split_whitespace().nth(1).unwrap_or("");
        let Some(query) = target.strip_prefix("/callback?") else {
            let _ = socket
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
            continue;
        };
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (status, page, outcome) = match (get("code"), get("state"), get("error")) {
            (_, _, Some(err)) => (
                "400 Bad Request",
                "Authorization was refused.",
                Err(format!("authorization refused: {err}")),
            ),
            (Some(code), Some(s), None) if s == state => {
                ("200 OK", "Connected. You can close this tab.", Ok(code))
            }
            (Some(_), _, None) => (
                "400 Bad Request",
                "State mismatch.",
                Err("the redirect's state does not match: ignored".into()),
            ),
            _ => (
                "400 Bad Request",
                "No code.",
                Err("the redirect carries no code".into()),
            ),
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = socket.write_all(reply.as_bytes()).await;
        match outcome {
            Ok(code) => return Ok(code),
            // A forged or stale redirect is ignored; keep waiting for the real one.
            Err(msg) if msg.contains("state") => eprintln!("{msg}"),
            Err(msg) => return Err(Error::Config(msg)),
        }
    }
}
