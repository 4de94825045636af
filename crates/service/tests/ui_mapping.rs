//! Connections, pairs and the mapping editor over HTTP against both emulators: the
//! connections cards, a GHL private token added through the form (usable afterwards),
//! a pair created through the form, both accounts' custom fields listed live, a
//! preview and a dry run (that changes neither emulator) of a custom field mapping,
//! the mapping saved and synced (the value lands in Sellsy), and disconnect behind its
//! confirmation.

#[path = "ui_mapping/world.rs"]
mod world;

use hlbridge_accounts::App;
use hlbridge_core::call::CallInput;
use hlbridge_emulator::sellsy::Owner;
use hlbridge_ghl::{ContactInput, CustomFieldInput};
use reqwest::StatusCode;
use serde_json::json;
use world::{browser, eventually, location, page, post, sign_in, start};
const MAPPING: &str =
    "[custom_fields.\"contact.ui_tier\"]\nsellsy = \"ui-tier\"\ndirection = \"to_sellsy\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_pairs_and_a_custom_field_mapping_through_the_ui() {
    let w = start().await;
    let c = browser();
    let csrf = sign_in(&w, &c).await;
    let sellsy_conn = w.conn_id(App::Sellsy).unwrap();

    // A custom field in each account.
    let created = w
        .ghl()
        .call(
            "locations.create-custom-field",
            CallInput::new()
                .param("locationId", &w.ghl_cfg.location_id)
                .body(json!({"name": "UI Tier", "dataType": "TEXT"})),
        )
        .await
        .unwrap();
    let ghl_key = created["customField"]["fieldKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ghl_key, "contact.ui_tier");
    let sellsy_field = w.sellsy.state().store().custom_fields.insert(
        json!({"id": 0, "name": "UI tier", "code": "ui-tier", "description": "", "type": "simple-text",
               "mandatory": false, "rank": 99, "related_object": ["contact"], "customfield_group": null,
               "parameters": {}})
        .as_object()
        .cloned()
        .unwrap(),
    );

    // The cards: the Sellsy connection with its status; the Connect links.
    let conns = page(&w, &c, "/connections").await;
    assert!(
        conns.contains(&format!("data-testid=\"connection-{sellsy_conn}\"")),
        "{conns}"
    );
    assert!(conns.contains(&format!(
        "data-testid=\"connection-status-{sellsy_conn}\">ok<"
    )));
    assert!(conns.contains("id=\"connect-ghl\"") && conns.contains("href=\"/connect/sellsy\""));
    assert!(conns.contains("<label for=\"ghl-token\">"));

    // The private token form: each missing or refused field is named, nothing stored.
    let res = post(
        &w,
        &c,
        "/ui/connections/ghl",
        &[
            ("csrf_token", &csrf),
            ("token", ""),
            ("location", "x"),
            ("base_url", &w.ghl.base_url),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Private integration token: required"));
    let res = post(
        &w,
        &c,
        "/ui/connections/ghl",
        &[
            ("csrf_token", &csrf),
            ("token", "wrong-token"),
            ("location", &w.ghl_cfg.location_id),
            ("base_url", &w.ghl.base_url),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Private integration token &#x2f; location id: GHL refused them"),
        "{body}"
    );
    assert!(
        !body.contains("wrong-token"),
        "the secret is not shown again"
    );
    assert!(w.conn_id(App::Ghl).is_none());
    let res = post(
        &w,
        &c,
        "/ui/connections/sellsy",
        &[
            ("csrf_token", &csrf),
            ("client_id", "nobody"),
            ("client_secret", "bad"),
            ("base_url", &w.sellsy.base_url),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Client id &#x2f; client secret: Sellsy refused them"));
    // Without the CSRF token the form is refused.
    let res = post(
        &w,
        &c,
        "/ui/connections/ghl",
        &[
            ("token", &w.ghl_cfg.token),
            ("location", &w.ghl_cfg.location_id),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = post(
        &w,
        &c,
        "/ui/connections/ghl",
        &[
            ("csrf_token", &csrf),
            ("token", &w.ghl_cfg.token),
            ("location", &w.ghl_cfg.location_id),
            ("base_url", &w.ghl.base_url),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/connections");
    let ghl_conn = w.conn_id(App::Ghl).expect("the GHL connection is stored");
    // Sealed, and usable: a call through the stored connection succeeds.
    let conn = w.accounts.registry.require(&ghl_conn).unwrap();
    let stored = std::fs::read(w.dir.join("state.sqlite")).unwrap();
    assert!(
        !stored
            .windows(w.ghl_cfg.token.len())
            .any(|b| b == w.ghl_cfg.token.as_bytes()),
        "token stored in clear"
    );
    let loc = w
        .accounts
        .ghl_client(&conn)
        .unwrap()
        .call(
            "locations.get-location",
            CallInput::new().param("locationId", &w.ghl_cfg.location_id),
        )
        .await
        .unwrap();
    assert_eq!(loc["location"]["id"], json!(w.ghl_cfg.location_id));
    let conns = page(&w, &c, "/connections").await;
    assert!(
        conns.contains("requests today"),
        "the budget is on the cards"
    );
    for id in [&ghl_conn, &sellsy_conn] {
        assert!(
            conns.contains(&format!("data-testid=\"connection-status-{id}\">ok<")),
            "{id}: {conns}"
        );
    }

    // A pair through the form.
    let pairs = page(&w, &c, "/ui/pairs").await;
    assert!(
        pairs.contains("id=\"new-pair-form\"") && pairs.contains(&format!("value=\"{ghl_conn}\""))
    );
    let res = post(
        &w,
        &c,
        "/ui/pairs",
        &[
            ("csrf_token", &csrf),
            ("ghl", &ghl_conn),
            ("sellsy", &sellsy_conn),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, list) = w.api(reqwest::Method::GET, "/api/pairs", None).await;
    let pair = list[0]["id"].as_str().expect("a pair").to_string();
    assert_eq!(
        (list[0]["ghl"].as_str(), list[0]["sellsy"].as_str()),
        (Some(ghl_conn.as_str()), Some(sellsy_conn.as_str()))
    );
    assert_eq!(location(&res), format!("/ui/pairs/{pair}/mapping"));
    let status = format!("/api/pairs/{pair}/status");
    eventually("the pair's first cycle", || async {
        let (_, s) = w.api(reqwest::Method::GET, &status, None).await;
        s["run"]["cycles"].as_u64().unwrap_or(0) >= 1 && s["run"]["running"] == json!(false)
    })
    .await;

    // Both accounts' custom fields, read live.
    let (code, fields) = w
        .api(
            reqwest::Method::GET,
            &format!("/api/pairs/{pair}/fields"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{fields}");
    let has = |side: &str, key: &str| {
        fields[side]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == key && f["custom"] == json!(true))
    };
    assert!(
        has("ghl", "contact.ui_tier") && has("sellsy", "ui-tier"),
        "{fields}"
    );
    assert!(fields["ghl"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["key"] == "firstName"));
    let editor = page(&w, &c, &format!("/ui/pairs/{pair}/mapping")).await;
    for needle in [
        "data-testid=\"ghl-field-contact.ui_tier\"",
        "data-custom=\"true\" data-canonical=\"\" data-label=\"UI Tier\" data-testid=\"ghl-field-contact.ui_tier\"",
        "data-testid=\"sellsy-field-ui-tier\"",
        "id=\"pair-button\"",
        "id=\"mapping-rows\"",
        "src=\"/ui/assets/mapping.js\"",
    ] {
        assert!(editor.contains(needle), "{needle} in the editor");
    }
    let js = c.get(w.url("/ui/assets/mapping.js")).send().await.unwrap();
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));

    // A GHL contact with the custom value.
    let contact = w
        .ghl()
        .contacts()
        .create(&ContactInput {
            first_name: Some("Tia".into()),
            last_name: Some("Tier".into()),
            email: Some("tia.tier@example.com".into()),
            custom_fields: Some(vec![CustomFieldInput::by_key("ui_tier", "Gold")]),
            ..ContactInput::default()
        })
        .await
        .unwrap()
        .id;

    // Preview: the value Sellsy would receive from that contact.
    let (code, prev) = w
        .api(
            reqwest::Method::POST,
            &format!("/api/pairs/{pair}/preview"),
            Some(json!({"config": MAPPING})),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{prev}");
    let rec = prev["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["side"] == "ghl" && r["id"] == json!(contact))
        .expect("the GHL contact previewed")
        .clone();
    assert_eq!(
        rec["would_write"]["custom.contact.ui_tier"],
        json!("Gold"),
        "{rec}"
    );
    assert!(
        rec["body"]["custom_fields"]
            .as_array()
            .unwrap()
            .contains(&json!({"id": sellsy_field, "value": "Gold"})),
        "{rec}"
    );
    let (code, bad) = w
        .api(
            reqwest::Method::POST,
            &format!("/api/pairs/{pair}/preview"),
            Some(json!({"config": "[custom_fields.\"contact.ui_tier\"]\nsellsy = \"nope\"\n"})),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("sellsy = \"nope\""),
        "{bad}"
    );

    // Dry run: counts and a sample, and neither emulator changes.
    let before = w.snapshot();
    let (code, dry) = w
        .api(
            reqwest::Method::POST,
            &format!("/api/pairs/{pair}/dry-run"),
            Some(json!({"config": MAPPING})),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{dry}");
    assert_eq!(dry["report"]["dry_run"], json!(true));
    assert_eq!(dry["report"]["sellsy"]["created"], json!(1), "{dry}");
    assert!(
        !dry["report"]["samples"].as_array().unwrap().is_empty(),
        "{dry}"
    );
    assert_eq!(w.snapshot(), before, "the dry run wrote nothing");
    let (_, s) = w.api(reqwest::Method::GET, &status, None).await;
    assert_eq!(
        s["run"]["cycles"],
        json!(1),
        "the dry run is not a cycle of the pair"
    );

    // Save, sync once: the value arrives in Sellsy.
    let (code, _) = w
        .api(
            reqwest::Method::PUT,
            &format!("/api/pairs/{pair}/config"),
            Some(json!({"config": MAPPING})),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let (_, cfg) = w
        .api(
            reqwest::Method::GET,
            &format!("/api/pairs/{pair}/config"),
            None,
        )
        .await;
    assert_eq!(cfg["config"], json!(MAPPING));
    let (code, _) = w
        .api(
            reqwest::Method::POST,
            &format!("/api/pairs/{pair}/sync"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    eventually("the custom value in Sellsy", || async {
        let state = w.sellsy.state();
        let store = state.store();
        let id = store
            .contacts
            .rows
            .iter()
            .find(|(_, r)| r.get("email") == Some(&json!("tia.tier@example.com")))
            .map(|(id, _)| *id);
        id.and_then(|id| {
            store
                .custom_field_values
                .get(&(Owner::Contact, id, sellsy_field))
                .cloned()
        }) == Some(json!("Gold"))
    })
    .await;
    let editor = page(&w, &c, &format!("/ui/pairs/{pair}/mapping")).await;
    assert!(
        editor.contains("data-testid=\"mapping-row-contact.ui_tier\""),
        "the saved row is shown"
    );

    // Disconnect: a confirmation first; then the connection (and its pair) go.
    let confirm = page(&w, &c, &format!("/ui/connections/{ghl_conn}/disconnect")).await;
    assert!(
        confirm.contains("id=\"confirm-disconnect\"")
            && confirm.contains("<label for=\"with-pairs\">")
    );
    let path = format!("/ui/connections/{ghl_conn}/disconnect");
    let res = post(&w, &c, &path, &[("csrf_token", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "no confirmation");
    let res = post(&w, &c, &path, &[("csrf_token", &csrf), ("confirm", "yes")]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "a pair still uses it");
    assert!(w.conn_id(App::Ghl).is_some());
    let res = post(
        &w,
        &c,
        &path,
        &[
            ("csrf_token", &csrf),
            ("confirm", "yes"),
            ("with_pairs", "yes"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, all) = w.api(reqwest::Method::GET, "/api/connections", None).await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != json!(ghl_conn)),
        "{all}"
    );
    let (_, pairs) = w.api(reqwest::Method::GET, "/api/pairs", None).await;
    assert_eq!(pairs, json!([]));
    assert!(!page(&w, &c, "/connections")
        .await
        .contains(&format!("data-testid=\"connection-{ghl_conn}\"")));
    w.stop().await;
}
