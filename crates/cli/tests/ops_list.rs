//! `hlbridge ops list`: the operation catalog as the binary prints it.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::run_plain;
use serde_json::Value;

/// One row of `../shared/specs/ghl-operations.tsv`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TsvRow {
    category: String,
    kind: String,
    name: String,
    method: String,
    path: String,
}

/// The catalog TSV, when the reference specs sit beside the workspace.
fn tsv_rows() -> Option<Vec<TsvRow>> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs/ghl-operations.tsv");
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("TSV column {name}"))
    };
    let (c, k, n, m, p) = (
        col("category"),
        col("kind"),
        col("name"),
        col("method"),
        col("path"),
    );
    Some(
        lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                TsvRow {
                    category: f[c].to_string(),
                    kind: f[k].to_string(),
                    name: f[n].to_string(),
                    method: f[m].to_string(),
                    path: f[p].to_string(),
                }
            })
            .collect(),
    )
}

fn list_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["ops", "list"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = run_plain(&all);
    assert_eq!(out.code, 0, "{out:?}");
    out.json()
        .as_array()
        .unwrap_or_else(|| panic!("a JSON array: {out:?}"))
        .clone()
}

fn str_field<'a>(entry: &'a Value, field: &str) -> &'a str {
    entry[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string in {entry}"))
}

#[test]
fn all_ghl_operations_are_listed_once() {
    let ops = list_json(&[]);
    assert_eq!(ops.len(), 576);
    let mut ids = BTreeSet::new();
    let mut routes = BTreeSet::new();
    for op in &ops {
        for field in ["id", "category", "kind", "name", "method", "path"] {
            assert!(!str_field(op, field).is_empty(), "{field} empty in {op}");
        }
        assert!(op["scopes"].is_array(), "scopes in {op}");
        assert!(
            matches!(str_field(op, "kind"), "trigger" | "action"),
            "{op}"
        );
        assert!(str_field(op, "path").starts_with('/'), "{op}");
        assert!(op["aliasOf"].is_null(), "no aliases without filters: {op}");
        ids.insert(str_field(op, "id").to_string());
        routes.insert((
            str_field(op, "method").to_string(),
            str_field(op, "path").to_string(),
        ));
    }
    assert_eq!(ids.len(), 576, "unique ids");
    assert_eq!(routes.len(), 576, "unique (method, path) pairs");
}

#[test]
fn contacts_category_matches_the_catalog() {
    let ops = list_json(&["--category", "contacts"]);
    assert_eq!(ops.len(), 28);
    let triggers = ops.iter().filter(|o| o["kind"] == "trigger").count();
    assert_eq!(triggers, 10);
    assert_eq!(ops.len() - triggers, 18);
    assert!(ops.iter().all(|o| o["category"] == "contacts"));
    let ids: BTreeSet<&str> = ops.iter().map(|o| str_field(o, "id")).collect();
    assert_eq!(ids.len(), 28, "unique ids");
    for id in [
        "contacts.get-contact",
        "contacts.search-contacts-advanced",
        "contacts.find-contact",
        "contacts.bulk-update-tags",
        "contacts.remove-contact-from-every-campaign",
    ] {
        assert!(ids.contains(id), "{id} listed");
    }
    let find = ops
        .iter()
        .find(|o| o["id"] == "contacts.find-contact")
        .expect("find-contact");
    assert_eq!(find["aliasOf"], "contacts.search-contacts-advanced");
    assert_eq!(find["name"], "Find Contact");

    // Same names, kinds and routes as the reference catalog.
    if let Some(rows) = tsv_rows() {
        let mut want: Vec<(String, String, String, String)> = rows
            .iter()
            .filter(|r| r.category == "Contacts")
            .map(|r| {
                (
                    r.name.clone(),
                    r.kind.clone(),
                    r.method.clone(),
                    r.path.clone(),
                )
            })
            .collect();
        let mut got: Vec<(String, String, String, String)> = ops
            .iter()
            .map(|o| {
                (
                    str_field(o, "name").to_string(),
                    str_field(o, "kind").to_string(),
                    str_field(o, "method").to_string(),
                    str_field(o, "path").to_string(),
                )
            })
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want);
    }

    // The filters combine.
    let triggers = list_json(&["--category", "contacts", "--kind", "trigger"]);
    assert_eq!(triggers.len(), 10);
    assert!(triggers.iter().all(|o| o["kind"] == "trigger"));

    // The human listing says the same.
    let out = run_plain(&["ops", "list", "--category", "contacts"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("contacts (28 operations: 10 triggers, 18 actions)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.trim_end().ends_with("28 operations"),
        "{}",
        out.stdout
    );
}

#[test]
fn catalog_has_124_named_operations() {
    let ops = list_json(&["--catalog"]);
    assert_eq!(ops.len(), 124);
    assert!(ops.iter().all(|o| o["catalog"] == true));
    if let Some(rows) = tsv_rows() {
        let mut want: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        let mut got: Vec<&str> = ops.iter().map(|o| str_field(o, "name")).collect();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "catalog names = TSV names");
    }
}

#[test]
fn sellsy_operations_are_listed() {
    let ops = list_json(&["--app", "sellsy"]);
    assert!(!ops.is_empty());
    assert!(ops.iter().all(|o| o["app"] == "sellsy"), "only Sellsy");
    let ids: BTreeSet<&str> = ops.iter().map(|o| str_field(o, "id")).collect();
    assert_eq!(ids.len(), ops.len(), "unique ids");
    for op in &ops {
        for field in ["id", "category", "kind", "name", "method", "path"] {
            assert!(!str_field(op, field).is_empty(), "{field} empty in {op}");
        }
    }

    let bad = run_plain(&["ops", "list", "--app", "hubspot"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("hubspot"), "{bad:?}");
}
