//! HS256 JSON Web Tokens for the emulator's access tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Sign `claims` as a compact HS256 JWT.
pub fn sign(claims: &Value, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "HS256"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Malformed,
    BadSignature,
    Expired,
}

/// Check the signature and `exp` of a token; returns its claims.
pub fn verify(token: &str, secret: &[u8], now_epoch: i64) -> Result<Value, Rejection> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed);
    };
    let header: Value = decode_part(header).ok_or(Rejection::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(Rejection::Malformed);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Rejection::Malformed)?;
    let expected = mac(
        secret,
        format!("{}.{}", token_part(token, 0), token_part(token, 1)).as_bytes(),
    );
    if !constant_time_eq(&signature, &expected) {
        return Err(Rejection::BadSignature);
    }
    let claims: Value = decode_part(payload).ok_or(Rejection::Malformed)?;
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now_epoch => Ok(claims),
        Some(_) => Err(Rejection::Expired),
        None => Err(Rejection::Malformed),
    }
}

fn token_part(token: &str, index: usize) -> &str {
    token.split('.').nth(index).unwrap_or_default()
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// HMAC-SHA256 (RFC 2104), written out with `sha2` to keep the dependency list short.
fn mac(secret: &[u8], input: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut key = if secret.len() > BLOCK {
        Sha256::digest(secret).to_vec()
    } else {
        secret.to_vec()
    };
    key.resize(BLOCK, 0);
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(input)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let got = hex::encode(mac(b"Jefe", b"what do ya want for nothing?"));
        assert_eq!(
            got,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signs_and_verifies() {
        let token = sign(&json!({"corpId": 7, "exp": 2_000}), b"k");
        assert_eq!(verify(&token, b"k", 1_000).unwrap()["corpId"], 7);
        assert_eq!(
            verify(&token, b"other", 1_000),
            Err(Rejection::BadSignature)
        );
        assert_eq!(verify(&token, b"k", 3_000), Err(Rejection::Expired));
        assert_eq!(verify("a.b", b"k", 0), Err(Rejection::Malformed));
    }
}
