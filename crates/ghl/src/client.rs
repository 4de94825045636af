//! The GHL client: any operation of the table by id, validated before it is sent.

use std::sync::Arc;
use std::time::Duration;

use hlbridge_core::auth::TokenManager;
pub use hlbridge_core::call::CallInput;
use hlbridge_core::call::{build_request, find_operation};
use hlbridge_core::error::{Error, Result};
use hlbridge_core::http::{Executor, Request, Response};
use hlbridge_core::optable::{Operation, TokenType};
use hlbridge_core::rate::RateBudget;
use hlbridge_core::retry::RetryPolicy;
use serde_json::Value;

use crate::flavor::GhlFlavor;
use crate::TABLE;

pub const DEFAULT_BASE_URL: &str = "https://services.leadconnectorhq.com";

/// How the client authenticates.
#[derive(Clone)]
pub enum GhlAuth {
    /// A sub-account private integration token (acts as a Location token).
    LocationToken(String),
    /// An agency private integration token (acts as an Agency token).
    AgencyToken(String),
    /// OAuth tokens, refreshed as needed; `token_type` says whose they are.
    OAuth {
        manager: Arc<TokenManager>,
        token_type: TokenType,
    },
}

impl std::fmt::Debug for GhlAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GhlAuth::LocationToken(_) => f.write_str("LocationToken([redacted])"),
            GhlAuth::AgencyToken(_) => f.write_str("AgencyToken([redacted])"),
            GhlAuth::OAuth {
                manager,
                token_type,
            } => write!(f, "OAuth({}, {})", manager.key(), token_type.as_str()),
        }
    }
}

impl GhlAuth {
    fn token_type(&self) -> TokenType {
        match self {
            GhlAuth::LocationToken(_) => TokenType::Location,
            GhlAuth::AgencyToken(_) => TokenType::Agency,
            GhlAuth::OAuth { token_type, .. } => *token_type,
        }
    }

    fn manager(&self) -> Arc<TokenManager> {
        match self {
            GhlAuth::LocationToken(t) | GhlAuth::AgencyToken(t) => {
                Arc::new(TokenManager::fixed(t.clone()))
            }
            GhlAuth::OAuth { manager, .. } => manager.clone(),
        }
    }
}

#[derive(Debug)]
pub struct GhlClientBuilder {
    base_url: String,
    auth: Option<GhlAuth>,
    location_id: Option<String>,
    company_id: Option<String>,
    budget: Option<Arc<RateBudget>>,
    retry: RetryPolicy,
    timeout: Duration,
}

