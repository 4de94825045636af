//! `hlbridge serve`: webhooks, OAuth, the REST API, metrics, and every pair's sync in
//! one process. Prints `listening on http://ADDR` once ready; SIGTERM or Ctrl-C drains
//! in-flight work and exits 0.

use std::net::SocketAddr;
use std::time::Duration;

use hlbridge_service::api::{GhlApp, SellsyApp};
use hlbridge_service::server::{self, ServerOptions};
use hlbridge_service::ServiceConfig;

use crate::sync_cmd::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HLBRIDGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The URL users and providers reach this server at (OAuth redirect URIs and
    /// webhook URLs); default http://LISTEN.
    #[arg(long, env = "HLBRIDGE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The state database (`sqlite://PATH`).
    #[arg(
        long,
        env = "HLBRIDGE_DATABASE_URL",
        default_value = "sqlite://hlbridge.sqlite"
    )]
    pub database_url: String,
    /// GHL's Ed25519 public key (PEM text or @file) verifying `x-ghl-signature`;
    /// without it `POST /webhooks/ghl` answers 404.
    #[arg(long, env = "HLBRIDGE_GHL_WEBHOOK_PUBLIC_KEY", hide_env_values = true)]
    pub ghl_webhook_public_key: Option<String>,
    /// The Sellsy webhook secret; without it `POST /webhooks/sellsy` answers 404.
    #[arg(long, env = "HLBRIDGE_SELLSY_WEBHOOK_SECRET", hide_env_values = true)]
    pub sellsy_webhook_secret: Option<String>,
    /// Pair cycles running at the same time.
    #[arg(long, default_value_t = 4)]
    pub max_concurrent: usize,
    /// Seconds a shutdown waits for running cycles before it stops them (the outbox
    /// resumes them on the next start).
    #[arg(long, default_value_t = 30)]
    pub drain_secs: u64,
    #[arg(long, env = "HLBRIDGE_GHL_CLIENT_ID")]
    pub ghl_client_id: Option<String>,
    #[arg(long, env = "HLBRIDGE_GHL_CLIENT_SECRET", hide_env_values = true)]
    pub ghl_client_secret: Option<String>,
    #[arg(long, env = "HLBRIDGE_GHL_BASE_URL", default_value = hlbridge_ghl::DEFAULT_BASE_URL)]
    pub ghl_base_url: String,
    #[arg(long, env = "HLBRIDGE_GHL_AUTHORIZE_URL")]
    pub ghl_authorize_url: Option<String>,
    #[arg(
        long,
        default_value = "contacts.readonly contacts.write locations.readonly locations/customFields.readonly locations/tasks.readonly oauth.readonly oauth.write"
    )]
    pub ghl_scopes: String,
    #[arg(long, env = "HLBRIDGE_SELLSY_CLIENT_ID")]
    pub sellsy_client_id: Option<String>,
    #[arg(long, env = "HLBRIDGE_SELLSY_CLIENT_SECRET", hide_env_values = true)]
    pub sellsy_client_secret: Option<String>,
    #[arg(long, env = "HLBRIDGE_SELLSY_BASE_URL", default_value = hlbridge_sellsy::DEFAULT_BASE_URL)]
    pub sellsy_base_url: String,
    #[arg(long, env = "HLBRIDGE_SELLSY_AUTHORIZE_URL")]
    pub sellsy_authorize_url: Option<String>,
    #[arg(long, env = "HLBRIDGE_SELLSY_TOKEN_URL")]
    pub sellsy_token_url: Option<String>,
    /// Run every pair's cycle this often instead of its own poll interval (seconds).
    #[arg(long, hide = true, env = "HLBRIDGE_SERVE_INTERVAL_SECS")]
    pub interval_secs: Option<f64>,
}

/// `serve`'s options from the environment alone (as `hlbridge up` runs it).
pub fn args_from_env() -> Result<ServeArgs, String> {
    use clap::{Args, FromArgMatches};
    let cmd = ServeArgs::augment_args(clap::Command::new("serve"));
    let matches = cmd
        .try_get_matches_from(["serve"])
        .map_err(|e| e.to_string())?;
    ServeArgs::from_arg_matches(&matches).map_err(|e| e.to_string())
}

