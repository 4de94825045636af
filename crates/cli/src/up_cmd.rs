//! `hlbridge up`: the main job on embedded defaults.
//!
//! With no credentials configured it starts both emulators seeded with demo data (some
//! contacts present on both sides with the same email), points the sync at them with a
//! fresh SQLite state, and runs the two-way sync continuously. With credentials (file or
//! `HLBRIDGE_*`) it syncs the real accounts. Ctrl-C stops cleanly either way.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use hlbridge_emulator::ghl::GhlConfig;
use hlbridge_emulator::sellsy::SellsyConfig;
use hlbridge_engine::{Engine, EngineConfig, Progress};
use hlbridge_ghl::{ContactSearch, GhlAuth, GhlClient};
use hlbridge_sellsy::{CallInput, SellsyAuth, SellsyClient};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Demo contacts seeded on each side of the sandbox.
    #[arg(long, default_value_t = 300)]
    pub seed: usize,
    /// Port of the sandbox GHL emulator (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub ghl_port: u16,
    /// Port of the sandbox Sellsy emulator (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub sellsy_port: u16,
    /// Sync configuration (mapping, policies, interval); optional.
    #[arg(long, default_value = "hlbridge.toml")]
    pub config: PathBuf,
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let required = args.config != std::path::Path::new("hlbridge.toml");
    let config = EngineConfig::load(Some(&args.config), required)?;
    let has_credentials = config.ghl.token.is_some()
        || config.sellsy.client_id.is_some()
        || config.sellsy.token.is_some();
    if has_credentials {
        outln!("hlbridge: syncing the configured accounts (Ctrl-C stops)");
        return run_sync(config).await;
    }
    sandbox(args, config).await
}

async fn sandbox(args: UpArgs, mut config: EngineConfig) -> anyhow::Result<()> {
    let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let ghl_config = GhlConfig {
        seed_contacts: args.seed,
        ..GhlConfig::default()
    };
    let (token, location) = (ghl_config.token.clone(), ghl_config.location_id.clone());
    let ghl = hlbridge_emulator::ghl::start(ghl_config, local(args.ghl_port))
        .await
        .context("cannot start the GHL emulator")?;
    let sellsy_config = SellsyConfig {
        seed_contacts: args.seed,
        ..SellsyConfig::default()
    };
    let sellsy = hlbridge_emulator::sellsy::start(sellsy_config.clone(), local(args.sellsy_port))
        .await
        .context("cannot start the Sellsy emulator")?;

    let overlap = add_overlap(
        &ghl.base_url,
        &token,
        &location,
        &sellsy.base_url,
        &sellsy_config,
        args.seed / 5,
    )
    .await?;

    let state_dir = std::env::temp_dir().join(format!("hlbridge-sandbox-{}", std::process::id()));
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
    config.ghl.base_url = Some(ghl.base_url.clone());
    config.ghl.token = Some(token.clone());
    config.ghl.location_id = Some(location.clone());
    config.sellsy.base_url = Some(sellsy.base_url.clone());
    config.sellsy.client_id = Some(sellsy_config.client_id.clone());
    config.sellsy.client_secret = Some(sellsy_config.client_secret.clone());
    config.database.url = Some(format!(
        "sqlite://{}",
        state_dir.join("sync.sqlite").display()
    ));

    outln!("hlbridge sandbox (no credentials configured)");
    outln!(
        "  GHL emulator:    {}  ({} demo contacts, location {location}, token {token})",
        ghl.base_url,
        args.seed
    );
    outln!(
        "  Sellsy emulator: {}  ({} demo contacts + {overlap} sharing an email with GHL; client_credentials {})",
        sellsy.base_url,
        args.seed,
        sellsy_config.client_id
    );
    outln!("  sync state:      {}", state_dir.display());
    outln!("  try: HLBRIDGE_GHL_BASE_URL={} HLBRIDGE_GHL_TOKEN={token} HLBRIDGE_GHL_LOCATION_ID={location} hlbridge ghl contacts.get-contacts", ghl.base_url);
    outln!("  web UI: not built yet; `hlbridge status` and `hlbridge notes search` read the sync state");
    outln!(
        "initial sync, then one cycle every {} min (Ctrl-C stops)",
        config.sync.poll_interval_minutes
    );
    let result = run_sync(config).await;
    sellsy.shutdown().await;
    ghl.shutdown();
    result
}

/// Give `count` of the GHL demo contacts a Sellsy twin with the same email, through the
/// Sellsy API, so the first sync links them instead of duplicating them.
async fn add_overlap(
    ghl_base: &str,
    token: &str,
    location: &str,
    sellsy_base: &str,
    sellsy_config: &SellsyConfig,
    count: usize,
) -> anyhow::Result<usize> {
    let ghl = GhlClient::builder()
        .base_url(ghl_base)
        .auth(GhlAuth::LocationToken(token.to_string()))
        .location_id(location)
        .build()?;
    let (contacts, _) = ghl
        .contacts()
        .search_page(&ContactSearch {
            page_limit: count.clamp(1, 500) as u32,
            ..ContactSearch::by_date_updated()
        })
        .await
        .context("the GHL sandbox does not answer")?;
    let token_url = crate::sellsy_cmd::token_url_for(sellsy_base, None);
    let oauth = hlbridge_sellsy::oauth::SellsyOAuth::new(
        &token_url,
        &sellsy_config.client_id,
        Some(&sellsy_config.client_secret),
    )?;
    let tokens = oauth
        .client_credentials()
        .await
        .context("the Sellsy sandbox refuses its own client")?;
    let sellsy = SellsyClient::builder()
        .base_url(sellsy_base)
        .auth(SellsyAuth::Token(tokens.access().to_string()))
        .build()?;
    let mut made = 0;
    for c in contacts.iter().take(count) {
        let Some(email) = &c.email else { continue };
        let body = serde_json::json!({
            "first_name": c.first_name,
            "last_name": c.last_name.clone().unwrap_or_else(|| "Contact".into()),
            "email": email,
        });
        sellsy
            .call("contacts.create-contact", CallInput::new().body(body))
            .await
            .context("cannot create a Sellsy twin")?;
        made += 1;
    }
    Ok(made)
}

/// A progress bar on standard error, redrawn every 5%.
fn bar(last: &AtomicU64, done: u64, total: u64, what: &str) {
    if total == 0 {
        return;
    }
    let step = (done * 20 / total).min(20);
    if last.swap(step, Ordering::Relaxed) != step {
        let filled = "#".repeat(step as usize);
        let empty = ".".repeat(20 - step as usize);
        eprintln!("  [{filled}{empty}] {done}/{total} {what}");
    }
}

async fn run_sync(config: EngineConfig) -> anyhow::Result<()> {
    config.poll_interval()?;
    let engine = Engine::connect(config).await?;
    let reconciled = AtomicU64::new(u64::MAX);
    let swept = AtomicU64::new(u64::MAX);
    let progress = move |p: Progress| match p {
        Progress::Reconciled { done, total } => {
            bar(&reconciled, done, total, "contacts reconciled")
        }
        Progress::Swept { done, total } => bar(
            &swept,
            done,
            total,
            "linked contacts' tasks and notes swept",
        ),
        Progress::Cycle(report) => {
            let now = chrono::Utc::now().format("%H:%M:%S");
            outln!("{now} {}", report.line());
        }
        Progress::Read { .. } => {}
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("stopping: the state is saved, the next start resumes");
    };
    engine.run_continuous(&progress, shutdown).await?;
    Ok(())
}
