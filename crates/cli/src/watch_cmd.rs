//! `hlbridge watch [--app ghl|sellsy] <operation-id> --every 1m..15m`: poll a read
//! operation of either app and print each new (or changed) item once, as a JSON line.

use std::path::PathBuf;
use std::time::Duration;

use hlbridge_core::call::CallInput;
use hlbridge_core::error::Error;
use hlbridge_engine::triggers::{
    parse_interval, poll, poll_sellsy, sellsy_trigger, Mode, PollOutcome, SqliteTriggerStore,
    Trigger,
};
use hlbridge_ghl::{GhlAuth, GhlClient};
use hlbridge_sellsy::{SellsyAuth, SellsyClient};

use crate::input::{parse_body, parse_params};
use crate::output::{print_error, Exit};

/// Length of a "minute" for `--every`; tests shorten it, nothing else should.
const MINUTE_ENV: &str = "HLBRIDGE_WATCH_MINUTE_MS";

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Which app's operation: `ghl` (default) or `sellsy`.
    #[arg(long, default_value = "ghl", value_parser = ["ghl", "sellsy"])]
    pub app: String,
    /// A read operation, as `hlbridge ops list --kind trigger` shows it.
    pub operation: String,
    /// Poll interval, from 1m to 15m (e.g. 1m, 90s, 5m).
    #[arg(long, default_value = "5m")]
    pub every: String,
    /// `new`: each item once; `updated`: again on every real change.
    #[arg(long, default_value = "new", value_parser = ["new", "updated"])]
    pub on: String,
    /// A path or query parameter, NAME=VALUE.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// The request body (search operations): JSON text or @file.
    #[arg(long)]
    pub body: Option<String>,
    /// Emit what already exists on the first poll instead of only what comes after.
    #[arg(long)]
    pub from_beginning: bool,
    /// Poll once and exit.
    #[arg(long)]
    pub once: bool,
    /// Where trigger state lives (`sqlite://PATH`).
    #[arg(
        long,
        env = "HLBRIDGE_DATABASE_URL",
        default_value = "sqlite://hlbridge.sqlite"
    )]
    pub database_url: String,
    #[arg(long, env = "HLBRIDGE_GHL_BASE_URL", default_value = hlbridge_ghl::DEFAULT_BASE_URL)]
    pub base_url: String,
    #[arg(long, env = "HLBRIDGE_GHL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long, env = "HLBRIDGE_GHL_LOCATION_ID")]
    pub location_id: Option<String>,
    /// A stored connection (`hlbridge connections list`) when no token is given; default
    /// the only GHL location connection (or the one of --location-id), with --app sellsy
    /// the only Sellsy connection.
    #[arg(long)]
    pub connection: Option<String>,
    /// With --app sellsy: the Sellsy API base URL.
    #[arg(long, env = "HLBRIDGE_SELLSY_BASE_URL", default_value = hlbridge_sellsy::DEFAULT_BASE_URL)]
    pub sellsy_base_url: String,
    /// With --app sellsy: a Sellsy bearer token (else a stored Sellsy connection).
    #[arg(long, env = "HLBRIDGE_SELLSY_TOKEN", hide_env_values = true)]
    pub sellsy_token: Option<String>,
}

/// The client a watch polls through.
enum Source {
    Ghl(GhlClient),
    Sellsy(SellsyClient),
}

impl Source {
    async fn poll(
        &self,
        store: &SqliteTriggerStore,
        trigger: &Trigger,
        from_beginning: bool,
    ) -> hlbridge_engine::Result<PollOutcome> {
        let emit = |item: &serde_json::Value| outln!("{item}");
        match self {
            Source::Ghl(c) => poll(c, store, trigger, from_beginning, emit).await,
            Source::Sellsy(c) => poll_sellsy(c, store, trigger, from_beginning, emit).await,
        }
    }
}

fn minute() -> Duration {
    std::env::var(MINUTE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(60))
}

fn sqlite_path(url: &str) -> Result<PathBuf, Error> {
    url.strip_prefix("sqlite://")
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::Config(format!(
                "HLBRIDGE_DATABASE_URL {url:?}: watch state needs sqlite://PATH"
            ))
        })
}