/// The options of `serve`, checked before anything is created.
pub fn options(args: &ServeArgs) -> Result<(ServerOptions, SocketAddr), String> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        format!(
            "--listen {:?} (HLBRIDGE_LISTEN): give an address and port, e.g. 127.0.0.1:8080",
            args.listen
        )
    })?;
    let public_url = match &args.public_url {
        Some(u) => Some(url::Url::parse(u).map_err(|e| {
            format!("--public-url {u:?} (HLBRIDGE_PUBLIC_URL): not a URL ({e}); e.g. https://hlbridge.example.com")
        })?),
        None => None,
    };
    let db_path = hlbridge_accounts::sqlite_path(&args.database_url).map_err(|e| e.to_string())?;
    let mut service = ServiceConfig::new(listen, db_path, public_url);
    service.ghl_public_key_pem = match &args.ghl_webhook_public_key {
        Some(v) if v.starts_with('@') => Some(
            std::fs::read_to_string(&v[1..])
                .map_err(|e| format!("--ghl-webhook-public-key {v}: cannot read the file ({e})"))?,
        ),
        other => other.clone(),
    };
    service.sellsy_webhook_secret = args.sellsy_webhook_secret.clone().filter(|s| !s.is_empty());
    let ghl_app = match (&args.ghl_client_id, &args.ghl_client_secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Some(GhlApp {
            client_id: id.clone(),
            client_secret: secret.clone(),
            base_url: args.ghl_base_url.clone(),
            authorize_url: args
                .ghl_authorize_url
                .clone()
                .unwrap_or_else(|| hlbridge_ghl::oauth::authorize_url_for(&args.ghl_base_url)),
            scopes: args.ghl_scopes.clone(),
        }),
        _ => None,
    };
    let sellsy_app =
        args.sellsy_client_id
            .clone()
            .filter(|c| !c.is_empty())
            .map(|client_id| SellsyApp {
                client_id,
                client_secret: args.sellsy_client_secret.clone().filter(|s| !s.is_empty()),
                base_url: args.sellsy_base_url.clone(),
                authorize_url: args.sellsy_authorize_url.clone().unwrap_or_else(|| {
                    hlbridge_sellsy::oauth::authorize_url_for(&args.sellsy_base_url)
                }),
                token_url: args.sellsy_token_url.clone().unwrap_or_else(|| {
                    hlbridge_sellsy::oauth::token_url_for(&args.sellsy_base_url)
                }),
            });
    let interval_override = match args.interval_secs {
        Some(s) if s > 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(format!(
                "HLBRIDGE_SERVE_INTERVAL_SECS = {s}: give a positive number of seconds"
            ))
        }
        None => None,
    };
    Ok((
        ServerOptions {
            service,
            ghl_app,
            sellsy_app,
            budgets: crate::budgets::shared_for(&args.database_url),
            max_concurrent: args.max_concurrent.max(1),
            drain: Duration::from_secs(args.drain_secs),
            interval_override,
            flow_tick: None,
            on_cycle: Some(std::sync::Arc::new(
                |pair: &str, report: &hlbridge_engine::CycleReport, targeted: bool| {
                    // Webhook-targeted syncs that found nothing to do (our own writes
                    // echoed back) stay quiet; cycles that wrote or failed are shown.
                    let sides = [
                        &report.ghl,
                        &report.sellsy,
                        &report.tasks.ghl,
                        &report.tasks.sellsy,
                        &report.notes.ghl,
                        &report.notes.sellsy,
                    ];
                    let wrote: u64 = sides
                        .iter()
                        .map(|c| c.created + c.updated + c.archived + c.deleted + c.failed)
                        .sum();
                    if targeted && wrote == 0 && report.errors.is_empty() && report.linked == 0 {
                        return;
                    }
                    let now = chrono::Utc::now().format("%H:%M:%S");
                    outln!("{now} pair {pair}: {}", report.line());
                    for e in report.errors.iter().take(3) {
                        eprintln!("  warning: pair {pair}: {e}");
                    }
                },
            )),
        },
        listen,
    ))
}

/// SIGTERM or Ctrl-C.
pub async fn terminated() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn run(args: ServeArgs) -> i32 {
    let (opts, listen) = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    serve_with(opts, listen, |_| {}).await
}

/// Bind, serve until SIGTERM/Ctrl-C, drain. `extra` runs once the server is ready
/// (after the `listening on` line).
pub async fn serve_with(
    opts: ServerOptions,
    listen: SocketAddr,
    extra: impl FnOnce(&server::Started),
) -> i32 {
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: --listen {listen}: cannot listen ({e}); is another server on that port?"
            );
            return EXIT_USAGE;
        }
    };
    serve_on(opts, listener, extra).await
}

/// Serve on a bound listener until SIGTERM/Ctrl-C, then drain.
pub async fn serve_on(
    opts: ServerOptions,
    listener: tokio::net::TcpListener,
    extra: impl FnOnce(&server::Started),
) -> i32 {
    let shutdown = async {
        terminated().await;
        eprintln!("stopping: finishing in-flight requests, events and cycles");
    };
    let result = server::run(opts, listener, shutdown, |started| {
        outln!("listening on http://{}", started.addr);
        extra(started);
    })
    .await;
    match result {
        Ok(()) => EXIT_OK,
        Err(hlbridge_service::ServiceError::Config(e)) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILED
        }
    }
}
