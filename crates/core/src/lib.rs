//! Shared machinery for the hlbridge API clients and emulators, written once and used
//! by both the GHL and the Sellsy side:
//! - [`optable`]: the shape of the generated operation tables;
//! - [`validate`]: checking parameters and bodies against a table;
//! - [`auth`]: tokens, the encrypted token store, single-flight refresh;
//! - [`rate`]: client-side rate budgets that learn from response headers;
//! - [`retry`]: backoff with full jitter and the retry classifier;
//! - [`http`]: the executor tying budget, auth and retries around one request;
//! - [`call`]: operation id + parameters → a checked request;
//! - [`paging`]: pagination as async streams;
//! - [`fsutil`]: private (mode 0600) state and key files;
//! - [`error`]: the typed errors.

pub mod auth;
pub mod call;
pub mod error;
pub mod fsutil;
pub mod http;
pub mod optable;
pub mod paging;
pub mod rate;
pub mod retry;
pub mod schema_check;
pub mod validate;

pub use error::{Error, Result};
