//! Custom fields end to end: a text, a numeric and a single-choice field paired by GHL
//! key ↔ Sellsy code flow both ways with their conversions (GHL number ↔ Sellsy numeric
//! string, GHL option label ↔ Sellsy choice id), updates follow on the next cycle, a
//! quiet cycle writes nothing; a pair naming a field an account does not have is
//! refused at start with a message naming it.

mod common;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::sellsy::Owner;
use hlbridge_engine::Engine;
use hlbridge_ghl::{ContactInput, CustomFieldInput};
use serde_json::{json, Value};

/// Text ↔ simple-text, numeric ↔ numeric, single options ↔ radio (created in GHL with
/// the labels of Sellsy's seeded `lead-source` choices).
const MAPPING: &str = r#"
[custom_fields."contact.account_number"]
sellsy = "customer-segment"
[custom_fields."contact.lead_score"]
sellsy = "score"
[custom_fields."contact.lead_source"]
sellsy = "lead-source"
"#;

/// Nothing pending, nothing given up on, no error.
fn assert_clean(r: &hlbridge_engine::CycleReport) {
    assert!(
        r.is_clean() && r.failed == 0 && r.errors.is_empty(),
        "{r:#?}"
    );
}

/// GHL field ids by key (`contact.lead_score`, ...).
fn ghl_field_id(env: &common::Env, key: &str) -> String {
    env.ghl
        .state()
        .custom_fields()
        .iter()
        .find(|d| d["fieldKey"] == key)
        .and_then(|d| d["id"].as_str())
        .unwrap_or_else(|| panic!("GHL field {key}"))
        .to_string()
}

