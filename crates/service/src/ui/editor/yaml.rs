//! A flow (as JSON) written back as its YAML file: block style, with one-line flow
//! maps for short lists of scalars and conditions (`- { value: x, op: equals }`).
//! Strings are left plain only when YAML would read them back as the same string;
//! else they are double-quoted with JSON escapes (valid YAML). Unset optional parts
//! (null, empty `params`/`input`/`otherwise`/`on_failure`) are left out.

use serde_json::{Map, Value};

/// Keys whose values are the user's data, written as they are.
const DATA_KEYS: &[&str] = &["map", "params", "body", "arg", "input"];
/// Keys of the model dropped when empty.
const DROP_EMPTY: &[&str] = &["params", "input", "otherwise", "on_failure"];

/// Drop the unset optional parts of the model (not inside the user's data).
pub fn clean(v: Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                if v.is_null() {
                    continue;
                }
                let empty = match &v {
                    Value::Object(m) => m.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    _ => false,
                };
                if empty && DROP_EMPTY.contains(&k.as_str()) {
                    continue;
                }
                let v = if DATA_KEYS.contains(&k.as_str()) {
                    v
                } else {
                    clean(v)
                };
                out.insert(k, v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(clean).collect()),
        other => other,
    }
}

fn plain_ok(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if s.is_empty()
        || s.trim() != s
        || matches!(
            lower.as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | "y" | "n"
        )
        || s.parse::<f64>().is_ok()
        || lower.starts_with("0x")
        || lower.starts_with("0o")
        || lower == ".inf"
        || lower == "-.inf"
        || lower == ".nan"
    {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if !(first.is_alphanumeric() || first == '_' || first == '/' || first == '.') {
        return false;
    }
    s.chars().all(|c| {
        c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | '/' | '@' | '+' | '(' | ')')
    })
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if plain_ok(s) => s.clone(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Null => "null".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => other.to_string(),
    }
}

fn key(k: &str) -> String {
    if plain_ok(k) && !k.contains(' ') {
        k.to_string()
    } else {
        serde_json::to_string(k).unwrap_or_default()
    }
}

fn is_scalar(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    }
}

/// A short one-line form: `[a, b]` or `{ k: v, … }` of scalars only.
fn inline(v: &Value) -> Option<String> {
    let s = match v {
        Value::Array(a) if !a.is_empty() && a.iter().all(is_scalar) => {
            format!("[{}]", a.iter().map(scalar).collect::<Vec<_>>().join(", "))
        }
        Value::Object(o) if !o.is_empty() && o.len() <= 4 && o.values().all(is_scalar) => {
            let parts: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("{}: {}", key(k), scalar(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        _ => return None,
    };
    (s.len() <= 100).then_some(s)
}

fn emit_map(o: &Map<String, Value>, indent: usize, first_inline: bool, out: &mut String) {
    for (i, (k, v)) in o.iter().enumerate() {
        if !(i == 0 && first_inline) {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&key(k));
        out.push(':');
        emit_value(v, indent, out);
    }
}

/// `v` after `key:` (a space and a scalar, or a new line and a nested block).
fn emit_value(v: &Value, indent: usize, out: &mut String) {
    if is_scalar(v) {
        out.push(' ');
        out.push_str(&scalar(v));
        out.push('\n');
        return;
    }
    if let (Value::Array(_), Some(s)) = (v, inline(v)) {
        out.push(' ');
        out.push_str(&s);
        out.push('\n');
        return;
    }
    out.push('\n');
    match v {
        Value::Object(o) => emit_map(o, indent + 2, false, out),
        Value::Array(a) => emit_seq(a, indent + 2, out),
        _ => {}
    }
}

fn emit_seq(a: &[Value], indent: usize, out: &mut String) {
    for item in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(o) if !o.is_empty() => match inline(item) {
                Some(s) if o.len() > 1 || o.values().all(|v| v.is_string()) => {
                    out.push(' ');
                    out.push_str(&s);
                    out.push('\n');
                }
                _ => {
                    out.push(' ');
                    emit_map(o, indent + 2, true, out);
                }
            },
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                emit_seq(inner, indent + 2, out);
            }
            scalar_item => {
                out.push(' ');
                out.push_str(&scalar(scalar_item));
                out.push('\n');
            }
        }
    }
}

/// The YAML text of `v` (an object at the top).
pub fn to_text(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(o) => {
            for (i, (k, v)) in o.iter().enumerate() {
                // A blank line before the trigger and the steps, as the templates do.
                if i > 0 && matches!(k.as_str(), "trigger" | "steps" | "on_failure") {
                    out.push('\n');
                }
                out.push_str(&key(k));
                out.push(':');
                emit_value(v, 0, &mut out);
            }
        }
        other => out.push_str(&scalar(other)),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_that_would_read_back_differently_are_quoted() {
        for s in [
            "", "true", "3", "1.5", "{{ x }}", "a: b", "x #y", " pad", "null", "-x", "[a]",
        ] {
            assert!(!plain_ok(s), "{s:?} must be quoted");
        }
        for s in ["won", "ghl", "5m", "Europe/Paris", "people.created", "a b"] {
            assert!(plain_ok(s), "{s:?} can stay plain");
        }
        let v = json!({"name": "n", "steps": [{"id": "a", "filter": {"all": [
            {"value": "{{ trigger.status }}", "op": "equals", "arg": "won"}]}}],
            "empty": {}, "list": ["a", 1, true]});
        let text = to_text(&v);
        assert!(
            text.contains("- { value: \"{{ trigger.status }}\", op: equals, arg: won }"),
            "{text}"
        );
        assert!(text.contains("list: [a, 1, true]"), "{text}");
        assert!(text.contains("empty: {}"), "{text}");
    }
}
