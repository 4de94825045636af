//! Receiving Sellsy webhook notifications: the `X-Webhook-Signature` check
//! (`hex(sha1(secret + raw body))`, not an HMAC) and the payload, sent either as JSON or
//! form-encoded in a `notif` field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-webhook-signature";

/// `hex(sha1(secret + body))`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(secret.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// Check a signature against the raw body, in constant time.
pub fn verify_signature(secret: &str, body: &[u8], header: &str) -> bool {
    let expected = signature(secret, body);
    let given = header.trim().to_ascii_lowercase();
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A notification. Treat it as a hint: fetch the object by id for its current state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `people.created`, `client.updated`, `task.deleted`, ...
    #[serde(rename = "eventType", default)]
    pub event_type: String,
    /// `created`, `updated`, `deleted`.
    #[serde(default)]
    pub event: String,
    /// `people`, `third`, `task`, `comment`.
    #[serde(default)]
    pub relatedtype: String,
    #[serde(default)]
    pub relatedid: String,
    /// `client`, `prospect` or `supplier` for companies and individuals.
    #[serde(default)]
    pub thirdtype: Option<String>,
    /// The account (the access token's `corpId`).
    #[serde(default)]
    pub corpid: String,
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub individual: bool,
    #[serde(default)]
    pub relatedobject: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Notification {
    /// The routing key: `thirdtype.event` when a third type is present, else the event type.
    pub fn route(&self) -> String {
        match &self.thirdtype {
            Some(t) if !t.is_empty() => format!("{t}.{}", self.event),
            _ => self.event_type.clone(),
        }
    }

    pub fn related_id(&self) -> Option<i64> {
        self.relatedid.parse().ok()
    }
}

/// Why a notification body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("form-encoded notification without a notif field")]
    MissingNotif,
    #[error("notification is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Read a notification body: JSON, or form-encoded with the JSON in `notif`.
pub fn parse_notification(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Notification, NotificationError> {
    let is_form =
        content_type.is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let json: Vec<u8> = if is_form {
        url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "notif")
            .map(|(_, v)| v.into_owned().into_bytes())
            .ok_or(NotificationError::MissingNotif)?
    } else {
        body.to_vec()
    };
    Ok(serde_json::from_slice(&json)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_sha1_of_secret_then_body() {
        // sha1("s" + "abc") = sha1("sabc")
        assert_eq!(signature("s", b"abc"), signature("", b"sabc"));
        assert_eq!(
            signature("", b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert!(verify_signature("k", b"body", &signature("k", b"body")));
        assert!(!verify_signature("k", b"body", &signature("k", b"other")));
    }

    #[test]
    fn reads_form_and_json_bodies() {
        let json = r#"{"eventType":"client.updated","event":"updated","relatedtype":"third","relatedid":"7","thirdtype":"client","corpid":"1","timestamp":"0","individual":false}"#;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("notif", json)
            .finish();
        let a =
            parse_notification(Some("application/x-www-form-urlencoded"), form.as_bytes()).unwrap();
        let b = parse_notification(Some("application/json"), json.as_bytes()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.route(), "client.updated");
        assert_eq!(a.related_id(), Some(7));
    }
}
