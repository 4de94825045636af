//! The Sellsy client: any operation of the table by id, validated before it is sent,
//! paced on the account's quotas, with seek or offset paging as streams.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use hlbridge_core::auth::TokenManager;
pub use hlbridge_core::call::CallInput;
use hlbridge_core::call::{build_request, find_operation};
use hlbridge_core::error::{Error, Result};
use hlbridge_core::http::{Executor, Request, Response};
use hlbridge_core::optable::{Operation, ParamIn, Ty};
use hlbridge_core::paging::{pages, Page};
use hlbridge_core::rate::{Observation, RateBudget};
use hlbridge_core::retry::RetryPolicy;
use serde_json::Value;

use crate::flavor::{default_budget, SellsyFlavor};
use crate::TABLE;

pub const DEFAULT_BASE_URL: &str = "https://api.sellsy.com/v2";

/// How the client authenticates.
#[derive(Clone)]
pub enum SellsyAuth {
    /// A bearer token used as is.
    Token(String),
    /// OAuth tokens, refreshed as needed.
    OAuth(Arc<TokenManager>),
}

impl std::fmt::Debug for SellsyAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SellsyAuth::Token(_) => f.write_str("Token([redacted])"),
            SellsyAuth::OAuth(m) => write!(f, "OAuth({})", m.key()),
        }
    }
}

/// Which paging mode a stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagingMode {
    /// Opaque seek tokens from `pagination.offset` (Sellsy's default, no limit).
    Seek,
    /// Numeric offsets (capped by Sellsy at 100 000 results).
    Offset,
}

#[derive(Debug)]
pub struct SellsyClientBuilder {
    base_url: String,
    auth: Option<SellsyAuth>,
    budget: Option<Arc<RateBudget>>,
    budget_key: String,
    retry: RetryPolicy,
    timeout: Duration,
}

impl SellsyClientBuilder {
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    pub fn auth(mut self, auth: SellsyAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Share the account's budget with other clients of the same account.
    pub fn budget(mut self, budget: Arc<RateBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Name of the account's allowance (e.g. `sellsy:<corpId>`).
    pub fn budget_key(mut self, key: impl Into<String>) -> Self {
        self.budget_key = key.into();
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

    pub fn build(self) -> Result<SellsyClient> {
        let auth = self.auth.ok_or_else(|| {
            Error::Config(
                "no Sellsy credentials: set HLBRIDGE_SELLSY_CLIENT_ID and HLBRIDGE_SELLSY_CLIENT_SECRET, or connect with OAuth"
                    .into(),
            )
        })?;
        let manager = match &auth {
            SellsyAuth::Token(t) => Arc::new(TokenManager::fixed(t.clone())),
            SellsyAuth::OAuth(m) => m.clone(),
        };
        let budget = self.budget.unwrap_or_else(|| Arc::new(default_budget()));
        let exec = Executor::new(
            &self.base_url,
            Arc::new(SellsyFlavor),
            budget,
            Some(manager),
        )?
        .with_retry(self.retry)
        .with_timeout(self.timeout);
        Ok(SellsyClient {
            exec,
            budget_key: self.budget_key,
        })
    }
}

#[derive(Debug)]
pub struct SellsyClient {
    exec: Executor,
    budget_key: String,
}

/// Look up a Sellsy operation by id, with a hint when the id is unknown.
pub fn operation(id: &str) -> Result<&'static Operation> {
    find_operation(&TABLE, id)
}

impl SellsyClient {
    pub fn builder() -> SellsyClientBuilder {
        SellsyClientBuilder {
            base_url: DEFAULT_BASE_URL.to_string(),
            auth: None,
            budget: None,
            budget_key: "sellsy:default".into(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
        }
    }

    pub fn executor(&self) -> &Executor {
        &self.exec
    }

    pub fn budget_key(&self) -> &str {
        &self.budget_key
    }

    /// Call operation `id` and return its JSON body (`Null` for 204).
    pub async fn call(&self, id: &str, input: CallInput) -> Result<Value> {
        let op = operation(id)?;
        Ok(self.call_op(op, &input).await?.body)
    }

    pub async fn call_op(&self, op: &Operation, input: &CallInput) -> Result<Response> {
        let request = self.prepare(op, input)?;
        self.exec.send(&request).await
    }

    /// Check `input` against `op` and build the request, without sending it.
    ///
    /// Array parameters (`embed`, `field`) travel as `embed[]=a&embed[]=b`, the PHP
    /// convention Sellsy reads; a repeated plain `embed=` would keep only the last value.
    pub fn prepare(&self, op: &Operation, input: &CallInput) -> Result<Request> {
        let mut request = build_request(&TABLE, op, input, &self.budget_key)?;
        for (name, _) in request.query.iter_mut() {
            let is_array = op
                .param(name)
                .is_some_and(|p| p.location == ParamIn::Query && matches!(p.ty, Ty::Array(_)));
            if is_array {
                name.push_str("[]");
            }
        }
        Ok(request)
    }

    /// Read the account's absolute limits from `GET /quotas` and pace on them from now
    /// on. Returns the body.
    pub async fn learn_quotas(&self) -> Result<Value> {
        let body = self.call("quotas.get", CallInput::new()).await?;
        let windows = [
            "api_rate_seconds",
            "api_rate_minutes",
            "api_rate_days",
            "api_rate_months",
        ];
        for (index, name) in windows.iter().enumerate() {
            let Some(q) = body.get(name) else { continue };
            let limit = q.get("limit").and_then(Value::as_u64);
            let used = q.get("used").and_then(Value::as_u64).unwrap_or(0);
            if let Some(limit) = limit {
                let limit = limit.min(u32::MAX as u64) as u32;
                self.exec.budget().observe(
                    &self.budget_key,
                    index,
                    Observation {
                        limit: Some(limit),
                        remaining: Some(limit.saturating_sub(used.min(u32::MAX as u64) as u32)),
                        interval: None,
                    },
                );
            }
        }
        Ok(body)
    }

    /// Every item of a list or search, page by page (`limit` 100 unless given).
    pub fn stream<'a>(
        &'a self,
        op: &'static Operation,
        input: CallInput,
        mode: PagingMode,
    ) -> impl Stream<Item = Result<Value>> + 'a {
        let mut first = input;
        if first.get("limit").is_none() {
            first.set("limit", 100);
        }
        if mode == PagingMode::Offset && first.get("offset").is_none() {
            first.set("offset", 0);
        }
        pages(first, move |mut input| async move {
            let body = self.call_op(op, &input).await?.body;
            let items = body
                .get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let pagination = body.get("pagination").cloned().unwrap_or(Value::Null);
            let limit = input
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(100);
            let full = !items.is_empty() && items.len() >= limit;
            let next = match mode {
                PagingMode::Seek => match pagination.get("offset").and_then(Value::as_str) {
                    Some(token) if full && !token.is_empty() => {
                        input.set("offset", token);
                        Some(input)
                    }
                    _ => None,
                },
                PagingMode::Offset => {
                    let at = input
                        .get("offset")
                        .and_then(|o| o.parse::<usize>().ok())
                        .unwrap_or(0);
                    if full {
                        input.set("offset", at + items.len());
                        Some(input)
                    } else {
                        None
                    }
                }
            };
            Ok::<_, Error>(Page { items, next })
        })
    }
}
