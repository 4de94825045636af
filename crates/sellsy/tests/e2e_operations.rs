//! Every operation of the Sellsy spec through the client's generic `call`, then the
//! typed helpers against the emulator's state, the typed validation error, and webhook
//! signatures checked with the client's verifier.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use futures::TryStreamExt;
use hlbridge_core::error::Error;
use hlbridge_emulator::sellsy::SellsyEmulator;
use hlbridge_sellsy::webhook::{parse_notification, verify_signature, SIGNATURE_HEADER};
use hlbridge_sellsy::{
    Address, CallInput, Company, Contact, CustomFieldOwner, CustomFieldValue, Individual,
    LinkOutcome, ListOptions, Related, SellsyClient, ThirdFilters, TABLE,
};
use serde_json::{json, Value};

async fn id(client: &SellsyClient, op: &str, input: CallInput) -> i64 {
    client.call(op, input).await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Inputs for each operation, against objects created first.
async fn inputs(client: &SellsyClient) -> BTreeMap<&'static str, CallInput> {
    let contact = id(
        client,
        "contacts.create-contact",
        CallInput::new().body(json!({"last_name": "Op"})),
    )
    .await;
    let spare = id(
        client,
        "contacts.create-contact",
        CallInput::new().body(json!({"last_name": "Spare"})),
    )
    .await;
    let company = id(
        client,
        "companies.create-new-company",
        CallInput::new().body(json!({"name": "Op", "type": "client"})),
    )
    .await;
    let spare_company = id(
        client,
        "companies.create-new-company",
        CallInput::new().body(json!({"name": "Sp", "type": "client"})),
    )
    .await;
    let individual = id(
        client,
        "individuals.create-new-individual",
        CallInput::new().body(json!({"last_name": "I", "type": "client"})),
    )
    .await;
    let spare_individual = id(
        client,
        "individuals.create-new-individual",
        CallInput::new().body(json!({"last_name": "S", "type": "client"})),
    )
    .await;
    let address_body = json!({"name": "HQ", "address_line_1": "1 rue", "postal_code": "75001", "city": "Paris", "country_code": "FR"});
    let address = id(
        client,
        "contacts.create-address",
        CallInput::new()
            .param("contactId", contact)
            .body(address_body.clone()),
    )
    .await;
    let related = json!([{"type": "contact", "id": contact}]);
    let task_body =
        json!({"label_id": 1, "due_date": "2030-01-01T00:00:00+00:00", "related": related});
    let task = id(
        client,
        "tasks.create-task",
        CallInput::new().body(task_body.clone()),
    )
    .await;
    let comment_body = json!({"description": "x", "related": related});
    let comment = id(
        client,
        "comments.create-comment",
        CallInput::new().body(comment_body.clone()),
    )
    .await;
    let hook_body = json!({"endpoint": "http://127.0.0.1:9/h", "configuration": [{"id": "people.updated", "is_enabled": true}]});
    let webhook = id(
        client,
        "webhooks.create-webhook",
        CallInput::new().body(hook_body.clone()),
    )
    .await;
    let n = CallInput::new;
    let filters = || n().body(json!({"filters": {}}));
    let cf = json!([{"id": 6, "value": "7"}]);
    BTreeMap::from([
        ("contacts.get-list", n()),
        (
            "contacts.create-contact",
            n().body(json!({"last_name": "New"})),
        ),
        ("contacts.search-contacts", filters()),
        ("contacts.get-informations", n().param("id", contact)),
        (
            "contacts.update-contact-info",
            n().param("id", contact).body(json!({"position": "CTO"})),
        ),
        ("contacts.remove-contact", n().param("id", spare)),
        ("contacts.get-companies", n().param("id", contact)),
        (
            "contacts.get-custom-fields",
            n().param("contactId", contact),
        ),
        (
            "contacts.update-custom-fields",
            n().param("contactId", contact).body(cf.clone()),
        ),
        ("contacts.get-smart-tags", n().param("contactId", contact)),
        (
            "contacts.link-smart-tags",
            n().param("contactId", contact)
                .body(json!([{"value": "t"}])),
        ),
        ("contacts.get-addresses", n().param("contactId", contact)),
        (
            "contacts.create-address",
            n().param("contactId", contact).body(address_body),
        ),
        (
            "contacts.get-address-by-id",
            n().param("contactId", contact).param("id", address),
        ),
        (
            "contacts.update-address",
            n().param("contactId", contact)
                .param("id", address)
                .body(json!({"city": "Lyon"})),
        ),
        (
            "contacts.delete-address",
            n().param("contactId", contact).param("id", address),
        ),
        ("companies.get-list", n()),
        (
            "companies.create-new-company",
            n().body(json!({"name": "N", "type": "prospect"})),
        ),
        ("companies.search-companies", filters()),
        ("companies.get-informations", n().param("id", company)),
        (
            "companies.update-information",
            n().param("id", company).body(json!({"note": "n"})),
        ),
        ("companies.remove-company", n().param("id", spare_company)),
        ("companies.get-contacts", n().param("id", company)),
        (
            "companies.link-contact",
            n().param("companyId", company).param("contactId", contact),
        ),
        (
            "companies.update-contact-of-company-link",
            n().param("companyId", company)
                .param("contactId", contact)
                .body(json!({"contact_type_main": true})),
        ),
        (
            "companies.unlink-contact",
            n().param("companyId", company).param("contactId", contact),
        ),
        ("companies.get-custom-fields-list", n().param("id", company)),
        (
            "companies.update-custom-fields",
            n().param("id", company).body(cf.clone()),
        ),
        ("individuals.get-list", n()),
        (
            "individuals.create-new-individual",
            n().body(json!({"last_name": "N", "type": "supplier"})),
        ),
        ("individuals.search-results", filters()),
        ("individuals.get-info", n().param("id", individual)),
        (
            "individuals.update-info",
            n().param("id", individual).body(json!({"first_name": "F"})),
        ),
        (
            "individuals.remove-individual",
            n().param("id", spare_individual),
        ),
        ("individuals.get-contacts", n().param("id", individual)),
        (
            "individuals.link-contact-to-individual",
            n().param("individualId", individual)
                .param("contactId", contact),
        ),
        (
            "individuals.delete-link-between-contact-and-individual",
            n().param("individualId", individual)
                .param("contactId", contact),
        ),
        ("individuals.get-custom-fields", n().param("id", individual)),
        (
            "individuals.update-custom-fields",
            n().param("id", individual).body(cf),
        ),
        ("tasks.get-list", n()),
        ("tasks.create-task", n().body(task_body)),
        ("tasks.search-tasks", filters()),
        ("tasks.get-labels", n()),
        ("tasks.get-by-id", n().param("id", task)),
        (
            "tasks.update-task-by-id",
            n().param("id", task).body(json!({"status": "done"})),
        ),
        ("tasks.remove-task", n().param("id", task)),
        ("comments.get-list", n()),
        ("comments.create-comment", n().body(comment_body)),
        ("comments.search-comments", filters()),
        ("comments.get-details", n().param("id", comment)),
        (
            "comments.update-comment",
            n().param("id", comment).body(json!({"description": "y"})),
        ),
        ("comments.remove-comment", n().param("id", comment)),
        ("custom-fields.get-list", n()),
        (
            "custom-fields.search",
            n().body(json!({"filters": {"related_object": "client"}})),
        ),
        ("custom-fields.get-information", n().param("id", 1)),
        ("webhooks.get-list", n()),
        ("webhooks.create-webhook", n().body(hook_body)),
        ("webhooks.search-webhooks-list", filters()),
        ("webhooks.get-webhook", n().param("id", webhook)),
        (
            "webhooks.update-information",
            n().param("id", webhook).body(json!({"is_enabled": false})),
        ),
        ("webhooks.delete-webhook", n().param("id", webhook)),
        ("webhooks.list-events", n()),
        ("quotas.get", n()),
        ("staffs.get-staff", n().param("id", "me")),
    ])
}

