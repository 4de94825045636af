//! `hlbridge up`: the main job on embedded defaults — `hlbridge serve` in a stable
//! sandbox folder it reuses.
//!
//! - With no credentials configured it starts both emulators seeded with demo data
//!   (some contacts on both sides with the same email), stores a connection to each
//!   and their pair in the sandbox's state database, and serves (web sign-in, API,
//!   webhooks from the GHL emulator, the pair's sync). The emulators keep their data
//!   in memory: each start seeds them again, so the pair's sync state starts over with
//!   them, while the sign-in password, API tokens and connections are kept.
//! - With credentials (`HLBRIDGE_GHL_TOKEN` + `HLBRIDGE_GHL_LOCATION_ID`, Sellsy client
//!   credentials, in the environment or `hlbridge.toml`) it stores them as connections,
//!   pairs them once, and serves; the next start resumes where this one stopped.
//! - `--fresh` deletes the sandbox folder first. The folder is `--dir`, else
//!   `HLBRIDGE_SANDBOX_DIR`, else `$XDG_DATA_HOME/hlbridge/sandbox`
//!   (`~/.local/share/hlbridge/sandbox`).
//!
//! Exit codes: 0 stopped cleanly (Ctrl-C or SIGTERM), 1 something failed, 2 bad
//! configuration or a port that cannot be used.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use hlbridge_accounts::{Accounts, Budgets, Registry};
use hlbridge_emulator::ghl::GhlConfig;
use hlbridge_emulator::sellsy::SellsyConfig;
use hlbridge_engine::EngineConfig;
use hlbridge_ghl::{ContactSearch, GhlAuth, GhlClient};
use hlbridge_sellsy::{CallInput, SellsyAuth, SellsyClient};
use hlbridge_service::api::{GhlApp, SellsyApp};
use rand::RngCore;

use crate::sync_cmd::{EXIT_FAILED, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Demo contacts seeded on each side of the sandbox.
    #[arg(long, default_value_t = 300)]
    pub seed: usize,
    /// The sandbox folder (state database, key, sign-in password).
    #[arg(long, env = "HLBRIDGE_SANDBOX_DIR")]
    pub dir: Option<PathBuf>,
    /// Delete the sandbox folder and start over.
    #[arg(long)]
    pub fresh: bool,
    /// Where the service listens (a busy port falls back to a free one).
    #[arg(long, env = "HLBRIDGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Sync configuration of the pair (mapping, policies, interval); optional.
    #[arg(long, default_value = "hlbridge.toml")]
    pub config: PathBuf,
}

fn default_dir() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("hlbridge").join("sandbox")
}

pub async fn run(args: UpArgs) -> i32 {
    match up(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_FAILED
        }
    }
}

/// The sign-in password of the sandbox: `HLBRIDGE_ADMIN_PASSWORD`, else one generated
/// at the first start and kept in `DIR/admin-password` (mode 0600). Returns where it is.
fn admin_password(dir: &Path) -> anyhow::Result<String> {
    if std::env::var("HLBRIDGE_ADMIN_PASSWORD").is_ok_and(|p| !p.is_empty()) {
        return Ok("HLBRIDGE_ADMIN_PASSWORD".into());
    }
    let file = dir.join("admin-password");
    let password = match std::fs::read_to_string(&file) {
        Ok(p) => p.trim().to_string(),
        Err(_) => {
            let mut b = [0u8; 12];
            rand::thread_rng().fill_bytes(&mut b);
            let password: String = b.iter().map(|x| format!("{x:02x}")).collect();
            hlbridge_accounts::ensure_private_file(&file)?;
            std::fs::write(&file, &password)
                .with_context(|| format!("cannot write {}", file.display()))?;
            password
        }
    };
    // The service reads the first-start password from the environment.
    std::env::set_var("HLBRIDGE_ADMIN_PASSWORD", &password);
    Ok(file.display().to_string())
}

