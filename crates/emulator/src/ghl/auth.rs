//! Who is calling: bearer tokens, the grants behind them, and whether a grant may call
//! an operation.
//!
//! Valid tokens are the configured private integration tokens (the location PIT acts
//! as a Location token, the agency PIT as an Agency token, both with every scope and
//! no expiry) and the OAuth access tokens this emulator issued that have not expired.
//! A wrong token type or a missing scope gives GHL's 401 "The token is not authorized
//! for this scope."; an unknown or expired token gives 401 "Invalid token: access token
//! is invalid".

use std::collections::{BTreeSet, HashMap};

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use hlbridge_core::optable::{Operation, TokenType};

use super::errors::ApiError;

/// What a token grants.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// `Location` or `Agency`.
    pub kind: TokenType,
    /// `None` = every scope (private integration tokens).
    pub scopes: Option<BTreeSet<String>>,
    /// Set for Location grants.
    pub location_id: Option<String>,
    pub company_id: String,
    /// The OAuth app (client id); `None` for private integration tokens.
    pub client_id: Option<String>,
    pub user_id: String,
    /// A private integration token.
    pub private: bool,
}

impl Grant {
    /// The rate-limit key: (app or token, resource).
    pub fn rate_key(&self, token: &str) -> String {
        let app = match &self.client_id {
            Some(client) => format!("app:{client}"),
            None => format!("pit:{}", fingerprint(token)),
        };
        let resource = self.location_id.as_deref().unwrap_or(&self.company_id);
        format!("{app}|{resource}")
    }

    /// Space-separated scope string for token responses.
    pub fn scope_string(&self, all: &BTreeSet<String>) -> String {
        self.scopes
            .as_ref()
            .unwrap_or(all)
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Token type and scope check for `op`.
    pub fn authorize(&self, op: &Operation) -> Result<(), ApiError> {
        let type_ok = op.token_types.is_empty()
            || op.token_types.contains(&self.kind)
            || op.token_types.contains(&TokenType::None);
        if !type_ok {
            return Err(ApiError::NotAuthorizedForScope);
        }
        let scope_ok = match &self.scopes {
            None => true,
            Some(held) => op.scopes.is_empty() || op.scopes.iter().any(|s| held.contains(*s)),
        };
        if scope_ok {
            Ok(())
        } else {
            Err(ApiError::NotAuthorizedForScope)
        }
    }
}

/// A short stable fingerprint of a token for keys and logs (never the token itself).
pub fn fingerprint(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(token.as_bytes())[..8])
}

/// An issued access token.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRecord {
    pub grant: Grant,
    pub expires_at: DateTime<Utc>,
}

/// An issued refresh token; single use (rotated on every refresh).
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshRecord {
    pub grant: Grant,
    pub used: bool,
    pub expires_at: DateTime<Utc>,
}

/// An authorization code from the consent page; single use, short-lived.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: Option<String>,
    pub scopes: BTreeSet<String>,
    pub location_id: String,
    /// Approved as an agency (Company) install: the exchange gives a Company token
    /// unless it asks for `user_type=Location`.
    pub company: bool,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

/// Every OAuth artefact the emulator issued.
#[derive(Debug, Default)]
pub struct OAuthStore {
    pub access: HashMap<String, AccessRecord>,
    pub refresh: HashMap<String, RefreshRecord>,
    pub codes: HashMap<String, CodeRecord>,
}

impl OAuthStore {
    /// Expire every issued access token now. Returns how many were live.
    pub fn expire_all(&mut self, now: DateTime<Utc>) -> usize {
        let mut n = 0;
        for record in self.access.values_mut() {
            if record.expires_at > now {
                record.expires_at = now;
                n += 1;
            }
        }
        n
    }

    /// Drop expired access tokens and codes (keeps the maps small on long runs).
    pub fn sweep(&mut self, now: DateTime<Utc>) {
        self.access
            .retain(|_, r| r.expires_at > now - chrono::Duration::days(1));
        self.codes
            .retain(|_, c| c.expires_at > now - chrono::Duration::hours(1));
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hlbridge_core::optable::{App, Kind, Method, Pagination};

    fn op(token_types: &'static [TokenType], scopes: &'static [&'static str]) -> Operation {
        Operation {
            id: "x.y",
            app: App::Ghl,
            group: "x",
            category: "x",
            kind: Kind::Trigger,
            name: "y",
            catalog: false,
            alias_of: None,
            operation_id: "y",
            method: Method::Get,
            path: "/y",
            params: &[],
            body: None,
            version: None,
            token_types,
            scopes,
            pagination: Pagination::None,
            response_key: None,
            success_status: 200,
            response: None,
            deprecated: false,
        }
    }

    fn grant(kind: TokenType, scopes: Option<&[&str]>) -> Grant {
        Grant {
            kind,
            scopes: scopes.map(|s| s.iter().map(|x| x.to_string()).collect()),
            location_id: Some("loc".into()),
            company_id: "co".into(),
            client_id: None,
            user_id: "u".into(),
            private: true,
        }
    }

    #[test]
    fn type_and_scope_are_enforced() {
        let read = op(&[TokenType::Location], &["contacts.readonly"]);
        assert!(grant(TokenType::Location, None).authorize(&read).is_ok());
        assert_eq!(
            grant(TokenType::Agency, None).authorize(&read),
            Err(ApiError::NotAuthorizedForScope)
        );
        assert!(grant(TokenType::Location, Some(&["contacts.readonly"]))
            .authorize(&read)
            .is_ok());
        assert_eq!(
            grant(TokenType::Location, Some(&["contacts.write"])).authorize(&read),
            Err(ApiError::NotAuthorizedForScope)
        );
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