#[tokio::test]
async fn every_operation_through_the_generic_call() {
    let emu = support::emulator(support::quick(3)).await;
    let client = support::client(&emu).await;
    let inputs = inputs(&client).await;
    let ids: HashSet<&str> = TABLE.operations.iter().map(|op| op.id).collect();
    assert_eq!(
        ids,
        inputs.keys().copied().collect::<HashSet<_>>(),
        "every operation has an input"
    );
    let mut ops: Vec<_> = TABLE.operations.iter().collect();
    ops.sort_by_key(|op| match op.method.as_str() {
        "DELETE" => 2,
        "PUT" => 1,
        _ => 0,
    });
    for op in ops {
        let response = client.call_op(op, &inputs[op.id]).await;
        let response = response.unwrap_or_else(|e| panic!("{}: {e}", op.id));
        assert!(
            response.headers.contains_key("x-quota-remaining-by-second"),
            "{}",
            op.id
        );
        if op.response_key == Some("data") {
            assert!(response.body["pagination"]["total"].is_u64(), "{}", op.id);
        }
    }
    let deleted = |op: &str| inputs[op].get("id").unwrap().parse::<i64>().unwrap();
    let state = emu.state();
    let store = state.store();
    assert!(store.tasks.get(deleted("tasks.remove-task")).is_none());
    assert!(store
        .comments
        .get(deleted("comments.remove-comment"))
        .is_none());
    assert!(store
        .webhooks
        .get(deleted("webhooks.delete-webhook"))
        .is_none());
    assert!(store
        .contacts
        .get(deleted("contacts.remove-contact"))
        .is_none());
    assert!(store.contacts.rows.values().any(|c| c["position"] == "CTO"));
}

