//! `field[]` projection: keep only the listed paths (`id`, `social.twitter`,
//! `addresses[].id`, `_embed`, `_embed.company.name`).

use serde_json::{Map, Value};

/// Project `value` down to `paths`; an empty list keeps everything.
pub fn project(value: Value, paths: &[String]) -> Value {
    if paths.is_empty() || !value.is_object() {
        return value;
    }
    let mut out = Value::Object(Map::new());
    for path in paths {
        let segments: Vec<&str> = path.split('.').map(|s| s.trim_end_matches("[]")).collect();
        copy_path(&value, &mut out, &segments);
    }
    out
}

fn copy_path(src: &Value, dst: &mut Value, segments: &[&str]) {
    let (Some(name), Value::Object(src_map)) = (segments.first(), src) else {
        return;
    };
    let Some(child) = src_map.get(*name) else {
        return;
    };
    let Value::Object(dst_map) = dst else {
        return;
    };
    let rest = &segments[1..];
    if rest.is_empty() {
        dst_map.insert(name.to_string(), child.clone());
        return;
    }
    match child {
        Value::Object(_) => {
            let slot = dst_map
                .entry(name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            copy_path(child, slot, rest);
        }
        Value::Array(items) => {
            let slot = dst_map.entry(name.to_string()).or_insert_with(|| {
                Value::Array(items.iter().map(|_| Value::Object(Map::new())).collect())
            });
            if let Value::Array(slots) = slot {
                for (item, item_slot) in items.iter().zip(slots.iter_mut()) {
                    if item.is_object() {
                        copy_path(item, item_slot, rest);
                    } else {
                        *item_slot = item.clone();
                    }
                }
            }
        }
        other => {
            dst_map.insert(name.to_string(), other.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_listed_paths() {
        let v = json!({"id": 1, "name": "x", "social": {"twitter": "t", "facebook": "f"},
                       "items": [{"id": 1, "n": 2}], "_embed": {"company": {"name": "c", "id": 3}}});
        let paths: Vec<String> = ["id", "social.twitter", "items[].id", "_embed.company.name"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            project(v, &paths),
            json!({"id": 1, "social": {"twitter": "t"}, "items": [{"id": 1}], "_embed": {"company": {"name": "c"}}})
        );
    }
}
