//! Facts about the committed Sellsy operation table.

use std::collections::HashSet;

use hlbridge_core::optable::{App, BodyEncoding, Kind, Method, Pagination, ParamIn, Ty};
use hlbridge_sellsy::TABLE;

fn schema_refs(ty: &Ty, out: &mut Vec<&'static str>) {
    match *ty {
        Ty::Object(Some(name)) => out.push(name),
        Ty::Array(inner) => schema_refs(inner, out),
        _ => {}
    }
}

#[test]
fn counts_and_shape() {
    assert_eq!(TABLE.app, App::Sellsy);
    assert_eq!(TABLE.operations.len(), 64);
    assert_eq!(TABLE.distinct().count(), 64);
    assert_eq!(TABLE.catalog().count(), 0);
    for op in TABLE.operations {
        assert_eq!(op.app, App::Sellsy);
        assert!(!op.catalog && op.alias_of.is_none(), "{}", op.id);
        assert_eq!(op.version, None, "{}", op.id);
        // One kind of token for Sellsy: the slice stays empty.
        assert!(op.token_types.is_empty(), "{}", op.id);
        assert!(!op.scopes.is_empty(), "{} has no scopes", op.id);
        assert_eq!(op.category, op.group, "{}", op.id);
        assert!(op.path.starts_with(&format!("/{}", op.group)), "{}", op.id);
    }
}

#[test]
fn ids_unique_and_kebab() {
    let mut seen = HashSet::new();
    for op in TABLE.operations {
        assert!(seen.insert(op.id), "duplicate id {}", op.id);
        let (group, rest) = op.id.split_once('.').unwrap();
        assert_eq!(group, op.group);
        assert!(
            rest.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{}",
            op.id
        );
    }
    let mut routes = HashSet::new();
    for op in TABLE.operations {
        assert!(
            routes.insert((op.method, op.path)),
            "{} {}",
            op.method,
            op.path
        );
    }
}

#[test]
fn path_params_declared() {
    for op in TABLE.operations {
        for seg in op.path.split('/').filter(|s| s.starts_with('{')) {
            let name = &seg[1..seg.len() - 1];
            let p = op
                .param(name)
                .unwrap_or_else(|| panic!("{}: {name}", op.id));
            assert_eq!(p.location, ParamIn::Path);
            assert!(p.required);
        }
    }
}

#[test]
fn schemas_are_qualified_and_complete() {
    let names: HashSet<&str> = TABLE.schemas.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), TABLE.schemas.len());
    assert!(names.iter().all(|n| n.starts_with("sellsy.")));
    let mut refs = Vec::new();
    for op in TABLE.operations {
        op.params.iter().for_each(|p| schema_refs(&p.ty, &mut refs));
        if let Some(b) = &op.body {
            schema_refs(&b.ty, &mut refs);
        }
        if let Some(r) = &op.response {
            schema_refs(r, &mut refs);
        }
    }
    for s in TABLE.schemas {
        s.fields.iter().for_each(|f| schema_refs(&f.ty, &mut refs));
    }
    for r in refs {
        assert!(names.contains(r), "schema {r} missing");
    }
}

#[test]
fn contacts_facts() {
    let list = TABLE.get("contacts.get-list").unwrap();
    assert_eq!((list.method, list.path), (Method::Get, "/contacts"));
    assert_eq!(list.kind, Kind::Trigger);
    assert_eq!(list.pagination, Pagination::Seek);
    assert_eq!(list.scopes, &["contacts.read"]);
    assert_eq!(list.response_key, Some("data"));
    assert!(list.param("limit").is_some() && list.param("offset").is_some());

    let create = TABLE.get("contacts.create-contact").unwrap();
    assert_eq!((create.method, create.path), (Method::Post, "/contacts"));
    assert_eq!(create.kind, Kind::Action);
    assert_eq!(create.success_status, 201);
    assert_eq!(create.body.unwrap().encoding, BodyEncoding::Json);

    let search = TABLE.get("contacts.search-contacts").unwrap();
    assert_eq!(search.kind, Kind::Trigger);
    assert_eq!(search.pagination, Pagination::Seek);

    let delete = TABLE.get("contacts.remove-contact").unwrap();
    assert_eq!(delete.success_status, 204);
    assert_eq!(delete.response, None);

    let (routed, params) = TABLE.route(Method::Get, "/contacts/42").unwrap();
    assert_eq!(routed.id, "contacts.get-informations");
    assert_eq!(params, vec![("id", "42".to_string())]);
}

#[test]
fn categories() {
    let cats: HashSet<&str> = TABLE.operations.iter().map(|o| o.category).collect();
    for c in [
        "contacts",
        "companies",
        "individuals",
        "tasks",
        "comments",
        "custom-fields",
        "webhooks",
        "staffs",
        "quotas",
    ] {
        assert!(cats.contains(c), "{c}");
    }
}
