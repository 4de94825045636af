use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use secrecy::ExposeSecret;

use super::store::{MemoryTokenStore, TokenStore};
use super::tokens::Tokens;
use crate::error::{Error, Result};

/// Exchanges a token set for a fresh one (OAuth `refresh_token` grant, or minting a
/// location token from an agency token).
pub trait Refresher: Send + Sync {
    fn refresh<'a>(&'a self, current: &'a Tokens) -> BoxFuture<'a, Result<Tokens>>;
}

/// Hands out a valid access token for one connection.
///
/// - proactive: a token that expires within `skew` is refreshed before use;
/// - after a 401, [`TokenManager::refresh_after_unauthorized`] refreshes once, however
///   many callers saw the 401 at the same time (single flight: the others wait, then
///   reuse the new token);
/// - a rotated refresh token is saved to the store before the new access token is
///   handed out, so a crash cannot lose it.
pub struct TokenManager {
    key: String,
    store: Arc<dyn TokenStore>,
    refresher: Option<Arc<dyn Refresher>>,
    current: tokio::sync::RwLock<Tokens>,
    refresh_lock: tokio::sync::Mutex<()>,
    skew: chrono::Duration,
    refreshes: AtomicU64,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("key", &self.key)
            .field("refreshable", &self.refresher.is_some())
            .finish()
    }
}

impl TokenManager {
    /// A static token (private integration token): never refreshed.
    pub fn fixed(token: impl Into<String>) -> Self {
        TokenManager::with_tokens(
            "static",
            Arc::new(MemoryTokenStore::default()),
            None,
            Tokens::static_token(token),
        )
    }

    fn with_tokens(
        key: &str,
        store: Arc<dyn TokenStore>,
        refresher: Option<Arc<dyn Refresher>>,
        tokens: Tokens,
    ) -> Self {
        TokenManager {
            key: key.to_string(),
            store,
            refresher,
            current: tokio::sync::RwLock::new(tokens),
            refresh_lock: tokio::sync::Mutex::new(()),
            skew: chrono::Duration::seconds(60),
            refreshes: AtomicU64::new(0),
        }
    }

    /// Start from `tokens` (e.g. just obtained by a code exchange) and save them.
    pub fn create(
        key: &str,
        store: Arc<dyn TokenStore>,
        refresher: Option<Arc<dyn Refresher>>,
        tokens: Tokens,
    ) -> Result<Self> {
        store.save(key, &tokens)?;
        Ok(TokenManager::with_tokens(key, store, refresher, tokens))
    }

    /// Resume from the tokens stored under `key`.
    pub fn load(
        key: &str,
        store: Arc<dyn TokenStore>,
        refresher: Option<Arc<dyn Refresher>>,
    ) -> Result<Self> {
        let tokens = store.load(key)?.ok_or_else(|| {
            Error::Config(format!(
                "no stored tokens for {key}: connect the account first"
            ))
        })?;
        Ok(TokenManager::with_tokens(key, store, refresher, tokens))
    }

    /// Refresh when fewer than `skew` remain (default 60 s).
    pub fn with_skew(mut self, skew: std::time::Duration) -> Self {
        self.skew = chrono::Duration::from_std(skew).unwrap_or(self.skew);
        self
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// How many refreshes this manager performed.
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::SeqCst)
    }

    /// A copy of the current token set.
    pub async fn tokens(&self) -> Tokens {
        self.current.read().await.clone()
    }

    /// A usable access token, refreshed first if it is about to expire.
    pub async fn access_token(&self) -> Result<String> {
        {
            let cur = self.current.read().await;
            if self.refresher.is_none() || !cur.expires_within(self.skew) {
                return Ok(cur.access().to_string());
            }
        }
        let skew = self.skew;
        self.refresh_when(|t| t.expires_within(skew)).await
    }

    /// Called after the server answered 401 to `rejected`. Returns a new token to retry
    /// with, or `None` when this connection cannot be refreshed (static token).
    pub async fn refresh_after_unauthorized(&self, rejected: &str) -> Result<Option<String>> {
        if self.refresher.is_none() {
            return Ok(None);
        }
        self.refresh_when(|t| t.access() == rejected)
            .await
            .map(Some)
    }

    /// Single flight: whoever holds the lock refreshes; the others find the token
    /// already replaced and return it.
    async fn refresh_when(&self, needed: impl Fn(&Tokens) -> bool) -> Result<String> {
        let _guard = self.refresh_lock.lock().await;
        let current = self.current.read().await.clone();
        if !needed(&current) {
            return Ok(current.access().to_string());
        }
        // Another process may have refreshed and stored a newer set already.
        if let Some(stored) = self.store.load(&self.key)? {
            if stored.access_token.expose_secret() != current.access_token.expose_secret()
                && !needed(&stored)
            {
                let token = stored.access().to_string();
                *self.current.write().await = stored;
                return Ok(token);
            }
        }
        let refresher = self.refresher.as_ref().ok_or_else(|| {
            Error::Config(format!("the token for {} cannot be refreshed", self.key))
        })?;
        let mut fresh = refresher.refresh(&current).await?;
        if fresh.refresh_token.is_none() {
            // Grants that return no refresh token (location tokens) keep the old one.
            fresh.refresh_token = current.refresh_token.clone();
        }
        // Facts kept with the connection (client id, location, account) carry over
        // where the new response does not restate them.
        for (k, v) in &current.extra {
            fresh.extra.entry(k.clone()).or_insert_with(|| v.clone());
        }
        // Persist before use: the old refresh token is already spent.
        self.store.save(&self.key, &fresh)?;
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let token = fresh.access().to_string();
        *self.current.write().await = fresh;
        tracing::info!(connection = %self.key, "access token refreshed");
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use std::sync::atomic::AtomicUsize;

    struct Counting(AtomicUsize);

    impl Refresher for Counting {
        fn refresh<'a>(&'a self, _current: &'a Tokens) -> BoxFuture<'a, Result<Tokens>> {
            Box::pin(async move {
                let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                let mut t = Tokens::static_token(format!("access-{n}"));
                t.refresh_token = Some(SecretString::from(format!("refresh-{n}")));
                t.expires_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
                Ok(t)
            })
        }
    }

    #[tokio::test]
    async fn concurrent_401s_share_one_refresh() {
        let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
        let refresher = Arc::new(Counting(AtomicUsize::new(0)));
        let mut t = Tokens::static_token("access-0");
        t.refresh_token = Some(SecretString::from("refresh-0".to_string()));
        let mgr =
            Arc::new(TokenManager::create("k", store.clone(), Some(refresher.clone()), t).unwrap());
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let mgr = mgr.clone();
            tasks.push(tokio::spawn(async move {
                mgr.refresh_after_unauthorized("access-0").await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().as_deref(), Some("access-1"));
        }
        assert_eq!(refresher.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            store.load("k").unwrap().unwrap().refresh(),
            Some("refresh-1")
        );
    }

    #[tokio::test]
    async fn expiring_token_is_refreshed_before_use() {
        let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
        let refresher = Arc::new(Counting(AtomicUsize::new(0)));
        let mut t = Tokens::static_token("access-0");
        t.refresh_token = Some(SecretString::from("refresh-0".to_string()));
        t.expires_at = Some(chrono::Utc::now() + chrono::Duration::seconds(10));
        let mgr = TokenManager::create("k", store, Some(refresher), t).unwrap();
        assert_eq!(mgr.access_token().await.unwrap(), "access-1");
        assert_eq!(mgr.access_token().await.unwrap(), "access-1");
        assert_eq!(mgr.refresh_count(), 1);
    }
}
