//! `hlbridge sellsy <operation-id>`: call any Sellsy operation.

use std::sync::Arc;

use futures::TryStreamExt;
use hlbridge_core::auth::TokenManager;
use hlbridge_core::error::Error;
use hlbridge_sellsy::oauth::SellsyOAuth;
use hlbridge_sellsy::{CallInput, PagingMode, SellsyAuth, SellsyClient};

use crate::ghl_cmd::write_response;
use crate::input::{parse_body, parse_params};
use crate::output::{print_error, Exit};

#[derive(Debug, clap::Args)]
pub struct SellsyArgs {
    /// Operation id, as `hlbridge ops list --app sellsy` shows it (e.g. contacts.get-list).
    pub operation: String,
    /// A path or query parameter, NAME=VALUE (repeat for several or for a list, e.g. embed[]=...).
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
    /// With --all: page with numeric offsets instead of seek tokens.
    #[arg(long, requires = "all")]
    pub numeric_offsets: bool,
    /// API base URL.
    #[arg(long, env = "HLBRIDGE_SELLSY_BASE_URL", default_value = hlbridge_sellsy::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// OAuth client id (Personal client: client_credentials).
    #[arg(long, env = "HLBRIDGE_SELLSY_CLIENT_ID")]
    pub client_id: Option<String>,
    #[arg(long, env = "HLBRIDGE_SELLSY_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Token endpoint. Default: Sellsy's, or the emulator's when --base-url points at one
    /// (`http://host:port/v2` → `http://host:port/oauth2/access-tokens`).
    #[arg(long, env = "HLBRIDGE_SELLSY_TOKEN_URL")]
    pub token_url: Option<String>,
    /// An access token to use as is, instead of client credentials.
    #[arg(long, env = "HLBRIDGE_SELLSY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Where `hlbridge connect sellsy` stored its tokens (`sqlite://PATH`).
    #[arg(
        long,
        env = "HLBRIDGE_DATABASE_URL",
        default_value = "sqlite://hlbridge.sqlite"
    )]
    pub database_url: String,
    /// A stored connection (`hlbridge connections list`); without other credentials the
    /// only Sellsy connection is used.
    #[arg(long)]
    pub connection: Option<String>,
}

/// Tokens stored by `hlbridge connect sellsy`, if the database exists and holds them.
type Stored = (
    Arc<dyn hlbridge_core::auth::TokenStore>,
    hlbridge_core::auth::Tokens,
);

fn stored_tokens(database_url: &str) -> Result<Option<Stored>, Error> {
    let Ok(path) = crate::connect_cmd::sqlite_path(database_url) else {
        return Ok(None);
    };
    if !path.exists() {
        return Ok(None);
    }
    let store = crate::connect_cmd::open_token_store(database_url)?;
    Ok(store
        .load(crate::connect_cmd::SELLSY_KEY)?
        .map(|t| (store, t)))
}

pub async fn run(args: SellsyArgs) -> Exit {
    let json = args.json;
    match call(args).await {
        Ok(()) => Exit::Ok,
        Err(e) => print_error(&e, json),
    }
}

/// Sellsy's token endpoint, or the emulator's beside a non-Sellsy base URL.
pub fn token_url_for(base_url: &str, explicit: Option<String>) -> String {
    if let Some(url) = explicit.filter(|u| !u.is_empty()) {
        return url;
    }
    hlbridge_sellsy::oauth::token_url_for(base_url)
}

async fn call(args: SellsyArgs) -> Result<(), Error> {
    let op = hlbridge_sellsy::operation(&args.operation)?;
    let params = parse_params(&args.params).map_err(|e| Error::InvalidInput(e.0))?;
    let body = parse_body(args.body.as_deref()).map_err(|e| Error::InvalidInput(e.0))?;
    let input = CallInput { params, body };
    let token_url = token_url_for(&args.base_url, args.token_url.clone());
    let token = args.token.clone().filter(|t| !t.is_empty());
    let client_id = args.client_id.clone().filter(|c| !c.is_empty());
    // Precedence: an explicit token, then tokens stored by `hlbridge connect sellsy`,
    // then client_credentials.
    if let Some(id) = args.connection.as_deref() {
        let client = crate::connections_cmd::stored_sellsy_client(&args.database_url, Some(id))?
            .ok_or_else(|| Error::Config(format!("--connection {id}: no such connection")))?;
        return send(client, op, input, &args).await;
    }
    let stored = match token {
        Some(_) => None,
        None => stored_tokens(&args.database_url)?,
    };
    let auth = if let Some(token) = token {
        SellsyAuth::Token(token)
    } else if let Some((store, tokens)) = stored {
        let client_id = client_id
            .or_else(|| tokens.extra_str("client_id").map(str::to_string))
            .unwrap_or_default();
        let oauth = Arc::new(SellsyOAuth::new(
            &token_url,
            &client_id,
            args.client_secret.as_deref(),
        )?);
        SellsyAuth::OAuth(Arc::new(TokenManager::load(
            crate::connect_cmd::SELLSY_KEY,
            store,
            Some(oauth),
        )?))
    } else if let Some(client_id) = client_id {
        let oauth = Arc::new(SellsyOAuth::new(
            &token_url,
            &client_id,
            args.client_secret.as_deref(),
        )?);
        // Validate the input before spending a token request on it.
        SellsyClient::builder()
            .base_url(&args.base_url)
            .auth(SellsyAuth::Token(String::new()))
            .build()?
            .prepare(op, &input)?;
        let tokens = oauth.client_credentials().await?;
        let store = Arc::new(hlbridge_core::auth::MemoryTokenStore::default());
        SellsyAuth::OAuth(Arc::new(TokenManager::create(
            "sellsy:cli",
            store,
            Some(oauth),
            tokens,
        )?))
    } else if let Some(client) =
        crate::connections_cmd::stored_sellsy_client(&args.database_url, None)?
    {
        return send(client, op, input, &args).await;
    } else {
        return Err(Error::Config(
            "no Sellsy credentials: store a connection (`hlbridge connections add sellsy` or `hlbridge connect sellsy`), or set HLBRIDGE_SELLSY_CLIENT_ID and HLBRIDGE_SELLSY_CLIENT_SECRET (Personal client), or HLBRIDGE_SELLSY_TOKEN".into(),
        ));
    };
    // One budget per account for every process sharing the state database.
    let db = crate::connect_cmd::sqlite_path(&args.database_url)?;
    let slots = hlbridge_core::rate::SharedSlots::lazy(&db);
    let client = SellsyClient::builder()
        .base_url(&args.base_url)
        .auth(auth)
        .budget(Arc::new(
            hlbridge_sellsy::flavor::default_budget().with_shared(slots),
        ))
        .build()?;
    send(client, op, input, &args).await
}

async fn send(
    client: SellsyClient,
    op: &'static hlbridge_core::optable::Operation,
    input: CallInput,
    args: &SellsyArgs,
) -> Result<(), Error> {
    if args.all {
        let mode = if args.numeric_offsets {
            PagingMode::Offset
        } else {
            PagingMode::Seek
        };
        let stream = client.stream(op, input, mode);
        futures::pin_mut!(stream);
        while let Some(item) = stream.try_next().await? {
            outln!("{item}");
        }
        return Ok(());
    }
    let resp = client.call_op(op, &input).await?;
    write_response(&resp, None, args.json)
}
