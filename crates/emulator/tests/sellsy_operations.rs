//! Every operation of the Sellsy spec, driven by the generated table: each one is
//! called with valid input and must answer its documented status; the state changes
//! it implies are checked along the way.

mod sellsy_support;

use std::collections::{BTreeMap, HashSet};

use hlbridge_core::schema_check::{check_value, Strictness};
use hlbridge_sellsy::TABLE;
use reqwest::Method;
use sellsy_support::{id_of, Api, Reply};
use serde_json::{json, Value};

struct Fixture {
    contact: i64,
    company: i64,
    individual: i64,
    address: i64,
    task: i64,
    comment: i64,
    webhook: i64,
    /// Deleted by the `remove-*` operations.
    spares: [i64; 3],
}

async fn fixture(api: &Api) -> Fixture {
    let contact = id_of(
        &api.post(
            "/contacts",
            json!({"last_name": "Fixture", "email": "f@example.org"}),
        )
        .await,
    );
    let company = id_of(
        &api.post(
            "/companies",
            json!({"name": "Fixture SA", "type": "client"}),
        )
        .await,
    );
    let individual = id_of(
        &api.post(
            "/individuals",
            json!({"last_name": "Indiv", "type": "prospect"}),
        )
        .await,
    );
    let address = id_of(
        &api.post(
            &format!("/contacts/{contact}/addresses"),
            json!({"name": "Home", "address_line_1": "2 rue B", "postal_code": "69001", "city": "Lyon", "country_code": "FR"}),
        )
        .await,
    );
    let task = id_of(
        &api.post(
            "/tasks",
            json!({"title": "T", "label_id": 1, "due_date": "2031-05-01T09:00:00+02:00", "related": [{"type": "contact", "id": contact}]}),
        )
        .await,
    );
    let comment = id_of(
        &api.post(
            "/comments",
            json!({"description": "C", "related": [{"type": "company", "id": company}]}),
        )
        .await,
    );
    let webhook = id_of(
        &api.post(
            "/webhooks",
            json!({"endpoint": "http://127.0.0.1:9/h", "configuration": [{"id": "task.updated"}]}),
        )
        .await,
    );
    let spares = [
        id_of(&api.post("/contacts", json!({"last_name": "Spare"})).await),
        id_of(
            &api.post("/companies", json!({"name": "Spare", "type": "prospect"}))
                .await,
        ),
        id_of(
            &api.post(
                "/individuals",
                json!({"last_name": "Spare", "type": "client"}),
            )
            .await,
        ),
    ];
    Fixture {
        contact,
        company,
        individual,
        address,
        task,
        comment,
        webhook,
        spares,
    }
}

