use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
///   handed out, so a crash cannot lose it;
/// - single flight across processes too: a refresh happens only under the store's
///   lease for the key ([`TokenStore::try_lease`], ttl [`DEFAULT_LEASE_TTL`]). While
///   another holder has it, the manager re-reads the stored tokens (every
///   [`LEASE_POLL`]): once the other process stored a set that is not "needed" any
///   more, that set is used and nothing is refreshed. After taking the lease it
///   re-reads the store again and refreshes from the newest stored set (its refresh
///   token is the live one) only if that set still needs it, saves, then releases.
///   A crashed holder's lease expires after its ttl; a manager waits at most
///   ttl + [`LEASE_GRACE`] before giving up with an error naming the key.
pub struct TokenManager {
    key: String,
    store: Arc<dyn TokenStore>,
    refresher: Option<Arc<dyn Refresher>>,
    current: tokio::sync::RwLock<Tokens>,
    refresh_lock: tokio::sync::Mutex<()>,
    skew: chrono::Duration,
    refreshes: AtomicU64,
    /// Who this manager is in the store's lease table (process id + random).
    holder: String,
    lease_ttl: Duration,
}

/// How long a refresh lease lasts when its holder neither renews nor releases it.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);
/// How often a manager waiting for another holder's lease re-reads the store.
pub const LEASE_POLL: Duration = Duration::from_millis(50);
/// How long past the lease ttl a waiting manager keeps trying.
pub const LEASE_GRACE: Duration = Duration::from_secs(5);

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
            holder: format!("{}:{:016x}", std::process::id(), rand::random::<u64>()),
            lease_ttl: DEFAULT_LEASE_TTL,
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

    /// How long this manager's refresh lease lasts if it crashes while holding it
    /// (default [`DEFAULT_LEASE_TTL`]).
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
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

    /// Single flight: whoever holds the lock (in this process) and the store's lease
    /// (across processes) refreshes; the others find the token already replaced and
    /// return it.
    async fn refresh_when(&self, needed: impl Fn(&Tokens) -> bool) -> Result<String> {
        let _guard = self.refresh_lock.lock().await;
        let current = self.current.read().await.clone();
        if !needed(&current) {
            return Ok(current.access().to_string());
        }
        // Another process may have refreshed and stored a newer set already.
        if let Some(token) = self.adopt_stored(&current, &needed).await? {
            return Ok(token);
        }
        if self.refresher.is_none() {
            return Err(Error::Config(format!(
                "the token for {} cannot be refreshed",
                self.key
            )));
        }
        let deadline = tokio::time::Instant::now() + self.lease_ttl + LEASE_GRACE;
        while !self
            .store
            .try_lease(&self.key, &self.holder, self.lease_ttl)?
        {
            if let Some(token) = self.adopt_stored(&current, &needed).await? {
                return Ok(token);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::TokenStore(format!(
                    "another process has been refreshing the token for {} for over {:?}; try again, or check the processes sharing the state database",
                    self.key,
                    self.lease_ttl + LEASE_GRACE
                )));
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
        let outcome = self.refresh_leased(&current, &needed).await;
        if let Err(e) = self.store.release(&self.key, &self.holder) {
            // The lease expires on its own; the refresh itself is done.
            tracing::warn!(connection = %self.key, "cannot release the refresh lease: {e}");
        }
        outcome
    }

    /// Under the lease: re-read the store, refresh from the newest set if it still
    /// needs it, save, hand out.
    async fn refresh_leased(
        &self,
        current: &Tokens,
        needed: &impl Fn(&Tokens) -> bool,
    ) -> Result<String> {
        let base = match self.store.load(&self.key)? {
            Some(stored) if !same_access(&stored, current) => {
                if !needed(&stored) {
                    let token = stored.access().to_string();
                    *self.current.write().await = stored;
                    return Ok(token);
                }
                // Stored by another process, yet needing a refresh: its refresh token
                // is the live one.
                stored
            }
            _ => current.clone(),
        };
        let refresher = self.refresher.as_ref().ok_or_else(|| {
            Error::Config(format!("the token for {} cannot be refreshed", self.key))
        })?;
        let mut fresh = refresher.refresh(&base).await?;
        if fresh.refresh_token.is_none() {
            // Grants that return no refresh token (location tokens) keep the old one.
            fresh.refresh_token = base.refresh_token.clone();
        }
        // Facts kept with the connection (client id, location, account) carry over
        // where the new response does not restate them.
        for (k, v) in &base.extra {
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

    /// The stored set, when another process stored one that does not need refreshing:
    /// it becomes the current set.
    async fn adopt_stored(
        &self,
        current: &Tokens,
        needed: &impl Fn(&Tokens) -> bool,
    ) -> Result<Option<String>> {
        match self.store.load(&self.key)? {
            Some(stored) if !same_access(&stored, current) && !needed(&stored) => {
                let token = stored.access().to_string();
                *self.current.write().await = stored;
                Ok(Some(token))
            }
            _ => Ok(None),
        }
    }
}

fn same_access(a: &Tokens, b: &Tokens) -> bool {
    a.access_token.expose_secret() == b.access_token.expose_secret()
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

    /// Refuses a refresh token it has already seen (a single-use, rotating token).
    struct Rotating {
        spent: std::sync::Mutex<Vec<String>>,
    }

    impl Refresher for Rotating {
        fn refresh<'a>(&'a self, current: &'a Tokens) -> BoxFuture<'a, Result<Tokens>> {
            Box::pin(async move {
                let used = current.refresh().unwrap_or_default().to_string();
                let n = {
                    let mut spent = self.spent.lock().unwrap();
                    if spent.contains(&used) {
                        return Err(Error::Auth {
                            status: 400,
                            message: format!("invalid_grant: {used} was already used"),
                            trace_id: None,
                        });
                    }
                    spent.push(used);
                    spent.len()
                };
                // Slow enough for the other manager to arrive while this one refreshes.
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
                let mut t = Tokens::static_token(format!("access-{n}"));
                t.refresh_token = Some(SecretString::from(format!("refresh-{n}")));
                t.expires_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
                Ok(t)
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_file_spend_one_refresh_token() {
        use crate::auth::{Cipher, SqliteTokenStore};
        let dir = crate::fsutil::test_dir("lease-refresh");
        let path = dir.join("state.sqlite");
        let open = || -> Arc<dyn TokenStore> {
            Arc::new(SqliteTokenStore::open(&path, Cipher::from_key(&[3; 32])).unwrap())
        };
        let (store_a, store_b) = (open(), open());
        let mut t = Tokens::static_token("access-0");
        t.refresh_token = Some(SecretString::from("refresh-0".to_string()));
        store_a.save("ghl:loc", &t).unwrap();
        let refresher = Arc::new(Rotating {
            spent: std::sync::Mutex::new(Vec::new()),
        });
        // Two processes: each loaded the same stored set before either refreshed.
        let a = Arc::new(TokenManager::load("ghl:loc", store_a, Some(refresher.clone())).unwrap());
        let b = Arc::new(TokenManager::load("ghl:loc", store_b, Some(refresher.clone())).unwrap());
        let ta = tokio::spawn({
            let a = a.clone();
            async move { a.refresh_after_unauthorized("access-0").await }
        });
        let tb = tokio::spawn({
            let b = b.clone();
            async move { b.refresh_after_unauthorized("access-0").await }
        });
        assert_eq!(ta.await.unwrap().unwrap().as_deref(), Some("access-1"));
        assert_eq!(tb.await.unwrap().unwrap().as_deref(), Some("access-1"));
        assert_eq!(refresher.spent.lock().unwrap().as_slice(), ["refresh-0"]);
        assert_eq!(a.refresh_count() + b.refresh_count(), 1);
        assert_eq!(b.tokens().await.refresh(), Some("refresh-1"));
        assert_eq!(a.tokens().await.refresh(), Some("refresh-1"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_lease_held_by_a_crashed_process_expires() {
        let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
        let mut t = Tokens::static_token("access-0");
        t.refresh_token = Some(SecretString::from("refresh-0".to_string()));
        store.save("k", &t).unwrap();
        // A holder that never releases (it crashed mid-refresh).
        assert!(store
            .try_lease("k", "crashed", std::time::Duration::from_millis(200))
            .unwrap());
        let refresher = Arc::new(Counting(AtomicUsize::new(0)));
        let mgr = TokenManager::load("k", store, Some(refresher.clone())).unwrap();
        assert_eq!(
            mgr.refresh_after_unauthorized("access-0")
                .await
                .unwrap()
                .as_deref(),
            Some("access-1")
        );
        assert_eq!(refresher.0.load(Ordering::SeqCst), 1);
    }
}
