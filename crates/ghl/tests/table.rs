//! Facts about the committed GHL operation table.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use hlbridge_core::optable::{
    App, BodyEncoding, Kind, Method, Operation, Pagination, ParamIn, Table, TokenType, Ty,
};
use hlbridge_ghl::TABLE;

fn op(id: &str) -> &'static Operation {
    TABLE.get(id).unwrap_or_else(|| panic!("no operation {id}"))
}

fn placeholders(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|s| s.starts_with('{') && s.ends_with('}'))
        .map(|s| &s[1..s.len() - 1])
        .collect()
}

fn schema_refs(ty: &Ty, out: &mut Vec<&'static str>) {
    match *ty {
        Ty::Object(Some(name)) => out.push(name),
        Ty::Array(inner) => schema_refs(inner, out),
        _ => {}
    }
}

fn all_refs(table: &Table) -> Vec<&'static str> {
    let mut out = Vec::new();
    for op in table.operations {
        for p in op.params {
            schema_refs(&p.ty, &mut out);
        }
        if let Some(b) = &op.body {
            schema_refs(&b.ty, &mut out);
        }
        if let Some(r) = &op.response {
            schema_refs(r, &mut out);
        }
    }
    for s in table.schemas {
        for f in s.fields {
            schema_refs(&f.ty, &mut out);
        }
    }
    out
}

#[test]
fn counts() {
    assert_eq!(TABLE.app, App::Ghl);
    assert_eq!(TABLE.operations.len(), 577);
    assert_eq!(TABLE.distinct().count(), 576);
    assert_eq!(TABLE.catalog().count(), 124);
    assert_eq!(
        TABLE
            .operations
            .iter()
            .filter(|o| o.alias_of.is_some())
            .count(),
        1
    );
}

#[test]
fn catalog_counts_per_category_and_kind() {
    let mut got: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for op in TABLE.catalog() {
        *got.entry((op.category, op.kind.as_str())).or_default() += 1;
    }
    let want: BTreeMap<(&str, &str), usize> = [
        (("businesses", "action"), 3),
        (("businesses", "trigger"), 2),
        (("calendars", "action"), 22),
        (("calendars", "trigger"), 12),
        (("contacts", "action"), 18),
        (("contacts", "trigger"), 10),
        (("conversations", "action"), 2),
        (("conversations", "trigger"), 8),
        (("opportunities", "action"), 7),
        (("opportunities", "trigger"), 3),
        (("other", "action"), 9),
        (("other", "trigger"), 13),
        (("users", "action"), 3),
        (("users", "trigger"), 4),
        (("workflows-campaigns", "action"), 5),
        (("workflows-campaigns", "trigger"), 3),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
}

/// When the reference TSV is beside the workspace, every row is in the table as written.
#[test]
fn catalog_matches_the_tsv_when_available() {
    let shared = std::env::var("HLBRIDGE_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let Ok(tsv) = std::fs::read_to_string(shared.join("specs/ghl-operations.tsv")) else {
        eprintln!("note: ghl-operations.tsv not found; skipping the TSV comparison");
        return;
    };
    let mut rows = 0;
    for line in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (kind, name, method, path) = (cols[1], cols[2], cols[3], cols[4]);
        let method = Method::parse(method).unwrap();
        let hit = TABLE
            .catalog()
            .find(|o| o.name == name && o.method == method && o.path == path)
            .unwrap_or_else(|| panic!("catalog row {name} ({method} {path}) missing"));
        assert_eq!(hit.kind.as_str(), kind, "{name}");
        rows += 1;
    }
    assert_eq!(rows, 124);
}

#[test]
fn ids_are_unique_and_well_formed() {
    let mut seen = HashSet::new();
    for op in TABLE.operations {
        assert!(seen.insert(op.id), "duplicate id {}", op.id);
        let (group, rest) = op.id.split_once('.').expect("group.operation");
        assert_eq!(group, op.group, "{}", op.id);
        assert!(
            rest.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "id {} is not kebab-case",
            op.id
        );
    }
    let mut routes = HashSet::new();
    for op in TABLE.distinct() {
        assert!(
            routes.insert((op.method, op.path)),
            "{} {} twice",
            op.method,
            op.path
        );
    }
}