async fn up(args: UpArgs) -> anyhow::Result<i32> {
    let required = args.config != Path::new("hlbridge.toml");
    let config = match EngineConfig::load(Some(&args.config), required) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let listen: SocketAddr = match args.listen.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!(
                "error: --listen {:?}: give an address and port, e.g. 127.0.0.1:8080",
                args.listen
            );
            return Ok(EXIT_USAGE);
        }
    };
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    if args.fresh && dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
        outln!("--fresh: removed {}", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db_path = dir.join("hlbridge.sqlite");
    let registry = Arc::new(Registry::open(&db_path)?);
    let has_credentials = config.ghl.token.is_some()
        || config.sellsy.client_id.is_some()
        || config.sellsy.token.is_some();
    let pair_config = match std::fs::read_to_string(&args.config) {
        Ok(text) if has_credentials => strip_credentials(&text),
        Ok(text) => text,
        Err(_) => String::new(),
    };
    if let Err(e) = hlbridge_service::runner::validate_pair_config(&pair_config) {
        eprintln!("error: {}: {e}", args.config.display());
        return Ok(EXIT_USAGE);
    }
    let password_at = admin_password(&dir)?;
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("note: {listen} is not free ({e}); listening on a free port instead");
            tokio::net::TcpListener::bind(SocketAddr::new(listen.ip(), 0))
                .await
                .context("cannot listen on a free port")?
        }
    };
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let accounts = Accounts::new(registry.clone(), Budgets::default());
    let db_url = format!("sqlite://{}", db_path.display());
    let budgets = crate::budgets::shared_for(&db_url);
    // The environment's serve settings (OAuth apps, webhook keys, public URL) apply.
    let serve_args = match crate::serve_cmd::args_from_env() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let (mut opts, _) = match crate::serve_cmd::options(&serve_args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    opts.service.listen = addr;
    opts.service.db_path = db_path.clone();
    opts.budgets = budgets;
    let mut emulators = None;
    if has_credentials {
        let (g, s) = real_connections(&accounts, &config).await?;
        ensure_pair(&registry, &g, &s, &pair_config)?;
        outln!(
            "hlbridge: serving the configured accounts from {}",
            dir.display()
        );
    } else {
        let (ghl_cfg, sellsy_cfg) = (
            GhlConfig {
                seed_contacts: args.seed,
                webhook_url: Some(format!("{base}/webhooks/ghl")),
                ..GhlConfig::default()
            },
            SellsyConfig {
                seed_contacts: args.seed,
                ..SellsyConfig::default()
            },
        );
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let ghl = hlbridge_emulator::ghl::start(ghl_cfg.clone(), local)
            .await
            .context("cannot start the GHL emulator")?;
        let sellsy = hlbridge_emulator::sellsy::start(sellsy_cfg.clone(), local)
            .await
            .context("cannot start the Sellsy emulator")?;
        let overlap = add_overlap(
            &ghl.base_url,
            &ghl_cfg,
            &sellsy.base_url,
            &sellsy_cfg,
            args.seed / 5,
        )
        .await?;
        let g = accounts
            .add_ghl_pit(&ghl_cfg.token, &ghl_cfg.location_id, &ghl.base_url)
            .await?;
        let s = accounts
            .add_sellsy_client(
                &sellsy_cfg.client_id,
                &sellsy_cfg.client_secret,
                &sellsy.base_url,
                None,
            )
            .await?;
        // Fresh demo data: the pair's previous sync state would describe records that
        // no longer exist.
        for p in registry.pairs()? {
            let state = registry.pair_state_path(&p.id);
            for suffix in ["", "-wal", "-shm"] {
                let mut f = state.clone().into_os_string();
                f.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(f));
            }
        }
        ensure_pair(&registry, &g.id, &s.id, &pair_config)?;
        opts.service.ghl_public_key_pem = Some(ghl.public_key_pem.clone());
        opts.ghl_app = Some(GhlApp {
            client_id: ghl_cfg.client_id.clone(),
            client_secret: ghl_cfg.client_secret.clone(),
            base_url: ghl.base_url.clone(),
            authorize_url: hlbridge_ghl::oauth::authorize_url_for(&ghl.base_url),
            scopes: serve_args.ghl_scopes.clone(),
        });
        opts.sellsy_app = Some(SellsyApp {
            client_id: sellsy_cfg.client_id.clone(),
            client_secret: Some(sellsy_cfg.client_secret.clone()),
            base_url: sellsy.base_url.clone(),
            authorize_url: hlbridge_sellsy::oauth::authorize_url_for(&sellsy.base_url),
            token_url: hlbridge_sellsy::oauth::token_url_for(&sellsy.base_url),
        });
        outln!(
            "hlbridge sandbox in {} (no credentials configured)",
            dir.display()
        );
        outln!(
            "  GHL emulator:    {}  ({} demo contacts, location {}, token {})",
            ghl.base_url,
            args.seed,
            ghl_cfg.location_id,
            ghl_cfg.token
        );
        outln!(
            "  Sellsy emulator: {}  ({} demo contacts + {overlap} sharing an email with GHL)",
            sellsy.base_url,
            args.seed
        );
        emulators = Some((ghl, sellsy));
    }
    outln!("  sign in at {base}/login with the password in {password_at}");
    outln!(
        "  API tokens: hlbridge api-token create --database-url sqlite://{}",
        db_path.display()
    );
    let resume = if emulators.is_some() {
        "the next `hlbridge up` seeds the emulators again and syncs them from the start; sign-in, tokens and connections are kept (`--fresh` resets them too)"
    } else {
        "the next `hlbridge up` resumes where this one stopped"
    };
    let code = crate::serve_cmd::serve_on(opts, listener, |_| {}).await;
    eprintln!("stopped: {resume}");
    if let Some((ghl, sellsy)) = emulators {
        sellsy.shutdown().await;
        ghl.shutdown();
    }
    Ok(code)
}