pub async fn run(args: WatchArgs) -> Exit {
    match watch(args).await {
        Ok(()) => Exit::Ok,
        Err(e) => print_error(&e, false),
    }
}

async fn watch(args: WatchArgs) -> Result<(), Error> {
    let every = parse_interval(&args.every, minute()).map_err(Error::InvalidInput)?;
    let mode: Mode = args.on.parse().map_err(Error::InvalidInput)?;
    let params = parse_params(&args.params).map_err(|e| Error::InvalidInput(e.0))?;
    let body = parse_body(args.body.as_deref()).map_err(|e| Error::InvalidInput(e.0))?;
    let input = CallInput { params, body };
    let (source, trigger) = if args.app == "sellsy" {
        sellsy_source(&args, input, mode)?
    } else {
        ghl_source(&args, input, mode).await?
    };
    let store = SqliteTriggerStore::open(&sqlite_path(&args.database_url)?)
        .map_err(|e| Error::Config(e.to_string()))?;
    let mut from_beginning = args.from_beginning;
    loop {
        let outcome = source.poll(&store, &trigger, from_beginning).await;
        match outcome {
            Ok(o) => tracing::info!(
                seen = o.seen,
                emitted = o.emitted,
                baseline = o.baseline,
                "poll done"
            ),
            Err(hlbridge_engine::EngineError::Api { source, .. })
                if !args.once && !source.is_input_error() =>
            {
                eprintln!("poll failed, trying again next interval: {source}");
            }
            Err(hlbridge_engine::EngineError::Api { source, .. }) => return Err(source),
            Err(e) => return Err(Error::Config(e.to_string())),
        }
        from_beginning = false;
        if args.once {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

async fn ghl_source(
    args: &WatchArgs,
    input: CallInput,
    mode: Mode,
) -> Result<(Source, Trigger), Error> {
    let op = hlbridge_ghl::operation(&args.operation)?;
    let trigger = Trigger::new(op, input, mode).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let location = args.location_id.clone().filter(|l| !l.is_empty());
    let client = match args.token.clone().filter(|t| !t.is_empty()) {
        Some(token) if args.connection.is_none() => {
            let mut builder = GhlClient::builder()
                .base_url(args.base_url.clone())
                .auth(GhlAuth::LocationToken(token));
            if let Some(budget) = crate::budgets::shared_for(&args.database_url).ghl {
                builder = builder.budget(budget);
            }
            if let Some(loc) = location {
                builder = builder.location_id(loc);
            }
            builder.build()?
        }
        _ => crate::connections_cmd::stored_ghl_client(
            &args.database_url,
            args.connection.as_deref(),
            location.as_deref(),
        )?
        .ok_or_else(|| {
            Error::Config(
                "no GHL token: set HLBRIDGE_GHL_TOKEN, pass --token, or store a connection (`hlbridge connections add ghl`)".into(),
            )
        })?,
    };
    // Check the parameters before the first poll, so a typo fails at once.
    client.prepare(op, &trigger.input).await?;
    Ok((Source::Ghl(client), trigger))
}

fn sellsy_source(
    args: &WatchArgs,
    input: CallInput,
    mode: Mode,
) -> Result<(Source, Trigger), Error> {
    let op = hlbridge_sellsy::operation(&args.operation)?;
    let trigger =
        sellsy_trigger(op, input, mode).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let client = match args.sellsy_token.clone().filter(|t| !t.is_empty()) {
        Some(token) if args.connection.is_none() => {
            let mut builder = SellsyClient::builder()
                .base_url(args.sellsy_base_url.clone())
                .auth(SellsyAuth::Token(token));
            if let Some(budget) = crate::budgets::shared_for(&args.database_url).sellsy {
                builder = builder.budget(budget);
            }
            builder.build()?
        }
        _ => crate::connections_cmd::stored_sellsy_client(
            &args.database_url,
            args.connection.as_deref(),
        )?
        .ok_or_else(|| {
            Error::Config(
                "no Sellsy token: set HLBRIDGE_SELLSY_TOKEN, pass --sellsy-token, or store a connection (`hlbridge connections add sellsy`)".into(),
            )
        })?,
    };
    // Check the parameters before the first poll, so a typo fails at once.
    client.prepare(op, &trigger.input)?;
    Ok((Source::Sellsy(client), trigger))
}
