//! No-code flows: a trigger, conditions, mapping and actions over every operation of
//! both apps, with durable, replayable runs.
//!
//! - [`model`]: the flow file format (plain serde types; the JSON Schema comes from them).
//! - [`template`]: the sandboxed template engine, its filters and the conditions.

pub mod catalog;
pub mod deploy;
mod did_you_mean;
pub mod model;
pub mod run;
pub mod template;
pub mod triggers;
pub mod validate;
