//! The `hlbridge ghl` command against the GHL emulator: one test per operation of the
//! Contacts catalog (28), each asserting the state the call left behind, not only its
//! exit code.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{config, ids_of, strings, Env};
use hlbridge_emulator::ghl::GhlConfig;
use serde_json::{json, Value};

/// A GHL-shaped id that no record has.
const UNKNOWN_ID: &str = "zzzzzzzzzzzzzzzzzzzz";

fn tags_of(contact: &Value) -> Vec<String> {
    strings(&contact["tags"])
}

/// Every value of `field` in a list of objects.
fn field_values(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|c| c[field].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A config whose rate limit never gets in the way of set-up with many records.
fn roomy_config() -> GhlConfig {
    GhlConfig {
        rate_max: 100_000,
        rate_interval: Duration::from_secs(10),
        ..config()
    }
}

/// Requests the emulator served for one operation id.
fn served(env: &Env, op: &str) -> u64 {
    env.state()
        .stats()
        .by_operation
        .get(op)
        .copied()
        .unwrap_or(0)
}

/// Create a task through the binary; returns its id.
async fn new_task(env: &Env, contact: &str, title: &str) -> String {
    let body = json!({
        "title": title,
        "body": format!("{title} body"),
        "dueDate": "2030-01-15T10:00:00Z",
        "completed": false,
    });
    let out = env
        .ok(
            "contacts.create-task",
            &[("contactId", contact)],
            Some(&body),
        )
        .await;
    out["task"]["id"].as_str().expect("task id").to_string()
}

/// Create a note through the binary; returns its id.
async fn new_note(env: &Env, contact: &str, body: &str) -> String {
    let body = json!({"body": body, "title": format!("title of {body}")});
    let out = env
        .ok(
            "contacts.create-note",
            &[("contactId", contact)],
            Some(&body),
        )
        .await;
    out["note"]["id"].as_str().expect("note id").to_string()
}

/// Assert a failed call: exit 1 and a JSON error on stderr with this status.
#[track_caller]
fn assert_api_error(out: &common::Out, status: u16) -> Value {
    assert_eq!(out.code, 1, "expected an API error: {out:?}");
    assert!(out.stdout.trim().is_empty(), "nothing on stdout: {out:?}");
    let err = out.stderr_json();
    assert_eq!(err["error"]["status"], status, "{err}");
    err
}

// ----- contacts -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_contact_stores_every_field() {
    let env = Env::start().await;
    let account = env
        .state()
        .custom_fields()
        .into_iter()
        .find(|f| f["fieldKey"] == "contact.account_number")
        .expect("the demo location has an account number field");
    let body = json!({
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "phone": "+33612345678",
        "city": "Lyon",
        "country": "FR",
        "source": "cli test",
        "dnd": false,
        "tags": ["vip", "lead"],
        "customFields": [{"key": "account_number", "field_value": "AC-42"}],
    });
    let out = env.ok("contacts.create-contact", &[], Some(&body)).await;
    let id = out["contact"]["id"].as_str().expect("id").to_string();
    assert_eq!(env.state().contact_ids(), vec![id.clone()]);

    let stored = env.contact(&id);
    for (field, want) in [
        ("firstName", "Ada"),
        ("lastName", "Lovelace"),
        ("email", "ada@example.com"),
        ("phone", "+33612345678"),
        ("city", "Lyon"),
        ("country", "FR"),
        ("source", "cli test"),
        ("locationId", common::LOCATION),
    ] {
        assert_eq!(stored[field], want, "{field} in {stored}");
    }
    assert_eq!(tags_of(&stored), vec!["vip", "lead"]);
    assert_eq!(
        stored["customFields"],
        json!([{"id": account["id"], "value": "AC-42"}]),
        "custom field stored by key"
    );
    // What the command printed is the created contact.
    assert_eq!(out["contact"]["email"], "ada@example.com");
    assert_eq!(env.state().stats().contacts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_contact_duplicate_is_refused_with_meta() {
    let env = Env::start().await;
    let first = env
        .create_contact(json!({"firstName": "Grace", "lastName": "Hopper",
            "email": "grace@example.com", "phone": "+15550101234"}))
        .await;

    // Same email, other case: 400 with meta.matchingField = email.
    let out = env
        .ghl(
            "contacts.create-contact",
            &[],
            Some(&json!({"firstName": "Other", "email": "GRACE@example.com"})),
        )
        .await;
    let err = assert_api_error(&out, 400);
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("This location does not allow duplicated contacts."),
        "{err}"
    );
    let meta = &err["error"]["body"]["meta"];
    assert_eq!(meta["matchingField"], "email", "{err}");
    assert_eq!(meta["contactId"], first.as_str(), "{err}");
    assert_eq!(meta["contactName"], "Grace Hopper", "{err}");

    // Same phone, other email: matchingField = phone.
    let out = env
        .ghl(
            "contacts.create-contact",
            &[],
            Some(&json!({"email": "someone@example.com", "phone": "+15550101234"})),
        )
        .await;
    let err = assert_api_error(&out, 400);
    assert_eq!(err["error"]["body"]["meta"]["matchingField"], "phone");
    assert_eq!(
        env.state().contact_ids(),
        vec![first.clone()],
        "nothing created"
    );

    // Without --json: one line with status, message and trace id.
    let out = env
        .run(&[
            "ghl",
            "contacts.create-contact",
            "--body",
            r#"{"email":"grace@example.com"}"#,
        ])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
    assert!(out.stderr.contains("400"), "{out:?}");
    assert!(
        out.stderr.contains("does not allow duplicated contacts"),
        "{out:?}"
    );

    // Once the location allows duplicates the same create succeeds.
    env.state().set_allow_duplicate_contacts(true);
    let second = env
        .create_contact(json!({"firstName": "Grace", "email": "grace@example.com"}))
        .await;
    assert_ne!(second, first);
    assert_eq!(env.state().contact_ids().len(), 2);
    assert_eq!(env.contact(&second)["email"], "grace@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_contact_returns_the_stored_contact() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Alan", "lastName": "Turing",
            "email": "alan@example.com", "tags": ["math"]}))
        .await;
    let out = env
        .ok("contacts.get-contact", &[("contactId", &id)], None)
        .await;
    assert_eq!(out["contact"], env.contact(&id), "printed = stored");
    assert_eq!(out["contact"]["name"], "Alan Turing");
    assert_eq!(tags_of(&out["contact"]), vec!["math"]);

    // Without --json the output is pretty-printed JSON of the same body.
    let pretty = env
        .run(&[
            "ghl",
            "contacts.get-contact",
            "--param",
            &format!("contactId={id}"),
        ])
        .await;
    assert_eq!(pretty.code, 0, "{pretty:?}");
    assert!(pretty.stdout.lines().count() > 3, "pretty-printed");
    assert_eq!(pretty.json(), out);

    let missing = env
        .ghl("contacts.get-contact", &[("contactId", UNKNOWN_ID)], None)
        .await;
    assert_api_error(&missing, 400);

    // --all on an operation without paging prints the one object it returns, not the
    // items of some array inside it (here the contact's tags).
    let all = env
        .ghl_with(
            "contacts.get-contact",
            &[("contactId", &id)],
            None,
            &["--all"],
        )
        .await;
    assert_eq!(all.code, 0, "{all:?}");
    let lines = all.json_lines();
    assert!(
        lines
            .iter()
            .any(|l| l["id"] == id.as_str() || l["contact"]["id"] == id.as_str()),
        "the contact is printed: {lines:?}"
    );
    assert!(lines.iter().all(Value::is_object), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_contact_changes_fields_keeps_others_and_replaces_tags() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Edsger", "lastName": "Dijkstra",
            "email": "edsger@example.com", "city": "Rotterdam", "tags": ["old", "keep"]}))
        .await;
    let before = env.contact(&id);
    let out = env
        .ok(
            "contacts.update-contact",
            &[("contactId", &id)],
            Some(&json!({"city": "Austin", "postalCode": "78701", "tags": ["new"]})),
        )
        .await;
    assert_eq!(out["succeded"], true, "{out}");
    let after = env.contact(&id);
    assert_eq!(after["city"], "Austin");
    assert_eq!(after["postalCode"], "78701");
    for kept in ["firstName", "lastName", "email", "dateAdded"] {
        assert_eq!(after[kept], before[kept], "{kept} kept");
    }
    assert_eq!(
        tags_of(&after),
        vec!["new"],
        "tags on update replace the set"
    );
    assert_eq!(out["contact"], after, "printed = stored");

    // An update without tags leaves them alone.
    env.ok(
        "contacts.update-contact",
        &[("contactId", &id)],
        Some(&json!({"lastName": "D."})),
    )
    .await;
    let again = env.contact(&id);
    assert_eq!(again["lastName"], "D.");
    assert_eq!(tags_of(&again), vec!["new"]);
    assert_eq!(again["city"], "Austin");

    // An update that would duplicate another contact's email is refused.
    let other = env
        .create_contact(json!({"firstName": "Other", "email": "other@example.com"}))
        .await;
    let dup = env
        .ghl(
            "contacts.update-contact",
            &[("contactId", &id)],
            Some(&json!({"email": "other@example.com"})),
        )
        .await;
    let err = assert_api_error(&dup, 400);
    assert_eq!(err["error"]["body"]["meta"]["contactId"], other.as_str());
    assert_eq!(env.contact(&id)["email"], "edsger@example.com", "unchanged");

    let missing = env
        .ghl(
            "contacts.update-contact",
            &[("contactId", UNKNOWN_ID)],
            Some(&json!({"city": "Nowhere"})),
        )
        .await;
    assert_api_error(&missing, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_contact_removes_it_and_what_hangs_off_it() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Doomed", "email": "doomed@example.com"}))
        .await;
    let other = env
        .create_contact(json!({"firstName": "Stays", "email": "stays@example.com"}))
        .await;
    new_task(&env, &id, "Call").await;
    new_note(&env, &id, "A note").await;

    let out = env
        .ok("contacts.delete-contact", &[("contactId", &id)], None)
        .await;
    assert_eq!(out, json!({"succeded": true}));
    assert!(env.state().contact(&id).is_none(), "gone from the store");
    assert_eq!(env.state().contact_ids(), vec![other.clone()]);
    assert!(env.state().tasks_of(&id).is_empty());
    assert!(env.state().notes_of(&id).is_empty());

    // A follow-up GET through the binary fails; deleting twice fails too.
    let get = env
        .ghl("contacts.get-contact", &[("contactId", &id)], None)
        .await;
    assert_api_error(&get, 400);
    let again = env
        .ghl("contacts.delete-contact", &[("contactId", &id)], None)
        .await;
    assert_api_error(&again, 400);
    assert!(env.state().contact(&other).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_contact_creates_then_updates_one_contact() {
    let env = Env::start().await;
    let out = env
        .ok(
            "contacts.upsert-contact",
            &[],
            Some(
                &json!({"firstName": "Barbara", "email": "barbara@example.com", "city": "Boston"}),
            ),
        )
        .await;
    assert_eq!(out["new"], true, "{out}");
    let id = out["contact"]["id"].as_str().expect("id").to_string();
    assert_eq!(env.state().contact_ids(), vec![id.clone()]);
    assert_eq!(env.contact(&id)["city"], "Boston");

    // Same email (other case): the existing contact is updated, no new one.
    let out = env
        .ok(
            "contacts.upsert-contact",
            &[],
            Some(
                &json!({"email": "BARBARA@example.com", "lastName": "Liskov", "city": "Cambridge"}),
            ),
        )
        .await;
    assert_eq!(out["new"], false, "{out}");
    assert_eq!(out["contact"]["id"], id.as_str());
    assert_eq!(
        env.state().contact_ids(),
        vec![id.clone()],
        "still one contact"
    );
    let stored = env.contact(&id);
    assert_eq!(stored["city"], "Cambridge");
    assert_eq!(stored["lastName"], "Liskov");
    assert_eq!(stored["firstName"], "Barbara", "unsent fields kept");

    // Email matches one contact and phone another: the email match is updated, the
    // phone ignored, the other contact untouched.
    let b = env
        .create_contact(
            json!({"firstName": "Phone", "email": "phone@example.com", "phone": "+15550109999"}),
        )
        .await;
    let out = env
        .ok(
            "contacts.upsert-contact",
            &[],
            Some(&json!({"email": "barbara@example.com", "phone": "+15550109999", "source": "upsert"})),
        )
        .await;
    assert_eq!(out["new"], false);
    assert_eq!(out["contact"]["id"], id.as_str());
    assert_eq!(env.contact(&id)["source"], "upsert");
    assert!(env.contact(&id).get("phone").is_none(), "phone not copied");
    assert_eq!(env.contact(&b)["phone"], "+15550109999");
    assert_eq!(env.state().contact_ids().len(), 2);
}

// ----- reads and listings -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_contacts_advanced_filters_and_sorts() {
    let env = Env::start().await;
    let people = [
        ("Chloe", "Lyon", &["vip"][..]),
        ("Bruno", "Lyon", &["lead"][..]),
        ("Anna", "Lyon", &["vip", "lead"][..]),
        ("Dora", "Paris", &["vip"][..]),
        ("Emil", "Paris", &[][..]),
    ];
    for (name, city, tags) in people {
        env.create_contact(json!({"firstName": name, "city": city, "tags": tags,
            "email": format!("{}@example.com", name.to_lowercase())}))
            .await;
    }
    let search = |body: Value| {
        let env = &env;
        async move {
            env.ok("contacts.search-contacts-advanced", &[], Some(&body))
                .await
        }
    };

    let lyon = search(json!({"pageLimit": 10,
        "filters": [{"field": "city", "operator": "eq", "value": "Lyon"}],
        "sort": [{"field": "firstName", "direction": "asc"}]}))
    .await;
    let items = lyon["contacts"].as_array().expect("contacts").clone();
    assert_eq!(
        field_values(&items, "firstName"),
        ["Anna", "Bruno", "Chloe"]
    );
    assert_eq!(lyon["total"], 3);

    let desc = search(json!({"pageLimit": 10,
        "filters": [{"field": "tags", "operator": "eq", "value": "vip"}],
        "sort": [{"field": "firstName", "direction": "desc"}]}))
    .await;
    let items = desc["contacts"].as_array().expect("contacts").clone();
    assert_eq!(field_values(&items, "firstName"), ["Dora", "Chloe", "Anna"]);

    let grouped = search(json!({"pageLimit": 10,
        "filters": [{"group": "OR", "filters": [
            {"field": "city", "operator": "eq", "value": "Paris"},
            {"field": "tags", "operator": "eq", "value": "lead"}]}],
        "sort": [{"field": "firstName", "direction": "asc"}]}))
    .await;
    let items = grouped["contacts"].as_array().expect("contacts").clone();
    assert_eq!(
        field_values(&items, "firstName"),
        ["Anna", "Bruno", "Dora", "Emil"]
    );

    let limited = search(json!({"pageLimit": 2, "page": 2,
        "sort": [{"field": "firstName", "direction": "asc"}]}))
    .await;
    let items = limited["contacts"].as_array().expect("contacts").clone();
    assert_eq!(field_values(&items, "firstName"), ["Chloe", "Dora"]);
    assert_eq!(limited["total"], 5);

    // Every result carries the cursor of the next page.
    assert!(items.iter().all(|c| c["searchAfter"].is_array()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_contacts_advanced_all_pages_250_contacts_without_gaps() {
    let env = Env::start_with(roomy_config()).await;
    let ids = env.seed(250, "paging.example").await;
    assert_eq!(
        env.state().contact_ids(),
        ids,
        "set-up created 250 contacts"
    );
    let before = served(&env, "contacts.search-contacts-advanced");

    let body = json!({"pageLimit": 100, "sort": [{"field": "dateAdded", "direction": "asc"}]});
    let out = env
        .ghl_with(
            "contacts.search-contacts-advanced",
            &[],
            Some(&body),
            &["--all"],
        )
        .await;
    assert_eq!(out.code, 0, "{:?}", out.stderr);
    let items = out.json_lines();
    let got = ids_of(&items);
    let unique: BTreeSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "no contact twice");
    // Oldest first; contacts created in the same millisecond follow by id.
    let mut expected = ids.clone();
    let added = |id: &String| {
        env.state().contact(id).expect("contact")["dateAdded"]
            .as_str()
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.timestamp_millis())
    };
    expected.sort_by_key(|id| (added(id), id.clone()));
    assert_eq!(got, expected, "every contact once, oldest first");
    assert_eq!(
        served(&env, "contacts.search-contacts-advanced") - before,
        3,
        "100 + 100 + 50: three requests"
    );

    // A page asked for by number is the matching slice of the full walk.
    let page2 = env
        .ok(
            "contacts.search-contacts-advanced",
            &[],
            Some(&json!({"pageLimit": 100, "page": 2,
                "sort": [{"field": "dateAdded", "direction": "asc"}]})),
        )
        .await;
    let page2 = ids_of(page2["contacts"].as_array().expect("contacts"));
    assert_eq!(page2, ids[100..200].to_vec());

    // Newest first (the default sort) also walks everything exactly once.
    let out = env
        .ghl_with(
            "contacts.search-contacts-advanced",
            &[],
            Some(&json!({"pageLimit": 100})),
            &["--all"],
        )
        .await;
    assert_eq!(out.code, 0, "{:?}", out.stderr);
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(ids_of(&out.json_lines()), reversed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_contacts_advanced_all_pages_when_sort_values_are_missing() {
    let env = Env::start().await;
    let mut with_company = Vec::new();
    let mut without = Vec::new();
    for i in 0..12 {
        let mut body =
            json!({"firstName": format!("P{i:02}"), "email": format!("p{i}@example.com")});
        if i % 2 == 0 {
            body["companyName"] = json!(format!("Company {i:02}"));
        }
        let id = env.create_contact(body).await;
        if i % 2 == 0 {
            with_company.push(id);
        } else {
            without.push(id);
        }
    }
    // Pages of 5 over a sort where half the contacts have no value: the cursor of a
    // contact without a company must lead to the next page like any other.
    let body = json!({"pageLimit": 5, "sort": [{"field": "companyName", "direction": "asc"}]});
    let out = env
        .ghl_with(
            "contacts.search-contacts-advanced",
            &[],
            Some(&body),
            &["--all"],
        )
        .await;
    let got = ids_of(&out.json_lines());
    assert_eq!(out.code, 0, "walked {} of 12: {:?}", got.len(), out.stderr);
    assert_eq!(got.len(), 12, "{got:?}");
    assert_eq!(got[..6].to_vec(), with_company, "valued first, in order");
    let rest: BTreeSet<&String> = got[6..].iter().collect();
    assert_eq!(
        rest,
        without.iter().collect(),
        "then the contacts without a company"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_contact_by_email_phone_and_id() {
    let env = Env::start().await;
    let target = env
        .create_contact(json!({"firstName": "Target", "email": "target@example.com",
            "phone": "+15550102222"}))
        .await;
    env.create_contact(json!({"firstName": "Other", "email": "other@example.com",
        "phone": "+15550103333"}))
        .await;
    env.create_contact(json!({"firstName": "Third", "email": "target@example.org"}))
        .await;

    for (field, value) in [
        ("email", "target@example.com"),
        ("email", "TARGET@Example.com"),
        ("phone", "+15550102222"),
        ("id", target.as_str()),
    ] {
        let body = json!({"pageLimit": 5,
            "filters": [{"field": field, "operator": "eq", "value": value}]});
        let out = env.ok("contacts.find-contact", &[], Some(&body)).await;
        let found = ids_of(out["contacts"].as_array().expect("contacts"));
        assert_eq!(found, vec![target.clone()], "find by {field} = {value}");
        assert_eq!(out["total"], 1);
    }

    let none = env
        .ok(
            "contacts.find-contact",
            &[],
            Some(&json!({"pageLimit": 5,
                "filters": [{"field": "email", "operator": "eq", "value": "nobody@example.com"}]})),
        )
        .await;
    assert_eq!(none["contacts"], json!([]));
    assert_eq!(none["total"], 0);
    assert_eq!(
        served(&env, "contacts.search-contacts-advanced") + served(&env, "contacts.find-contact"),
        5,
        "find is the search endpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_contacts_by_business_id_pages_with_skip_and_limit() {
    let env = Env::start().await;
    let mut linked = Vec::new();
    for i in 0..5 {
        linked.push(
            env.create_contact(json!({"firstName": format!("Emp{i}"),
                "email": format!("emp{i}@biz.example")}))
                .await,
        );
    }
    let outsider = env
        .create_contact(json!({"firstName": "Outsider", "email": "out@example.com"}))
        .await;
    let business = "bizAAAAAAAAAAAAAAAAA";
    env.ok(
        "contacts.add-remove-contact-from-business",
        &[],
        Some(&json!({"ids": linked, "businessId": business})),
    )
    .await;
    assert!(linked
        .iter()
        .all(|id| env.contact(id)["businessId"] == business));

    let mut walked = Vec::new();
    for skip in ["0", "2", "4"] {
        let page = env
            .ok(
                "contacts.get-contacts-by-business-id",
                &[("businessId", business), ("limit", "2"), ("skip", skip)],
                None,
            )
            .await;
        assert_eq!(page["count"], 5, "count is the total");
        let ids = ids_of(page["contacts"].as_array().expect("contacts"));
        assert!(ids.len() <= 2, "limit respected: {ids:?}");
        walked.extend(ids);
    }
    assert_eq!(
        walked, linked,
        "skip/limit pages cover every linked contact once"
    );
    assert!(!walked.contains(&outsider));

    let past = env
        .ok(
            "contacts.get-contacts-by-business-id",
            &[("businessId", business), ("skip", "5")],
            None,
        )
        .await;
    assert_eq!(past["contacts"], json!([]));

    let all = env
        .ghl_with(
            "contacts.get-contacts-by-business-id",
            &[("businessId", business), ("limit", "2")],
            None,
            &["--all"],
        )
        .await;
    assert_eq!(all.code, 0, "{all:?}");
    assert_eq!(ids_of(&all.json_lines()), linked, "--all follows skip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_duplicate_contact_by_email_and_number() {
    let env = Env::start().await;
    let id = env
        .create_contact(
            json!({"firstName": "Dup", "email": "dup@example.com", "phone": "+15550104444"}),
        )
        .await;
    let by_email = env
        .ok(
            "contacts.get-duplicate-contact",
            &[("email", "Dup@Example.com")],
            None,
        )
        .await;
    assert_eq!(by_email["contact"]["id"], id.as_str(), "{by_email}");
    // A `+` in the number must reach the server URL-encoded.
    let by_number = env
        .ok(
            "contacts.get-duplicate-contact",
            &[("number", "+15550104444")],
            None,
        )
        .await;
    assert_eq!(by_number["contact"]["id"], id.as_str(), "{by_number}");
    let plus = env
        .create_contact(json!({"firstName": "Plus", "email": "plus+tag@example.com"}))
        .await;
    let by_plus = env
        .ok(
            "contacts.get-duplicate-contact",
            &[("email", "plus+tag@example.com")],
            None,
        )
        .await;
    assert_eq!(by_plus["contact"]["id"], plus.as_str(), "{by_plus}");
    let none = env
        .ok(
            "contacts.get-duplicate-contact",
            &[("email", "unique@example.com")],
            None,
        )
        .await;
    assert!(none["contact"].is_null(), "{none}");
    assert_eq!(
        env.state().contact_ids(),
        vec![id, plus],
        "reads change nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_appointments_for_contact_lists_events() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "NoMeetings", "email": "nm@example.com"}))
        .await;
    let out = env
        .ok(
            "contacts.get-appointments-for-contact",
            &[("contactId", &id)],
            None,
        )
        .await;
    assert_eq!(out["events"], json!([]), "{out}");
    let missing = env
        .ghl(
            "contacts.get-appointments-for-contact",
            &[("contactId", UNKNOWN_ID)],
            None,
        )
        .await;
    assert_api_error(&missing, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_contacts_deprecated_list_pages_with_start_after() {
    let env = Env::start_with(roomy_config()).await;
    let ids = env.seed(45, "list.example").await;

    let first = env
        .ok("contacts.get-contacts", &[("limit", "10")], None)
        .await;
    let page = ids_of(first["contacts"].as_array().expect("contacts"));
    assert_eq!(page, ids[..10].to_vec(), "oldest first");
    assert_eq!(first["meta"]["total"], 45);
    assert_eq!(first["meta"]["startAfterId"], ids[9].as_str());
    assert!(first["meta"]["nextPageUrl"].is_string(), "{first}");

    let before = served(&env, "contacts.get-contacts");
    let out = env
        .ghl_with(
            "contacts.get-contacts",
            &[("limit", "10")],
            None,
            &["--all"],
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let got = ids_of(&out.json_lines());
    assert_eq!(got, ids, "every contact once, in order");
    assert_eq!(
        served(&env, "contacts.get-contacts") - before,
        5,
        "10+10+10+10+5"
    );

    // Without a limit the server default (20) applies and --all still walks everything.
    let out = env
        .ghl_with("contacts.get-contacts", &[], None, &["--all"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(ids_of(&out.json_lines()), ids);
}

// ----- tags -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_tags_patches_the_tag_set() {
    let env = Env::start().await;
    let id = env
        .create_contact(
            json!({"firstName": "Tagged", "email": "tagged@example.com", "tags": ["a"]}),
        )
        .await;
    let out = env
        .ok(
            "contacts.add-tags",
            &[("contactId", &id)],
            Some(&json!({"tags": ["b", "c", "a"]})),
        )
        .await;
    assert_eq!(tags_of(&env.contact(&id)), vec!["a", "b", "c"]);
    assert_eq!(strings(&out["tags"]), vec!["a", "b", "c"], "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_tags_patches_the_tag_set() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Tagged", "email": "tagged@example.com",
            "tags": ["a", "b", "c"]}))
        .await;
    let out = env
        .ok(
            "contacts.remove-tags",
            &[("contactId", &id)],
            Some(&json!({"tags": ["b", "zzz"]})),
        )
        .await;
    assert_eq!(tags_of(&env.contact(&id)), vec!["a", "c"]);
    assert_eq!(strings(&out["tags"]), vec!["a", "c"], "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_update_tags_on_several_contacts() {
    let env = Env::start().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            env.create_contact(json!({"firstName": format!("Bulk{i}"),
                "email": format!("bulk{i}@example.com"), "tags": [format!("own{i}")]}))
                .await,
        );
    }
    let out = env
        .ok(
            "contacts.bulk-update-tags",
            &[("type", "add")],
            Some(&json!({"contacts": ids, "tags": ["vip", "q3"]})),
        )
        .await;
    assert_eq!(out["succeded"], true, "{out}");
    assert_eq!(out["errorCount"], 0);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            tags_of(&env.contact(id)),
            vec![format!("own{i}"), "vip".into(), "q3".into()]
        );
    }

    // Remove from two of them, plus one unknown id reported as an error.
    let out = env
        .ok(
            "contacts.bulk-update-tags",
            &[("type", "remove")],
            Some(&json!({"contacts": [ids[0], ids[1], UNKNOWN_ID], "tags": ["vip"]})),
        )
        .await;
    assert_eq!(out["errorCount"], 1, "{out}");
    assert_eq!(out["succeded"], false);
    assert_eq!(tags_of(&env.contact(&ids[0])), vec!["own0", "q3"]);
    assert_eq!(tags_of(&env.contact(&ids[1])), vec!["own1", "q3"]);
    assert_eq!(tags_of(&env.contact(&ids[2])), vec!["own2", "vip", "q3"]);

    // removeAllTags clears the set.
    env.ok(
        "contacts.bulk-update-tags",
        &[("type", "remove")],
        Some(&json!({"contacts": [ids[2]], "tags": [], "removeAllTags": true})),
    )
    .await;
    assert!(tags_of(&env.contact(&ids[2])).is_empty());
    assert_eq!(tags_of(&env.contact(&ids[0])), vec!["own0", "q3"]);
}

// ----- tasks -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_task_stores_it_on_the_contact() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Busy", "email": "busy@example.com"}))
        .await;
    let body = json!({"title": "Call back", "body": "About pricing",
        "dueDate": "2030-02-01T09:30:00Z", "completed": false});
    let out = env
        .ok("contacts.create-task", &[("contactId", &id)], Some(&body))
        .await;
    let tasks = env.state().tasks_of(&id);
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(task["id"], out["task"]["id"]);
    assert_eq!(task["title"], "Call back");
    assert_eq!(task["body"], "About pricing");
    assert_eq!(task["completed"], false);
    assert_eq!(task["contactId"], id.as_str());
    assert!(task["dueDate"]
        .as_str()
        .unwrap_or_default()
        .starts_with("2030-02-01T09:30:00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_all_tasks_lists_the_contact_tasks() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Busy", "email": "busy@example.com"}))
        .await;
    let other = env
        .create_contact(json!({"firstName": "Idle", "email": "idle@example.com"}))
        .await;
    let t1 = new_task(&env, &id, "First").await;
    let t2 = new_task(&env, &id, "Second").await;
    new_task(&env, &other, "Not mine").await;
    let out = env
        .ok("contacts.get-all-tasks", &[("contactId", &id)], None)
        .await;
    let listed = out["tasks"].as_array().expect("tasks").clone();
    assert_eq!(ids_of(&listed), vec![t1, t2]);
    assert_eq!(listed, env.state().tasks_of(&id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_task_returns_one_task() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Busy", "email": "busy@example.com"}))
        .await;
    let task = new_task(&env, &id, "Lookup").await;
    let out = env
        .ok(
            "contacts.get-task",
            &[("contactId", &id), ("taskId", &task)],
            None,
        )
        .await;
    assert_eq!(out["task"], env.state().tasks_of(&id)[0]);
    assert_eq!(out["task"]["title"], "Lookup");
    let missing = env
        .ghl(
            "contacts.get-task",
            &[("contactId", &id), ("taskId", UNKNOWN_ID)],
            None,
        )
        .await;
    assert_api_error(&missing, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_task_changes_only_what_is_sent() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Busy", "email": "busy@example.com"}))
        .await;
    let task = new_task(&env, &id, "Draft").await;
    let out = env
        .ok(
            "contacts.update-task",
            &[("contactId", &id), ("taskId", &task)],
            Some(&json!({"title": "Final", "dueDate": "2031-03-04T05:06:07Z"})),
        )
        .await;
    let stored = env.state().tasks_of(&id)[0].clone();
    assert_eq!(stored["title"], "Final");
    assert_eq!(stored["body"], "Draft body", "body kept");
    assert_eq!(stored["completed"], false, "completed kept");
    assert!(stored["dueDate"]
        .as_str()
        .unwrap_or_default()
        .starts_with("2031-03-04T05:06:07"));
    assert_eq!(out["task"], stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_task_completed_toggles_completion() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Busy", "email": "busy@example.com"}))
        .await;
    let task = new_task(&env, &id, "Finish me").await;
    let params = [("contactId", id.as_str()), ("taskId", task.as_str())];
    let out = env
        .ok(
            "contacts.update-task-completed",
            &params,
            Some(&json!({"completed": true})),
        )
        .await;
    assert_eq!(out["task"]["completed"], true);
    assert_eq!(env.state().tasks_of(&id)[0]["completed"], true);
    assert_eq!(env.state().tasks_of(&id)[0]["title"], "Finish me");
    env.ok(
        "contacts.update-task-completed",
        &params,
        Some(&json!({"completed": false})),
    )
    .await;
    assert_eq!(env.state().tasks_of(&id)[0]["completed"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_task_removes_only_that_task() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Busy", "email": "busy@example.com"}))
        .await;
    let doomed = new_task(&env, &id, "Doomed").await;
    let kept = new_task(&env, &id, "Kept").await;
    let out = env
        .ok(
            "contacts.delete-task",
            &[("contactId", &id), ("taskId", &doomed)],
            None,
        )
        .await;
    assert_eq!(out, json!({"succeded": true}));
    assert_eq!(ids_of(&env.state().tasks_of(&id)), vec![kept]);
    let again = env
        .ghl(
            "contacts.get-task",
            &[("contactId", &id), ("taskId", &doomed)],
            None,
        )
        .await;
    assert_api_error(&again, 400);
}

// ----- notes -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_note_stores_it_on_the_contact() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Noted", "email": "noted@example.com"}))
        .await;
    let body = json!({"body": "Met at the fair", "title": "Fair", "pinned": true});
    let out = env
        .ok("contacts.create-note", &[("contactId", &id)], Some(&body))
        .await;
    let notes = env.state().notes_of(&id);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["id"], out["note"]["id"]);
    assert_eq!(notes[0]["body"], "Met at the fair");
    assert_eq!(notes[0]["title"], "Fair");
    assert_eq!(notes[0]["pinned"], true);
    assert_eq!(notes[0]["contactId"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_all_notes_lists_the_contact_notes() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Noted", "email": "noted@example.com"}))
        .await;
    let other = env
        .create_contact(json!({"firstName": "Other", "email": "other@example.com"}))
        .await;
    let n1 = new_note(&env, &id, "one").await;
    let n2 = new_note(&env, &id, "two").await;
    new_note(&env, &other, "not mine").await;
    let out = env
        .ok("contacts.get-all-notes", &[("contactId", &id)], None)
        .await;
    let listed: BTreeSet<String> = ids_of(out["notes"].as_array().expect("notes"))
        .into_iter()
        .collect();
    assert_eq!(listed, BTreeSet::from([n1, n2]));
    let stored: BTreeSet<String> = ids_of(&env.state().notes_of(&id)).into_iter().collect();
    assert_eq!(listed, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_note_returns_one_note() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Noted", "email": "noted@example.com"}))
        .await;
    let note = new_note(&env, &id, "lookup").await;
    let out = env
        .ok(
            "contacts.get-note",
            &[("contactId", &id), ("id", &note)],
            None,
        )
        .await;
    assert_eq!(out["note"], env.state().notes_of(&id)[0]);
    assert_eq!(out["note"]["body"], "lookup");
    let missing = env
        .ghl(
            "contacts.get-note",
            &[("contactId", &id), ("id", UNKNOWN_ID)],
            None,
        )
        .await;
    assert_api_error(&missing, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_note_changes_only_what_is_sent() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Noted", "email": "noted@example.com"}))
        .await;
    let note = new_note(&env, &id, "draft").await;
    let out = env
        .ok(
            "contacts.update-note",
            &[("contactId", &id), ("id", &note)],
            Some(&json!({"body": "final"})),
        )
        .await;
    let stored = env.state().notes_of(&id)[0].clone();
    assert_eq!(stored["body"], "final");
    assert_eq!(stored["title"], "title of draft", "title kept");
    assert_eq!(out["note"], stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_note_removes_only_that_note() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Noted", "email": "noted@example.com"}))
        .await;
    let doomed = new_note(&env, &id, "doomed").await;
    let kept = new_note(&env, &id, "kept").await;
    let out = env
        .ok(
            "contacts.delete-note",
            &[("contactId", &id), ("id", &doomed)],
            None,
        )
        .await;
    assert_eq!(out, json!({"succeded": true}));
    assert_eq!(ids_of(&env.state().notes_of(&id)), vec![kept]);
    let again = env
        .ghl(
            "contacts.get-note",
            &[("contactId", &id), ("id", &doomed)],
            None,
        )
        .await;
    assert_api_error(&again, 400);
}

// ----- campaigns -----

const CAMPAIGN_A: &str = "campAAAAAAAAAAAAAAAA";
const CAMPAIGN_B: &str = "campBBBBBBBBBBBBBBBB";

async fn enrolled(env: &Env, campaigns: &[&str]) -> String {
    let id = env
        .create_contact(json!({"firstName": "Camper", "email": format!("camper{}@example.com", campaigns.len())}))
        .await;
    for c in campaigns {
        let out = env
            .ok(
                "contacts.add-contact-to-campaign",
                &[("contactId", &id), ("campaignId", c)],
                None,
            )
            .await;
        assert_eq!(out["succeded"], true, "{out}");
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_contact_to_campaign_records_membership() {
    let env = Env::start().await;
    let id = enrolled(&env, &[CAMPAIGN_A]).await;
    assert_eq!(env.state().campaigns_of(&id), vec![CAMPAIGN_A]);
    // With an explicit empty body too.
    env.ok(
        "contacts.add-contact-to-campaign",
        &[("contactId", &id), ("campaignId", CAMPAIGN_B)],
        Some(&json!({})),
    )
    .await;
    let mut got = env.state().campaigns_of(&id);
    got.sort();
    assert_eq!(got, vec![CAMPAIGN_A, CAMPAIGN_B]);
    let missing = env
        .ghl(
            "contacts.add-contact-to-campaign",
            &[("contactId", UNKNOWN_ID), ("campaignId", CAMPAIGN_A)],
            None,
        )
        .await;
    assert_api_error(&missing, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_contact_from_campaign_keeps_the_others() {
    let env = Env::start().await;
    let id = enrolled(&env, &[CAMPAIGN_A, CAMPAIGN_B]).await;
    let out = env
        .ok(
            "contacts.remove-contact-from-campaign",
            &[("contactId", &id), ("campaignId", CAMPAIGN_A)],
            None,
        )
        .await;
    assert_eq!(out["succeded"], true, "{out}");
    assert_eq!(env.state().campaigns_of(&id), vec![CAMPAIGN_B]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_contact_from_every_campaign_clears_membership() {
    let env = Env::start().await;
    let id = enrolled(&env, &[CAMPAIGN_A, CAMPAIGN_B]).await;
    let other = enrolled(&env, &[CAMPAIGN_A]).await;
    let out = env
        .ok(
            "contacts.remove-contact-from-every-campaign",
            &[("contactId", &id)],
            None,
        )
        .await;
    assert_eq!(out["succeded"], true, "{out}");
    assert!(env.state().campaigns_of(&id).is_empty());
    assert_eq!(
        env.state().campaigns_of(&other),
        vec![CAMPAIGN_A],
        "others untouched"
    );
}
