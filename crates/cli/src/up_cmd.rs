//! `hlbridge up`: the main job on embedded defaults.
//!
//! With no GHL credentials configured it starts both emulators with demo data (the
//! sandbox), checks them through the real client and keeps serving until Ctrl-C.
//! With credentials it checks the connection to the real account.

use std::net::SocketAddr;

use anyhow::Context;
use hlbridge_emulator::ghl::GhlConfig;
use hlbridge_emulator::sellsy::SellsyConfig;
use hlbridge_ghl::{ContactSearch, GhlAuth, GhlClient};

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
    #[arg(long, env = "HLBRIDGE_GHL_BASE_URL")]
    pub ghl_base_url: Option<String>,
    #[arg(long, env = "HLBRIDGE_GHL_TOKEN", hide_env_values = true)]
    pub ghl_token: Option<String>,
    #[arg(long, env = "HLBRIDGE_GHL_LOCATION_ID")]
    pub ghl_location_id: Option<String>,
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    if let Some(token) = args.ghl_token.clone().filter(|t| !t.is_empty()) {
        return check_real_account(&args, token).await;
    }
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

    let client = GhlClient::builder()
        .base_url(&ghl.base_url)
        .auth(GhlAuth::LocationToken(token.clone()))
        .location_id(&location)
        .build()?;
    let (_, total) = client
        .contacts()
        .search_page(&ContactSearch {
            page_limit: 1,
            ..ContactSearch::by_date_updated()
        })
        .await
        .context("the GHL sandbox does not answer")?;

    outln!("hlbridge sandbox (no credentials configured)");
    outln!(
        "  GHL emulator:    {}  ({total} demo contacts)",
        ghl.base_url
    );
    outln!(
        "  Sellsy emulator: {}  (OAuth at {})",
        sellsy.base_url,
        sellsy.oauth_base
    );
    outln!("Point the CLI at the GHL sandbox with:");
    outln!("  export HLBRIDGE_GHL_BASE_URL={}", ghl.base_url);
    outln!("  export HLBRIDGE_GHL_TOKEN={token}");
    outln!("  export HLBRIDGE_GHL_LOCATION_ID={location}");
    outln!(
        "Sellsy client_credentials: client_id={} (secret in the emulator config)",
        sellsy_config.client_id
    );
    outln!("ready — Ctrl-C stops");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    outln!("stopping");
    sellsy.shutdown().await;
    drop(ghl);
    Ok(())
}

async fn check_real_account(args: &UpArgs, token: String) -> anyhow::Result<()> {
    let location = args
        .ghl_location_id
        .clone()
        .filter(|l| !l.is_empty())
        .context(
            "HLBRIDGE_GHL_TOKEN is set but HLBRIDGE_GHL_LOCATION_ID is not: set the sub-account id",
        )?;
    let base = args
        .ghl_base_url
        .clone()
        .unwrap_or_else(|| hlbridge_ghl::DEFAULT_BASE_URL.to_string());
    let client = GhlClient::builder()
        .base_url(&base)
        .auth(GhlAuth::LocationToken(token))
        .location_id(&location)
        .build()?;
    let (_, total) = client
        .contacts()
        .search_page(&ContactSearch {
            page_limit: 1,
            ..ContactSearch::by_date_updated()
        })
        .await
        .with_context(|| format!("cannot reach GHL at {base} for location {location}"))?;
    outln!("GHL connection OK: location {location} has {total} contacts ({base})");
    Ok(())
}
