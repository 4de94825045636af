//! Stateful local emulators of the GoHighLevel and Sellsy APIs.
//!
//! - [`ghl`]: the GHL API v2 emulator (`ghl::start`, `ghl::GhlConfig`), routed by the
//!   generated operation table;
//! - [`sellsy`]: the Sellsy API v2 emulator;
//! - [`faults`]: fault injection (429, 5xx, slow, dropped connection, expired token)
//!   shared by both (plus `commit_drop`, which applies a write and then drops the
//!   connection);
//! - [`control`]: pieces shared by both emulators' `/emulator/*` control endpoints.

pub mod bench_seed;
pub mod control;
pub mod faults;
pub mod ghl;
pub mod sellsy;
