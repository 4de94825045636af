//! What starts flow runs: polls of a read operation of either app ([`poll_once`]),
//! webhook events ([`webhook_matches`], [`webhook_item`]) and cron schedules
//! ([`due_slots`], [`schedule_item`]). Every item carries a stable key, the run's
//! idempotency key, so a restart or a re-delivery never starts the same work twice.
//!
//! - Polls keep their state in the main state database: the engine's trigger store
//!   (ids and content hashes, the GHL search cursor, whether the baseline is done) under
//!   a key of the flow and its trigger, plus `flow_trigger_previous` (the item as last
//!   emitted, handed to the run as `previous` for the `changed` condition).
//! - Polls of what the sync's intake already reads (GHL and Sellsy contacts) are
//!   served by the pair's intake feed in `serve` ([`poll_feed`], [`intake_source`]).
//! - Webhooks: the key is `webhook:<webhookId>`; the receiver de-duplicates on it.
//! - Schedules: the key is the slot in RFC 3339; see [`due_slots`] for DST and misfires.

mod feed;
mod poll;
mod schedule;
mod shared;
mod webhook;

pub use feed::{intake_source, poll_feed};
pub use poll::{poll_once, poll_state_key, PollSummary};
pub use schedule::{due_slots, schedule_item, MISFIRE_GRACE};
pub use shared::{poll_shared, shared_read_key};
pub use webhook::{webhook_event_name, webhook_item, webhook_matches};

/// Why a trigger could not be polled.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The flow's trigger is not a poll (webhook and schedule flows have no poll).
    #[error("flow {0:?} has a {1} trigger, not a poll: only poll triggers can be polled")]
    NotPoll(String, &'static str),
    /// The operation is unknown, not a read, or its app has no connection.
    #[error("trigger.poll.operation: {0}")]
    Operation(String),
    /// A `params`/`body` template failed.
    #[error("trigger.poll: {0}")]
    Template(String),
    /// The API call failed.
    #[error("{side} poll failed: {source}")]
    Api {
        side: &'static str,
        #[source]
        source: hlbridge_core::Error,
    },
    /// The trigger state could not be read or written.
    #[error("trigger state: {0}")]
    Store(String),
    /// `emit` refused an item: it is not remembered and comes again on the next poll.
    #[error("starting a run for item {key}: {message}")]
    Emit { key: String, message: String },
}
