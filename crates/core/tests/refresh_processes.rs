//! Two real processes sharing one state database refresh an expired token at the same
//! moment: the refresh lease lets exactly one spend the single-use refresh token, and
//! both end with the new access token.
//!
//! The test binary plays both roles: the parent runs a token endpoint and starts itself
//! twice, running this same test with the child's variables set.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use hlbridge_core::auth::{Cipher, Refresher, SqliteTokenStore, TokenManager, TokenStore, Tokens};
use secrecy::SecretString;

const KEY: &str = "ghl:loc-processes";
const DB_ENV: &str = "HLB_TEST_REFRESH_DB";
const URL_ENV: &str = "HLB_TEST_REFRESH_URL";
const CIPHER_KEY: [u8; 32] = [9; 32];

/// Spends refresh tokens at the test's token endpoint.
struct Remote {
    url: String,
}

impl Refresher for Remote {
    fn refresh<'a>(&'a self, current: &'a Tokens) -> BoxFuture<'a, hlbridge_core::Result<Tokens>> {
        Box::pin(async move {
            let resp = reqwest::Client::new()
                .post(&self.url)
                .json(&serde_json::json!({ "refresh_token": current.refresh() }))
                .send()
                .await
                .map_err(|e| hlbridge_core::Error::Network(e.to_string()))?;
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp
                .json()
                .await
                .map_err(|e| hlbridge_core::Error::Decode(e.to_string()))?;
            if status != 200 {
                return Err(hlbridge_core::Error::Auth {
                    status,
                    message: body.to_string(),
                    trace_id: None,
                });
            }
            Tokens::from_token_response(&body)
        })
    }
}

/// The child's part: refresh once through the shared store and print the token.
async fn child_refreshes_once(db: String, url: String) {
    let store: Arc<dyn TokenStore> = Arc::new(
        SqliteTokenStore::open(std::path::Path::new(&db), Cipher::from_key(&CIPHER_KEY)).unwrap(),
    );
    let manager = TokenManager::load(KEY, store, Some(Arc::new(Remote { url }))).unwrap();
    let token = manager.access_token().await.expect("a usable token");
    println!("ACCESS={token}");
}

/// Single-use refresh tokens; answers slowly so the other process arrives meanwhile.
async fn token_endpoint() -> (String, Arc<Mutex<Vec<String>>>) {
    let spent: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = spent.clone();
    let app = axum::Router::new().fallback(move |body: String| {
        let spent = seen.clone();
        async move {
            let asked: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let token = asked["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let n = {
                let mut spent = spent.lock().unwrap();
                let used: HashSet<&String> = spent.iter().collect();
                if used.contains(&token) {
                    let refused = serde_json::json!({"error": "invalid_grant"}).to_string();
                    return (axum::http::StatusCode::BAD_REQUEST, refused);
                }
                spent.push(token);
                spent.len()
            };
            tokio::time::sleep(Duration::from_millis(400)).await;
            let fresh = serde_json::json!({
                "access_token": format!("access-{n}"),
                "refresh_token": format!("refresh-{n}"),
                "expires_in": 3600,
            });
            (axum::http::StatusCode::OK, fresh.to_string())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/token"), spent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_spend_one_refresh_token() {
    if let (Ok(db), Ok(url)) = (std::env::var(DB_ENV), std::env::var(URL_ENV)) {
        return child_refreshes_once(db, url).await;
    }
    let dir = std::env::temp_dir().join(format!("hlb-refresh-processes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("state.sqlite");
    let store = SqliteTokenStore::open(&db, Cipher::from_key(&CIPHER_KEY)).unwrap();
    let mut expired = Tokens::static_token("access-0");
    expired.refresh_token = Some(SecretString::from("refresh-0".to_string()));
    expired.expires_at = Some(chrono::Utc::now() - chrono::Duration::seconds(5));
    store.save(KEY, &expired).unwrap();
    drop(store);
    let (url, spent) = token_endpoint().await;
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            tokio::process::Command::new(&exe)
                .args([
                    "--exact",
                    "two_processes_spend_one_refresh_token",
                    "--nocapture",
                ])
                .env(DB_ENV, &db)
                .env(URL_ENV, &url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("the child finishes")
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("ACCESS=access-1"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(spent.lock().unwrap().as_slice(), ["refresh-0"]);
    let store = SqliteTokenStore::open(&db, Cipher::from_key(&CIPHER_KEY)).unwrap();
    assert_eq!(
        store.load(KEY).unwrap().unwrap().refresh(),
        Some("refresh-1")
    );
    std::fs::remove_dir_all(&dir).ok();
}
