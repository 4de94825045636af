//! From a stored connection to a ready API client, and connections made from tokens.
//!
//! Tokens are refreshed through the core [`TokenManager`] (single flight, saved before
//! use). A refresh the provider refuses marks the connection `needs-reauth`; other
//! failures mark it `error`; the next successful refresh marks it `ok` again.

use std::sync::Arc;

use futures::future::BoxFuture;
use hlbridge_core::auth::{Refresher, TokenManager, Tokens};
use hlbridge_core::error::Error as CoreError;
use hlbridge_core::optable::TokenType;
use hlbridge_core::rate::RateBudget;
use hlbridge_ghl::oauth::{GhlOAuth, LocationTokenMinter, UserType};
use hlbridge_ghl::{CallInput, GhlAuth, GhlClient};
use hlbridge_sellsy::oauth::SellsyOAuth;
use hlbridge_sellsy::{SellsyAuth, SellsyClient};
use serde_json::{json, Map, Value};

use crate::error::{AccountsError, Result};
use crate::model::{App, ConnKind, ConnStatus, Connection};
use crate::registry::{NewConnection, Registry};

/// Rate budgets shared by every client of the same accounts (pass budgets backed by
/// the state database to share them across processes).
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    pub ghl: Option<Arc<RateBudget>>,
    pub sellsy: Option<Arc<RateBudget>>,
}

/// Connections plus what it takes to use them.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub registry: Arc<Registry>,
    pub budgets: Budgets,
}

/// Records each refresh's outcome on the connection row.
struct Tracked {
    inner: Arc<dyn Refresher>,
    registry: Arc<Registry>,
    conn_id: String,
}

/// A refusal that only connecting again can fix.
pub fn needs_reauth(e: &CoreError) -> bool {
    match e {
        CoreError::Auth { .. } | CoreError::Forbidden { .. } => true,
        CoreError::Validation { messages, body, .. } => {
            let text = format!("{} {body}", messages.join(" "));
            text.contains("invalid_grant") || text.contains("invalid_client")
        }
        _ => {
            let text = e.to_string();
            text.contains("invalid_grant") || text.contains("no refresh token stored")
        }
    }
}

impl Refresher for Tracked {
    fn refresh<'a>(&'a self, current: &'a Tokens) -> BoxFuture<'a, hlbridge_core::Result<Tokens>> {
        Box::pin(async move {
            let out = self.inner.refresh(current).await;
            let (status, error) = match &out {
                Ok(_) => (ConnStatus::Ok, None),
                Err(e) if needs_reauth(e) => (ConnStatus::NeedsReauth, Some(e.to_string())),
                Err(e) => (ConnStatus::Error, Some(e.to_string())),
            };
            if let Err(e) = self
                .registry
                .set_status(&self.conn_id, status, error.as_deref())
            {
                tracing::warn!(connection = %self.conn_id, error = %e, "cannot record the refresh outcome");
            }
            out
        })
    }
}

fn ghl_exec(base_url: &str) -> Result<Arc<hlbridge_core::http::Executor>> {
    Ok(Arc::new(hlbridge_core::http::Executor::new(
        base_url,
        Arc::new(hlbridge_ghl::flavor::GhlFlavor),
        Arc::new(RateBudget::ghl_default()),
        None,
    )?))
}

/// The app id GHL expects beside a marketplace client id (`<appId>-<suffix>`).
pub fn ghl_app_id(client_id: &str) -> &str {
    client_id.split('-').next().unwrap_or(client_id)
}

impl Accounts {
    pub fn new(registry: Arc<Registry>, budgets: Budgets) -> Accounts {
        Accounts { registry, budgets }
    }

    fn manager(
        &self,
        conn: &Connection,
        refresher: Option<Arc<dyn Refresher>>,
    ) -> Result<Arc<TokenManager>> {
        let tracked = refresher.map(|inner| {
            Arc::new(Tracked {
                inner,
                registry: self.registry.clone(),
                conn_id: conn.id.clone(),
            }) as Arc<dyn Refresher>
        });
        Ok(Arc::new(TokenManager::load(
            &conn.token_key(),
            self.registry.tokens().clone(),
            tracked,
        )?))
    }

