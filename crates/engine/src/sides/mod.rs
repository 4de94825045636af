//! The two APIs as the engine uses them: paged change reads, matching lookups and
//! writes, each call mapped to an [`crate::error::EngineError`].

pub mod companies;
pub mod ghl;
pub mod sellsy;
