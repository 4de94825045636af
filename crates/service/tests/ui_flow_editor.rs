//! The flow editor over HTTP against both emulators: the new-flow page from a template
//! holds the template's YAML and its form; YAML -> JSON -> YAML gives the same flow
//! for every template; a problem lands at its step's field; the operation search and
//! metadata; a dry run through the editor's test prints the Sellsy task it would
//! create and the emulator gets none; saving and deploying through the editor's
//! calls (session cookie + CSRF header) deploys it.

#[path = "ui_flow_editor/world.rs"]
mod world;

use hlbridge_core::call::CallInput;
use reqwest::StatusCode;
use serde_json::{json, Value};
use world::*;

/// A call of the editor's script: session cookie and the `X-CSRF-Token` header.
async fn js(
    w: &World,
    c: &reqwest::Client,
    csrf: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = c.request(method, w.url(path)).header("X-CSRF-Token", csrf);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

fn template_text(name: &str) -> &'static str {
    hlbridge_flows::catalog::get(name).unwrap().text
}

#[tokio::test]
async fn flow_editor_new_from_template_round_trip_problems_test_save_deploy() {
    use reqwest::Method;
    let w = start().await;
    let c = browser();
    sign_in(&w, &c).await;

    // The flows list and the gallery lead to the editor.
    let flows_page = page(&w, &c, "/ui/flows").await;
    assert!(
        flows_page.contains("href=\"/ui/flows/new\""),
        "New flow link"
    );
    let gallery = page(&w, &c, "/ui/templates").await;
    assert!(gallery.contains(&format!("href=\"/ui/flows/new?template={FLOW}\"")));

    // The new-flow page from the template: its YAML in the textarea, its form.
    let html = page(&w, &c, &format!("/ui/flows/new?template={FLOW}")).await;
    let csrf = csrf_of(&html);
    let text = template_text(FLOW);
    let area = html
        .split("<textarea id=\"flow-yaml\"")
        .nth(1)
        .and_then(|s| s.split_once('>'))
        .and_then(|(_, s)| s.split("</textarea>").next())
        .unwrap_or_else(|| panic!("the YAML textarea: {html}"));
    assert_eq!(unescape(area), text, "the template's YAML, as written");
    for needle in [
        "id=\"flow-form\"",
        "id=\"new-flow-from-template\"",
        "data-testid=\"step-settings\"",
        "data-testid=\"step-won\"",
        "data-testid=\"step-task\"",
        "data-path=\"/trigger/webhook/app\"",
        "data-path=\"/steps/5/find_or_create/create/operation\"",
        "data-path=\"/steps/5/find_or_create/create/body/title\"",
        "data-path=\"/steps/1/filter/all/0/op\"",
        "data-path=\"/steps/0/map/due_days\"",
        "<datalist id=\"vars-",
        "<option value=\"{{ steps.settings.output.due_days }}\">",
        "<option value=\"{{ steps.contact.output.contact.email }}\">",
        "src=\"/ui/assets/editor.js\"",
    ] {
        assert!(
            unescape(&html).contains(needle),
            "new-flow page has {needle}"
        );
    }
    assert!(
        !html.contains("field-problem"),
        "the template has no problem"
    );
    assert!(
        !html.contains("<script>") && !html.contains(" style="),
        "CSP-safe page"
    );
    for asset in ["/ui/assets/editor.js", "/ui/assets/editor_form.js"] {
        let res = c.get(w.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert!(res.text().await.unwrap().contains("HlbFlowForm"));
    }

    // YAML -> flow JSON -> YAML: the same flow, for every template.
    for t in hlbridge_flows::catalog::list() {
        let (s, parsed) = js(
            &w,
            &c,
            &csrf,
            Method::POST,
            "/api/flows/parse",
            Some(json!({"yaml": t.text})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{parsed}");
        assert_eq!(parsed["problems"], json!([]), "{}: {parsed}", t.name);
        let (s, rendered) = js(
            &w,
            &c,
            &csrf,
            Method::POST,
            "/api/flows/render",
            Some(json!({"flow": parsed["flow"]})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{rendered}");
        assert_eq!(rendered["problems"], json!([]), "{}: {rendered}", t.name);
        let yaml = rendered["yaml"].as_str().unwrap();
        let again = hlbridge_flows::validate::validate("x.flow.yaml", yaml)
            .unwrap_or_else(|p| panic!("{}: rendered YAML invalid: {p:?}\n{yaml}", t.name));
        let original = hlbridge_flows::validate::parse("x.flow.yaml", t.text).unwrap();
        assert_eq!(
            again, original,
            "{}: same flow after the round trip",
            t.name
        );
    }

    // An unknown parameter: placed at that step's field (and drawn there in the form).
    let bad = text.replace(
        "        contactId: \"{{ trigger.contactId }}\"\n",
        "        contactId: \"{{ trigger.contactId }}\"\n        contactIdd: x\n",
    );
    assert_ne!(bad, text);
    let (_, v) = js(
        &w,
        &c,
        &csrf,
        Method::POST,
        "/api/flows/parse",
        Some(json!({"yaml": bad, "form": true})),
    )
    .await;
    let problems = v["problems"].as_array().unwrap();
    let p = problems
        .iter()
        .find(|p| {
            p["message"]
                .as_str()
                .unwrap()
                .contains("no parameter contactIdd")
        })
        .unwrap_or_else(|| panic!("the unknown parameter is reported: {v}"));
    assert_eq!(p["path"], "/steps/2/action/params/contactIdd", "{p}");
    assert_eq!(p["field"], "/steps/2/action/params/contactIdd", "{p}");
    let form = unescape(v["form"].as_str().unwrap());
    let at = form
        .split("data-field=\"/steps/2/action/params/contactIdd\"")
        .nth(1)
        .and_then(|s| s.split("</div>").next())
        .expect("the unknown parameter has a field");
    assert!(
        at.contains("class=\"field-problem\"") && at.contains("no parameter contactIdd"),
        "{at}"
    );
    // A syntax error is not placed at a field: it keeps its line for the YAML pane.
    let (_, v) = js(
        &w,
        &c,
        &csrf,
        Method::POST,
        "/api/flows/parse",
        Some(json!({"yaml": "name: [x\n"})),
    )
    .await;
    assert_eq!(v["flow"], Value::Null, "{v}");
    assert!(
        v["problems"][0]["line"].as_u64().unwrap() >= 1 && v["problems"][0]["field"].is_null(),
        "{v}"
    );

    // Completion of `trigger.*`: a poll's item fields, else those of a sample item.
    let poll = "schema_version: 1\nname: p\ntrigger:\n  poll: { operation: \"ghl:contacts.get-contacts\", every: 5m }\nsteps:\n  - id: m\n    map: { e: \"{{ trigger.email }}\" }\n";
    let (_, v) = js(
        &w,
        &c,
        &csrf,
        Method::POST,
        "/api/flows/parse",
        Some(json!({"yaml": poll, "form": true})),
    )
    .await;
    assert_eq!(v["problems"], json!([]), "{v}");
    let form = unescape(v["form"].as_str().unwrap());
    assert!(
        form.contains("<option value=\"{{ trigger.email }}\">"),
        "poll item fields offered"
    );
    let (_, v) = js(
        &w,
        &c,
        &csrf,
        Method::POST,
        "/api/flows/render",
        Some(json!({"flow": v["flow"], "form": true, "sample": {"deal": {"stage": "won"}}})),
    )
    .await;
    let form = unescape(v["form"].as_str().unwrap());
    assert!(
        form.contains("<option value=\"{{ trigger.deal.stage }}\">"),
        "sample fields offered"
    );
    assert!(
        v["yaml"]
            .as_str()
            .unwrap()
            .contains("operation: \"ghl:contacts.get-contacts\""),
        "{v}"
    );

    // The operation picker and the typed fields' metadata.
    let (s, hits) = js(
        &w,
        &c,
        &csrf,
        Method::GET,
        "/api/ops/search?q=create%20task&kind=action",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{hits}");
    let ids: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"sellsy:tasks.create-task") && ids.contains(&"ghl:contacts.create-task"),
        "{ids:?}"
    );
    let (_, reads) = js(
        &w,
        &c,
        &csrf,
        Method::GET,
        "/api/ops/search?q=contacts&kind=trigger&limit=100",
        None,
    )
    .await;
    assert!(
        reads
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["kind"] == "trigger"),
        "{reads}"
    );
    let (s, meta) = js(
        &w,
        &c,
        &csrf,
        Method::GET,
        "/api/ops/ghl/contacts.get-contact",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{meta}");
    let param = meta["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "contactId")
        .unwrap();
    assert_eq!(
        (param["location"].as_str(), param["required"].as_bool()),
        (Some("path"), Some(true)),
        "{meta}"
    );
    let (_, task) = js(
        &w,
        &c,
        &csrf,
        Method::GET,
        "/api/ops/sellsy/tasks.create-task",
        None,
    )
    .await;
    assert!(
        task["body"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "due_date" && f["required"] == true),
        "{task}"
    );
    assert!(
        task["body"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "status"
                && f["input"] == "enum"
                && f["options"] == json!(["todo", "done"])),
        "{task}"
    );
    let (s, _) = js(
        &w,
        &c,
        &csrf,
        Method::GET,
        "/api/ops/sellsy/no.such-op",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, doc) = w.api(Method::GET, "/api/openapi.json", None).await;
    for p in [
        "/api/flows/parse",
        "/api/flows/render",
        "/api/ops/search",
        "/api/ops/{app}/{id}",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} in the OpenAPI document");
    }

    // Test with a sample item (the unsaved text): the Sellsy task is only printed.
    let email = "editor.dry@example.com";
    let contact = w
        .ghl()
        .call(
            "contacts.create-contact",
            CallInput::new().body(json!({"firstName": "Ada", "lastName": "Dry", "email": email})),
        )
        .await
        .unwrap();
    w.sellsy(
        "contacts.create-contact",
        CallInput::new().body(json!({"first_name": "Ada", "last_name": "Dry", "email": email})),
    )
    .await;
    let before = w.sellsy_tasks().await.len();
    let item = json!({"type": "OpportunityStatusUpdate", "id": "opp-editor-1", "status": "won",
        "name": "Big deal", "locationId": w.ghl_cfg.location_id, "contactId": contact["contact"]["id"]});
    let (s, out) = js(
        &w,
        &c,
        &csrf,
        Method::POST,
        &format!("/api/flows/{FLOW}/test"),
        Some(json!({"item": item, "text": text})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["status"], "ok", "{out}");
    let writes = out["writes"].as_array().unwrap();
    let task_write = writes
        .iter()
        .find(|x| x.to_string().contains("tasks.create-task") || x.to_string().contains("/tasks"))
        .unwrap_or_else(|| panic!("the task it would create: {out}"));
    assert!(
        task_write.to_string().contains("Kick-off: Big deal"),
        "{task_write}"
    );
    assert!(
        task_write
            .to_string()
            .contains("[ghl-opportunity:opp-editor-1]"),
        "{task_write}"
    );
    assert_eq!(
        w.sellsy_tasks().await.len(),
        before,
        "the test wrote no task"
    );

    // Save and deploy through the editor's calls: deployed, enabled; then disabled.
    let (s, _) = js(
        &w,
        &c,
        "wrong",
        Method::PUT,
        &format!("/api/flows/{FLOW}"),
        Some(json!({"text": text})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a wrong CSRF header is refused");
    let (_, list) = w.api(Method::GET, "/api/flows", None).await;
    assert_eq!(list, json!([]), "nothing deployed before Deploy");
    let (s, saved) = js(
        &w,
        &c,
        &csrf,
        Method::PUT,
        &format!("/api/flows/{FLOW}"),
        Some(json!({"text": text})),
    )
    .await;
    assert_eq!(
        (s, saved["version"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{saved}"
    );
    let (_, list) = w.api(Method::GET, "/api/flows", None).await;
    assert_eq!(list, json!([]), "saved is not deployed");
    let edit = page(&w, &c, &format!("/ui/flows/{FLOW}/edit")).await;
    assert!(edit.contains("not deployed") && edit.contains("id=\"deploy-flow\""));
    let (s, d) = js(
        &w,
        &c,
        &csrf,
        Method::POST,
        &format!("/api/flows/{FLOW}/deploy"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let (_, list) = w.api(Method::GET, "/api/flows", None).await;
    let f = list
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == FLOW)
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(
        (f["enabled"].as_bool(), f["version"].as_i64()),
        (Some(true), Some(1)),
        "{f}"
    );
    let (s, _) = js(
        &w,
        &c,
        &csrf,
        Method::POST,
        &format!("/api/flows/{FLOW}/disable"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, f) = w
        .api(Method::GET, &format!("/api/flows/{FLOW}"), None)
        .await;
    assert_eq!(f["enabled"], false, "{f}");
    let edit = page(&w, &c, &format!("/ui/flows/{FLOW}/edit")).await;
    assert!(
        edit.contains("deployed version 1, disabled"),
        "edit page status"
    );
    let flows_page = page(&w, &c, "/ui/flows").await;
    assert!(
        flows_page.contains(&format!("href=\"/ui/flows/{FLOW}/edit\"")),
        "edit link"
    );
    w.stop().await;
}
