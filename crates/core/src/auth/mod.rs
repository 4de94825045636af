//! Tokens, their encrypted storage, and refreshing them safely.
//!
//! - [`Tokens`]: an access token with its refresh token and expiry; secrets are
//!   [`secrecy::SecretString`] so they never show in `Debug` output or logs.
//! - [`TokenStore`]: where tokens live between runs ([`MemoryTokenStore`],
//!   [`SqliteTokenStore`], encrypted at rest with AES-256-GCM).
//! - [`TokenManager`]: hands out a valid access token, refreshes it proactively before
//!   expiry and after a 401, one refresh at a time, and saves a rotated refresh token
//!   before the new access token is used.

mod cipher;
mod manager;
mod store;
mod tokens;

pub use cipher::{Cipher, KEY_ENV};
pub use manager::{Refresher, TokenManager, DEFAULT_LEASE_TTL, LEASE_GRACE, LEASE_POLL};
pub use store::{MemoryTokenStore, SqliteTokenStore, TokenStore};
pub use tokens::Tokens;
