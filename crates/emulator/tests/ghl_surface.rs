//! The whole official v2 surface against the GHL emulator: every one of the table's
//! 576 operations is called with valid input generated from the table and its response
//! checked against the operation's response schema; then one invalid input per
//! operation must be refused with a 4xx. No operation may answer 5xx or 501.
//!
//! Valid input: required path, query and body values of the declared types (enums'
//! first value, `locationId` = the token's location, ids of records created earlier in
//! the walk where the resource is created through the API, random GHL-shaped ids
//! otherwise), the agency token for Agency-only operations. The walk creates first
//! (parents before children), then reads, updates and acts, and deletes last (children
//! first). The generator and the walk order live in `hlbridge-testkit`.
//!
//! Operations served by the generic layer must succeed with their documented status;
//! operations with a specific handler may refuse generated input that breaks a rule of
//! theirs (a 4xx, e.g. a calendar slot that is not free) but never fail.

#[path = "ghl_support.rs"]
mod support;

use hlbridge_core::optable::{Operation, Ty};
use hlbridge_core::schema_check::{check_value, Strictness};
use hlbridge_emulator::ghl::generic;
use hlbridge_emulator::ghl::generic::resources::{role, split_item, Role};
use hlbridge_emulator::ghl::routes::handler_for;
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_testkit::{find_id, random_id, walk_order, Walk};
use serde_json::{json, Value};
use support::{emulator, roomy};

const AGENCY_TOKEN: &str = "pit-agency-surface";
const TABLE: &hlbridge_core::optable::Table = &hlbridge_ghl::TABLE;

/// Operations whose documented response cannot be produced as the spec states it,
/// because of a spec defect (op id → why). Defects corrected in
/// `xtask/src/ghl_overrides.rs` reach the table and need no entry here.
const RESPONSE_DEFECTS: &[(&str, &str)] = &[(
    "locations.task-search",
    "LocationTaskListSuccessfulResponseDto types `tasks` as an array of arrays; the \
     emulator answers the task records (no override in xtask yet)",
)];

/// Specific handlers (other modules) whose answers do not match the table's response
/// type yet; reported to their owners, listed so the walk keeps guarding the rest. Only
/// the response check is waived: a 5xx or a 501 still fails.
const REPORTED_ELSEWHERE: &[(&str, &str)] = &[];

/// Operations that cannot be given an invalid input the API refuses (op id → why).
const NO_INVALID_INPUT: &[(&str, &str)] = &[];

async fn surface_emulator() -> GhlEmulator {
    emulator(GhlConfig {
        agency_token: Some(AGENCY_TOKEN.into()),
        ..roomy()
    })
    .await
}

fn is_generic(op: &Operation) -> bool {
    handler_for(op.id).is_none()
}

