//! What `hlbridge serve` is started with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

/// The server's settings. Build with [`ServiceConfig::new`] and adjust the fields.
#[derive(Clone)]
pub struct ServiceConfig {
    /// Where to listen (the caller binds it; kept for messages and URLs).
    pub listen: SocketAddr,
    /// The URL users and providers reach the server at (OAuth redirects, webhook URLs).
    pub public_url: Option<Url>,
    /// The main state database (shared with the rest of hlbridge).
    pub db_path: PathBuf,
    /// GHL's Ed25519 public key (PEM) for `x-ghl-signature`; without it
    /// `POST /webhooks/ghl` answers 404.
    pub ghl_public_key_pem: Option<String>,
    /// The Sellsy webhook secret; without it `POST /webhooks/sellsy` answers 404.
    pub sellsy_webhook_secret: Option<String>,
    /// Cookies carry `Secure` (derived from `public_url` being https).
    pub secure_cookies: bool,
    /// Largest webhook body accepted (413 beyond).
    pub webhook_body_limit: usize,
    /// Largest body of any other request (413 beyond).
    pub body_limit: usize,
    /// Queued webhook events beyond which new ones are answered 429.
    pub queue_max: usize,
    /// Per-request timeout (408 beyond).
    pub request_timeout: Duration,
    /// A GHL `timestamp` further than this from now (past or future) is refused.
    pub webhook_max_skew: Duration,
    /// Failed sign-ins allowed per client within `login_window` before 429.
    pub login_max_failures: u32,
    pub login_window: Duration,
    /// Take the client address for sign-in rate limits from the first
    /// `X-Forwarded-For` entry (only behind a reverse proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Session lifetime without a request.
    pub session_idle: Duration,
    /// Session lifetime from sign-in, whatever the activity.
    pub session_absolute: Duration,
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url.as_ref().map(Url::as_str))
            .field("db_path", &self.db_path)
            .field("ghl_public_key_pem", &self.ghl_public_key_pem.is_some())
            .field(
                "sellsy_webhook_secret",
                &self.sellsy_webhook_secret.as_ref().map(|_| "<set>"),
            )
            .field("secure_cookies", &self.secure_cookies)
            .field("webhook_body_limit", &self.webhook_body_limit)
            .field("queue_max", &self.queue_max)
            .finish_non_exhaustive()
    }
}

impl ServiceConfig {
    /// Defaults: 256 KiB webhook bodies, 2 MB others, 10 000 queued events, 30 s
    /// timeout, ±5 min webhook skew, 5 failed sign-ins per 15 min, sessions 12 h idle /
    /// 7 days absolute.
    pub fn new(listen: SocketAddr, db_path: PathBuf, public_url: Option<Url>) -> Self {
        let secure_cookies = public_url.as_ref().is_some_and(|u| u.scheme() == "https");
        ServiceConfig {
            listen,
            public_url,
            db_path,
            ghl_public_key_pem: None,
            sellsy_webhook_secret: None,
            secure_cookies,
            webhook_body_limit: 256 * 1024,
            body_limit: 2 * 1024 * 1024,
            queue_max: 10_000,
            request_timeout: Duration::from_secs(30),
            webhook_max_skew: Duration::from_secs(5 * 60),
            login_max_failures: 5,
            login_window: Duration::from_secs(15 * 60),
            trust_forwarded_for: false,
            session_idle: Duration::from_secs(12 * 3600),
            session_absolute: Duration::from_secs(7 * 24 * 3600),
        }
    }

    /// The base URL links and redirect URIs are built on: `public_url`, else
    /// `http://LISTEN`.
    pub fn base_url(&self) -> Url {
        self.public_url.clone().unwrap_or_else(|| {
            Url::parse(&format!("http://{}", self.listen)).expect("a socket address is a URL host")
        })
    }
}
