//! Stateful local emulators of the GoHighLevel and Sellsy APIs.

pub mod faults;
pub mod ghl;
pub mod sellsy;
