//! `multipart/form-data` bodies (media uploads, custom-field files, CSV imports)
//! decoded into an object of strings, like form bodies: a text part is its value, a
//! file part its file name (the bytes are not kept).

use serde_json::{Map, Value};

/// The boundary of a `multipart/form-data` content type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// Decode a multipart body; `None` when it is malformed.
pub fn decode(raw: &[u8], boundary: &str) -> Option<Value> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut map = Map::new();
    let mut rest = &raw[find(raw, delimiter)? + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(Value::Object(map));
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))?;
        let end = find(rest, delimiter)?;
        let part = &rest[..end];
        let part = part
            .strip_suffix(b"\r\n")
            .or_else(|| part.strip_suffix(b"\n"))
            .unwrap_or(part);
        let (head, body) = split_head(part)?;
        let head = String::from_utf8_lossy(head);
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
        let name = param(disposition, "name")?;
        let value = match param(disposition, "filename") {
            Some(file) => file,
            None => String::from_utf8_lossy(body).into_owned(),
        };
        map.insert(name, Value::String(value));
        rest = &rest[end + delimiter.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split_head(part: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(i) = find(part, b"\r\n\r\n") {
        return Some((&part[..i], &part[i + 4..]));
    }
    find(part, b"\n\n").map(|i| (&part[..i], &part[i + 2..]))
}

/// `name="value"` from a `Content-Disposition` line.
fn param(line: &str, name: &str) -> Option<String> {
    line.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_file_parts() {
        let ct = "multipart/form-data; boundary=\"XyZ\"";
        let b = boundary(ct).expect("boundary");
        let raw = b"--XyZ\r\nContent-Disposition: form-data; name=\"hosted\"\r\n\r\nfalse\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\x00\x01\r\n--XyZ--\r\n";
        let v = decode(raw, &b).expect("decoded");
        assert_eq!(v, serde_json::json!({"hosted": "false", "file": "a.png"}));
        assert_eq!(boundary("application/json"), None);
        assert_eq!(decode(b"garbage", "XyZ"), None);
        assert_eq!(decode(b"--XyZ\r\nno head", "XyZ"), None);
    }
}