    fn ghl_oauth(&self, conn: &Connection, user_type: UserType) -> Result<Arc<GhlOAuth>> {
        let client_id = conn.setting("client_id").ok_or_else(|| {
            AccountsError::Input(format!(
                "connection {} has no OAuth client id: connect it again",
                conn.id
            ))
        })?;
        let secret = self.registry.secret(&conn.id)?.ok_or_else(|| {
            AccountsError::Input(format!(
                "connection {} has no stored app secret: connect it again",
                conn.id
            ))
        })?;
        Ok(Arc::new(GhlOAuth::new(
            ghl_exec(&conn.base_url)?,
            client_id,
            &secret,
            user_type,
        )))
    }

    /// A GHL client on `conn` (a location or an agency connection).
    pub fn ghl_client(&self, conn: &Connection) -> Result<GhlClient> {
        if conn.app != App::Ghl {
            return Err(AccountsError::Input(format!(
                "connection {} is a Sellsy connection",
                conn.id
            )));
        }
        let auth = match conn.kind {
            ConnKind::GhlPit => {
                let tokens = self
                    .registry
                    .tokens()
                    .load(&conn.token_key())?
                    .ok_or_else(|| {
                        AccountsError::Input(format!(
                            "connection {}: no stored token; add it again",
                            conn.id
                        ))
                    })?;
                GhlAuth::LocationToken(tokens.access().to_string())
            }
            ConnKind::GhlOAuthLocation => GhlAuth::OAuth {
                manager: self.manager(conn, Some(self.ghl_oauth(conn, UserType::Location)?))?,
                token_type: TokenType::Location,
            },
            ConnKind::GhlOAuthAgency => GhlAuth::OAuth {
                manager: self.manager(conn, Some(self.ghl_oauth(conn, UserType::Company)?))?,
                token_type: TokenType::Agency,
            },
            ConnKind::GhlAgencyLocation => {
                let parent_id = conn.parent.as_deref().ok_or_else(|| {
                    AccountsError::Input(format!("connection {} has no agency", conn.id))
                })?;
                let parent = self.registry.require(parent_id)?;
                let agency = Arc::new(self.ghl_client(&parent)?);
                let company = parent.account.clone();
                let minter = Arc::new(LocationTokenMinter::new(agency, &company, &conn.account));
                GhlAuth::OAuth {
                    manager: self.manager(conn, Some(minter))?,
                    token_type: TokenType::Location,
                }
            }
            _ => unreachable!("GHL connections only"),
        };
        let mut b = GhlClient::builder().base_url(&conn.base_url).auth(auth);
        if conn.kind.is_location() {
            b = b.location_id(&conn.account);
        } else {
            b = b.company_id(&conn.account);
        }
        if let Some(budget) = &self.budgets.ghl {
            b = b.budget(budget.clone());
        }
        Ok(b.build()?)
    }

    fn sellsy_oauth(&self, conn: &Connection) -> Result<Arc<SellsyOAuth>> {
        let client_id = conn.setting("client_id").ok_or_else(|| {
            AccountsError::Input(format!("connection {} has no client id", conn.id))
        })?;
        let token_url = conn
            .setting("token_url")
            .map(str::to_string)
            .unwrap_or_else(|| crate::sellsy_token_url(&conn.base_url));
        let secret = self.registry.secret(&conn.id)?;
        Ok(Arc::new(SellsyOAuth::new(
            &token_url,
            client_id,
            secret.as_deref(),
        )?))
    }

    /// A Sellsy client on `conn`.
    pub fn sellsy_client(&self, conn: &Connection) -> Result<SellsyClient> {
        if conn.app != App::Sellsy {
            return Err(AccountsError::Input(format!(
                "connection {} is a GHL connection",
                conn.id
            )));
        }
        let manager = self.manager(conn, Some(self.sellsy_oauth(conn)?))?;
        let mut b = SellsyClient::builder()
            .base_url(&conn.base_url)
            .auth(SellsyAuth::OAuth(manager))
            .budget_key(format!("sellsy:{}", conn.account));
        if let Some(budget) = &self.budgets.sellsy {
            b = b.budget(budget.clone());
        }
        Ok(b.build()?)
    }