#[test]
fn every_path_placeholder_is_a_declared_path_param() {
    for op in TABLE.operations {
        for name in placeholders(op.path) {
            let p = op
                .param(name)
                .unwrap_or_else(|| panic!("{}: {{{name}}} undeclared", op.id));
            assert_eq!(p.location, ParamIn::Path, "{}: {name}", op.id);
            assert!(p.required, "{}: {name}", op.id);
        }
        for p in op.path_params() {
            assert!(
                placeholders(op.path).contains(&p.name),
                "{}: path param {} not in template",
                op.id,
                p.name
            );
        }
        assert!(
            op.param("Version").is_none() && op.param("Authorization").is_none(),
            "{}",
            op.id
        );
    }
}

#[test]
fn catalog_ops_have_scopes_and_a_token_type() {
    for op in TABLE.catalog() {
        assert!(!op.scopes.is_empty(), "{} has no scopes", op.id);
        assert!(!op.token_types.is_empty(), "{} has no token type", op.id);
    }
}

#[test]
fn every_op_has_token_types_and_a_version_except_the_token_endpoint() {
    for op in TABLE.distinct() {
        if op.path == "/oauth/token" {
            assert_eq!(op.token_types, &[TokenType::None]);
            assert_eq!(op.version, None);
            assert_eq!(op.body.unwrap().encoding, BodyEncoding::Form);
            continue;
        }
        assert!(!op.token_types.is_empty(), "{}", op.id);
        assert!(!op.token_types.contains(&TokenType::None), "{}", op.id);
        let v = op
            .version
            .unwrap_or_else(|| panic!("{} has no version", op.id));
        assert!(v == "2021-07-28" || v == "2021-04-15", "{}: {v}", op.id);
    }
}

#[test]
fn referenced_schemas_exist_and_names_are_unique() {
    let names: HashSet<&str> = TABLE.schemas.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), TABLE.schemas.len());
    for name in all_refs(&TABLE) {
        assert!(names.contains(name), "schema {name} missing");
        assert!(TABLE.schema(name).is_some());
    }
    for s in TABLE.schemas {
        assert!(s.name.contains('.'), "schema {} is not qualified", s.name);
        let mut fields = HashSet::new();
        for f in s.fields {
            assert!(fields.insert(f.name), "{}.{} twice", s.name, f.name);
        }
    }
}

#[test]
fn contacts_facts() {
    let get = op("contacts.get-contact");
    assert!(get.catalog);
    assert_eq!(
        (get.method, get.path),
        (Method::Get, "/contacts/{contactId}")
    );
    assert_eq!(get.kind, Kind::Trigger);
    assert_eq!(get.version, Some("2021-07-28"));
    assert_eq!(get.token_types, &[TokenType::Location]);
    assert_eq!(get.scopes, &["contacts.readonly"]);
    assert_eq!(get.response_key, Some("contact"));

    let create = op("contacts.create-contact");
    assert_eq!(create.kind, Kind::Action);
    assert_eq!(create.success_status, 201);
    let body = create.body.unwrap();
    assert_eq!(body.encoding, BodyEncoding::Json);
    let Ty::Object(Some(dto)) = body.ty else {
        panic!("create body {:?}", body.ty)
    };
    let dto = TABLE.schema(dto).unwrap();
    let loc = dto.fields.iter().find(|f| f.name == "locationId").unwrap();
    assert!(loc.required);

    let list = op("contacts.get-contacts");
    assert!(list.deprecated);
    assert_eq!(list.pagination, Pagination::StartAfter);
    assert_eq!(list.name, "List Contacts (Deprecated)");
}

#[test]
fn search_contacts_and_its_alias() {
    let search = op("contacts.search-contacts-advanced");
    assert_eq!(
        (search.method, search.path),
        (Method::Post, "/contacts/search")
    );
    assert_eq!(search.pagination, Pagination::SearchAfter);
    assert_eq!(search.name, "Search Contacts");
    assert_eq!(search.kind, Kind::Trigger);
    assert_eq!(search.response_key, Some("contacts"));
    let Some(body) = search.body else {
        panic!("no body")
    };
    let Ty::Object(Some(name)) = body.ty else {
        panic!()
    };
    let schema = TABLE.schema(name).unwrap();
    assert!(!schema.open);
    for (field, required) in [
        ("locationId", true),
        ("pageLimit", true),
        ("page", false),
        ("searchAfter", false),
        ("filters", false),
        ("sort", false),
        ("query", false),
    ] {
        let f = schema
            .fields
            .iter()
            .find(|f| f.name == field)
            .unwrap_or_else(|| panic!("{field}"));
        assert_eq!(f.required, required, "{field}");
    }

    let find = op("contacts.find-contact");
    assert_eq!(find.alias_of, Some("contacts.search-contacts-advanced"));
    assert_eq!(find.name, "Find Contact");
    assert_eq!(find.kind, Kind::Action);
    assert!(find.catalog);
    assert_eq!(
        (find.method, find.path, find.body),
        (search.method, search.path, search.body)
    );
    let (routed, _) = TABLE.route(Method::Post, "/contacts/search").unwrap();
    assert_eq!(routed.id, search.id);
}