impl GhlClientBuilder {
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    pub fn auth(mut self, auth: GhlAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The sub-account used to fill `locationId` where an operation needs one and the
    /// caller left it out; also the key of the rate budget.
    pub fn location_id(mut self, id: impl Into<String>) -> Self {
        self.location_id = Some(id.into());
        self
    }

    pub fn company_id(mut self, id: impl Into<String>) -> Self {
        self.company_id = Some(id.into());
        self
    }

    /// Share a budget with other clients of the same location (sync, triggers, CLI).
    pub fn budget(mut self, budget: Arc<RateBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn build(self) -> Result<GhlClient> {
        let auth = self.auth.ok_or_else(|| {
            Error::Config("no GHL credentials: set HLBRIDGE_GHL_TOKEN or connect with OAuth".into())
        })?;
        let budget = self
            .budget
            .unwrap_or_else(|| Arc::new(RateBudget::ghl_default()));
        let exec = Executor::new(
            &self.base_url,
            Arc::new(GhlFlavor),
            budget,
            Some(auth.manager()),
        )?
        .with_retry(self.retry)
        .with_timeout(self.timeout);
        Ok(GhlClient {
            exec,
            token_type: auth.token_type(),
            auth,
            location_id: self.location_id,
            company_id: self.company_id,
        })
    }
}

#[derive(Debug)]
pub struct GhlClient {
    exec: Executor,
    auth: GhlAuth,
    token_type: TokenType,
    location_id: Option<String>,
    company_id: Option<String>,
}

impl GhlClient {
    pub fn builder() -> GhlClientBuilder {
        GhlClientBuilder {
            base_url: DEFAULT_BASE_URL.to_string(),
            auth: None,
            location_id: None,
            company_id: None,
            budget: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
        }
    }

    pub fn location_id(&self) -> Option<&str> {
        self.location_id.as_deref()
    }

    pub fn executor(&self) -> &Executor {
        &self.exec
    }

    pub fn auth(&self) -> &GhlAuth {
        &self.auth
    }

    /// Call operation `id` and return its JSON body.
    pub async fn call(&self, id: &str, input: CallInput) -> Result<Value> {
        let op = operation(id)?;
        Ok(self.call_op(op, &input).await?.body)
    }

    /// Call `op` and return the whole response.
    pub async fn call_op(&self, op: &Operation, input: &CallInput) -> Result<Response> {
        let request = self.prepare(op, input).await?;
        self.exec.send(&request).await
    }

    /// Check `input` against `op` and build the request, without sending it.
    pub async fn prepare(&self, op: &Operation, input: &CallInput) -> Result<Request> {
        self.check_permission(op).await?;
        let mut input = input.clone();
        self.fill_location(op, &mut input);
        let mut request = build_request(&TABLE, op, &input, &self.budget_key())?;
        if let Some(version) = op.version {
            request.headers.push(("Version".into(), version.into()));
        }
        request.anonymous = op.token_types.contains(&TokenType::None);
        Ok(request)
    }

    /// Rate allowances are per location (or company for agency tokens).
    pub fn budget_key(&self) -> String {
        match (&self.location_id, &self.company_id, self.token_type) {
            (_, Some(company), TokenType::Agency) => format!("ghl:company:{company}"),
            (Some(loc), _, _) => format!("ghl:{loc}"),
            _ => "ghl:default".to_string(),
        }
    }

    /// Refuse, before sending, a call the connected token cannot make.
    async fn check_permission(&self, op: &Operation) -> Result<()> {
        if op.token_types.is_empty() || op.token_types.contains(&TokenType::None) {
            return Ok(());
        }
        if !op.token_types.contains(&self.token_type) {
            let wanted: Vec<&str> = op.token_types.iter().map(|t| t.as_str()).collect();
            return Err(Error::NotPermitted(format!(
                "{} needs a {} token, but the connected token is a {} token",
                op.id,
                wanted.join(" or "),
                self.token_type.as_str()
            )));
        }
        if let GhlAuth::OAuth { manager, .. } = &self.auth {
            let tokens = manager.tokens().await;
            if tokens.scope.is_some() && !op.scopes.is_empty() {
                let granted: Vec<&str> = tokens.scopes().collect();
                if !op.scopes.iter().any(|s| granted.contains(s)) {
                    return Err(Error::NotPermitted(format!(
                        "{} needs the scope {}, which the connected token was not granted; reconnect with it added",
                        op.id,
                        op.scopes.join(" or ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// Fill `locationId` / `location_id` from the client's location where the caller
    /// left it out.
    fn fill_location(&self, op: &Operation, input: &mut CallInput) {
        let Some(loc) = &self.location_id else { return };
        for name in ["locationId", "location_id"] {
            if op.param(name).is_some() && !input.params.contains_key(name) {
                input.params.insert(name.to_string(), vec![loc.clone()]);
            }
        }
        let body_schema = match op.body.map(|b| b.ty) {
            Some(hlbridge_core::optable::Ty::Object(Some(name))) => TABLE.schema(name),
            _ => None,
        };
        if let (Some(schema), Some(Value::Object(map))) = (body_schema, input.body.as_mut()) {
            if schema
                .fields
                .iter()
                .any(|f| f.name == "locationId" && f.required)
                && !map.contains_key("locationId")
            {
                map.insert("locationId".into(), Value::String(loc.clone()));
            }
        } else if let (Some(schema), None) = (body_schema, &input.body) {
            let required: Vec<_> = schema.fields.iter().filter(|f| f.required).collect();
            if required.len() == 1 && required[0].name == "locationId" {
                input.body = Some(serde_json::json!({ "locationId": loc }));
            }
        }
    }
}

/// Look up a GHL operation by id, with a hint when the id is unknown.
pub fn operation(id: &str) -> Result<&'static Operation> {
    find_operation(&TABLE, id)
}
