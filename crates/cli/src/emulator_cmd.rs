//! `hlbridge emulator`: serve the GHL and/or Sellsy emulators on local ports.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::ghl::{GhlConfig, LocationSpec};
use hlbridge_emulator::sellsy::SellsyConfig;

#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Serve the GHL API on this port (0 picks a free one).
    #[arg(long)]
    pub ghl_port: Option<u16>,
    /// The private integration token the GHL emulator accepts (Location token).
    #[arg(long, default_value = "pit-emulator")]
    pub ghl_token: String,
    /// The GHL sub-account (location) id.
    #[arg(long, default_value = "loc-emulator")]
    pub ghl_location: String,
    /// More locations of the same company (comma-separated `id` or `id=token`), each
    /// with its own data; its private integration token is `pit-<id>` unless given.
    /// The agency lists them (`GET /oauth/installedLocations`) and mints their tokens
    /// (`POST /oauth/locationToken`); `POST /emulator/locations` and
    /// `DELETE /emulator/locations/<id>` install and uninstall the app at runtime
    /// (signed INSTALL / UNINSTALL webhooks).
    #[arg(long, value_delimiter = ',', value_parser = parse_location)]
    pub ghl_locations: Vec<LocationSpec>,
    /// An agency private integration token the GHL emulator accepts (Agency token of
    /// the company: installed locations, location tokens).
    #[arg(long)]
    pub ghl_agency_token: Option<String>,
    /// OAuth client id and secret of the GHL marketplace app.
    #[arg(long, default_value = "ghl-client")]
    pub ghl_client_id: String,
    #[arg(long, default_value = "ghl-secret")]
    pub ghl_client_secret: String,
    /// Burst limit: requests per interval per location.
    #[arg(long, default_value_t = 100)]
    pub ghl_rate_max: u32,
    /// Burst interval in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub ghl_rate_interval_ms: u64,
    /// Requests per day per location.
    #[arg(long, default_value_t = 200_000)]
    pub ghl_daily_limit: u32,
    /// Allow duplicate contacts (same email or phone).
    #[arg(long)]
    pub ghl_allow_duplicates: bool,
    /// Send signed webhook events to this URL.
    #[arg(long)]
    pub ghl_webhook_url: Option<String>,
    /// GHL's search index lags: contact search sees a write this many ms late
    /// (direct reads are immediate).
    #[arg(long, default_value_t = 0)]
    pub search_lag_ms: u64,
    /// Serve the Sellsy API on this port (0 picks a free one).
    #[arg(long)]
    pub sellsy_port: Option<u16>,
    #[arg(long, default_value = "sellsy-client")]
    pub sellsy_client_id: String,
    #[arg(long, default_value = "sellsy-secret")]
    pub sellsy_client_secret: String,
    /// Sellsy quota: requests per second (`unlimited` lifts it; default 20).
    #[arg(long, value_parser = parse_quota)]
    pub sellsy_quota_per_second: Option<u32>,
    /// Sellsy quota: requests per minute (`unlimited` lifts it; default 1200).
    #[arg(long, value_parser = parse_quota)]
    pub sellsy_quota_per_minute: Option<u32>,
    /// Sellsy quota: requests per UTC day (`unlimited` lifts it; default 200000).
    #[arg(long, value_parser = parse_quota)]
    pub sellsy_quota_per_day: Option<u32>,
    /// Sellsy quota: requests per month (`unlimited` lifts it; default 5000000).
    #[arg(long, value_parser = parse_quota)]
    pub sellsy_quota_per_month: Option<u32>,
    /// Fault injection, e.g. `429=0.05,5xx=0.1,slow=0.02,drop=0.01,expired=0.01,slow_ms=1500`;
    /// `commit_drop=0.02` applies a write and then drops the connection unanswered.
    #[arg(long)]
    pub faults: Option<String>,
    /// Seed this many demo contacts on each side.
    #[arg(long, default_value_t = 0)]
    pub seed: usize,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
}

