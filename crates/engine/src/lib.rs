//! The two-way GoHighLevel ↔ Sellsy sync engine, as stages:
//!
//! - [`intake`]: changes in (polls with cursors, bulk listings, webhooks) as change
//!   records; [`intake::deletions`]: id listings → deletion candidates;
//! - [`plan`]: match, three-way merge ([`merge`]), conflicts, the mass-deletion guard;
//! - [`outbox`]: every write as a durable intent, applied, retried, and found again
//!   when its answer was lost;
//! - [`cycle`]: one pair's cycle, intake → plan → outbox; [`engine::Engine`] connects;
//! - [`store`]: durable state behind the [`store::StateStore`] trait (SQLite today);
//! - [`config`], [`mapping`], [`canonical`], [`items`], [`phone`]: settings and the
//!   canonical forms both sides are compared in;
//! - [`webhooks`], [`hints`]: signed events triggering an immediate targeted sync;
//! - [`admin`]: status, conflicts and notes search on the store alone;
//! - [`triggers`]: polling triggers over any read operation.

pub mod admin;
pub mod canonical;
pub mod config;
pub(crate) mod context;
pub mod cycle;
pub mod engine;
pub mod error;
pub mod hints;
pub mod intake;
pub mod items;
pub mod mapping;
pub mod merge;
pub(crate) mod outbox;
pub mod phone;
pub mod plan;
pub mod report;
pub mod sides;
pub mod store;
pub mod triggers;
pub mod webhooks;

pub use config::EngineConfig;
pub use engine::{Budgets, Engine};
pub use error::{EngineError, Result};
pub use report::{CycleReport, Progress, Status};
