//! Exactly-once writes: an intent row before a write, its result after. On resume a
//! write with an intent and no result is never sent blindly.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::call;
use super::exec::{Ctx, Executor, Failure};
use crate::model::{Call, Step};

/// The intent key of a write: sha256(flow, version, run key, step path).
pub fn intent_key(flow: &str, version: i64, run_key: &str, path: &str) -> String {
    let mut h = Sha256::new();
    for part in [flow, &version.to_string(), run_key, path] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

fn fail(path: &str, message: impl Into<String>) -> Failure {
    Failure {
        path: path.to_string(),
        message: message.into(),
        unknown: false,
    }
}

impl Executor {
    /// Run one `action` (or the `create` of a find_or_create, `in_find_or_create` set to
    /// the step's path: its find has just come back empty).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn action(
        &self,
        ctx: &mut Ctx,
        step: &Step,
        path: &str,
        attempt: i64,
        c: &Call,
        requests: &mut Vec<Value>,
        in_find_or_create: Option<&str>,
    ) -> Result<Value, Failure> {
        let store = ctx.store.clone();
        let db = |e: super::StoreError| fail(path, e.to_string());
        if c.operation.starts_with("hlbridge:") {
            let shown =
                json!({"operation": c.operation, "body": c.body.as_ref().map(call::redact)});
            if in_find_or_create.is_none() {
                store
                    .begin_step(ctx.run_id, path, attempt, &shown)
                    .map_err(db)?;
            }
            return self.builtin(ctx, path, c);
        }
        let r = call::resolve(&c.operation).map_err(|m| fail(path, m))?;
        let input = {
            let params = Value::Object(c.params.clone().into_iter().collect());
            let params = self
                .templates
                .render(&params, &ctx.scope)
                .map_err(|e| fail(path, format!("{path}: params: {e}")))?;
            let body = match &c.body {
                Some(b) => Some(
                    self.templates
                        .render(b, &ctx.scope)
                        .map_err(|e| fail(path, format!("{path}: body: {e}")))?,
                ),
                None => None,
            };
            call::call_input(&params.as_object().cloned().unwrap_or_default(), body)
        };
        if in_find_or_create.is_none() {
            let shown = json!({"operation": c.operation, "params": input.params, "body": input.body.as_ref().map(call::redact)});
            store
                .begin_step(ctx.run_id, path, attempt, &shown)
                .map_err(db)?;
        }
        if !r.is_write() || ctx.dry {
            return self
                .send_retrying(ctx, step, path, &r, input, requests)
                .await;
        }
        let key = intent_key(&ctx.flow, ctx.version, &ctx.key, path);
        match store.intent(&key).map_err(db)? {
            Some(Some(result)) => return Ok(result),
            Some(None) if in_find_or_create.is_some() => {
                // The find just ran and found nothing: the earlier create did not land.
                store.drop_intent(&key).map_err(db)?;
            }
            Some(None) if !r.is_create() => {
                // PUT / PATCH / DELETE set a state: sending them again is harmless.
            }
            Some(None) => {
                return Err(Failure {
                    path: path.to_string(),
                    message: format!(
                        "the outcome of step {path} is unknown (the process stopped after sending {} and before its answer): check the record, then `hlbridge runs replay {} --from-failed-step`",
                        r.op.id, ctx.run_id
                    ),
                    unknown: true,
                });
            }
            None => {}
        }
        // Heartbeat: the lease must still be ours before anything is sent.
        self.hold(ctx.run_id).map_err(|m| fail(path, m))?;
        let request = json!({"operation": r.op.id, "params": input.params, "body": input.body.as_ref().map(call::redact)});
        store
            .record_intent(&key, ctx.run_id, path, &request)
            .map_err(db)?;
        let outbox = self.outbox_intend(ctx, path, &r, &request);
        let result = self
            .send_retrying(ctx, step, path, &r, input, requests)
            .await;
        match &result {
            Ok(v) => {
                store.settle_intent(&key, v).map_err(db)?;
                self.outbox_settle(outbox, Ok(v));
            }
            Err(f) if f.unknown => {
                // Sent, answer lost: the intent stays open so nothing sends it blindly
                // again (a find_or_create looks first; a plain create waits for the
                // operator). The outbox entry stays pending for the same reason.
                let _ = outbox;
            }
            Err(f) => {
                // A refused write did not land: forget the intent so a replay sends it.
                store.drop_intent(&key).map_err(db)?;
                self.outbox_settle(outbox, Err(&f.message));
            }
        }
        result
    }
}
