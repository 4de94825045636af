//! World 2 of `ui_activity`: flow runs on the timeline, a failed one in dead letters.

use hlbridge_core::call::CallInput;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{attrs, location, World, FLOW};

const FAILS: &str = "ui-always-fails";

fn failing_flow() -> String {
    format!(
        "schema_version: 1
name: {FAILS}
title: \"Reads a contact that does not exist\"
trigger:
  webhook:
    app: ghl
    events: [OpportunityStatusUpdate]
steps:
  - id: missing
    action:
      operation: \"ghl:contacts.get-contact\"
      params:
        contactId: \"no-such-contact\"
"
    )
}

/// A GHL contact with an opportunity, then won; returns the opportunity id.
async fn won_opportunity(w: &World, email: &str) -> String {
    let ghl = w.ghl();
    let contact = ghl
        .call(
            "contacts.create-contact",
            CallInput::new().body(json!({"firstName": "Ada", "lastName": "Won", "email": email})),
        )
        .await
        .unwrap();
    let contact_id = contact["contact"]["id"].as_str().unwrap().to_string();
    let pipelines = ghl
        .call("opportunities.get-pipelines", CallInput::new())
        .await
        .unwrap();
    let pipeline = &pipelines["pipelines"][0];
    let opp = ghl
        .call(
            "opportunities.create-opportunity",
            CallInput::new().body(json!({
                "pipelineId": pipeline["id"],
                "pipelineStageId": pipeline["stages"][0]["id"],
                "name": "Big deal",
                "status": "open",
                "contactId": contact_id,
                "monetaryValue": 1200,
            })),
        )
        .await
        .unwrap();
    let id = opp["opportunity"]["id"].as_str().unwrap().to_string();
    ghl.call(
        "opportunities.update-opportunity-status",
        CallInput::new()
            .param("id", &id)
            .body(json!({ "status": "won" })),
    )
    .await
    .unwrap();
    id
}

pub async fn runs_and_dead_letters(w: &World) {
    let res = w.post(&format!("/ui/templates/{FLOW}/use"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (s, v) = w
        .api(
            Method::PUT,
            &format!("/api/flows/{FAILS}"),
            Some(json!({ "text": failing_flow() })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = w
        .api(Method::POST, &format!("/api/flows/{FAILS}/deploy"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    won_opportunity(w, "ada.activity@example.com").await;

    // The template's run, filtered by flow; no cycle (no pair) among them.
    let ok = w
        .page_until(
            &format!("/ui/activity?flow={FLOW}&status=ok"),
            "the template's run listed",
            |h| h.contains(r#"data-testid="activity-run-"#),
        )
        .await;
    assert!(
        !ok.contains(&format!("Flow {FAILS}: run")),
        "flow filter: {ok}"
    );
    let href = attrs(&ok, "href")
        .into_iter()
        .find(|h| h.starts_with("/ui/runs/"))
        .unwrap();
    let id: i64 = href.trim_start_matches("/ui/runs/").parse().unwrap();
    let (_, run) = w.api(Method::GET, &format!("/api/runs/{id}"), None).await;
    assert_eq!(run["run"]["flow"], FLOW, "{run}");
    assert_eq!(run["run"]["status"], "ok", "{run}");
    w.page(&href).await;

    // The failing flow's run: on the timeline under status=failed, and in dead letters.
    let failed = w
        .page_until("/ui/activity?status=failed", "the failed run listed", |h| {
            h.contains(&format!("Flow {FAILS}: run"))
        })
        .await;
    assert!(!failed.contains(&format!(r#"data-testid="activity-run-{id}""#)));
    let dead = w
        .page_until("/ui/dead-letters", "the failed run in dead letters", |h| {
            h.contains(&format!("{FAILS} (v"))
        })
        .await;
    let replay = attrs(&dead, "action")
        .into_iter()
        .find(|a| a.starts_with("/ui/runs/") && a.ends_with("/replay"))
        .expect("a replay form");
    let failed_id: i64 = replay
        .trim_start_matches("/ui/runs/")
        .trim_end_matches("/replay")
        .parse()
        .unwrap();
    assert!(dead.contains(&format!(r#"data-testid="dead-run-{failed_id}""#)));
    let (_, fr) = w
        .api(Method::GET, &format!("/api/runs/{failed_id}"), None)
        .await;
    assert_eq!(fr["run"]["status"], "failed", "{fr}");
    assert_eq!(fr["run"]["flow"], FAILS, "{fr}");
    assert!(dead.contains("missing"), "the failed step is named");
    // Its replay button replays it from the failed step: a new run, of that flow.
    let res = w.post(&replay, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let new_run = location(&res);
    let new_id: i64 = new_run.trim_start_matches("/ui/runs/").parse().unwrap();
    assert_ne!(new_id, failed_id);
    let (_, nr) = w
        .api(Method::GET, &format!("/api/runs/{new_id}"), None)
        .await;
    assert_eq!(nr["run"]["replay_of"], failed_id, "{nr}");
    assert_eq!(nr["run"]["flow"], FAILS, "{nr}");
    let runs_only = w.page("/ui/activity?kind=cycle").await;
    assert!(!runs_only.contains(r#"data-testid="activity-run-"#));
}