    /// The live status: the stored one, or `expiring` when the access token runs out
    /// within a day and the connection has no way to renew it.
    pub fn status_of(&self, conn: &Connection) -> ConnStatus {
        if conn.status != ConnStatus::Ok {
            return conn.status;
        }
        let Ok(Some(tokens)) = self.registry.tokens().load(&conn.token_key()) else {
            return ConnStatus::NeedsReauth;
        };
        let renewable = tokens.refresh().is_some()
            || matches!(
                conn.kind,
                ConnKind::GhlAgencyLocation | ConnKind::SellsyClientCredentials | ConnKind::GhlPit
            );
        if !renewable && tokens.expires_within(chrono::Duration::days(1)) {
            return ConnStatus::Expiring;
        }
        ConnStatus::Ok
    }

    // ----- adding connections -----

    /// `connections add ghl --token PIT --location ID`: checked with one read of the
    /// location before it is stored.
    pub async fn add_ghl_pit(
        &self,
        token: &str,
        location: &str,
        base_url: &str,
    ) -> Result<Connection> {
        if token.trim().is_empty() || location.trim().is_empty() {
            return Err(AccountsError::Input(
                "--token and --location are both needed (a private integration token and its location id)".into(),
            ));
        }
        let client = GhlClient::builder()
            .base_url(base_url)
            .auth(GhlAuth::LocationToken(token.to_string()))
            .location_id(location)
            .build()?;
        let body = client
            .call(
                "locations.get-location",
                CallInput::new().param("locationId", location),
            )
            .await?;
        let name = body
            .pointer("/location/name")
            .and_then(Value::as_str)
            .map(str::to_string);
        self.registry.upsert(
            NewConnection {
                kind: ConnKind::GhlPit,
                account: location.to_string(),
                label: name,
                base_url: base_url.to_string(),
                parent: None,
                settings: Map::new(),
            },
            &Tokens::static_token(token),
        )
    }

    /// Store the tokens of a GHL OAuth code exchange: a location connection, or an
    /// agency connection and one connection per installed location.
    pub async fn add_ghl_oauth(
        &self,
        tokens: Tokens,
        base_url: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Vec<Connection>> {
        let mut settings = Map::new();
        settings.insert("client_id".into(), json!(client_id));
        let agency = tokens.extra_str("userType") == Some("Company")
            || tokens.extra_str("locationId").is_none();
        let (kind, account) = if agency {
            let company = tokens.extra_str("companyId").ok_or_else(|| {
                AccountsError::Input(
                    "GHL's token response names neither a location nor a company".into(),
                )
            })?;
            (ConnKind::GhlOAuthAgency, company.to_string())
        } else {
            (
                ConnKind::GhlOAuthLocation,
                tokens
                    .extra_str("locationId")
                    .unwrap_or_default()
                    .to_string(),
            )
        };
        if let Some(company) = tokens.extra_str("companyId") {
            settings.insert("company_id".into(), json!(company));
        }
        let conn = self.registry.upsert(
            NewConnection {
                kind,
                account,
                label: None,
                base_url: base_url.to_string(),
                parent: None,
                settings,
            },
            &tokens,
        )?;
        self.registry.save_secret(&conn.id, client_secret)?;
        let mut out = vec![conn.clone()];
        if agency {
            out.extend(self.sync_agency(&conn).await?);
        }
        Ok(out)
    }

    /// An agency connection's installed locations become `agency-location`
    /// connections (a location token minted and stored for each). Returns them.
    pub async fn sync_agency(&self, agency: &Connection) -> Result<Vec<Connection>> {
        let client = self.ghl_client(agency)?;
        let client_id = agency.setting("client_id").unwrap_or_default().to_string();
        let mut found = Vec::new();
        let mut skip = 0usize;
        loop {
            let body = client
                .call(
                    "oauth.get-installed-location",
                    CallInput::new()
                        .param("companyId", &agency.account)
                        .param("appId", ghl_app_id(&client_id))
                        .param("isInstalled", "true")
                        .param("skip", skip.to_string())
                        .param("limit", "100"),
                )
                .await?;
            let page: Vec<Value> = body
                .get("locations")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let n = page.len();
            for loc in page {
                if loc.get("isInstalled").and_then(Value::as_bool) == Some(false) {
                    continue;
                }
                let Some(id) = loc.get("_id").and_then(Value::as_str) else {
                    continue;
                };
                let name = loc.get("name").and_then(Value::as_str).map(str::to_string);
                found.push((id.to_string(), name));
            }
            if n < 100 {
                break;
            }
            skip += n;
        }
        let mut out = Vec::new();
        for (location, name) in found {
            out.push(self.add_agency_location(agency, &location, name).await?);
        }
        Ok(out)
    }

    /// Mint and store a location token of `agency` for `location`.
    pub async fn add_agency_location(
        &self,
        agency: &Connection,
        location: &str,
        label: Option<String>,
    ) -> Result<Connection> {
        let minter = LocationTokenMinter::new(
            Arc::new(self.ghl_client(agency)?),
            &agency.account,
            location,
        );
        let tokens = minter.mint().await?;
        self.registry.upsert(
            NewConnection {
                kind: ConnKind::GhlAgencyLocation,
                account: location.to_string(),
                label,
                base_url: agency.base_url.clone(),
                parent: Some(agency.id.clone()),
                settings: Map::new(),
            },
            &tokens,
        )
    }

    /// A GHL `INSTALL` event: a location of a connected agency gets its connection.
    /// `None` when no agency connection of `company` is stored.
    pub async fn on_install(&self, company: &str, location: &str) -> Result<Option<Connection>> {
        let agency = self
            .registry
            .list()?
            .into_iter()
            .find(|c| c.kind == ConnKind::GhlOAuthAgency && c.account == company);
        match agency {
            Some(a) => self.add_agency_location(&a, location, None).await.map(Some),
            None => Ok(None),
        }
    }

    /// A GHL `UNINSTALL` event: the location's connections (and their pairs) are
    /// removed; the pairs' state files stay for inspection. Returns the removed ids.
    pub fn on_uninstall(
        &self,
        location: Option<&str>,
        company: Option<&str>,
    ) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for c in self.registry.list()? {
            let hit = match (location, company) {
                (Some(l), _) => c.app == App::Ghl && c.account == l,
                (None, Some(co)) => c.kind == ConnKind::GhlOAuthAgency && c.account == co,
                _ => false,
            };
            if hit && self.registry.get(&c.id)?.is_some() {
                removed.extend(self.registry.remove(&c.id, true)?);
            }
        }
        Ok(removed)
    }

