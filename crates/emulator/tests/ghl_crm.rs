//! Opportunities, pipelines, users, businesses, workflows, campaigns and snapshots, and
//! the contact-side workflow/follower/business actions. Every success body is checked
//! against the operation's response schema in the table.

#[path = "ghl_support.rs"]
mod support;

use hlbridge_core::optable::{Method, Ty};
use hlbridge_emulator::ghl::GhlConfig;
use serde_json::{json, Value};
use support::{emulator, roomy, Api};

const AGENCY: &str = "pit-agency-crm";

fn config() -> GhlConfig {
    GhlConfig {
        agency_token: Some(AGENCY.into()),
        ..roomy()
    }
}

/// Mismatches between `v` and `ty` (required fields, nullability, types, enums, and
/// properties the schema does not declare).
fn mismatches(ty: &Ty, v: &Value, at: &str, out: &mut Vec<String>) {
    let table = &hlbridge_ghl::TABLE;
    let bad =
        |out: &mut Vec<String>| out.push(format!("{at}: expected {}, got {v}", ty.describe()));
    match ty {
        Ty::Any | Ty::Object(None) => {}
        Ty::String if !v.is_string() => bad(out),
        Ty::Integer if !(v.is_i64() || v.is_u64()) => bad(out),
        Ty::Number if !v.is_number() => bad(out),
        Ty::Boolean if !v.is_boolean() => bad(out),
        Ty::Enum(values) if !v.as_str().is_some_and(|s| values.contains(&s)) => bad(out),
        Ty::Array(inner) => match v.as_array() {
            None => bad(out),
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    mismatches(inner, item, &format!("{at}[{i}]"), out);
                }
            }
        },
        Ty::Object(Some(name)) => {
            let (Some(obj), Some(schema)) = (v.as_object(), table.schema(name)) else {
                if !v.is_object() {
                    bad(out);
                }
                return;
            };
            for f in schema.fields {
                match obj.get(f.name) {
                    None if f.required => out.push(format!("{at}.{}: missing", f.name)),
                    None => {}
                    Some(Value::Null) if !f.nullable => out.push(format!("{at}.{}: null", f.name)),
                    Some(Value::Null) => {}
                    Some(x) => mismatches(&f.ty, x, &format!("{at}.{}", f.name), out),
                }
            }
            if !schema.open {
                for k in obj.keys() {
                    if k != "traceId" && !schema.fields.iter().any(|f| f.name == k) {
                        out.push(format!("{at}.{k}: not in {name}"));
                    }
                }
            }
        }
        _ => {}
    }
}

