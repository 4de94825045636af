//! Flow templates: filters, strict undefined, sandbox limits, typed rendering, check,
//! conditions.

use hlbridge_flows::template::{Templates, FILTERS};
use serde_json::{json, Value};

fn scope() -> Value {
    json!({
        "trigger": {"name": "Marie Curie", "amount": 12.5, "tags": ["VIP", "lead"], "nested": {"a": 1}},
        "steps": {},
        "now": "2024-05-01T10:00:00Z",
    })
}

fn r(t: &str) -> Value {
    Templates::new()
        .render_str(t, &scope())
        .unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn err(t: &str) -> String {
    match Templates::new().render_str(t, &scope()) {
        Ok(v) => panic!("{t}: expected an error, got {v}"),
        Err(e) => e.message,
    }
}

#[test]
fn basic_and_typed() {
    assert_eq!(r("Hello {{ trigger.name }}"), json!("Hello Marie Curie"));
    assert_eq!(r("{{ trigger.amount }}"), json!(12.5));
    assert_eq!(r("{{ trigger.tags }}"), json!(["VIP", "lead"]));
    assert_eq!(r("{{ trigger.nested }}"), json!({"a": 1}));
    assert_eq!(r("{{ none }}"), Value::Null);
    assert_eq!(r("plain"), json!("plain"));
    assert_eq!(r("{{ trigger.missing | default('x') }}"), json!("x"));
    assert_eq!(r("{{ trigger.missing.deep | default('x') }}"), json!("x"));
    assert!(err("{{ trigger.missing }}").contains("undefined"));
    assert!(!FILTERS.is_empty());
}