#[tokio::test]
async fn typed_helpers_change_the_emulator_state() {
    let emu = support::emulator(support::quick(0)).await;
    let client = support::client(&emu).await;
    let contact = client
        .create_contact(&Contact {
            last_name: Some("Typed".into()),
            email: Some("t@example.org".into()),
            ..Contact::default()
        })
        .await
        .unwrap();
    let company = client
        .create_company(&Company {
            name: Some("Typed SA".into()),
            kind: Some("client".into()),
            ..Company::default()
        })
        .await
        .unwrap();
    let individual = client
        .create_individual(&Individual {
            last_name: Some("Ind".into()),
            kind: Some("prospect".into()),
            ..Individual::default()
        })
        .await
        .unwrap();
    let roles = json!({"contact_type_main": true});
    assert_eq!(
        client
            .link_contact_to_company(company.id, contact.id, &roles)
            .await
            .unwrap(),
        LinkOutcome::Created
    );
    assert_eq!(
        client
            .link_contact_to_company(company.id, contact.id, &Value::Null)
            .await
            .unwrap(),
        LinkOutcome::AlreadyLinked
    );
    assert_eq!(
        client
            .link_contact_to_individual(individual.id, contact.id)
            .await
            .unwrap(),
        LinkOutcome::Created
    );
    assert_eq!(
        client.contact_companies(contact.id).await.unwrap()[0].id,
        company.id
    );
    assert_eq!(
        emu.state().store().companies.get(company.id).unwrap()["main_contact_id"],
        contact.id
    );
    let linked: Vec<Contact> = client
        .company_contacts(company.id, &ListOptions::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(linked.len(), 1);
    let clients = ThirdFilters {
        kind: vec!["client".into()],
        ..ThirdFilters::default()
    };
    let found: Vec<Company> = client
        .search_companies(&clients, &ListOptions::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);

    let address = client
        .create_address(
            contact.id,
            &Address {
                name: Some("Home".into()),
                address_line_1: Some("5 rue D".into()),
                postal_code: Some("13001".into()),
                city: Some("Marseille".into()),
                country_code: Some("FR".into()),
                ..Address::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        client.contact_addresses(contact.id).await.unwrap()[0].id,
        address.id
    );
    assert_eq!(
        client
            .get_contact(contact.id)
            .await
            .unwrap()
            .invoicing_address_id,
        Some(address.id)
    );

    let tags = client
        .add_smart_tags(contact.id, &["Été", "ete", "vip"])
        .await
        .unwrap();
    assert_eq!(tags.len(), 2, "accents and case are ignored");

    let fields = client
        .custom_fields_of(CustomFieldOwner::Contact, contact.id)
        .await
        .unwrap();
    let field = |kind: &str| {
        fields
            .iter()
            .find(|e| e.definition.kind == kind)
            .unwrap()
            .definition
            .id
    };
    let values = vec![
        (field("numeric"), CustomFieldValue::Numeric("3.5".into())),
        (field("checkbox"), CustomFieldValue::Ids(vec![301])),
        (
            field("company-individual"),
            CustomFieldValue::Parties(vec![Related {
                kind: "company".into(),
                id: company.id,
            }]),
        ),
        (
            field("amount"),
            CustomFieldValue::Amount {
                amount: Some("9.90".into()),
                currency: Some("EUR".into()),
            },
        ),
    ];
    client
        .set_custom_fields(CustomFieldOwner::Contact, contact.id, &values)
        .await
        .unwrap();
    let read = client
        .custom_fields_of(CustomFieldOwner::Contact, contact.id)
        .await
        .unwrap();
    for (id, value) in &values {
        assert_eq!(
            &read.iter().find(|e| e.definition.id == *id).unwrap().value,
            value
        );
    }
    let wrong = client
        .set_custom_fields(
            CustomFieldOwner::Contact,
            contact.id,
            &[(field("numeric"), CustomFieldValue::Boolean(true))],
        )
        .await;
    match wrong {
        Err(Error::Validation { fields, .. }) => {
            assert!(fields.contains_key("[0].value"), "{fields:?}")
        }
        other => panic!("expected a validation error, got {other:?}"),
    }

    let labels = client.task_labels().await.unwrap();
    let task = client
        .create_task(
            "Call back",
            "2030-02-01T09:00:00+01:00",
            labels[0].id,
            Related::contact(contact.id),
        )
        .await
        .unwrap();
    assert_eq!(task.related, vec![Related::contact(contact.id)]);
    assert!(client
        .update_task(task.id, &json!({"status": "done"}))
        .await
        .unwrap()
        .is_done());
    let comment = client
        .create_comment("Met today", Related::contact(contact.id))
        .await
        .unwrap();
    assert_eq!(
        client
            .update_comment(comment.id, "Met twice")
            .await
            .unwrap()
            .description
            .as_deref(),
        Some("Met twice")
    );

    client.delete_company(company.id).await.unwrap();
    assert!(client
        .contact_companies(contact.id)
        .await
        .unwrap()
        .is_empty());
    client.delete_contact(contact.id).await.unwrap();
    assert!(matches!(
        client.get_contact(contact.id).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn server_validation_errors_name_the_fields() {
    let emu = support::emulator(support::quick(0)).await;
    let client = support::client(&emu).await;
    let bad = Contact {
        last_name: Some("X".into()),
        email: Some("not-an-email".into()),
        birth_date: Some("1990-02-31".into()),
        ..Contact::default()
    };
    match client.create_contact(&bad).await {
        Err(Error::Validation { status, fields, .. }) => {
            assert_eq!(status, 400);
            assert!(
                fields.contains_key("email") && fields.contains_key("birth_date"),
                "{fields:?}"
            );
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), received)
}

async fn notified(emu: &SellsyEmulator, count: usize) {
    emu.state()
        .wait_for_deliveries(count, Duration::from_secs(5))
        .await;
}

#[tokio::test]
async fn webhook_signatures_verify_with_the_client() {
    let emu = support::emulator(support::quick(0)).await;
    let client = support::client(&emu).await;
    let (endpoint, received) = receiver().await;
    client
        .create_webhook(&endpoint, &["people.created", "client.updated"], false)
        .await
        .unwrap();
    client
        .create_webhook(&endpoint, &["people.created"], true)
        .await
        .unwrap();
    assert_eq!(client.webhooks().await.unwrap().len(), 2);

    let contact = client
        .create_contact(&Contact {
            last_name: Some("Hook".into()),
            ..Contact::default()
        })
        .await
        .unwrap();
    let company = client
        .create_company(&Company {
            name: Some("Hooked".into()),
            kind: Some("client".into()),
            ..Company::default()
        })
        .await
        .unwrap();
    client
        .update_company(company.id, &json!({"note": "changed"}))
        .await
        .unwrap();
    notified(&emu, 3).await;

    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    let secret = emu.webhook_secret();
    let mut routes = Vec::new();
    for (headers, body) in &got {
        let signature = headers[SIGNATURE_HEADER].to_str().unwrap();
        assert!(verify_signature(secret, body, signature));
        assert!(!verify_signature("another-secret", body, signature));
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
        let n = parse_notification(content_type, body).unwrap();
        assert_eq!(n.corpid, emu.state().corp_id().to_string());
        routes.push((n.route(), n.related_id()));
    }
    routes.sort();
    assert_eq!(
        routes,
        vec![
            ("client.updated".to_string(), Some(company.id)),
            ("people.created".to_string(), Some(contact.id)),
            ("people.created".to_string(), Some(contact.id)),
        ]
    );
}
