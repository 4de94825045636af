//! Sending one call of a step: the exact request recorded, retries on 429 / 5xx /
//! timeouts with the step's backoff, a create whose answer was lost reported as an
//! unknown outcome (never sent again blindly), dry runs printing writes instead.

use serde_json::{json, Value};

use super::call::{self, Resolved};
use super::exec::{Ctx, Executor, Failure};
use crate::model::{Call, Step};

fn fail(path: &str, message: impl Into<String>) -> Failure {
    Failure {
        path: path.to_string(),
        message: message.into(),
        unknown: false,
    }
}

impl Executor {
    /// A read inside another step (find_or_create's find): retried, never recorded apart.
    pub(crate) async fn call_step(
        &self,
        ctx: &mut Ctx,
        step: &Step,
        path: &str,
        c: &Call,
        requests: &mut Vec<Value>,
    ) -> Result<Value, Failure> {
        let r = call::resolve(&c.operation).map_err(|m| fail(path, m))?;
        let input = self.render_call(ctx, path, c)?;
        self.send_retrying(ctx, step, path, &r, input, requests)
            .await
    }

    pub(crate) fn render_call(
        &self,
        ctx: &Ctx,
        path: &str,
        c: &Call,
    ) -> Result<hlbridge_core::call::CallInput, Failure> {
        let params = Value::Object(c.params.clone().into_iter().collect());
        let params = self.render(ctx, path, "params", &params)?;
        let body = match &c.body {
            Some(b) => Some(self.render(ctx, path, "body", b)?),
            None => None,
        };
        let params = params.as_object().cloned().unwrap_or_default();
        Ok(call::call_input(&params, body))
    }

    pub(crate) async fn send_retrying(
        &self,
        ctx: &mut Ctx,
        step: &Step,
        path: &str,
        r: &Resolved,
        input: hlbridge_core::call::CallInput,
        requests: &mut Vec<Value>,
    ) -> Result<Value, Failure> {
        let described = call::describe(&self.apps, r, &input)
            .await
            .map_err(|m| fail(path, format!("{path}: {m}")))?;
        let mut sent = described.clone();
        if let Some(o) = sent.as_object_mut() {
            o.remove("headers");
        }
        if ctx.dry && r.is_write() {
            ctx.writes
                .push(json!({"step": path, "operation": r.full_id(), "request": described}));
            return Ok(json!({"dry_run": true}));
        }
        let attempts = step.retry.as_ref().map(|r| r.attempts.max(1)).unwrap_or(1);
        let mut n = 0;
        loop {
            n += 1;
            requests.push(sent.clone());
            match call::send(&self.apps, r, input.clone()).await {
                Ok(v) => return Ok(v),
                Err(e) if r.is_create() && call::lost_answer(&e) => {
                    // The create may have landed: never sent again blindly.
                    return Err(Failure {
                        path: path.to_string(),
                        message: format!(
                            "the outcome of step {path} is unknown ({} was sent, then: {e}): check the record, then `hlbridge runs replay {} --from-failed-step`",
                            r.op.id, ctx.run_id
                        ),
                        unknown: true,
                    });
                }
                Err(e) if n < attempts && call::retryable(&e) => {
                    let wait = step
                        .retry
                        .as_ref()
                        .map(|retry| call::backoff(retry, n))
                        .unwrap_or_default();
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(fail(path, format!("{path} ({}): {e}", r.op.id))),
            }
        }
    }
}
