//! Shared machinery for the hlbridge API clients and emulators.
//!
//! Written once, used by both the GHL and the Sellsy side:
//! - [`optable`]: the shape of the generated operation tables;
//! - [`validate`]: checking parameters and bodies against a table;

pub mod optable;
pub mod validate;
