use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// An OAuth token set (or a static private integration token, which has no refresh
/// token and no expiry).
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(with = "secret_serde")]
    pub access_token: SecretString,
    #[serde(with = "opt_secret_serde", default)]
    pub refresh_token: Option<SecretString>,
    /// When the access token stops working; `None` for tokens that do not expire.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Space-separated scopes granted.
    #[serde(default)]
    pub scope: Option<String>,
    /// App-specific facts kept with the token (GHL `userType`, `locationId`, `companyId`;
    /// Sellsy `corpId`). Never secret.
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Tokens {
    pub fn static_token(token: impl Into<String>) -> Self {
        Tokens {
            access_token: SecretString::from(token.into()),
            refresh_token: None,
            expires_at: None,
            scope: None,
            extra: Default::default(),
        }
    }

    /// Read an OAuth 2.0 token response (RFC 6749 §5.1): `access_token`, optional
    /// `refresh_token`, `expires_in` (seconds) and `scope`. Apps add their own facts to
    /// `extra` afterwards.
    pub fn from_token_response(body: &serde_json::Value) -> Result<Tokens, crate::Error> {
        use serde_json::Value;
        let access = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| crate::Error::Decode("token response has no access_token".into()))?;
        let mut tokens = Tokens::static_token(access);
        tokens.refresh_token = body
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(|s| SecretString::from(s.to_string()));
        tokens.expires_at = body
            .get("expires_in")
            .and_then(Value::as_i64)
            .map(|secs| Utc::now() + chrono::Duration::seconds(secs));
        tokens.scope = body
            .get("scope")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(tokens)
    }

    /// True when the access token expires within `skew` from now.
    pub fn expires_within(&self, skew: chrono::Duration) -> bool {
        match self.expires_at {
            Some(at) => at - skew <= Utc::now(),
            None => false,
        }
    }

    pub fn access(&self) -> &str {
        self.access_token.expose_secret()
    }

    pub fn refresh(&self) -> Option<&str> {
        self.refresh_token.as_ref().map(|t| t.expose_secret())
    }

    pub fn extra_str(&self, key: &str) -> Option<&str> {
        self.extra.get(key).and_then(|v| v.as_str())
    }

    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_whitespace()
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("extra", &self.extra)
            .finish()
    }
}

mod secret_serde {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.expose_secret())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        Ok(SecretString::from(String::deserialize(d)?))
    }
}

mod opt_secret_serde {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(v.expose_secret()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(SecretString::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let mut t = Tokens::static_token("super-secret-access");
        t.refresh_token = Some(SecretString::from("super-secret-refresh".to_string()));
        let shown = format!("{t:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
    }
}