#[tokio::test]
async fn every_operation_answers_valid_input_with_its_documented_response() {
    let emu = surface_emulator().await;
    let mut walk = Walk::new(&emu);
    let mut failures: Vec<String> = Vec::new();
    let mut refused_by_specific: Vec<String> = Vec::new();
    let order = walk_order();
    assert_eq!(order.len(), 576);
    for op in order {
        let (path, query, body) = walk.request(op);
        let answer = walk.send(op, &path, &query, body.as_ref()).await;
        let status = answer.status;
        let call = format!(
            "{} ({} {path} {query:?} {})",
            op.id,
            op.method,
            body.as_ref().map(Value::to_string).unwrap_or_default()
        );
        if status >= 500 {
            failures.push(format!("{call} → {status} {}", answer.text));
            continue;
        }
        if !(200..300).contains(&status) {
            if is_generic(op) {
                failures.push(format!(
                    "{call} → {status}, want {}: {}",
                    op.success_status, answer.text
                ));
            } else {
                refused_by_specific.push(format!("{call} → {status} {}", answer.text));
            }
            continue;
        }
        if is_generic(op) && status != op.success_status {
            failures.push(format!("{call} → {status}, want {}", op.success_status));
        }
        walk.learn(&emu, op, &answer.body);
        if status == 204 {
            if !answer.text.is_empty() {
                failures.push(format!("{call} → 204 with a body: {}", answer.text));
            }
            continue;
        }
        let Some(ty) = op.response else { continue };
        let waived = RESPONSE_DEFECTS
            .iter()
            .chain(REPORTED_ELSEWHERE)
            .any(|(id, _)| *id == op.id);
        let bad = check_value(TABLE, &ty, &answer.body, Strictness::Open);
        match (bad.is_empty(), waived) {
            (true, true) => eprintln!("{}: conforms now, drop it from the waiver lists", op.id),
            (true, false) => {}
            (false, true) => eprintln!("waived: {call} → {bad:?}"),
            (false, false) => {
                let list: Vec<String> = bad.iter().take(5).map(ToString::to_string).collect();
                failures.push(format!(
                    "{call} → {status} violates its schema: {list:?} in {}",
                    answer.text
                ));
            }
        }
    }
    for line in &refused_by_specific {
        eprintln!("refused by a specific handler (allowed): {line}");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// An invalid request: path, query, body and what makes it invalid.
type Variant = (String, Vec<(String, String)>, Option<Value>, String);

/// One invalid variant of a valid request.
fn invalid_variant(walk: &Walk, op: &Operation) -> Variant {
    let (path, mut query, body) = walk.request(op);
    // 1. A required query parameter of a non-text type with a value that does not parse.
    if let Some(p) = op.query_params().find(|p| {
        p.required && matches!(p.ty, Ty::Integer | Ty::Number | Ty::Boolean | Ty::Enum(_))
    }) {
        for pair in query.iter_mut().filter(|(n, _)| n == p.name) {
            pair.1 = "not-a-valid-value".into();
        }
        return (
            path,
            query,
            body,
            format!("query {} of the wrong type", p.name),
        );
    }
    // 2. An unknown property in a body whose schema is closed.
    if let (Some(spec), Some(Value::Object(map))) = (op.body, &body) {
        let closed = match spec.ty {
            Ty::Object(Some(name)) => TABLE.schema(name).is_some_and(|s| !s.open),
            _ => false,
        };
        if closed {
            let mut map = map.clone();
            map.insert("surfaceUnknownProperty".into(), json!(1));
            return (
                path,
                query,
                Some(Value::Object(map)),
                "an unknown body property".into(),
            );
        }
    }
    // 3. A required query parameter left out.
    if let Some(p) = op.query_params().find(|p| p.required) {
        query.retain(|(n, _)| n != p.name);
        return (path, query, body, format!("query {} missing", p.name));
    }
    // 4. An unknown query parameter (NestJS's forbidNonWhitelisted).
    query.push(("surfaceUnknownParam".into(), "1".into()));
    (path, query, body, "an unknown query parameter".into())
}

#[tokio::test]
async fn every_operation_refuses_an_invalid_input_with_a_4xx() {
    let emu = surface_emulator().await;
    let walk = Walk::new(&emu);
    let mut failures = Vec::new();
    let mut checked = 0;
    for op in TABLE.distinct() {
        if NO_INVALID_INPUT.iter().any(|(id, _)| *id == op.id) {
            continue;
        }
        let (path, query, body, what) = invalid_variant(&walk, op);
        let answer = walk.send(op, &path, &query, body.as_ref()).await;
        checked += 1;
        if !(400..500).contains(&answer.status) {
            failures.push(format!(
                "{} {} {path} {query:?} with {what} → {} {}",
                op.id, op.method, answer.status, answer.text
            ));
        } else if answer.status == 422 && !answer.body["message"].is_array() {
            failures.push(format!(
                "{}: 422 without a message array: {}",
                op.id, answer.text
            ));
        }
    }
    assert_eq!(checked + NO_INVALID_INPUT.len(), 576);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn generic_resources_keep_state_through_create_read_update_list_delete() {
    let emu = surface_emulator().await;
    let api = support::Api::new(&emu);
    let loc = api.location.clone();
    // Products: POST /products/ creates, GET/PUT/DELETE /products/{productId}.
    let (status, created) = api
        .post(
            "/products/",
            json!({"name": "Widget", "locationId": loc, "productType": "DIGITAL"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["_id"].as_str().expect("_id").to_string();
    assert_eq!(id.len(), 20);
    assert_eq!(created["name"], "Widget");
    assert_eq!(generic::ids(&emu.state(), "/products"), vec![id.clone()]);

    let (status, got) = api.get(&format!("/products/{id}?locationId={loc}")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["_id"], id.as_str());
    assert_eq!(got["name"], "Widget");

    let (status, updated) = api
        .put(
            &format!("/products/{id}"),
            json!({"name": "Gadget", "locationId": loc, "productType": "DIGITAL"}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let (_, got) = api.get(&format!("/products/{id}?locationId={loc}")).await;
    assert_eq!(got["name"], "Gadget");

    let (status, second) = api
        .post(
            "/products/",
            json!({"name": "Other", "locationId": loc, "productType": "DIGITAL"}),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let (status, list) = api.get(&format!("/products/?locationId={loc}")).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Gadget", "Other"], "{list}");
    // Paging: limit 1, offset 1 → the second record only.
    let (_, page) = api
        .get(&format!("/products/?locationId={loc}&limit=1&offset=1"))
        .await;
    let names: Vec<&str> = page["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Other"], "{page}");

    let (status, deleted) = api
        .delete(&format!("/products/{id}?locationId={loc}"), None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    let (status, gone) = api.get(&format!("/products/{id}?locationId={loc}")).await;
    assert_eq!(status, 400, "{gone}");
    assert_eq!(gone["statusCode"], 400);
    let (status, _) = api
        .delete(&format!("/products/{id}?locationId={loc}"), None)
        .await;
    assert_eq!(status, 400, "a second delete is refused");
    assert_eq!(generic::ids(&emu.state(), "/products").len(), 1);

    // An id never created is refused, never invented.
    let (status, body) = api
        .get(&format!("/products/{}?locationId={loc}", random_id()))
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn nested_collections_belong_to_their_parent_and_a_foreign_path_location_is_403() {
    let emu = surface_emulator().await;
    let api = support::Api::new(&emu);
    // Custom values live under /locations/{locationId}/customValues.
    let loc = api.location.clone();
    let (status, created) = api
        .post(
            &format!("/locations/{loc}/customValues"),
            json!({"name": "Greeting", "value": "hello"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = find_id(&created, "id", 0).expect("id");
    let (status, got) = api
        .get(&format!("/locations/{loc}/customValues/{id}"))
        .await;
    assert_eq!(status, 200, "{got}");
    assert!(got.to_string().contains("Greeting"), "{got}");
    let (status, body) = api
        .get(&format!("/locations/{}/customValues/{id}", random_id()))
        .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn singletons_keep_the_last_write_and_actions_answer_their_schema() {
    let emu = surface_emulator().await;
    let api = support::Api::new(&emu);
    let loc = api.location.clone();
    let origin = json!({"name": "Depot", "country": "US", "city": "Austin", "street1": "1 Main St", "zip": "73301"});
    let (status, saved) = api
        .post(
            "/store/store-setting",
            json!({"altId": loc, "altType": "location", "shippingOrigin": origin}),
        )
        .await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!(saved["status"], true);
    let (status, got) = api
        .get(&format!(
            "/store/store-setting?altId={loc}&altType=location"
        ))
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["data"]["shippingOrigin"]["city"], "Austin", "{got}");
    // A verb: the invoice send action answers its documented shape.
    let op = TABLE
        .distinct()
        .find(|o| o.path == "/invoices/{invoiceId}/send")
        .expect("send invoice");
    assert_eq!(role(op), Role::Action);
}

#[tokio::test]
async fn multipart_uploads_are_decoded_and_validated_like_forms() {
    let emu = surface_emulator().await;
    let api = support::Api::new(&emu);
    let send = |hosted: &'static str| {
        let body = format!(
            "--b0undary\r\nContent-Disposition: form-data; name=\"hosted\"\r\n\r\n{hosted}\r\n\
             --b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"logo.png\"\r\n\
             Content-Type: image/png\r\n\r\n\u{1}PNG\r\n--b0undary--\r\n"
        );
        api.client
            .post(format!("{}/medias/upload-file", api.base))
            .bearer_auth(&api.token)
            .header("Version", support::VERSION)
            .header("content-type", "multipart/form-data; boundary=b0undary")
            .body(body)
            .send()
    };
    let resp = send("false").await.expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    assert!(
        body["fileId"].is_string() && body["url"].is_string(),
        "{body}"
    );
    // A part of the wrong type is a 422, as for a form.
    let resp = send("maybe").await.expect("sent");
    assert_eq!(resp.status().as_u16(), 422);
}

#[test]
fn collections_are_derived_from_templates() {
    assert_eq!(
        split_item("/invoices/{invoiceId}/items/{itemId}"),
        Some(("/invoices/{invoiceId}/items", "itemId"))
    );
    let generic_ops = TABLE.distinct().filter(|op| is_generic(op)).count();
    assert!(generic_ops > 0);
}
