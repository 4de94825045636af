//! World 1 of `ui_activity`: catalog, Try it, cycles, a conflict, budgets.

use std::time::{Duration, Instant};

use hlbridge_core::call::CallInput;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{attrs, location, text, World};

fn non_alias(t: &hlbridge_core::optable::Table) -> usize {
    t.operations.iter().filter(|o| o.alias_of.is_none()).count()
}

/// The number right after `marker` (e.g. `data-testid="x">42<`).
fn number_after(html: &str, marker: &str) -> u64 {
    html.split(marker)
        .nth(1)
        .and_then(|s| s.split('>').nth(1))
        .and_then(|s| s.split('<').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no number after {marker}"))
}

pub async fn catalog_and_try_it(w: &World) {
    let all = w.page("/ui/catalog").await;
    assert!(all.contains(r#"data-testid="op-ghl-contacts.get-contact""#));
    assert!(all.contains(r#"data-testid="op-sellsy-contacts.get-list""#));
    assert!(all.contains(r#"id="catalog-search""#));
    assert!(all.contains(r#"<script src="/ui/assets/catalog.js" defer></script>"#));
    assert_eq!(
        all.matches(r#"data-testid="op-"#).count(),
        non_alias(&hlbridge_ghl::TABLE) + non_alias(&hlbridge_sellsy::TABLE),
        "every operation of both tables, aliases left out"
    );
    let found = w.page("/ui/catalog?q=search-contacts&app=sellsy").await;
    assert!(found.contains(r#"data-testid="op-sellsy-contacts.search-contacts""#));
    assert!(
        !found.contains(r#"data-testid="op-ghl-"#),
        "app=sellsy only"
    );
    assert!(!found.contains(r#"data-testid="op-sellsy-contacts.get-list""#));
    let none = w.page("/ui/catalog?q=zzz-no-such-op").await;
    assert!(none.contains(r#"id="catalog-empty""#));
    let js =
        w.c.get(w.url("/ui/assets/catalog.js"))
            .send()
            .await
            .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/javascript")));

    // A write asks for confirmation; nothing is created before it.
    let ghl_conn = w.conn("ghl").id;
    let form = w.page("/ui/catalog/ghl/contacts.create-contact").await;
    assert!(form.contains(r#"id="try-form""#) && form.contains(r#"id="try-send""#));
    assert!(
        form.contains(&format!(r#"value="{ghl_conn}""#)),
        "connection offered"
    );
    assert!(
        form.contains("\"email\""),
        "body skeleton has the schema's fields"
    );
    let email = "tried.it@example.com";
    let body = json!({"firstName": "Tried", "lastName": "It", "email": email}).to_string();
    let path = "/ui/catalog/ghl/contacts.create-contact";
    let fields = [("connection", ghl_conn.as_str()), ("body", body.as_str())];
    let res = w.post(path, &fields).await;
    assert_eq!(res.status(), StatusCode::OK);
    let asked = text(res).await;
    assert!(asked.contains(r#"id="try-confirm""#), "{asked}");
    assert!(!asked.contains(r#"id="try-response""#));
    assert!(
        w.ghl_contact_by_email(email).is_none(),
        "not sent unconfirmed"
    );
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirmed", "yes"));
    let res = w.post(path, &confirmed).await;
    let sent = text(res).await;
    assert!(sent.contains(r#"id="try-response""#), "{sent}");
    let created = w
        .ghl_contact_by_email(email)
        .expect("the confirmed create made the contact in the GHL emulator");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(sent.contains(&id), "the response shows the new id");
    assert!(!sent.contains(&w.ghl_cfg.token), "no token in the page");

    // A read through the stored connection shows the emulator's record.
    let read = w
        .post(
            "/ui/catalog/ghl/contacts.get-contact",
            &[
                ("connection", ghl_conn.as_str()),
                ("p.contactId", id.as_str()),
            ],
        )
        .await;
    let read = text(read).await;
    assert!(read.contains(r#"id="try-status">200<"#), "{read}");
    assert!(read.contains(email) && read.contains("Tried"), "{read}");
    assert!(
        !read.contains(r#"id="try-confirm""#),
        "a read needs no confirmation"
    );
    // A required parameter left empty is named at its field.
    let res = w
        .post(
            "/ui/catalog/ghl/contacts.get-contact",
            &[("connection", ghl_conn.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(res).await;
    assert!(
        html.contains("contactId: required path parameter"),
        "{html}"
    );
}

async fn pair_idle(w: &World, pair: &str, cycles: u64) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (_, st) = w
            .api(Method::GET, &format!("/api/pairs/{pair}/status"), None)
            .await;
        let run = &st["run"];
        if run["cycles"].as_u64().unwrap_or(0) >= cycles && run["running"] == false {
            return;
        }
        assert!(Instant::now() < deadline, "pair {pair} never idle: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn cycles_conflict_budgets(w: &World) {
    let ghl = w.ghl();
    let email = "conflict@example.com";
    let created = ghl
        .call(
            "contacts.create-contact",
            CallInput::new().body(json!({"firstName": "Con", "lastName": "Flict", "email": email})),
        )
        .await
        .unwrap();
    let gid = created["contact"]["id"].as_str().unwrap().to_string();
    let (s, p) = w
        .api(
            Method::POST,
            "/api/pairs",
            Some(json!({
                "ghl": w.conn("ghl").id,
                "sellsy": w.conn("sellsy").id,
                "config": "[fields.website]\nconflict = \"manual\"\n",
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let pair = p["id"].as_str().unwrap().to_string();
    let sellsy = w.sellsy();
    let deadline = Instant::now() + Duration::from_secs(40);
    let sid = loop {
        if let Some(c) = sellsy.find_contacts_by_email(email).await.unwrap().first() {
            break c.id;
        }
        assert!(
            Instant::now() < deadline,
            "the first cycle never linked {email}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    pair_idle(w, &pair, 1).await;

    // The cycle is on the timeline, with its page; the filters hold it back.
    let list = format!("/ui/activity?kind=cycle&pair={pair}");
    let act = w
        .page_until(&list, "a cycle listed", |h| {
            h.contains(r#"data-testid="activity-cycle-"#)
        })
        .await;
    assert!(act.contains(r#"id="activity-filters""#));
    let href = attrs(&act, "href")
        .into_iter()
        .find(|h| h.starts_with("/ui/activity/cycles/"))
        .expect("a link to the cycle");
    let cycle = w.page(&href).await;
    assert!(cycle.contains(&pair) && cycle.contains(r#"id="cycle-summary""#));
    let status = cycle
        .split(r#"id="cycle-status">"#)
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    let with = w
        .page(&format!("/ui/activity?kind=cycle&status={status}"))
        .await;
    assert!(with.contains(r#"data-testid="activity-cycle-"#));
    let other = if status == "ok" { "failed" } else { "ok" };
    for q in [
        "kind=run".to_string(),
        format!("status={other}&kind=cycle"),
        "from=2999-01-01".to_string(),
        "to=2000-01-01".to_string(),
        "pair=pair-none".to_string(),
        format!("flow=no-flow&pair={pair}"),
    ] {
        let h = w.page(&format!("/ui/activity?{q}")).await;
        assert!(!h.contains(r#"data-testid="activity-cycle-"#), "{q}: {h}");
    }
    let bad =
        w.c.get(w.url("/ui/activity?from=yesterday"))
            .send()
            .await
            .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(text(bad).await.contains("from="));

    // The same field changed on both sides between two cycles: queued (manual).
    ghl.call(
        "contacts.update-contact",
        CallInput::new()
            .param("contactId", &gid)
            .body(json!({"website": "https://ghl.example"})),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sellsy
        .update_contact(sid, &json!({"website": "https://sellsy.example"}))
        .await
        .unwrap();
    let (s, _) = w
        .api(Method::POST, &format!("/api/pairs/{pair}/sync"), None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let conf = w
        .page_until("/ui/conflicts", "the conflict listed", |h| {
            h.contains(r#"data-testid="conflict-"#)
        })
        .await;
    assert!(conf.contains("https://ghl.example") && conf.contains("https://sellsy.example"));
    let cycles = w.page(&list).await;
    assert!(
        cycles.matches(r#"data-testid="activity-cycle-"#).count() >= 2,
        "the asked-for cycle is on the timeline too: {cycles}"
    );
    assert!(conf.contains(r#"class="resolve-ghl""#) && conf.contains(r#"class="resolve-sellsy""#));
    assert_eq!(
        w.ghl.state().contact(&gid).unwrap()["website"],
        "https://ghl.example",
        "untouched until resolved"
    );
    let action = attrs(&conf, "action")
        .into_iter()
        .find(|a| a.starts_with("/ui/conflicts/"))
        .unwrap();
    let no_csrf =
        w.c.post(w.url(&action))
            .form(&[("take", "sellsy")])
            .send()
            .await
            .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let res = w.post(&action, &[("take", "sellsy")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/ui/conflicts?done="));
    let deadline = Instant::now() + Duration::from_secs(40);
    while w.ghl.state().contact(&gid).unwrap()["website"] != "https://sellsy.example" {
        assert!(
            Instant::now() < deadline,
            "the kept Sellsy value never reached GHL: {}",
            w.ghl.state().contact(&gid).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = w.page("/ui/conflicts").await;
    assert!(after.contains(r#"id="conflicts-empty""#), "{after}");

    // Dead letters: a write the sync gave up on (recorded through the pair's store as
    // the outbox does) is listed with what, why and when.
    let dead = w.page("/ui/dead-letters").await;
    assert!(
        dead.contains(&format!(r#"data-testid="dead-pair-{pair}""#)),
        "{dead}"
    );
    assert!(
        !dead.contains("data-testid=\"dead-write-"),
        "none yet: {dead}"
    );
    let state = w.accounts.registry.pair_state_path(&pair);
    let store = hlbridge_engine::store::open(&format!("sqlite://{}", state.display())).unwrap();
    let entry = store
        .enqueue(&hlbridge_engine::store::NewOutbox {
            key: "ui-test:dead".into(),
            target: hlbridge_engine::store::Side::Sellsy,
            kind: hlbridge_engine::store::Kind::Contact,
            op: "update".into(),
            target_id: Some(sid.to_string()),
            source_id: gid.clone(),
            payload: json!({"website": "x"}),
            context: None,
        })
        .unwrap();
    store
        .finish(
            entry.id,
            hlbridge_engine::store::Outcome::Failed("website: refused by Sellsy (test)"),
        )
        .unwrap();
    let dead = w.page("/ui/dead-letters").await;
    let row = dead
        .split(&format!(r#"data-testid="dead-write-{pair}-{}""#, entry.id))
        .nth(1)
        .and_then(|s| s.split("</tr>").next())
        .unwrap_or_else(|| panic!("the dead write listed: {dead}"));
    assert!(row.contains("website: refused by Sellsy (test)") && row.contains("update contact"));
    assert!(
        row.contains(&gid) && row.contains(&sid.to_string()),
        "{row}"
    );

    // Try it on Sellsy: the contact the sync created, read through the connection.
    let sellsy_conn = w.conn("sellsy").id;
    let res = w
        .post(
            "/ui/catalog/sellsy/contacts.get-list",
            &[("connection", sellsy_conn.as_str()), ("p.limit", "100")],
        )
        .await;
    let listed = text(res).await;
    assert!(listed.contains(r#"id="try-status">200<"#), "{listed}");
    assert!(listed.contains(email), "{listed}");
    assert!(!listed.contains("access_token"), "{listed}");

    // Budgets: the accounts' requests today, drawn as SVG bars.
    let b = w.page("/ui/budgets").await;
    assert!(b.contains(r#"id="budget-chart""#) && b.contains("<svg"));
    let slug: String = format!("ghl:{}", w.ghl_cfg.location_id)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let ghl_total = number_after(&b, &format!(r#"data-testid="budget-total-{slug}""#));
    assert!(ghl_total > 0, "GHL requests counted: {b}");
    let bars: u64 = b
        .split(&format!(r#"data-testid="budget-svg-{slug}""#))
        .nth(1)
        .and_then(|s| s.split("</svg>").next())
        .map(|svg| {
            attrs(svg, "data-requests")
                .iter()
                .map(|n| n.parse::<u64>().unwrap())
                .sum()
        })
        .unwrap();
    assert_eq!(bars, ghl_total, "the bars add up to the total");
    let sellsy_key = w.conn("sellsy").account;
    let sellsy_slug: String = format!("sellsy:{sellsy_key}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    assert!(number_after(&b, &format!(r#"data-testid="budget-total-{sellsy_slug}""#)) > 0);
}