#[test]
fn spec_defects_are_corrected() {
    let bulk = op("contacts.bulk-update-tags");
    assert_eq!(bulk.operation_id, "create-association");
    assert_eq!(bulk.path, "/contacts/bulk/tags/update/{type}");
    assert_eq!(bulk.token_types, &[TokenType::Location]);
    assert_eq!(bulk.scopes, &["contacts.write"]);
    assert!(bulk.param("type").is_some());

    let email = TABLE
        .route(Method::Get, "/conversations/messages/email/abc")
        .unwrap()
        .0;
    assert_eq!(email.version, Some("2021-04-15"));
    assert_eq!(email.scopes, &["conversations/message.readonly"]);
    assert!(email.param("id").is_some());

    for (m, path, name) in [
        (Method::Put, "/users/{userId}", "userId"),
        (Method::Delete, "/users/{userId}", "userId"),
        (
            Method::Put,
            "/calendars/appointments/{appointmentId}/notes/{noteId}",
            "noteId",
        ),
        (
            Method::Delete,
            "/calendars/appointments/{appointmentId}/notes/{noteId}",
            "noteId",
        ),
        (Method::Put, "/blogs/posts/{postId}", "postId"),
        (Method::Get, "/conversations/messages/{id}", "id"),
    ] {
        let op = TABLE
            .distinct()
            .find(|o| o.method == m && o.path == path)
            .unwrap();
        assert!(op.param(name).is_some(), "{m} {path}");
    }

    let opp = op("opportunities.upsert-opportunity");
    assert_eq!(opp.operation_id, "Upsert-opportunity");

    let messages = TABLE
        .route(Method::Get, "/conversations/c1/messages")
        .unwrap()
        .0;
    assert_eq!(messages.pagination, Pagination::LastMessageId);
    assert_eq!(messages.response_key, Some("messages"));

    let snapshots = TABLE.route(Method::Get, "/snapshots/").unwrap().0;
    assert_eq!(snapshots.token_types, &[TokenType::Agency]);
    assert_eq!(snapshots.scopes, &["snapshots.readonly"]);
}

#[test]
fn versions_follow_the_family() {
    for op in TABLE
        .distinct()
        .filter(|o| o.group == "calendars" || o.group == "conversations")
    {
        assert_eq!(op.version, Some("2021-04-15"), "{}", op.id);
    }
    assert_eq!(
        op("opportunities.get-opportunity").version,
        Some("2021-07-28")
    );
}

#[test]
fn status_and_pagination_facts() {
    let route = |m, p| TABLE.route(m, p).unwrap().0;
    assert_eq!(
        route(Method::Put, "/calendars/events/block-slots/e1").success_status,
        201
    );
    assert_eq!(
        route(Method::Delete, "/calendars/events/e1").success_status,
        201
    );
    assert_eq!(
        route(Method::Get, "/conversations/search").pagination,
        Pagination::StartAfterDate
    );
    assert_eq!(
        route(Method::Get, "/users/search").pagination,
        Pagination::SkipLimit
    );
    assert_eq!(
        route(Method::Get, "/opportunities/search").pagination,
        Pagination::StartAfter
    );
    assert_eq!(
        route(Method::Get, "/calendars/events").pagination,
        Pagination::TimeWindow
    );
    assert_eq!(
        route(Method::Get, "/calendars/c1/free-slots").pagination,
        Pagination::TimeWindow
    );
    assert_eq!(
        route(Method::Get, "/contacts/c1/tasks").pagination,
        Pagination::None
    );
    let notifications = route(Method::Get, "/calendars/c1/notifications")
        .response
        .unwrap();
    assert!(matches!(notifications, Ty::Array(Ty::Object(Some(_)))));
}
