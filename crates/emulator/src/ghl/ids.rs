//! Identifiers, tokens and timestamps in the shapes GHL uses.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A 20-character alphanumeric id, like GHL's (Firestore-style) ids.
pub fn new_id(rng: &mut impl Rng) -> String {
    (0..20)
        .map(|_| ALPHANUMERIC[rng.gen_range(0..ALPHANUMERIC.len())] as char)
        .collect()
}

/// Whether `id` looks like a GHL id (20 alphanumeric characters).
pub fn is_ghl_id(id: &str) -> bool {
    id.len() == 20 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// ISO 8601 with milliseconds and `Z`, e.g. `2024-05-01T10:20:30.123Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A trace id for response bodies.
pub fn trace_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A JWT-shaped opaque token (header.payload.signature, base64url). The signature is
/// random: the emulator looks tokens up, it never verifies them cryptographically.
pub fn jwt_like(claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    let mut sig = [0u8; 32];
    rand::thread_rng().fill(&mut sig);
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A random opaque secret (auth codes).
pub fn secret(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHANUMERIC[rng.gen_range(0..ALPHANUMERIC.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ids_look_like_ghl_ids() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let id = new_id(&mut rng);
        assert!(is_ghl_id(&id), "{id}");
        assert!(!is_ghl_id("abc"));
    }

    #[test]
    fn iso_has_millis() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T10:20:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(iso(t), "2024-05-01T10:20:30.000Z");
    }

    #[test]
    fn jwt_like_has_three_parts() {
        let t = jwt_like(&serde_json::json!({"a": 1}));
        assert_eq!(t.split('.').count(), 3);
    }
}