/// Assert a success answer of `op_id`: documented status and a body matching the
/// response schema.
fn assert_ok(op_id: &str, status: u16, body: &Value) {
    let op = hlbridge_ghl::TABLE.get(op_id).expect("operation");
    assert_eq!(status, op.success_status, "{op_id}: {body}");
    if let Some(ty) = &op.response {
        let mut out = Vec::new();
        mismatches(ty, body, "$", &mut out);
        assert!(out.is_empty(), "{op_id}: {out:?}\n{body}");
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn pipelines(api: &Api) -> Vec<Value> {
    let (status, body) = api
        .get(&format!(
            "/opportunities/pipelines?locationId={}",
            api.location
        ))
        .await;
    assert_ok("opportunities.get-pipelines", status, &body);
    body["pipelines"].as_array().expect("pipelines").clone()
}

async fn new_opportunity(api: &Api, body: Value) -> (u16, Value) {
    let mut body = body;
    body["locationId"] = json!(api.location);
    api.post("/opportunities/", body).await
}

#[tokio::test]
async fn pipelines_are_listed_with_their_stages() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    let list = pipelines(&api).await;
    assert!(list.len() >= 2, "{list:?}");
    for p in &list {
        assert_eq!(p["locationId"], api.location.as_str());
        let stages = p["stages"].as_array().unwrap();
        assert!(!stages.is_empty());
        for (i, s) in stages.iter().enumerate() {
            assert_eq!(s["position"], i);
            assert!(s["id"].is_string() && s["name"].is_string());
        }
    }
    // Same seed, same ids on every read.
    assert_eq!(pipelines(&api).await, list);
    let (status, _) = api
        .get("/opportunities/pipelines?locationId=otherLocation0000000")
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn opportunity_lifecycle_create_get_update_status_delete() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    let contact = api
        .create_contact(json!({"firstName": "Olga", "email": "olga@example.com"}))
        .await;
    let list = pipelines(&api).await;
    let sales = &list[0];
    let pipeline = id_of(sales);
    let first_stage = id_of(&sales["stages"][0]);
    let third_stage = id_of(&sales["stages"][2]);

    let (status, body) = new_opportunity(
        &api,
        json!({"pipelineId": pipeline, "name": "Olga deal", "status": "open",
               "contactId": contact, "monetaryValue": 1500.5, "assignedTo": "userA"}),
    )
    .await;
    assert_ok("opportunities.create-opportunity", status, &body);
    let opp = &body["opportunity"];
    let id = id_of(opp);
    assert_eq!(
        opp["pipelineStageId"],
        first_stage.as_str(),
        "first stage by default"
    );
    assert_eq!(opp["monetaryValue"], json!(1500.5));
    assert_eq!(opp["contact"]["email"], "olga@example.com");
    assert_eq!(opp["locationId"], api.location.as_str());

    let (status, body) = api.get(&format!("/opportunities/{id}")).await;
    assert_ok("opportunities.get-opportunity", status, &body);
    assert_eq!(body["opportunity"]["name"], "Olga deal");
    assert_eq!(body["opportunity"]["monetaryValue"], json!(1500.5));
    assert_eq!(body["opportunity"]["status"], "open");

    let (status, body) = api
        .put(
            &format!("/opportunities/{id}"),
            json!({"name": "Olga big deal", "pipelineStageId": third_stage, "monetaryValue": 2000}),
        )
        .await;
    assert_ok("opportunities.update-opportunity", status, &body);
    let (_, body) = api.get(&format!("/opportunities/{id}")).await;
    let o = &body["opportunity"];
    assert_eq!(o["name"], "Olga big deal");
    assert_eq!(o["pipelineStageId"], third_stage.as_str());
    assert_eq!(o["monetaryValue"], json!(2000));
    assert_eq!(o["assignedTo"], "userA", "untouched fields are kept");

    let (status, body) = api
        .put(
            &format!("/opportunities/{id}/status"),
            json!({"status": "lost", "lostReasonId": "reason1"}),
        )
        .await;
    assert_ok("opportunities.update-opportunity-status", status, &body);
    assert_eq!(body, json!({"succeded": true}));
    let (_, body) = api.get(&format!("/opportunities/{id}")).await;
    assert_eq!(body["opportunity"]["status"], "lost");
    assert_eq!(body["opportunity"]["lostReasonId"], "reason1");
    for s in ["won", "abandoned", "open"] {
        let (status, _) = api
            .put(&format!("/opportunities/{id}/status"), json!({"status": s}))
            .await;
        assert_eq!(status, 200);
        let (_, body) = api.get(&format!("/opportunities/{id}")).await;
        assert_eq!(body["opportunity"]["status"], s);
    }
    let (status, _) = api
        .put(
            &format!("/opportunities/{id}/status"),
            json!({"status": "all"}),
        )
        .await;
    assert_eq!(status, 422, "`all` is a filter, not a status");
    let (status, _) = api
        .put(
            &format!("/opportunities/{id}/status"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(status, 422);

    let (status, body) = api.delete(&format!("/opportunities/{id}"), None).await;
    assert_ok("opportunities.delete-opportunity", status, &body);
    assert_eq!(body, json!({"succeded": true}));
    let (status, body) = api.get(&format!("/opportunities/{id}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Opportunity not found");
    let (status, _) = api.delete(&format!("/opportunities/{id}"), None).await;
    assert_eq!(status, 400);

    let kinds: Vec<String> = emu
        .state()
        .webhook_records()
        .iter()
        .map(|r| r.event_type.clone())
        .filter(|k| k.starts_with("Opportunity"))
        .collect();
    for k in [
        "OpportunityCreate",
        "OpportunityUpdate",
        "OpportunityStageUpdate",
        "OpportunityMonetaryValueUpdate",
        "OpportunityStatusUpdate",
        "OpportunityDelete",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

#[tokio::test]
async fn opportunity_writes_validate_pipeline_stage_contact_and_duplicates() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    let contact = api.create_contact(json!({"firstName": "Val"})).await;
    let list = pipelines(&api).await;
    let (sales, onboarding) = (id_of(&list[0]), id_of(&list[1]));
    let onboarding_stage = id_of(&list[1]["stages"][0]);
    let base = json!({"pipelineId": sales, "name": "V", "status": "open", "contactId": contact});

    let mut b = base.clone();
    b["pipelineId"] = json!("unknownPipeline00000");
    let (status, body) = new_opportunity(&api, b).await;
    assert_eq!(
        (status, body["message"].clone()),
        (400, json!("Pipeline not found"))
    );
    let mut b = base.clone();
    b["pipelineStageId"] = json!(onboarding_stage);
    let (status, _) = new_opportunity(&api, b).await;
    assert_eq!(status, 400, "a stage of another pipeline is refused");
    let mut b = base.clone();
    b["contactId"] = json!("missingContact000000");
    let (status, body) = new_opportunity(&api, b).await;
    assert_eq!(
        (status, body["message"].clone()),
        (400, json!("Contact not found"))
    );
    let mut b = base.clone();
    b["status"] = json!("all");
    let (status, _) = new_opportunity(&api, b).await;
    assert_eq!(status, 422);
    let (status, body) = new_opportunity(&api, json!({"name": "no pipeline"})).await;
    assert_eq!(status, 422, "{body}");
    let mut b = base.clone();
    b["monetaryValue"] = json!("lots");
    let (status, _) = new_opportunity(&api, b).await;
    assert_eq!(status, 422);

    let (status, body) = new_opportunity(&api, base.clone()).await;
    assert_eq!(status, 201, "{body}");
    let id = id_of(&body["opportunity"]);
    let (status, body) = new_opportunity(&api, base.clone()).await;
    assert_eq!(
        status, 400,
        "one opportunity per contact and pipeline: {body}"
    );
    let search = format!(
        "/opportunities/search?location_id={}&contact_id={contact}",
        api.location
    );
    let (_, body) = api.get(&search).await;
    assert_eq!(body["meta"]["total"], 1);

    // Updates are validated the same way and leave the record untouched when refused.
    let (status, _) = api
        .put(
            &format!("/opportunities/{id}"),
            json!({"pipelineStageId": onboarding_stage}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .put(
            &format!("/opportunities/{id}"),
            json!({"pipelineId": "nopeNopeNope00000000"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = api
        .put(
            &format!("/opportunities/{id}"),
            json!({"pipelineId": onboarding}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["opportunity"]["pipelineStageId"],
        onboarding_stage.as_str()
    );
    let (status, _) = api
        .put("/opportunities/missingOpportunity00", json!({"name": "x"}))
        .await;
    assert_eq!(status, 400);

    // Allowing duplicates lifts the one-per-pipeline rule.
    emu.state().set_allow_duplicate_opportunities(true);
    let mut b = base.clone();
    b["pipelineId"] = json!(onboarding);
    let (status, _) = new_opportunity(&api, b).await;
    assert_eq!(status, 201);

    // An opportunity goes away with its contact.
    let (status, _) = api.delete(&format!("/contacts/{contact}"), None).await;
    assert_eq!(status, 200);
    let (status, _) = api.get(&format!("/opportunities/{id}")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn search_opportunities_filters_orders_and_pages() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    let ada = api
        .create_contact(json!({"firstName": "Ada", "email": "ada@example.com", "country": "FR"}))
        .await;
    let bob = api
        .create_contact(json!({"firstName": "Bob", "email": "bob@example.com"}))
        .await;
    let list = pipelines(&api).await;
    let (sales, onboarding) = (id_of(&list[0]), id_of(&list[1]));
    let mut ids = Vec::new();
    for (contact, pipeline, name, status) in [
        (&ada, &sales, "Ada sale", "open"),
        (&ada, &onboarding, "Ada onboarding", "won"),
        (&bob, &sales, "Bob sale", "open"),
        (&bob, &onboarding, "Bob onboarding", "lost"),
        (&bob, &sales, "Bob upsell", "abandoned"),
    ] {
        emu.state()
            .set_allow_duplicate_opportunities(name == "Bob upsell");
        let (status_code, body) = new_opportunity(
            &api,
            json!({"pipelineId": pipeline, "name": name, "status": status,
                   "contactId": contact, "assignedTo": if contact == &ada { "userAda" } else { "userBob" }}),
        )
        .await;
        assert_eq!(status_code, 201, "{body}");
        ids.push(id_of(&body["opportunity"]));
    }
    let loc = api.location.clone();
    let search = |q: &str| format!("/opportunities/search?location_id={loc}{q}");
    let names = |body: &Value| -> Vec<String> {
        body["opportunities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_string())
            .collect()
    };

    let (status, body) = api.get(&search("")).await;
    assert_ok("opportunities.search-opportunity", status, &body);
    assert_eq!(body["meta"]["total"], 5);
    assert_eq!(names(&body)[0], "Bob upsell", "newest first by default");
    assert!(body["aggregations"].is_object());
    let (_, body) = api.get(&search("&order=added_asc")).await;
    assert_eq!(names(&body)[0], "Ada sale");

    let (_, body) = api.get(&search(&format!("&pipeline_id={sales}"))).await;
    assert_eq!(body["meta"]["total"], 3);
    let stage = id_of(&list[0]["stages"][0]);
    let (_, body) = api
        .get(&search(&format!(
            "&pipeline_id={sales}&pipeline_stage_id={stage}"
        )))
        .await;
    assert_eq!(body["meta"]["total"], 3);
    let (_, body) = api.get(&search(&format!("&contact_id={ada}"))).await;
    assert_eq!(body["meta"]["total"], 2);
    let (_, body) = api.get(&search("&status=open")).await;
    assert_eq!(body["meta"]["total"], 2);
    let (_, body) = api.get(&search("&status=all")).await;
    assert_eq!(body["meta"]["total"], 5);
    let (_, body) = api.get(&search("&assigned_to=userAda")).await;
    assert_eq!(body["meta"]["total"], 2);
    let (_, body) = api.get(&search("&q=onboarding")).await;
    assert_eq!(body["meta"]["total"], 2);
    let (_, body) = api.get(&search("&q=bob%40example")).await;
    assert_eq!(body["meta"]["total"], 3, "q matches the contact's email");
    let (_, body) = api.get(&search("&country=FR")).await;
    assert_eq!(body["meta"]["total"], 2);
    let (_, body) = api.get(&search(&format!("&id={}", ids[2]))).await;
    assert_eq!(names(&body), vec!["Bob sale"]);
    let today = chrono::Utc::now().format("%m-%d-%Y").to_string();
    let (_, body) = api
        .get(&search(&format!("&date={today}&endDate={today}")))
        .await;
    assert_eq!(body["meta"]["total"], 5);
    let (_, body) = api
        .get(&search("&date=01-01-2000&endDate=01-02-2000"))
        .await;
    assert_eq!(body["meta"]["total"], 0);
    let (status, _) = api.get(&search("&date=2020-01-01")).await;
    assert_eq!(status, 422);
    let (status, _) = api.get(&search("&status=closed")).await;
    assert_eq!(status, 422);
    let (status, _) = api.get(&search("&limit=101")).await;
    assert_eq!(status, 422);
    let (status, _) = api.get(&search("&locationId=x")).await;
    assert_eq!(status, 422, "camelCase locationId is not a parameter here");
    let (status, _) = api
        .get("/opportunities/search?location_id=someOtherLocation000")
        .await;
    assert_eq!(status, 403);
    let (status, _) = api.get("/opportunities/search").await;
    assert_eq!(status, 422, "location_id is required");

    // Cursor paging with meta.startAfter/startAfterId: every item exactly once.
    let mut seen = Vec::new();
    let mut url = search("&limit=2");
    for _ in 0..10 {
        let (status, body) = api.get(&url).await;
        assert_ok("opportunities.search-opportunity", status, &body);
        seen.extend(names(&body));
        let meta = &body["meta"];
        if meta["nextPage"].is_null() {
            assert!(meta["nextPageUrl"].is_null());
            break;
        }
        let next = meta["nextPageUrl"].as_str().unwrap();
        assert!(next.contains("startAfterId="), "{next}");
        url = search(&format!(
            "&limit=2&startAfter={}&startAfterId={}",
            meta["startAfter"],
            meta["startAfterId"].as_str().unwrap()
        ));
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5);
    // Page numbers give the same split.
    let (_, body) = api.get(&search("&limit=2&page=2")).await;
    assert_eq!(names(&body), seen[2..4].to_vec());
    assert_eq!(body["meta"]["currentPage"], 2);
    assert_eq!(body["meta"]["prevPage"], 1);
    assert_eq!(body["meta"]["nextPage"], 3);

    // Tasks and notes of the contact on request.
    let (status, _) = api
        .post(
            &format!("/contacts/{ada}/notes"),
            json!({"body": "met at fair"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, body) = api
        .get(&search(&format!(
            "&contact_id={ada}&getNotes=true&getTasks=true"
        )))
        .await;
    assert_ok("opportunities.search-opportunity", 200, &body);
    let first = &body["opportunities"][0];
    assert_eq!(first["notes"][0]["body"], "met at fair");
    assert_eq!(first["tasks"], json!([]));
}

#[tokio::test]
async fn upsert_opportunity_creates_then_updates_per_contact_and_pipeline() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    let contact = api.create_contact(json!({"firstName": "Uma"})).await;
    let list = pipelines(&api).await;
    let sales = id_of(&list[0]);
    let stage2 = id_of(&list[0]["stages"][1]);
    let body = |extra: Value| {
        let mut b = json!({"pipelineId": sales, "locationId": api.location, "followers": ["f1"],
                           "isRemoveAllFollowers": false, "followersActionType": "add"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };

    let (status, created) = api
        .post(
            "/opportunities/upsert",
            body(json!({"contactId": contact, "name": "Uma deal", "monetaryValue": 10})),
        )
        .await;
    assert_ok("opportunities.upsert-opportunity", status, &created);
    assert_eq!(created["new"], true);
    let id = id_of(&created["opportunity"]);
    assert_eq!(created["opportunity"]["followers"], json!(["f1"]));
    assert_eq!(created["opportunity"]["status"], "open");

    let (status, updated) = api
        .post(
            "/opportunities/upsert",
            body(json!({"contactId": contact, "name": "Uma deal v2",
                        "pipelineStageId": stage2, "followers": ["f2"], "status": "won"})),
        )
        .await;
    assert_ok("opportunities.upsert-opportunity", status, &updated);
    assert_eq!(updated["new"], false);
    assert_eq!(id_of(&updated["opportunity"]), id);
    let (_, got) = api.get(&format!("/opportunities/{id}")).await;
    let o = &got["opportunity"];
    assert_eq!(o["name"], "Uma deal v2");
    assert_eq!(o["pipelineStageId"], stage2.as_str());
    assert_eq!(o["status"], "won");
    assert_eq!(o["monetaryValue"], 10, "kept when not sent");
    assert_eq!(o["followers"], json!(["f1", "f2"]));

    // By id, removing followers.
    let (status, by_id) = api
        .post(
            "/opportunities/upsert",
            body(json!({"id": id, "followers": ["f1"], "followersActionType": "remove"})),
        )
        .await;
    assert_eq!(status, 200, "{by_id}");
    assert_eq!(by_id["new"], false);
    let (_, got) = api.get(&format!("/opportunities/{id}")).await;
    assert_eq!(got["opportunity"]["followers"], json!(["f2"]));
    let (status, _) = api
        .post(
            "/opportunities/upsert",
            body(json!({"id": id, "followers": [], "isRemoveAllFollowers": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, got) = api.get(&format!("/opportunities/{id}")).await;
    assert_eq!(got["opportunity"]["followers"], json!([]));

    // Unknown id, unknown pipeline, nothing to create from.
    let (status, _) = api
        .post(
            "/opportunities/upsert",
            body(json!({"id": "missingOpportunity00"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .post(
            "/opportunities/upsert",
            body(json!({"pipelineId": "unknownPipeline00000", "contactId": contact, "name": "x"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .post("/opportunities/upsert", body(json!({"name": "nobody's"})))
        .await;
    assert_eq!(status, 400, "creating needs a contact");
    let (status, _) = api
        .post(
            "/opportunities/upsert",
            json!({"pipelineId": sales, "locationId": api.location}),
        )
        .await;
    assert_eq!(status, 422, "the spec's required follower fields");
    let (_, all) = api
        .get(&format!(
            "/opportunities/search?location_id={}&contact_id={contact}",
            api.location
        ))
        .await;
    assert_eq!(all["meta"]["total"], 1);
}

#[tokio::test]
async fn opportunity_followers_are_added_and_removed() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    let contact = api.create_contact(json!({"firstName": "Fay"})).await;
    let pipeline = id_of(&pipelines(&api).await[0]);
    let (_, body) = new_opportunity(
        &api,
        json!({"pipelineId": pipeline, "name": "F", "status": "open", "contactId": contact}),
    )
    .await;
    let id = id_of(&body["opportunity"]);
    let path = format!("/opportunities/{id}/followers");

    let (status, body) = api
        .post(&path, json!({"followers": ["u1", "u2", "u1"]}))
        .await;
    assert_ok("opportunities.add-followers-opportunity", status, &body);
    assert_eq!(body["followersAdded"], json!(["u1", "u2"]));
    let (_, body) = api.post(&path, json!({"followers": ["u2", "u3"]})).await;
    assert_eq!(body["followersAdded"], json!(["u3"]));
    assert_eq!(body["followers"], json!(["u1", "u2", "u3"]));
    let (_, got) = api.get(&format!("/opportunities/{id}")).await;
    assert_eq!(got["opportunity"]["followers"], json!(["u1", "u2", "u3"]));

    let (status, body) = api
        .delete(&path, Some(json!({"followers": ["u2", "zz"]})))
        .await;
    assert_ok("opportunities.remove-followers-opportunity", status, &body);
    assert_eq!(body["followersRemoved"], json!(["u2"]));
    let (_, got) = api.get(&format!("/opportunities/{id}")).await;
    assert_eq!(got["opportunity"]["followers"], json!(["u1", "u3"]));
    let (status, body) = api
        .delete(
            &format!("{path}?isRemoveAllFollowers=true"),
            Some(json!({"followers": []})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["followersRemoved"], json!(["u1", "u3"]));
    let (_, got) = api.get(&format!("/opportunities/{id}")).await;
    assert_eq!(got["opportunity"]["followers"], json!([]));

    let (status, _) = api.post(&path, json!({})).await;
    assert_eq!(status, 422);
    let (status, _) = api
        .post(
            "/opportunities/missingOpportunity00/followers",
            json!({"followers": ["u"]}),
        )
        .await;
    assert_eq!(status, 400);
}

fn new_user(email: &str, company: &str, location: &str) -> Value {
    json!({"companyId": company, "firstName": "Nia", "lastName": "New", "email": email,
           "password": "s3cret-Pass", "type": "account", "role": "user",
           "locationIds": [location], "phone": "+15550001111",
           "permissions": {"websitesEnabled": true}, "scopes": ["contacts.write"]})
}

#[tokio::test]
async fn user_lifecycle_and_lists() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    let agency = Api::new(&emu).with_token(AGENCY);
    let company = emu.state().config().company_id.clone();
    let loc = api.location.clone();

    let (status, body) = api
        .post("/users/", new_user("nia@example.com", &company, &loc))
        .await;
    assert_ok("users.create-user", status, &body);
    let id = id_of(&body);
    assert_eq!(body["name"], "Nia New");
    assert_eq!(body["roles"]["locationIds"], json!([loc]));
    assert_eq!(body["permissions"]["websitesEnabled"], true);
    assert_eq!(body["permissions"]["contactsEnabled"], true, "spec default");
    assert!(body.get("password").is_none());
    let (status, body) = api
        .post("/users/", new_user("NIA@example.com", &company, &loc))
        .await;
    assert_eq!(status, 400, "emails are unique: {body}");
    let (status, _) = api
        .post(
            "/users/",
            new_user("x@example.com", "otherCompany0000000", &loc),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .post(
            "/users/",
            new_user("y@example.com", &company, "otherLocation0000000"),
        )
        .await;
    assert_eq!(status, 403);
    let mut bad = new_user("z@example.com", &company, &loc);
    bad["role"] = json!("boss");
    bad["email"] = json!("not-an-email");
    let (status, body) = api.post("/users/", bad).await;
    assert_eq!(status, 422);
    assert_eq!(body["message"].as_array().unwrap().len(), 2, "{body}");

    let (status, body) = api.get(&format!("/users/{id}")).await;
    assert_ok("users.get-user", status, &body);
    assert_eq!(body["email"], "nia@example.com");
    assert_eq!(body["scopes"], json!(["contacts.write"]));

    let (status, body) = api
        .put(
            &format!("/users/{id}"),
            json!({"firstName": "Nina", "role": "admin"}),
        )
        .await;
    assert_ok("users.update-user", status, &body);
    let (_, body) = agency.get(&format!("/users/{id}")).await;
    assert_eq!(body["name"], "Nina New");
    assert_eq!(body["roles"]["role"], "admin");

    // Search (both token types), filter by email (agency only), list by location.
    let search = format!("/users/search?companyId={company}");
    let (status, body) = api.get(&search).await;
    assert_ok("users.search-users", status, &body);
    let seeded = body["count"].as_u64().unwrap();
    assert!(seeded >= 3, "{body}");
    let (status, body) = agency
        .get(&format!("{search}&query=nina&locationId={loc}"))
        .await;
    assert_ok("users.search-users", status, &body);
    assert_eq!(body["count"], 1);
    assert_eq!(body["users"][0]["id"], id.as_str());
    assert_eq!(body["users"][0]["deleted"], false);
    let (_, body) = api
        .get(&format!(
            "{search}&role=admin&sort=email&sortDirection=desc"
        ))
        .await;
    let emails: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    let mut sorted = emails.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(emails, sorted);
    assert!(emails.contains(&"nia@example.com"));
    let (_, body) = api.get(&format!("{search}&skip=1&limit=1")).await;
    assert_eq!(body["users"].as_array().unwrap().len(), 1);
    assert_eq!(body["count"], seeded);
    let (_, body) = api.get(&format!("{search}&ids={id}")).await;
    assert_eq!(body["count"], 1);
    let (status, _) = api.get("/users/search").await;
    assert_eq!(status, 422, "companyId is required");

    let filter = json!({"companyId": company, "emails": "nia@example.com, nobody@example.com"});
    let (status, body) = agency
        .post("/users/search/filter-by-email", filter.clone())
        .await;
    assert_ok("users.filter-users-by-email", status, &body);
    assert_eq!(body["count"], 1);
    assert_eq!(
        body["users"][0],
        json!({"id": id, "email": "nia@example.com"})
    );
    let mut all = filter.clone();
    all["projection"] = json!("all");
    let (_, body) = agency.post("/users/search/filter-by-email", all).await;
    assert_eq!(body["users"][0]["firstName"], "Nina");
    let (status, _) = api
        .post("/users/search/filter-by-email", filter.clone())
        .await;
    assert_eq!(status, 401, "agency token only");

    let (status, body) = api.get(&format!("/users/?locationId={loc}")).await;
    assert_ok("users.get-user-by-location", status, &body);
    assert!(body["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == id.as_str()));

    // Delete: gone from get, search and the location list; filter-by-email finds it as deleted.
    let (status, body) = api.delete(&format!("/users/{id}"), None).await;
    assert_ok("users.delete-user", status, &body);
    assert_eq!(body["succeded"], true);
    let (status, body) = api.get(&format!("/users/{id}")).await;
    assert_eq!(
        (status, body["message"].clone()),
        (400, json!("User not found"))
    );
    let (_, body) = api.get(&search).await;
    assert_eq!(body["count"].as_u64().unwrap(), seeded - 1);
    let (_, body) = api.get(&format!("/users/?locationId={loc}")).await;
    assert!(!body["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == id.as_str()));
    let (_, body) = agency
        .post("/users/search/filter-by-email", filter.clone())
        .await;
    assert_eq!(body["count"], 0);
    let mut deleted = filter;
    deleted["deleted"] = json!(true);
    let (_, body) = agency.post("/users/search/filter-by-email", deleted).await;
    assert_eq!(body["count"], 1);
    let (status, _) = api.delete(&format!("/users/{id}"), None).await;
    assert_eq!(status, 400);
    let (status, _) = api
        .put(&format!("/users/{id}"), json!({"firstName": "x"}))
        .await;
    assert_eq!(status, 400);
    // The email is free again.
    let (status, _) = agency
        .post("/users/", new_user("nia@example.com", &company, &loc))
        .await;
    assert_eq!(status, 201);
    assert!(emu
        .state()
        .webhook_records()
        .iter()
        .any(|r| r.event_type == "UserCreate"));
}

#[tokio::test]
async fn business_lifecycle_and_contact_links() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    let loc = api.location.clone();

    let (status, body) = api
        .post(
            "/businesses/",
            json!({"name": "Acme", "locationId": loc, "email": "hi@acme.test", "city": "Lyon"}),
        )
        .await;
    assert_ok("businesses.create-business", status, &body);
    assert_eq!(body["success"], true);
    let id = id_of(&body["buiseness"]);
    assert_eq!(body["buiseness"]["city"], "Lyon");
    let (status, _) = api.post("/businesses/", json!({"locationId": loc})).await;
    assert_eq!(status, 422, "name is required");
    let (status, _) = api
        .post(
            "/businesses/",
            json!({"name": "X", "locationId": "otherLocation0000000"}),
        )
        .await;
    assert_eq!(status, 403);

    let (status, body) = api.get(&format!("/businesses/{id}")).await;
    assert_ok("businesses.get-business", status, &body);
    assert_eq!(body["business"]["name"], "Acme");
    assert_eq!(body["business"]["locationId"], loc.as_str());

    let (status, body) = api
        .put(
            &format!("/businesses/{id}"),
            json!({"name": "Acme SA", "phone": "+33100000000"}),
        )
        .await;
    assert_ok("businesses.update-business", status, &body);
    assert_eq!(body["buiseness"]["name"], "Acme SA");
    let (_, body) = api.get(&format!("/businesses/{id}")).await;
    assert_eq!(body["business"]["phone"], "+33100000000");
    assert_eq!(body["business"]["city"], "Lyon", "kept");
    let (status, _) = api
        .put(&format!("/businesses/{id}"), json!({"locationId": loc}))
        .await;
    assert_eq!(status, 422, "locationId is not part of the update DTO");

    for name in ["Beta", "Gamma"] {
        let (status, _) = api
            .post("/businesses/", json!({"name": name, "locationId": loc}))
            .await;
        assert_eq!(status, 201);
    }
    let (status, body) = api.get(&format!("/businesses/?locationId={loc}")).await;
    assert_ok("businesses.get-businesses-by-location", status, &body);
    let names: Vec<&str> = body["businesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Acme SA", "Beta", "Gamma"]);
    let (_, body) = api
        .get(&format!("/businesses/?locationId={loc}&skip=1&limit=1"))
        .await;
    assert_eq!(body["businesses"][0]["name"], "Beta");

    // Bulk Business Update links contacts; deleting the business unlinks them.
    let c1 = api.create_contact(json!({"firstName": "Lin"})).await;
    let c2 = api.create_contact(json!({"firstName": "Kim"})).await;
    let (status, body) = api
        .post(
            "/contacts/bulk/business",
            json!({"locationId": loc, "ids": [c1, c2], "businessId": id}),
        )
        .await;
    assert_ok("contacts.add-remove-contact-from-business", status, &body);
    assert_eq!(body["ids"], json!([c1, c2]));
    assert_eq!(emu.state().contact(&c1).unwrap()["businessId"], id.as_str());
    let (_, body) = api
        .get(&format!("/contacts/business/{id}?locationId={loc}"))
        .await;
    assert_eq!(body["count"], 2, "{body}");
    let (status, _) = api
        .post(
            "/contacts/bulk/business",
            json!({"locationId": loc, "ids": [c2], "businessId": null}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(emu
        .state()
        .contact(&c2)
        .unwrap()
        .get("businessId")
        .is_none());
    let (_, body) = api
        .get(&format!("/contacts/business/{id}?locationId={loc}"))
        .await;
    assert_eq!(body["count"], 1);

    let (status, body) = api.delete(&format!("/businesses/{id}"), None).await;
    assert_ok("businesses.delete-business", status, &body);
    assert_eq!(body, json!({"success": true}));
    let (status, body) = api.get(&format!("/businesses/{id}")).await;
    assert_eq!(
        (status, body["message"].clone()),
        (400, json!("Business not found"))
    );
    assert!(emu
        .state()
        .contact(&c1)
        .unwrap()
        .get("businessId")
        .is_none());
    let (_, body) = api
        .get(&format!("/contacts/business/{id}?locationId={loc}"))
        .await;
    assert_eq!(body["count"], 0);
    let (_, body) = api.get(&format!("/businesses/?locationId={loc}")).await;
    assert_eq!(body["businesses"].as_array().unwrap().len(), 2);
    let (status, _) = api.delete(&format!("/businesses/{id}"), None).await;
    assert_eq!(status, 400);
    let (status, _) = api
        .put(&format!("/businesses/{id}"), json!({"name": "x"}))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn workflows_campaigns_and_snapshots_are_listed() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    let agency = Api::new(&emu).with_token(AGENCY);
    let loc = api.location.clone();
    let company = emu.state().config().company_id.clone();

    let (status, body) = api.get(&format!("/workflows/?locationId={loc}")).await;
    assert_ok("workflows.get-workflow", status, &body);
    let workflows = body["workflows"].as_array().unwrap();
    assert!(workflows.len() >= 2);
    assert!(workflows.iter().all(|w| w["locationId"] == loc.as_str()));
    assert!(workflows.iter().any(|w| w["status"] == "published"));
    assert!(workflows.iter().any(|w| w["status"] == "draft"));
    let (status, _) = api.get("/workflows/").await;
    assert_eq!(status, 422);

    let (status, body) = api.get(&format!("/campaigns/?locationId={loc}")).await;
    assert_ok("campaigns.get-campaigns", status, &body);
    let all = body["campaigns"].as_array().unwrap().len();
    let (_, body) = api
        .get(&format!("/campaigns/?locationId={loc}&status=published"))
        .await;
    let published = body["campaigns"].as_array().unwrap();
    assert!(!published.is_empty() && published.len() < all);
    assert!(published.iter().all(|c| c["status"] == "published"));

    let (status, body) = agency
        .get(&format!("/snapshots/?companyId={company}"))
        .await;
    assert_ok("snapshots.get-custom-snapshots", status, &body);
    let snapshots = body["snapshots"].as_array().unwrap();
    assert!(!snapshots.is_empty());
    assert!(snapshots
        .iter()
        .all(|s| s["id"].is_string() && s["type"].is_string()));
    let (status, _) = api.get(&format!("/snapshots/?companyId={company}")).await;
    assert_eq!(status, 401, "agency token only");
    let (status, _) = agency
        .get("/snapshots/?companyId=someOtherCompany000")
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn contact_workflow_and_follower_actions_change_state() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    let loc = api.location.clone();
    let contact = api
        .create_contact(json!({"firstName": "Wes", "email": "wes@example.com"}))
        .await;
    let (_, body) = api.get(&format!("/workflows/?locationId={loc}")).await;
    let workflow = id_of(&body["workflows"][0]);

    let (status, body) = api
        .post(
            &format!("/contacts/{contact}/workflow/{workflow}"),
            json!({"eventStartTime": "2030-01-01T10:00:00+01:00"}),
        )
        .await;
    assert_ok("contacts.add-contact-to-workflow", status, &body);
    assert_eq!(body["succeded"], true);
    assert_eq!(
        emu.state().workflows_of(&contact),
        vec![(
            workflow.clone(),
            Some("2030-01-01T10:00:00+01:00".to_string())
        )]
    );
    let (status, body) = api
        .delete(&format!("/contacts/{contact}/workflow/{workflow}"), None)
        .await;
    assert_ok("contacts.delete-contact-from-workflow", status, &body);
    assert!(emu.state().workflows_of(&contact).is_empty());
    let (status, _) = api
        .post(
            &format!("/contacts/missingContact000000/workflow/{workflow}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 400);

    let path = format!("/contacts/{contact}/followers");
    let (status, body) = api.post(&path, json!({"followers": ["u1", "u2"]})).await;
    assert_ok("contacts.add-followers-contact", status, &body);
    assert_eq!(body["followersAdded"], json!(["u1", "u2"]));
    let listed = |body: &Value| -> Value {
        body["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == contact.as_str())
            .map(|c| c["followers"].clone())
            .unwrap_or(Value::Null)
    };
    let (_, body) = api
        .get(&format!(
            "/contacts/?locationId={loc}&query=wes%40example.com"
        ))
        .await;
    assert_eq!(listed(&body), json!(["u1", "u2"]));
    let (status, body) = api.delete(&path, Some(json!({"followers": ["u1"]}))).await;
    assert_ok("contacts.remove-followers-contact", status, &body);
    assert_eq!(body["followersRemoved"], json!(["u1"]));
    let (_, body) = api
        .get(&format!(
            "/contacts/?locationId={loc}&query=wes%40example.com"
        ))
        .await;
    assert_eq!(listed(&body), json!(["u2"]));
}

#[tokio::test]
async fn every_category_operation_is_served() {
    let served = |id: &str| hlbridge_emulator::ghl::routes::handler_for(id).is_some();
    let ops: Vec<&str> = hlbridge_ghl::TABLE
        .catalog()
        .filter(|op| {
            [
                "opportunities",
                "users",
                "businesses",
                "workflows-campaigns",
            ]
            .contains(&op.category)
        })
        .map(|op| op.id)
        .collect();
    assert_eq!(ops.len(), 10 + 7 + 5 + 8);
    let missing: Vec<&&str> = ops.iter().filter(|id| !served(id)).collect();
    assert!(missing.is_empty(), "{missing:?}");
    // Routing picks these operations for their paths.
    for (m, path, id) in [
        (
            Method::Get,
            "/opportunities/search",
            "opportunities.search-opportunity",
        ),
        (
            Method::Get,
            "/opportunities/pipelines",
            "opportunities.get-pipelines",
        ),
        (
            Method::Post,
            "/opportunities/upsert",
            "opportunities.upsert-opportunity",
        ),
        (Method::Get, "/users/search", "users.search-users"),
    ] {
        assert_eq!(hlbridge_ghl::TABLE.route(m, path).unwrap().0.id, id);
    }
}

#[tokio::test]
async fn body_search_of_opportunities_pages_by_search_after() {
    let emu = emulator(config()).await;
    let api = Api::new(&emu);
    emu.state().set_allow_duplicate_opportunities(true);
    let contact = api
        .create_contact(json!({"firstName": "Pia", "email": "pia@example.com"}))
        .await;
    let pipeline = id_of(&pipelines(&api).await[0]);
    for name in ["Deal one", "Deal two", "Deal three", "Other"] {
        let (status, _) = new_opportunity(
            &api,
            json!({"pipelineId": pipeline, "name": name, "status": "open", "contactId": contact}),
        )
        .await;
        assert_eq!(status, 201);
    }
    let body = |query: &str, page: u32, after: Value| {
        json!({"locationId": api.location, "query": query, "limit": 2, "page": page,
               "searchAfter": after,
               "additionalDetails": {"notes": false, "tasks": true, "calendarEvents": true,
                                     "unReadConversations": false}})
    };
    let (status, first) = api
        .post("/opportunities/search", body("deal", 1, json!([])))
        .await;
    assert_ok(
        "opportunities.search-opportunities-advanced",
        status,
        &first,
    );
    assert_eq!(first["total"], 3);
    let items = first["opportunities"].as_array().unwrap();
    assert_eq!(items[0]["name"], "Deal three", "newest first");
    assert_eq!(items[0]["tasks"], json!([]));
    assert_eq!(items[0]["calendarEvents"], json!([]));
    let last = &items[1];
    let created = chrono::DateTime::parse_from_rfc3339(last["createdAt"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let after = json!([created.to_string(), last["id"]]);
    let (_, next) = api
        .post("/opportunities/search", body("deal", 1, after))
        .await;
    let names: Vec<&str> = next["opportunities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Deal one"]);
    let (_, page2) = api
        .post("/opportunities/search", body("deal", 2, json!([])))
        .await;
    assert_eq!(page2["opportunities"][0]["name"], "Deal one");
    let (status, _) = api
        .post("/opportunities/search", body("deal", 0, json!([])))
        .await;
    assert_eq!(status, 422);
    let mut other = body("deal", 1, json!([]));
    other["locationId"] = json!("someOtherLocation000");
    let (status, _) = api.post("/opportunities/search", other).await;
    assert_eq!(status, 403);
}