/// A pair's configuration without the credentials the connections now hold.
fn strip_credentials(text: &str) -> String {
    let Ok(mut table) = text.parse::<toml::Table>() else {
        return text.to_string();
    };
    for section in ["ghl", "sellsy", "database"] {
        table.remove(section);
    }
    if let Some(w) = table.get_mut("webhooks").and_then(|w| w.as_table_mut()) {
        w.remove("listen");
    }
    toml::to_string(&table).unwrap_or_default()
}

fn ensure_pair(registry: &Registry, ghl: &str, sellsy: &str, config: &str) -> anyhow::Result<()> {
    match registry
        .pairs()?
        .into_iter()
        .find(|p| p.ghl == ghl && p.sellsy == sellsy)
    {
        Some(p) => registry.set_pair_config(&p.id, config)?,
        None => {
            registry.add_pair(ghl, sellsy, config)?;
        }
    }
    Ok(())
}

/// The configured accounts as stored connections.
async fn real_connections(
    accounts: &Accounts,
    cfg: &EngineConfig,
) -> anyhow::Result<(String, String)> {
    let base = cfg
        .ghl
        .base_url
        .clone()
        .unwrap_or_else(|| hlbridge_ghl::DEFAULT_BASE_URL.into());
    let (Some(token), Some(location)) = (cfg.ghl.token.clone(), cfg.ghl.location_id.clone()) else {
        anyhow::bail!(
            "set HLBRIDGE_GHL_TOKEN and HLBRIDGE_GHL_LOCATION_ID (or [ghl] token and location_id)"
        );
    };
    let g = accounts.add_ghl_pit(&token, &location, &base).await?;
    let sellsy_base = cfg
        .sellsy
        .base_url
        .clone()
        .unwrap_or_else(|| hlbridge_sellsy::DEFAULT_BASE_URL.into());
    let (Some(id), Some(secret)) = (
        cfg.sellsy.client_id.clone(),
        cfg.sellsy.client_secret.clone(),
    ) else {
        anyhow::bail!("set HLBRIDGE_SELLSY_CLIENT_ID and HLBRIDGE_SELLSY_CLIENT_SECRET (or [sellsy] client_id and client_secret)");
    };
    let s = accounts
        .add_sellsy_client(&id, &secret, &sellsy_base, cfg.sellsy.token_url.as_deref())
        .await?;
    Ok((g.id, s.id))
}

/// Give `count` of the GHL demo contacts a Sellsy twin with the same email, through the
/// Sellsy API, so the first sync links them instead of duplicating them.
async fn add_overlap(
    ghl_base: &str,
    ghl_cfg: &GhlConfig,
    sellsy_base: &str,
    sellsy_config: &SellsyConfig,
    count: usize,
) -> anyhow::Result<usize> {
    let ghl = GhlClient::builder()
        .base_url(ghl_base)
        .auth(GhlAuth::LocationToken(ghl_cfg.token.clone()))
        .location_id(&ghl_cfg.location_id)
        .build()?;
    let (contacts, _) = ghl
        .contacts()
        .search_page(&ContactSearch {
            page_limit: count.clamp(1, 500) as u32,
            ..ContactSearch::by_date_updated()
        })
        .await
        .context("the GHL sandbox does not answer")?;
    let token_url = hlbridge_sellsy::oauth::token_url_for(sellsy_base);
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