    /// `connections add sellsy --client-id ID --client-secret S`: a token is obtained
    /// first, so bad credentials are refused before anything is stored.
    pub async fn add_sellsy_client(
        &self,
        client_id: &str,
        client_secret: &str,
        base_url: &str,
        token_url: Option<&str>,
    ) -> Result<Connection> {
        if client_id.trim().is_empty() || client_secret.trim().is_empty() {
            return Err(AccountsError::Input(
                "--client-id and --client-secret are both needed (Sellsy: Settings → API → Personal client)".into(),
            ));
        }
        let token_url = token_url
            .map(str::to_string)
            .unwrap_or_else(|| crate::sellsy_token_url(base_url));
        let oauth = SellsyOAuth::new(&token_url, client_id, Some(client_secret))?;
        let tokens = oauth.client_credentials().await?;
        self.store_sellsy(
            ConnKind::SellsyClientCredentials,
            tokens,
            client_id,
            Some(client_secret),
            base_url,
            &token_url,
        )
    }

    /// Store the tokens of a Sellsy authorization-code exchange.
    pub fn add_sellsy_oauth(
        &self,
        tokens: Tokens,
        client_id: &str,
        client_secret: Option<&str>,
        base_url: &str,
        token_url: &str,
    ) -> Result<Connection> {
        self.store_sellsy(
            ConnKind::SellsyOAuth,
            tokens,
            client_id,
            client_secret,
            base_url,
            token_url,
        )
    }

    fn store_sellsy(
        &self,
        kind: ConnKind,
        tokens: Tokens,
        client_id: &str,
        client_secret: Option<&str>,
        base_url: &str,
        token_url: &str,
    ) -> Result<Connection> {
        let account = hlbridge_sellsy::oauth::corp_id(&tokens)
            .map(|c| c.to_string())
            .unwrap_or_else(|| format!("client-{client_id}"));
        let mut settings = Map::new();
        settings.insert("client_id".into(), json!(client_id));
        settings.insert("token_url".into(), json!(token_url));
        let conn = self.registry.upsert(
            NewConnection {
                kind,
                account,
                label: None,
                base_url: base_url.to_string(),
                parent: None,
                settings,
            },
            &tokens,
        )?;
        if let Some(secret) = client_secret {
            self.registry.save_secret(&conn.id, secret)?;
        }
        Ok(conn)
    }
}