/// A valid call for each operation: path values, body, expected status.
fn calls(f: &Fixture) -> BTreeMap<&'static str, Call> {
    let p = |pairs: &[(&'static str, i64)]| -> BTreeMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    };
    let none = BTreeMap::new;
    let filters = || Some(json!({"filters": {}}));
    let cf_values = Some(json!([{"id": 6, "value": "42"}]));
    BTreeMap::from([
        ("contacts.get-list", (none(), None, 200)),
        (
            "contacts.create-contact",
            (none(), Some(json!({"last_name": "New"})), 201),
        ),
        ("contacts.search-contacts", (none(), filters(), 200)),
        (
            "contacts.get-informations",
            (p(&[("id", f.contact)]), None, 200),
        ),
        (
            "contacts.update-contact-info",
            (
                p(&[("id", f.contact)]),
                Some(json!({"position": "CEO"})),
                200,
            ),
        ),
        (
            "contacts.remove-contact",
            (p(&[("id", f.spares[0])]), None, 204),
        ),
        (
            "companies.remove-company",
            (p(&[("id", f.spares[1])]), None, 204),
        ),
        (
            "individuals.remove-individual",
            (p(&[("id", f.spares[2])]), None, 204),
        ),
        (
            "contacts.get-companies",
            (p(&[("id", f.contact)]), None, 200),
        ),
        (
            "contacts.get-custom-fields",
            (p(&[("contactId", f.contact)]), None, 200),
        ),
        (
            "contacts.update-custom-fields",
            (p(&[("contactId", f.contact)]), cf_values.clone(), 200),
        ),
        (
            "contacts.get-smart-tags",
            (p(&[("contactId", f.contact)]), None, 200),
        ),
        (
            "contacts.link-smart-tags",
            (
                p(&[("contactId", f.contact)]),
                Some(json!([{"value": "vip"}])),
                200,
            ),
        ),
        (
            "contacts.get-addresses",
            (p(&[("contactId", f.contact)]), None, 200),
        ),
        (
            "contacts.create-address",
            (
                p(&[("contactId", f.contact)]),
                Some(
                    json!({"name": "Office", "address_line_1": "3 rue C", "postal_code": "33000", "city": "Bordeaux", "country_code": "FR"}),
                ),
                201,
            ),
        ),
        (
            "contacts.get-address-by-id",
            (p(&[("contactId", f.contact), ("id", f.address)]), None, 200),
        ),
        (
            "contacts.update-address",
            (
                p(&[("contactId", f.contact), ("id", f.address)]),
                Some(json!({"city": "Lyon 2"})),
                200,
            ),
        ),
        (
            "contacts.delete-address",
            (p(&[("contactId", f.contact), ("id", f.address)]), None, 204),
        ),
        ("companies.get-list", (none(), None, 200)),
        (
            "companies.create-new-company",
            (
                none(),
                Some(json!({"name": "Other", "type": "supplier"})),
                201,
            ),
        ),
        ("companies.search-companies", (none(), filters(), 200)),
        (
            "companies.get-informations",
            (p(&[("id", f.company)]), None, 200),
        ),
        (
            "companies.update-information",
            (p(&[("id", f.company)]), Some(json!({"note": "n"})), 200),
        ),
        (
            "companies.get-contacts",
            (p(&[("id", f.company)]), None, 200),
        ),
        (
            "companies.link-contact",
            (
                p(&[("companyId", f.company), ("contactId", f.contact)]),
                None,
                201,
            ),
        ),
        (
            "companies.update-contact-of-company-link",
            (
                p(&[("companyId", f.company), ("contactId", f.contact)]),
                Some(json!({"contact_type_main": true})),
                200,
            ),
        ),
        (
            "companies.unlink-contact",
            (
                p(&[("companyId", f.company), ("contactId", f.contact)]),
                None,
                204,
            ),
        ),
        (
            "companies.get-custom-fields-list",
            (p(&[("id", f.company)]), None, 200),
        ),
        (
            "companies.update-custom-fields",
            (p(&[("id", f.company)]), cf_values.clone(), 200),
        ),
        ("individuals.get-list", (none(), None, 200)),
        (
            "individuals.create-new-individual",
            (
                none(),
                Some(json!({"last_name": "Solo", "type": "client"})),
                201,
            ),
        ),
        ("individuals.search-results", (none(), filters(), 200)),
        (
            "individuals.get-info",
            (p(&[("id", f.individual)]), None, 200),
        ),
        (
            "individuals.update-info",
            (
                p(&[("id", f.individual)]),
                Some(json!({"first_name": "Jo"})),
                200,
            ),
        ),
        (
            "individuals.get-contacts",
            (p(&[("id", f.individual)]), None, 200),
        ),
        (
            "individuals.link-contact-to-individual",
            (
                p(&[("individualId", f.individual), ("contactId", f.contact)]),
                None,
                201,
            ),
        ),
        (
            "individuals.delete-link-between-contact-and-individual",
            (
                p(&[("individualId", f.individual), ("contactId", f.contact)]),
                None,
                204,
            ),
        ),
        (
            "individuals.get-custom-fields",
            (p(&[("id", f.individual)]), None, 200),
        ),
        (
            "individuals.update-custom-fields",
            (p(&[("id", f.individual)]), cf_values, 200),
        ),
        ("tasks.get-list", (none(), None, 200)),
        (
            "tasks.create-task",
            (
                none(),
                Some(
                    json!({"label_id": 2, "due_date": "2031-01-01T00:00:00+00:00", "related": [{"type": "company", "id": f.company}]}),
                ),
                201,
            ),
        ),
        ("tasks.search-tasks", (none(), filters(), 200)),
        ("tasks.get-labels", (none(), None, 200)),
        ("tasks.get-by-id", (p(&[("id", f.task)]), None, 200)),
        (
            "tasks.update-task-by-id",
            (p(&[("id", f.task)]), Some(json!({"status": "done"})), 200),
        ),
        ("tasks.remove-task", (p(&[("id", f.task)]), None, 204)),
        ("comments.get-list", (none(), None, 200)),
        (
            "comments.create-comment",
            (
                none(),
                Some(
                    json!({"description": "D", "related": [{"type": "contact", "id": f.contact}]}),
                ),
                201,
            ),
        ),
        ("comments.search-comments", (none(), filters(), 200)),
        ("comments.get-details", (p(&[("id", f.comment)]), None, 200)),
        (
            "comments.update-comment",
            (
                p(&[("id", f.comment)]),
                Some(json!({"description": "E"})),
                200,
            ),
        ),
        (
            "comments.remove-comment",
            (p(&[("id", f.comment)]), None, 204),
        ),
        ("custom-fields.get-list", (none(), None, 200)),
        (
            "custom-fields.search",
            (
                none(),
                Some(json!({"filters": {"related_object": "contact"}})),
                200,
            ),
        ),
        (
            "custom-fields.get-information",
            (p(&[("id", 1)]), None, 200),
        ),
        ("webhooks.get-list", (none(), None, 200)),
        (
            "webhooks.create-webhook",
            (
                none(),
                Some(
                    json!({"endpoint": "http://127.0.0.1:9/w", "configuration": [{"id": "people.deleted"}]}),
                ),
                201,
            ),
        ),
        ("webhooks.search-webhooks-list", (none(), filters(), 200)),
        ("webhooks.get-webhook", (p(&[("id", f.webhook)]), None, 200)),
        (
            "webhooks.update-information",
            (
                p(&[("id", f.webhook)]),
                Some(json!({"is_enabled": false})),
                200,
            ),
        ),
        (
            "webhooks.delete-webhook",
            (p(&[("id", f.webhook)]), None, 204),
        ),
        ("webhooks.list-events", (none(), None, 200)),
        ("quotas.get", (none(), None, 200)),
        (
            "staffs.get-staff",
            (BTreeMap::from([("id", "me".to_string())]), None, 200),
        ),
    ])
}

/// Path values, body, expected status.
type Call = (BTreeMap<&'static str, String>, Option<Value>, u16);

/// The spec's `Civility` is `nullable` (an unset civility reads `null`), but the generated
/// table lost `nullable` on that `$ref`; every other mismatch counts.
fn is_known_table_gap(path: &str, problem: &str) -> bool {
    path.ends_with(".civility") && problem.contains("null")
}

async fn call(api: &Api, method: &str, path: &str, body: Option<Value>) -> Reply {
    api.send(Method::from_bytes(method.as_bytes()).unwrap(), path, body)
        .await
}

#[tokio::test]
async fn every_operation_answers_its_documented_status() {
    let api = Api::with_seed(5).await;
    let f = fixture(&api).await;
    let calls = calls(&f);
    let table_ids: HashSet<&str> = TABLE.operations.iter().map(|op| op.id).collect();
    let covered: HashSet<&str> = calls.keys().copied().collect();
    assert_eq!(table_ids, covered, "every operation of the spec has a call");

    // Reads and creates first, then updates, then deletes (which remove the fixtures).
    let mut ops: Vec<_> = TABLE.operations.iter().collect();
    ops.sort_by_key(|op| match op.method.as_str() {
        "DELETE" => 2,
        "PUT" => 1,
        _ => 0,
    });
    for op in ops {
        let (params, body, expected) = &calls[op.id];
        let path = op.render_path(|name| params.get(name).cloned()).unwrap();
        let reply = call(&api, op.method.as_str(), &path, body.clone()).await;
        assert_eq!(
            reply.status, *expected,
            "{} {} {path}: {:?}",
            op.id, op.method, reply.body
        );
        assert!(
            reply.header("x-quota-remaining-by-month").is_some(),
            "{}",
            op.id
        );
        if let (Some(ty), false) = (op.response, reply.body.is_null()) {
            let bad: Vec<_> = check_value(&TABLE, &ty, &reply.body, Strictness::Open)
                .into_iter()
                .filter(|m| !is_known_table_gap(&m.path, &m.problem))
                .collect();
            assert!(bad.is_empty(), "{}: {bad:?} in {}", op.id, reply.body);
        }
        if op.response_key == Some("data") {
            for key in ["limit", "count", "total", "offset"] {
                assert!(
                    reply.body["pagination"].get(key).is_some(),
                    "{}: pagination.{key}",
                    op.id
                );
            }
        }
    }

    let state = api.emu.state();
    let store = state.store();
    assert!(!store.contacts.rows.is_empty());
    assert!(store.addresses.get(f.address).is_none(), "address deleted");
    assert!(store.tasks.get(f.task).is_none(), "task deleted");
    assert!(store.comments.get(f.comment).is_none(), "comment deleted");
    assert!(store.webhooks.get(f.webhook).is_none(), "webhook deleted");
    assert!(
        !store.company_contacts.contains_key(&(f.company, f.contact)),
        "unlinked"
    );
    assert_eq!(store.contacts.get(f.contact).unwrap()["position"], "CEO");
    assert!(
        store.contacts.get(f.spares[0]).is_none() && store.companies.get(f.spares[1]).is_none()
    );
    assert!(store.individuals.get(f.spares[2]).is_none());
}

#[tokio::test]
async fn links_answer_201_then_200_and_drive_searches() {
    let api = Api::with_seed(0).await;
    let contact = id_of(&api.post("/contacts", json!({"last_name": "Linked"})).await);
    let company = id_of(
        &api.post("/companies", json!({"name": "Co", "type": "prospect"}))
            .await,
    );
    let path = format!("/companies/{company}/contacts/{contact}");
    assert_eq!(
        api.post(&path, json!({"contact_type_main": true}))
            .await
            .status,
        201
    );
    assert_eq!(api.post(&path, json!({})).await.status, 200);
    assert_eq!(
        api.get(&format!("/companies/{company}")).await.body["main_contact_id"],
        contact
    );
    let companies = api.get(&format!("/contacts/{contact}/companies")).await;
    assert_eq!(companies.body["data"][0]["id"], company);
    let by_company = api
        .post(
            "/contacts/search",
            json!({"filters": {"companies": [company]}}),
        )
        .await;
    assert_eq!(by_company.body["pagination"]["total"], 1);
    let unlinked = api
        .post("/contacts/search", json!({"filters": {"is_linked": false}}))
        .await;
    assert_eq!(unlinked.body["pagination"]["total"], 0);
    let embedded = api
        .get(&format!("/companies/{company}?embed[]=main_contact"))
        .await;
    assert_eq!(
        embedded.body["_embed"]["main_contact"]["last_name"],
        "Linked"
    );
    assert_eq!(
        api.post(&format!("/companies/{company}/contacts/999"), json!({}))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn tasks_need_label_due_date_and_related() {
    let api = Api::with_seed(0).await;
    let missing = api.post("/tasks", json!({"title": "x"})).await;
    assert_eq!(missing.status, 400);
    for field in ["label_id", "due_date", "related"] {
        assert!(
            missing.body["error"]["details"][field].is_string(),
            "{field}"
        );
    }
    let contact = id_of(&api.post("/contacts", json!({"last_name": "T"})).await);
    let bad_label = api
        .post("/tasks", json!({"label_id": 99, "due_date": "2030-01-01T00:00:00+00:00", "related": [{"type": "contact", "id": contact}]}))
        .await;
    assert!(bad_label.body["error"]["details"]["label_id"].is_string());
    let task = api
        .post("/tasks?embed[]=contact", json!({"label_id": 1, "due_date": "2030-01-01T00:00:00+00:00", "related": [{"type": "contact", "id": contact}]}))
        .await;
    assert_eq!(task.status, 201);
    assert_eq!(task.body["contact_id"], contact);
    assert_eq!(task.body["label"]["id"], 1);
    assert_eq!(task.body["_embed"]["contact"]["last_name"], "T");
    let id = id_of(&task);
    let before = api.emu.state().store().tasks.len();
    let dry = api
        .post("/tasks?verify=true", json!({"label_id": 1, "due_date": "2030-01-01T00:00:00+00:00", "related": [{"type": "contact", "id": contact}]}))
        .await;
    assert_eq!(dry.status, 204);
    assert_eq!(api.emu.state().store().tasks.len(), before);
    let dry_update = api
        .put(
            &format!("/tasks/{id}?verify=true"),
            json!({"title": "not saved"}),
        )
        .await;
    assert_eq!(dry_update.status, 204);
    assert_eq!(
        api.get(&format!("/tasks/{id}")).await.body["title"],
        Value::Null
    );
    let unlinked = api
        .put(&format!("/tasks/{id}"), json!({"related": []}))
        .await;
    assert_eq!(unlinked.body["contact_id"], Value::Null);
    let found = api
        .post(
            "/tasks/search",
            json!({"filters": {"statuses": ["todo"], "labels": [1]}}),
        )
        .await;
    assert_eq!(found.body["pagination"]["total"], 1);
}

#[tokio::test]
async fn custom_field_values_are_type_checked() {
    let api = Api::with_seed(0).await;
    let contact = id_of(&api.post("/contacts", json!({"last_name": "CF"})).await);
    let defs = api
        .post(
            "/custom-fields/search?limit=100",
            json!({"filters": {"related_object": "contact"}}),
        )
        .await;
    let id_of_type = |t: &str| {
        defs.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["type"] == t)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let path = format!("/contacts/{contact}/custom-fields");
    let good = json!([
        {"id": id_of_type("numeric"), "value": "12.5"},
        {"id": id_of_type("amount"), "value": {"amount": "100.00", "currency": "EUR"}},
        {"id": id_of_type("select"), "value": 201},
        {"id": id_of_type("checkbox"), "value": [301, 303]},
        {"id": id_of_type("boolean"), "value": true},
        {"id": id_of_type("date"), "value": "2024-02-29"},
        {"id": id_of_type("time"), "value": "09:30"},
        {"id": id_of_type("contact"), "value": [contact]},
    ]);
    assert_eq!(api.put(&path, good).await.status, 200);
    let bad = json!([
        {"id": id_of_type("numeric"), "value": 12},
        {"id": id_of_type("select"), "value": 999},
        {"id": id_of_type("amount"), "value": "100"},
        {"id": id_of_type("date"), "value": "2024-02-30"},
    ]);
    let refused = api.put(&path, bad).await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.body["error"]["details"].as_object().unwrap().len(),
        4
    );

    let read = api
        .get(&format!(
            "/contacts/{contact}?embed[]=cf.{}",
            id_of_type("amount")
        ))
        .await;
    assert_eq!(
        read.body["_embed"]["custom_fields"][0]["value"]["amount"],
        "100.00"
    );
    let all = api.get(&format!("{path}?limit=100")).await;
    let numeric = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "numeric")
        .unwrap();
    assert_eq!(numeric["value"], "12.5");
}
