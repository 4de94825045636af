//! A real server on 127.0.0.1:0 with a fresh database, for the integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::Html;
use axum::routing::{get, post};
use axum::Json;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::{Signer, SigningKey};
use hlbridge_service::{
    ApiError, ApiJson, AppState, CurrentSession, EventHandler, ProcessorHandle, ServiceConfig,
};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const PASSWORD: &str = "correct horse battery";
pub const SELLSY_SECRET: &str = "sellsy-webhook-secret";

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hlbridge-service-{tag}-{}-{}",
        std::process::id(),
        hlbridge_service::sessions::random_token()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Echo {
    pub name: String,
    pub count: u32,
}

/// A test API handler: echoes a JSON body; `count` 0 is refused.
#[utoipa::path(post, path = "/api/echo", request_body = Echo,
    responses((status = 200, body = Echo), (status = 400, body = hlbridge_service::ErrorBody)))]
async fn echo(ApiJson(body): ApiJson<Echo>) -> Result<Json<Echo>, ApiError> {
    if body.count == 0 {
        return Err(ApiError::bad_request("count: must be at least 1"));
    }
    Ok(Json(body))
}

async fn connections_page(session: CurrentSession) -> Html<String> {
    Html(format!(
        "<h1>Connections</h1><form method=post action=/connections/touch>{}</form>",
        session.csrf_input()
    ))
}

async fn touch(State(_): State<AppState>) -> &'static str {
    "touched"
}

pub struct Server {
    pub addr: SocketAddr,
    pub base: String,
    pub state: AppState,
    pub dir: PathBuf,
    pub ghl_key: Arc<SigningKey>,
    stop: Option<oneshot::Sender<()>>,
    join: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub processor: Option<ProcessorHandle>,
}

pub struct Options {
    pub public_url: Option<&'static str>,
    pub queue_max: usize,
    pub webhook_body_limit: usize,
    pub password: Option<&'static str>,
    pub dir: Option<PathBuf>,
    pub ghl_key: Option<Arc<SigningKey>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            public_url: None,
            queue_max: 1000,
            webhook_body_limit: 16 * 1024,
            password: Some(PASSWORD),
            dir: None,
            ghl_key: None,
        }
    }
}

impl Server {
    pub async fn start(opts: Options) -> Server {
        let dir = opts.dir.clone().unwrap_or_else(|| temp_dir("srv"));
        let key = opts
            .ghl_key
            .clone()
            .unwrap_or_else(|| Arc::new(SigningKey::generate(&mut rand::rngs::OsRng)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut cfg = ServiceConfig::new(
            addr,
            dir.join("state.sqlite"),
            opts.public_url.map(|u| u.parse().unwrap()),
        );
        cfg.ghl_public_key_pem = Some(
            key.verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap(),
        );
        cfg.sellsy_webhook_secret = Some(SELLSY_SECRET.into());
        cfg.queue_max = opts.queue_max;
        cfg.webhook_body_limit = opts.webhook_body_limit;
        let state = AppState::new(cfg).unwrap();
        if let Some(pw) = opts.password {
            state
                .db
                .call_blocking(|c| hlbridge_service::admin::init_admin(c, Some(pw)))
                .unwrap();
        }
        let api = OpenApiRouter::new().routes(routes!(echo));
        let pages = axum::Router::new()
            .route("/connections", get(connections_page))
            .route("/connections/touch", post(touch));
        let app = hlbridge_service::router(state.clone(), api, pages);
        let (stop, rx) = oneshot::channel();
        let join = tokio::spawn(hlbridge_service::serve(listener, app, async {
            let _ = rx.await;
        }));
        Server {
            addr,
            base: format!("http://{addr}"),
            state,
            dir,
            ghl_key: key,
            stop: Some(stop),
            join: Some(join),
            processor: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn start_processor(
        &mut self,
        handler: Arc<dyn EventHandler>,
        opts: hlbridge_service::ProcessorOptions,
    ) {
        self.processor = Some(hlbridge_service::spawn_processor(
            &self.state,
            handler,
            opts,
        ));
    }

    /// Stop the processor (waiting for in-flight events) and the server.
    pub async fn stop(mut self) {
        if let Some(p) = self.processor.take() {
            p.shutdown().await;
        }
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(j) = self.join.take() {
            j.await.unwrap().unwrap();
        }
    }

    pub fn sign_ghl(&self, body: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.ghl_key.sign(body).to_bytes())
    }
}

/// A client that keeps cookies and does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the hidden `csrf_token` field in an HTML page.
pub fn csrf_from(html: &str) -> String {
    let at = html
        .find("name=\"csrf_token\" value=\"")
        .expect("a csrf_token field")
        + 25;
    html[at..].split('"').next().unwrap().to_string()
}

/// Sign in with `password`; returns the response of `POST /login`.
pub async fn sign_in(
    server: &Server,
    client: &reqwest::Client,
    password: &str,
) -> reqwest::Response {
    let page = client.get(server.url("/login")).send().await.unwrap();
    let html = page.text().await.unwrap();
    let token = csrf_from(&html);
    client
        .post(server.url("/login"))
        .form(&[("password", password), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap()
}

/// Poll `cond` until true or 10 s passed.
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}