/// Sellsy field id and (for choice fields) `label → choice id`.
fn sellsy_field(env: &common::Env, code: &str) -> (i64, Vec<(String, i64)>) {
    let state = env.sellsy.state();
    let store = state.store();
    let (id, def) = store
        .custom_fields
        .rows
        .iter()
        .find(|(_, d)| d.get("code").and_then(Value::as_str) == Some(code))
        .unwrap_or_else(|| panic!("Sellsy field {code}"));
    let choices = def
        .get("parameters")
        .and_then(|p| p.get("items"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    (
                        i["label"].as_str().unwrap().to_string(),
                        i["id"].as_i64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (*id, choices)
}

/// A GHL contact's custom field value (as stored by the emulator), `Null` when unset.
fn ghl_value(env: &common::Env, contact: &str, field_id: &str) -> Value {
    let c = env.ghl.state().contact(contact).expect("GHL contact");
    c["customFields"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["id"] == field_id))
        .map(|v| v["value"].clone())
        .unwrap_or(Value::Null)
}

/// A Sellsy contact's custom field value (as stored by the emulator), `Null` when unset.
fn sellsy_value(env: &common::Env, contact: i64, field_id: i64) -> Value {
    env.sellsy
        .state()
        .store()
        .custom_field_values
        .get(&(Owner::Contact, contact, field_id))
        .cloned()
        .unwrap_or(Value::Null)
}

fn sellsy_id_by_email(env: &common::Env, email: &str) -> i64 {
    let found: Vec<i64> = env
        .sellsy_contacts()
        .iter()
        .filter(|c| c["email"].as_str() == Some(email))
        .filter_map(|c| c["id"].as_i64())
        .collect();
    assert_eq!(found.len(), 1, "one Sellsy contact {email}: {found:?}");
    found[0]
}

fn ghl_id_by_email(env: &common::Env, email: &str) -> String {
    let found: Vec<String> = env
        .ghl_contacts()
        .iter()
        .filter(|c| c["email"].as_str() == Some(email))
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(found.len(), 1, "one GHL contact {email}: {found:?}");
    found[0].clone()
}

/// Everything a write to Sellsy would change: contacts (their `updated`) and values.
fn sellsy_snapshot(env: &common::Env) -> (Vec<Value>, Vec<Value>) {
    let state = env.sellsy.state();
    let store = state.store();
    let contacts = store
        .contacts
        .rows
        .values()
        .map(|r| Value::Object(r.clone()))
        .collect();
    let values = store
        .custom_field_values
        .iter()
        .map(|((_, id, field), v)| json!([id, field, v]))
        .collect();
    (contacts, values)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_fields_flow_both_ways_with_conversions() {
    let env = common::start(3, 3, FaultConfig::default()).await;
    let gc = env.ghl_client();
    let sc = env.sellsy_client();

    // The GHL single-choice field with the labels of Sellsy's `lead-source` radio.
    gc.call(
        "locations.create-custom-field",
        hlbridge_ghl::CallInput::new()
            .param("locationId", &env.ghl_cfg.location_id)
            .body(json!({
                "name": "Lead source",
                "dataType": "SINGLE_OPTIONS",
                "textBoxListOptions": ["Web", "Referral", "Event"],
            })),
    )
    .await
    .expect("GHL custom field created");
    let g_text = ghl_field_id(&env, "contact.account_number");
    let g_num = ghl_field_id(&env, "contact.lead_score");
    let g_choice = ghl_field_id(&env, "contact.lead_source");
    let (s_text, _) = sellsy_field(&env, "customer-segment");
    let (s_num, _) = sellsy_field(&env, "score");
    let (s_choice, choices) = sellsy_field(&env, "lead-source");
    let choice = |label: &str| {
        choices
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, id)| *id)
            .unwrap_or_else(|| panic!("choice {label}"))
    };

    // A GHL contact with the three values.
    let ghl_contact = gc
        .contacts()
        .create(&ContactInput {
            first_name: Some("Gina".into()),
            last_name: Some("Custom".into()),
            email: Some("gina.custom@example.com".into()),
            custom_fields: Some(vec![
                CustomFieldInput::by_key("account_number", "ACME-0042"),
                CustomFieldInput::by_key("lead_score", 87),
                CustomFieldInput::by_key("lead_source", "Referral"),
            ]),
            ..ContactInput::default()
        })
        .await
        .expect("GHL contact")
        .id;
    assert_eq!(ghl_value(&env, &ghl_contact, &g_num), json!(87));

    // A Sellsy contact with the three values (numeric string, choice id).
    let created = sc
        .call(
            "contacts.create-contact",
            hlbridge_sellsy::CallInput::new().body(json!({
                "first_name": "Sacha",
                "last_name": "Custom",
                "email": "sacha.custom@example.com",
            })),
        )
        .await
        .expect("Sellsy contact");
    let sellsy_contact = created["id"].as_i64().expect("Sellsy id");
    sc.call(
        "contacts.update-custom-fields",
        hlbridge_sellsy::CallInput::new()
            .param("contactId", sellsy_contact)
            .body(json!([
                {"id": s_text, "value": "Enterprise"},
                {"id": s_num, "value": "12.5"},
                {"id": s_choice, "value": choice("Event")},
            ])),
    )
    .await
    .expect("Sellsy custom values");

    let engine = env.engine(MAPPING).await;
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert_clean(&r);

    // GHL → Sellsy: text as is, number as a numeric string, label as the choice id.
    let s_of_g = sellsy_id_by_email(&env, "gina.custom@example.com");
    assert_eq!(env.partner(&engine, &ghl_contact), s_of_g.to_string());
    assert_eq!(sellsy_value(&env, s_of_g, s_text), json!("ACME-0042"));
    assert_eq!(sellsy_value(&env, s_of_g, s_num), json!("87"));
    assert_eq!(
        sellsy_value(&env, s_of_g, s_choice),
        json!(choice("Referral"))
    );
    // Sellsy → GHL: numeric string as a number, choice id as the option label.
    let g_of_s = ghl_id_by_email(&env, "sacha.custom@example.com");
    assert_eq!(env.partner(&engine, &g_of_s), sellsy_contact.to_string());
    assert_eq!(ghl_value(&env, &g_of_s, &g_text), json!("Enterprise"));
    assert_eq!(ghl_value(&env, &g_of_s, &g_num).as_f64(), Some(12.5));
    assert_eq!(ghl_value(&env, &g_of_s, &g_choice), json!("Event"));
    // The sources are untouched.
    assert_eq!(ghl_value(&env, &ghl_contact, &g_choice), json!("Referral"));
    assert_eq!(sellsy_value(&env, sellsy_contact, s_num), json!("12.5"));

    // Nothing left to do: a quiet cycle writes nothing on either side.
    let ghl_ops = env.ghl.state().stats().by_operation.clone();
    let sellsy_before = sellsy_snapshot(&env);
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert_clean(&r);
    assert_eq!(
        (
            r.ghl.created,
            r.ghl.updated,
            r.sellsy.created,
            r.sellsy.updated
        ),
        (0, 0, 0, 0),
        "{}",
        r.line()
    );
    for (op, n) in &env.ghl.state().stats().by_operation {
        let was = ghl_ops.get(op).copied().unwrap_or(0);
        if !op.contains("search") && !op.contains("get") {
            assert_eq!(*n, was, "{op} was called during a no-change cycle");
        }
    }
    assert!(
        sellsy_snapshot(&env) == sellsy_before,
        "Sellsy changed during a no-change cycle"
    );

    // Updates: GHL changes text and choice of its contact, Sellsy changes number and
    // choice of its one; the next cycle carries each to the other side.
    gc.contacts()
        .update(
            &ghl_contact,
            &ContactInput {
                custom_fields: Some(vec![
                    CustomFieldInput::by_key("account_number", "ACME-0043"),
                    CustomFieldInput::by_key("lead_source", "Web"),
                ]),
                ..ContactInput::default()
            },
        )
        .await
        .unwrap();
    sc.call(
        "contacts.update-custom-fields",
        hlbridge_sellsy::CallInput::new()
            .param("contactId", sellsy_contact)
            .body(json!([
                {"id": s_num, "value": "3.75"},
                {"id": s_choice, "value": choice("Web")},
            ])),
    )
    .await
    .unwrap();
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert_clean(&r);
    assert_eq!((r.ghl.created, r.sellsy.created), (0, 0), "{}", r.line());
    assert_eq!(sellsy_value(&env, s_of_g, s_text), json!("ACME-0043"));
    assert_eq!(sellsy_value(&env, s_of_g, s_choice), json!(choice("Web")));
    assert_eq!(sellsy_value(&env, s_of_g, s_num), json!("87"));
    assert_eq!(ghl_value(&env, &g_of_s, &g_num).as_f64(), Some(3.75));
    assert_eq!(ghl_value(&env, &g_of_s, &g_choice), json!("Web"));
    assert_eq!(ghl_value(&env, &g_of_s, &g_text), json!("Enterprise"));

    // And quiet again.
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert_eq!(
        (
            r.ghl.created,
            r.ghl.updated,
            r.sellsy.created,
            r.sellsy.updated
        ),
        (0, 0, 0, 0),
        "{}",
        r.line()
    );
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_field_missing_on_an_account_is_refused_at_start() {
    let env = common::start(1, 1, FaultConfig::default()).await;
    let refused = |toml: &'static str| {
        let cfg = env.config(toml);
        async move {
            match Engine::connect(cfg).await {
                Ok(_) => panic!("connected with {toml}"),
                Err(e) => e.to_string(),
            }
        }
    };
    // Unknown in GHL.
    let e = refused("[custom_fields.\"contact.shoe_size\"]\nsellsy = \"score\"\n").await;
    assert!(e.contains("contact.shoe_size"), "{e}");
    assert!(e.contains("GHL"), "{e}");
    // Unknown in Sellsy.
    let e = refused("[custom_fields.\"contact.lead_score\"]\nsellsy = \"shoe-size\"\n").await;
    assert!(e.contains("shoe-size"), "{e}");
    assert!(e.contains("Sellsy"), "{e}");
    // Exists in Sellsy, but not for contacts (`fleet-size` is for companies only).
    let e = refused("[custom_fields.\"contact.lead_score\"]\nsellsy = \"fleet-size\"\n").await;
    assert!(e.contains("fleet-size"), "{e}");
    // Incompatible types.
    let e = refused("[custom_fields.\"contact.lead_score\"]\nsellsy = \"lead-source\"\n").await;
    assert!(e.contains("incompatible types"), "{e}");
    // The same config with an existing pair connects.
    Engine::connect(env.config("[custom_fields.\"contact.lead_score\"]\nsellsy = \"score\"\n"))
        .await
        .expect("valid pair connects");
    env.cleanup();
}

/// GHL options and Sellsy choice labels that differ only in case still pair: the label
/// is written with the target's spelling, and an echo is not taken for a change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choice_labels_pair_whatever_their_case() {
    let env = common::start(0, 0, FaultConfig::default()).await;
    let gc = env.ghl_client();
    let sc = env.sellsy_client();
    gc.call(
        "locations.create-custom-field",
        hlbridge_ghl::CallInput::new()
            .param("locationId", &env.ghl_cfg.location_id)
            .body(json!({
                "name": "Source",
                "dataType": "SINGLE_OPTIONS",
                "textBoxListOptions": ["web", "referral", "event"],
            })),
    )
    .await
    .expect("GHL custom field created");
    let g_choice = ghl_field_id(&env, "contact.source");
    let (s_choice, choices) = sellsy_field(&env, "lead-source");
    let choice = |label: &str| {
        choices
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, id)| *id)
            .unwrap_or_else(|| panic!("choice {label}"))
    };
    let ghl_contact = gc
        .contacts()
        .create(&ContactInput {
            first_name: Some("Gus".into()),
            last_name: Some("Case".into()),
            email: Some("gus.case@example.com".into()),
            custom_fields: Some(vec![CustomFieldInput::by_key("source", "referral")]),
            ..ContactInput::default()
        })
        .await
        .expect("GHL contact")
        .id;
    let created = sc
        .call(
            "contacts.create-contact",
            hlbridge_sellsy::CallInput::new().body(json!({
                "first_name": "Sue",
                "last_name": "Case",
                "email": "sue.case@example.com",
            })),
        )
        .await
        .expect("Sellsy contact");
    let sellsy_contact = created["id"].as_i64().expect("Sellsy id");
    sc.call(
        "contacts.update-custom-fields",
        hlbridge_sellsy::CallInput::new()
            .param("contactId", sellsy_contact)
            .body(json!([{"id": s_choice, "value": choice("Event")}])),
    )
    .await
    .expect("Sellsy custom value");

    let engine = env
        .engine("[custom_fields.\"contact.source\"]\nsellsy = \"lead-source\"\n")
        .await;
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert_clean(&r);
    assert_eq!((r.ghl.created, r.sellsy.created), (1, 1), "{}", r.line());
    let s_of_g = sellsy_id_by_email(&env, "gus.case@example.com");
    assert_eq!(
        sellsy_value(&env, s_of_g, s_choice),
        json!(choice("Referral"))
    );
    let g_of_s = ghl_id_by_email(&env, "sue.case@example.com");
    assert_eq!(ghl_value(&env, &g_of_s, &g_choice), json!("event"));

    // Another field of the GHL contact changes: only that change is written, once.
    gc.contacts()
        .update(
            &ghl_contact,
            &ContactInput {
                first_name: Some("Gustave".into()),
                ..ContactInput::default()
            },
        )
        .await
        .unwrap();
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    assert_clean(&r);
    assert_eq!((r.ghl.updated, r.sellsy.updated), (0, 1), "{}", r.line());
    assert_eq!(
        env.sellsy.state().store().contacts.get(s_of_g).unwrap()["first_name"],
        "Gustave"
    );
    for _ in 0..2 {
        let r = engine.run_once(false, &common::quiet()).await.unwrap();
        assert_eq!(
            (
                r.ghl.created,
                r.ghl.updated,
                r.sellsy.created,
                r.sellsy.updated
            ),
            (0, 0, 0, 0),
            "{}",
            r.line()
        );
    }
    assert_eq!(ghl_value(&env, &g_of_s, &g_choice), json!("event"));
    assert_eq!(ghl_value(&env, &ghl_contact, &g_choice), json!("referral"));
    env.cleanup();
}
