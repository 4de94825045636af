//! The two-way GoHighLevel ↔ Sellsy sync engine.
//!
//! - [`store`]: durable state behind the [`store::StateStore`] trait (SQLite today);
//! - [`config`]: `hlbridge.toml` + `HLBRIDGE_*` settings;
//! - [`mapping`]: the declarative field mapping, validated against both accounts;
//! - [`canonical`], [`merge`]: normalised records and the three-way per-field merge;
//! - [`poll`], [`reconcile`], [`activities`]: a cycle's steps (changes in, contacts
//!   matched/merged/written, tasks and notes swept);
//! - [`engine::Engine`]: connect, `run_once`, `run_continuous`;
//! - [`webhooks`]: signed GHL/Sellsy events triggering an immediate targeted sync;
//! - [`admin`]: status, conflicts and notes search on the store alone.

pub mod activities;
pub mod admin;
pub mod canonical;
pub mod config;
pub mod engine;
pub mod error;
pub mod hints;
pub mod mapping;
pub mod merge;
pub mod phone;
pub mod poll;
pub mod reconcile;
pub mod report;
pub mod sides;
pub mod store;
pub mod triggers;
pub mod webhooks;

pub use config::EngineConfig;
pub use engine::{Budgets, Engine};
pub use error::{EngineError, Result};
pub use report::{CycleReport, Progress, Status};
