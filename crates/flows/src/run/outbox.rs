//! Flow writes through the engine's outbox (so they show in `hlbridge history`).
//!
//! The engine's outbox knows contacts, tasks and notes: a flow write to one of those
//! groups is recorded there (source `flow`); writes to other groups (opportunities,
//! invoices, …) are recorded only in the run store (`flow_steps.requests`), because
//! the outbox has no kind for them.

use hlbridge_core::optable::Method;
use hlbridge_engine::store::history::{WriteContext, WriteSource};
use hlbridge_engine::store::{Kind, NewOutbox, Outcome, Side};
use serde_json::Value;

use super::call::Resolved;
use super::exec::{Ctx, Executor};
use crate::model::App;

/// The outbox entry id of a flow write, when it went through the outbox.
pub(crate) type OutboxId = Option<i64>;

fn kind_of(group: &str) -> Option<Kind> {
    let g = group.to_ascii_lowercase();
    if g.starts_with("contact") || g == "thirds" || g == "individuals" || g == "companies" {
        Some(Kind::Contact)
    } else if g.starts_with("task") {
        Some(Kind::Task)
    } else if g.starts_with("note") || g.starts_with("comment") {
        Some(Kind::Note)
    } else {
        None
    }
}

impl Executor {
    pub(crate) fn outbox_intend(
        &self,
        ctx: &Ctx,
        path: &str,
        r: &Resolved,
        request: &Value,
    ) -> OutboxId {
        let outbox = self.apps.outbox.as_ref()?;
        let kind = kind_of(r.op.group)?;
        let op = match r.op.method {
            Method::Post => "create",
            Method::Delete => "delete",
            _ => "update",
        };
        let target = match r.app {
            App::Ghl => Side::Ghl,
            App::Sellsy => Side::Sellsy,
        };
        let entry = NewOutbox {
            key: super::write::intent_key(&ctx.flow, ctx.version, &ctx.key, path),
            target,
            kind,
            op: op.into(),
            target_id: None,
            source_id: format!("flow:{}:{}:{}", ctx.flow, ctx.run_id, path),
            payload: request.clone(),
            context: Some(WriteContext {
                pair: self.apps.pair.clone().unwrap_or_default(),
                source: WriteSource::Flow,
                ..Default::default()
            }),
        };
        match outbox.enqueue(&entry) {
            Ok(e) => Some(e.id),
            Err(e) => {
                tracing::warn!(step = path, error = %e, "flow write not recorded in the outbox");
                None
            }
        }
    }

    pub(crate) fn outbox_settle(&self, id: OutboxId, result: Result<&Value, &str>) {
        let (Some(id), Some(outbox)) = (id, self.apps.outbox.as_ref()) else {
            return;
        };
        let outcome = match result {
            Ok(_) => Outcome::Done,
            Err(m) => Outcome::Failed(m),
        };
        if let Err(e) = outbox.finish(id, outcome) {
            tracing::warn!(error = %e, "flow write outcome not recorded in the outbox");
        }
    }
}
