//! Durable flow runs.
//!
//! - [`store`]: `flow_runs`, `flow_steps` and write intents in the main state database.
//! - [`Executor`]: runs the steps in order, recording each under its path
//!   (`loop[3].create`), so a run resumed after a crash takes the same branches and
//!   loop items and never re-sends a write whose result is recorded. A write (a non-GET
//!   action) records an intent before it is sent and its result after; a create whose
//!   intent has no result is not sent again blindly (find_or_create looks first; a
//!   plain action fails the run as `unknown` for the operator to check).
//! - Leases ([`lease`]): a run executes only under its unexpired lease, so two
//!   processes on one database never execute the same run; a dead owner's lease
//!   expires and is taken over.
//! - Replay: from the failed step (earlier outputs reused) or from the start, as a new
//!   run keyed `replay:<orig>:<n>`.
//! - Dry run (`flow test`): reads are real; each write is replaced by a printout of the
//!   exact request (method, URL, headers without Authorization, body) and the fake
//!   output `{"dry_run": true}`, so later steps still render.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

mod builtin;
mod call;
mod exec;
mod lease;
mod outbox;
mod resume;
mod send;
mod steps;
pub mod store;
mod write;

pub use builtin::NOTES_ARCHIVE;
pub use call::{call_input, parse_duration, redact};
pub use exec::{Executor, FlowLookup, RunError, RunResult};
pub use lease::{LeaseHolder, DEFAULT_LEASE};
pub use steps::{step_paths, FOR_EACH_DEFAULT, FOR_EACH_LIMIT};
pub use store::{RunFilter, RunRecord, RunStore, StepRecord, StoreError};
pub use write::intent_key;

/// The connected apps a run calls, and the engine's store for the outbox.
#[derive(Default)]
pub struct Apps {
    pub ghl: Option<hlbridge_ghl::GhlClient>,
    pub sellsy: Option<hlbridge_sellsy::SellsyClient>,
    pub outbox: Option<Arc<dyn hlbridge_engine::store::StateStore>>,
    pub pair: Option<String>,
}

/// One item a trigger produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerItem {
    /// Idempotency key: a poll's id + hash, a webhookId, a cron slot.
    pub key: String,
    pub payload: Value,
    /// The record as last seen (for the `changed` condition).
    pub previous: Option<Value>,
}

/// How a run ended (or where it stopped).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunOutcome {
    pub run_id: i64,
    /// ok | failed | skipped | waiting | running
    pub status: String,
    pub error: Option<String>,
    pub failed_step: Option<String>,
    /// True when a run with the same key already existed (nothing was executed).
    pub existing: bool,
    /// Dry run: the writes that would have been sent (step, operation, request).
    pub writes: Vec<Value>,
    /// Dry run: each step's path and output (or error), in order.
    pub trace: Vec<Value>,
}

/// The key of an item given by hand (`--item`, the API's test): its content, so the
/// same item given twice runs once.
pub fn item_key(payload: &Value) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(payload.to_string().as_bytes());
    format!("item:{}", &hex::encode(digest)[..16])
}
