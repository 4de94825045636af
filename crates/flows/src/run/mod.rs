//! Durable flow runs: the run store ([`store`]), with every step recorded so a run
//! resumed after a crash takes the same path and never re-sends a settled write.

pub mod store;

pub use store::{RunFilter, RunRecord, RunStore, StepRecord, StoreError};