/// One `--ghl-locations` item: `id` or `id=token`.
fn parse_location(raw: &str) -> Result<LocationSpec, String> {
    LocationSpec::parse(raw).map_err(|e| e.to_string())
}

/// A quota window: a count, or `unlimited` (the largest count, which no run spends).
fn parse_quota(raw: &str) -> Result<u32, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "unlimited" | "lifted" | "none" => Ok(u32::MAX),
        n => n
            .parse::<u32>()
            .map_err(|_| format!("`{raw}` is not a request count or `unlimited`")),
    }
}

pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    if args.ghl_port.is_none() && args.sellsy_port.is_none() {
        anyhow::bail!("nothing to serve: give --ghl-port and/or --sellsy-port");
    }
    let faults = match &args.faults {
        Some(spec) => FaultConfig::parse(spec).map_err(|e| anyhow::anyhow!("--faults: {e}"))?,
        None => FaultConfig::default(),
    };
    let mut ghl = None;
    if let Some(port) = args.ghl_port {
        let config = GhlConfig {
            token: args.ghl_token.clone(),
            location_id: args.ghl_location.clone(),
            extra_locations: args.ghl_locations.clone(),
            agency_token: args.ghl_agency_token.clone(),
            client_id: args.ghl_client_id.clone(),
            client_secret: args.ghl_client_secret.clone(),
            rate_max: args.ghl_rate_max,
            rate_interval: Duration::from_millis(args.ghl_rate_interval_ms),
            daily_limit: args.ghl_daily_limit,
            faults: faults.clone(),
            webhook_url: args.ghl_webhook_url.clone(),
            allow_duplicate_contacts: args.ghl_allow_duplicates,
            seed_contacts: args.seed,
            search_lag: Duration::from_millis(args.search_lag_ms),
            ..GhlConfig::default()
        };
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("--ghl-locations / --ghl-location / tokens: {e}"))?;
        let emu = hlbridge_emulator::ghl::start(config, SocketAddr::new(args.host, port))
            .await
            .with_context(|| format!("cannot serve the GHL emulator on port {port}"))?;
        eprintln!(
            "GHL emulator: {} (location {})",
            emu.base_url, args.ghl_location
        );
        if !args.ghl_locations.is_empty() {
            let ids: Vec<&str> = args.ghl_locations.iter().map(|l| l.id.as_str()).collect();
            eprintln!(
                "GHL emulator: more locations of the company: {} (private integration token pit-<id> unless given)",
                ids.join(", ")
            );
        }
        eprintln!(
            "GHL webhook signing key (Ed25519, verifies x-ghl-signature; also at {}/emulator/webhook-public-key):\n{}",
            emu.base_url,
            emu.public_key_pem.trim_end()
        );
        ghl = Some(emu);
    }
    let mut sellsy = None;
    if let Some(port) = args.sellsy_port {
        let defaults = SellsyConfig::default();
        let config = SellsyConfig {
            client_id: args.sellsy_client_id.clone(),
            client_secret: args.sellsy_client_secret.clone(),
            faults: faults.clone(),
            seed_contacts: args.seed,
            quota_per_second: args
                .sellsy_quota_per_second
                .unwrap_or(defaults.quota_per_second),
            quota_per_minute: args
                .sellsy_quota_per_minute
                .unwrap_or(defaults.quota_per_minute),
            quota_per_day: args.sellsy_quota_per_day.unwrap_or(defaults.quota_per_day),
            quota_per_month: args
                .sellsy_quota_per_month
                .unwrap_or(defaults.quota_per_month),
            ..defaults
        };
        let emu = hlbridge_emulator::sellsy::start(config, SocketAddr::new(args.host, port))
            .await
            .with_context(|| format!("cannot serve the Sellsy emulator on port {port}"))?;
        eprintln!(
            "Sellsy emulator: {} (OAuth at {})",
            emu.base_url, emu.oauth_base
        );
        sellsy = Some(emu);
    }
    outln!("ready");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("stopping");
    drop((ghl, sellsy));
    Ok(())
}
