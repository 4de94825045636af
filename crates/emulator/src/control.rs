//! Pieces shared by both emulators' `/emulator/*` control endpoints.

use serde_json::Value;

/// The `after` of a `POST /emulator/truncate` body: `{"after": N}` (a non-negative
/// integer) sets the truncation, `{"after": null}` lifts it; anything else is refused
/// with the message returned.
pub fn parse_truncate(body: &[u8]) -> Result<Option<usize>, String> {
    const USAGE: &str = "body must be {\"after\": <non-negative integer>} or {\"after\": null}";
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("{USAGE}: {e}"))?;
    match value.get("after") {
        Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| USAGE.to_string()),
        None => Err(USAGE.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_truncate;

    #[test]
    fn truncate_bodies() {
        assert_eq!(parse_truncate(br#"{"after": 3}"#), Ok(Some(3)));
        assert_eq!(parse_truncate(br#"{"after": 0}"#), Ok(Some(0)));
        assert_eq!(parse_truncate(br#"{"after": null}"#), Ok(None));
        for bad in [
            &br#"{}"#[..],
            br#"{"after": -1}"#,
            br#"{"after": "3"}"#,
            b"nope",
        ] {
            assert!(parse_truncate(bad).is_err());
        }
    }
}
