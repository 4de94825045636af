//! Flow triggers: polls of both apps against in-process emulators (baseline, new items
//! once, real changes once with `previous`, nothing twice across a re-open of the
//! state, a refused item comes again), webhook matching of both apps, cron slots with
//! Europe/Paris DST both ways and misfires.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use hlbridge_core::call::CallInput;
use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator};
use hlbridge_emulator::sellsy::{SellsyConfig, SellsyEmulator};
use hlbridge_flows::model::{Flow, WebhookTrigger};
use hlbridge_flows::run::{Apps, TriggerItem};
use hlbridge_flows::triggers::{
    due_slots, poll_once, schedule_item, webhook_item, webhook_matches, PollSummary, TriggerError,
};
use hlbridge_flows::validate::validate;
use hlbridge_ghl::{ContactInput, GhlAuth, GhlClient};
use hlbridge_sellsy::{SellsyAuth, SellsyClient};
use serde_json::json;

const TOKEN: &str = "pit-flow-triggers";
const LOCATION: &str = "loc-flow-triggers";

struct World {
    ghl_emu: GhlEmulator,
    sellsy_emu: SellsyEmulator,
    sellsy_token: String,
    ghl: GhlClient,
    sellsy: SellsyClient,
    db: std::path::PathBuf,
}

async fn world(tag: &str) -> World {
    let local = "127.0.0.1:0".parse().unwrap();
    let ghl = hlbridge_emulator::ghl::start(
        GhlConfig {
            token: TOKEN.into(),
            location_id: LOCATION.into(),
            rate_max: 100_000,
            rate_interval: Duration::from_secs(10),
            ..GhlConfig::default()
        },
        local,
    )
    .await
    .unwrap();
    let sellsy = hlbridge_emulator::sellsy::start(SellsyConfig::default(), local)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("hlb-ftrig-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sellsy_token = sellsy.state().mint_access_token();
    World {
        ghl: ghl_client(&ghl),
        sellsy: sellsy_client(&sellsy, &sellsy_token),
        ghl_emu: ghl,
        sellsy_emu: sellsy,
        sellsy_token,
        db: dir.join("state.sqlite"),
    }
}

fn ghl_client(emu: &GhlEmulator) -> GhlClient {
    GhlClient::builder()
        .base_url(&emu.base_url)
        .auth(GhlAuth::LocationToken(TOKEN.into()))
        .location_id(LOCATION)
        .build()
        .unwrap()
}

fn sellsy_client(emu: &SellsyEmulator, token: &str) -> SellsyClient {
    SellsyClient::builder()
        .base_url(&emu.base_url)
        .auth(SellsyAuth::Token(token.into()))
        .build()
        .unwrap()
}

/// Fresh clients over the same emulators (a "restart" of the process).
fn apps(w: &World) -> Apps {
    Apps {
        ghl: Some(ghl_client(&w.ghl_emu)),
        sellsy: Some(sellsy_client(&w.sellsy_emu, &w.sellsy_token)),
        ..Apps::default()
    }
}

fn poll_flow(name: &str, operation: &str, on: &str, extra: &str) -> Flow {
    let text = format!(
        r#"schema_version: 1
name: {name}
trigger:
  poll:
    operation: "{operation}"
    every: 1m
    on: {on}
{extra}steps:
  - id: seen
    map:
      id: "{{{{ trigger.id }}}}"
"#
    );
    validate("t.flow.yaml", &text).unwrap_or_else(|p| panic!("{p:?}\n{text}"))
}

async fn poll(w: &World, flow: &Flow, from_beginning: bool) -> (PollSummary, Vec<TriggerItem>) {
    let mut items = Vec::new();
    let mut emit = |item: TriggerItem| -> Result<(), String> {
        items.push(item);
        Ok(())
    };
    let summary = poll_once(&apps(w), &w.db, flow, from_beginning, &mut emit)
        .await
        .unwrap();
    (summary, items)
}

async fn sellsy_contact(w: &World, last: &str) -> i64 {
    let input = CallInput::new().body(json!({"first_name": "Ana", "last_name": last}));
    let body = w
        .sellsy
        .call("contacts.create-contact", input)
        .await
        .unwrap();
    body["id"].as_i64().unwrap()
}

async fn sellsy_rename(w: &World, id: i64, last: &str) {
    let mut input = CallInput::new().body(json!({"last_name": last}));
    input.set("id", id);
    w.sellsy
        .call("contacts.update-contact-info", input)
        .await
        .unwrap();
}

fn keys(items: &[TriggerItem]) -> Vec<String> {
    items.iter().map(|i| i.key.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellsy_polls_emit_new_items_once_across_a_reopen() {
    let w = world("sellsy-new").await;
    // The order parameter is a template (rendered before the call).
    let flow = poll_flow(
        "sellsy-new",
        "sellsy:contacts.get-list",
        "new",
        "    params: {order: \"{{ 'id' }}\", direction: asc}\n",
    );
    let old = sellsy_contact(&w, "Old").await;
    let (s, items) = poll(&w, &flow, false).await;
    assert!(s.baseline && items.is_empty(), "{s:?} {items:?}");
    assert_eq!(s.seen, 1);

    let a = sellsy_contact(&w, "A").await;
    let (s, items) = poll(&w, &flow, false).await;
    assert_eq!(keys(&items), vec![a.to_string()]);
    assert_eq!(items[0].payload["last_name"], "A");
    assert_eq!(items[0].previous, None);
    assert_eq!((s.seen, s.emitted, s.baseline), (2, 1, false));

    // Nothing twice: again, after an update (not new), and after a re-open.
    sellsy_rename(&w, a, "A2").await;
    assert!(poll(&w, &flow, false).await.1.is_empty());
    assert!(poll(&w, &flow, false).await.1.is_empty());

    // Another flow over the same operation has its own state (its own baseline);
    // from_beginning emits what exists.
    let other = poll_flow("sellsy-other", "sellsy:contacts.get-list", "new", "");
    let (_, items) = poll(&w, &other, true).await;
    let mut got = keys(&items);
    got.sort();
    let mut want = vec![old.to_string(), a.to_string()];
    want.sort();
    assert_eq!(got, want);
}

/// Flows reading the same operation with the same parameters share one fetch; each
/// keeps its own state (baseline, seen, `new`/`updated`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_reading_the_same_thing_share_one_fetch() {
    use hlbridge_flows::triggers::{poll_shared, shared_read_key};
    let w = world("shared").await;
    let a = poll_flow("share-a", "sellsy:contacts.get-list", "new", "");
    let b = poll_flow("share-b", "sellsy:contacts.get-list", "updated", "");
    let c = poll_flow(
        "share-c",
        "sellsy:contacts.get-list",
        "new",
        "    params: {limit: 5}\n",
    );
    assert_eq!(shared_read_key(&a), shared_read_key(&b));
    assert_ne!(shared_read_key(&a), shared_read_key(&c));
    // The GHL contacts search resumes from a per-flow cursor: not shared.
    let ghl = poll_flow(
        "share-g",
        "ghl:contacts.search-contacts-advanced",
        "new",
        "",
    );
    assert_eq!(shared_read_key(&ghl), None);

    let flows = vec![a, b];
    let shared = |w: &World| {
        let flows = flows.clone();
        let apps = apps(w);
        let db = w.db.clone();
        async move {
            let mut got: Vec<(usize, String)> = Vec::new();
            let mut emit = |i: usize, item: TriggerItem| -> Result<(), String> {
                got.push((i, item.key));
                Ok(())
            };
            let r = poll_shared(&apps, &db, &flows, false, &mut emit)
                .await
                .unwrap();
            assert!(r.iter().all(|x| x.is_ok()), "{r:?}");
            got
        }
    };
    let requests = |w: &World| w.sellsy_emu.state().stats().requests;
    sellsy_contact(&w, "Base").await;
    assert!(shared(&w).await.is_empty(), "baselines");
    let id = sellsy_contact(&w, "New").await;
    let before = requests(&w);
    let got = shared(&w).await;
    assert_eq!(requests(&w) - before, 1, "one fetch for both flows");
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.contains(&(0, id.to_string())), "{got:?}");
    assert!(
        got.iter()
            .any(|(i, k)| *i == 1 && k.starts_with(&format!("{id}:"))),
        "{got:?}"
    );
    // A real change: only the `updated` flow emits it.
    sellsy_rename(&w, id, "Renamed").await;
    let got = shared(&w).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, 1);
    // Different reads are refused together.
    let mut emit = |_: usize, _: TriggerItem| -> Result<(), String> { Ok(()) };
    assert!(
        poll_shared(&apps(&w), &w.db, &[flows[0].clone(), c], false, &mut emit)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellsy_updated_polls_emit_each_real_change_once_with_previous() {
    let w = world("sellsy-upd").await;
    let flow = poll_flow("sellsy-upd", "sellsy:contacts.get-list", "updated", "");
    let a = sellsy_contact(&w, "First").await;
    let b = sellsy_contact(&w, "Other").await;
    assert!(poll(&w, &flow, false).await.1.is_empty(), "baseline");

    sellsy_rename(&w, a, "Second").await;
    let (_, items) = poll(&w, &flow, false).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert!(item.key.starts_with(&format!("{a}:")), "{}", item.key);
    assert_eq!(item.key.len(), a.to_string().len() + 1 + 16);
    assert_eq!(item.payload["last_name"], "Second");
    let previous = item.previous.as_ref().expect("previous from the baseline");
    assert_eq!(previous["last_name"], "First");
    assert!(poll(&w, &flow, false).await.1.is_empty(), "once per change");

    sellsy_rename(&w, a, "Third").await;
    let (_, items) = poll(&w, &flow, false).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].payload["last_name"], "Third");
    assert_eq!(items[0].previous.as_ref().unwrap()["last_name"], "Second");
    assert!(poll(&w, &flow, false).await.1.is_empty());
    let _ = b;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_item_is_not_remembered_and_comes_again() {
    let w = world("refused").await;
    let flow = poll_flow("refused", "sellsy:contacts.get-list", "new", "");
    poll(&w, &flow, false).await;
    let a = sellsy_contact(&w, "A").await;
    let mut emit = |_: TriggerItem| -> Result<(), String> { Err("store is down".into()) };
    let err = poll_once(&apps(&w), &w.db, &flow, false, &mut emit)
        .await
        .unwrap_err();
    match &err {
        TriggerError::Emit { key, message } => {
            assert_eq!(key, &a.to_string());
            assert_eq!(message, "store is down");
        }
        other => panic!("{other}"),
    }
    assert_eq!(keys(&poll(&w, &flow, false).await.1), vec![a.to_string()]);
    assert!(poll(&w, &flow, false).await.1.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghl_polls_emit_new_and_changed_contacts_once() {
    let w = world("ghl").await;
    let search = "ghl:contacts.search-contacts-advanced";
    let new = poll_flow("ghl-new", search, "new", "");
    let upd = poll_flow("ghl-upd", search, "updated", "");
    let create = |n: &str| ContactInput {
        first_name: Some(n.into()),
        email: Some(format!("{}@example.com", n.to_lowercase())),
        ..Default::default()
    };
    let old = w.ghl.contacts().create(&create("Old")).await.unwrap().id;
    assert!(poll(&w, &new, false).await.1.is_empty());
    assert!(poll(&w, &upd, false).await.1.is_empty());

    let a = w.ghl.contacts().create(&create("Anna")).await.unwrap().id;
    let (_, items) = poll(&w, &new, false).await;
    assert_eq!(keys(&items), vec![a.clone()]);
    assert!(poll(&w, &new, false).await.1.is_empty());

    w.ghl
        .contacts()
        .update(
            &old,
            &ContactInput {
                city: Some("Lyon".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, items) = poll(&w, &upd, false).await;
    let changed: Vec<&TriggerItem> = items
        .iter()
        .filter(|i| i.key.starts_with(&format!("{old}:")))
        .collect();
    assert_eq!(changed.len(), 1, "{items:?}");
    assert_eq!(changed[0].payload["city"], "Lyon");
    assert!(changed[0].previous.as_ref().unwrap().get("city") != Some(&json!("Lyon")));
    assert!(poll(&w, &upd, false).await.1.is_empty(), "nothing twice");
    assert!(
        poll(&w, &new, false).await.1.is_empty(),
        "an update is not new"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_refuse_other_triggers_and_missing_connections() {
    let w = world("refuse").await;
    let webhook = validate(
        "w.flow.yaml",
        "schema_version: 1\nname: hook\ntrigger:\n  webhook: {app: ghl, events: [ContactCreate]}\nsteps:\n  - id: a\n    map: {x: \"1\"}\n",
    )
    .unwrap();
    let mut emit = |_: TriggerItem| -> Result<(), String> { Ok(()) };
    let err = poll_once(&apps(&w), &w.db, &webhook, false, &mut emit)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a poll"), "{err}");
    let flow = poll_flow("nosellsy", "sellsy:contacts.get-list", "new", "");
    let only_ghl = Apps {
        ghl: Some(ghl_client(&w.ghl_emu)),
        ..Apps::default()
    };
    let err = poll_once(&only_ghl, &w.db, &flow, false, &mut emit)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no Sellsy connection"), "{err}");
}

#[test]
fn webhooks_match_by_app_and_event_name() {
    let ghl = WebhookTrigger {
        app: "ghl".into(),
        events: vec!["ContactCreate".into(), "NoteCreate".into()],
    };
    let create = json!({"type": "ContactCreate", "id": "c1", "webhookId": "w-1"});
    assert!(webhook_matches(&ghl, "ghl", &create));
    assert!(
        !webhook_matches(&ghl, "sellsy", &create),
        "the app must match"
    );
    assert!(!webhook_matches(
        &ghl,
        "ghl",
        &json!({"type": "ContactDelete"})
    ));
    assert!(!webhook_matches(&ghl, "ghl", &json!({"id": "no type"})));

    let sellsy = WebhookTrigger {
        app: "sellsy".into(),
        events: vec!["people.created".into()],
    };
    assert!(webhook_matches(
        &sellsy,
        "sellsy",
        &json!({"eventType": "people.created", "relatedid": "7"})
    ));
    assert!(webhook_matches(
        &sellsy,
        "sellsy",
        &json!({"object": "people", "type": "created"})
    ));
    assert!(!webhook_matches(
        &sellsy,
        "sellsy",
        &json!({"eventType": "people.updated"})
    ));
    assert!(!webhook_matches(
        &sellsy,
        "ghl",
        &json!({"eventType": "people.created"})
    ));

    let item = webhook_item("ghl", &create, "w-1");
    assert_eq!(item.key, "webhook:w-1");
    assert_eq!(item.payload, create);
    assert_eq!(item.previous, None);
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn paris(slots: &[DateTime<Utc>]) -> Vec<String> {
    slots
        .iter()
        .map(|s| {
            s.with_timezone(&chrono_tz::Europe::Paris)
                .format("%H:%M%:z")
                .to_string()
        })
        .collect()
}

#[test]
fn slots_are_due_between_since_and_now_in_the_time_zone() {
    // 09:00 Paris on weekdays; Monday 2026-01-05 is 08:00 UTC (winter time).
    let s = due_slots(
        "0 9 * * 1-5",
        Some("Europe/Paris"),
        utc(2026, 1, 5, 7, 30),
        utc(2026, 1, 5, 8, 0),
    )
    .unwrap();
    assert_eq!(s, vec![utc(2026, 1, 5, 8, 0)], "now is inclusive");
    assert!(due_slots(
        "0 9 * * 1-5",
        Some("Europe/Paris"),
        s[0],
        utc(2026, 1, 5, 8, 30)
    )
    .unwrap()
    .is_empty());
    let every = due_slots(
        "*/15 * * * *",
        None,
        utc(2026, 1, 5, 8, 0),
        utc(2026, 1, 5, 8, 50),
    )
    .unwrap();
    assert_eq!(
        every,
        vec![
            utc(2026, 1, 5, 8, 15),
            utc(2026, 1, 5, 8, 30),
            utc(2026, 1, 5, 8, 45)
        ]
    );
    assert!(due_slots(
        "0 9 * *",
        None,
        utc(2026, 1, 5, 8, 0),
        utc(2026, 1, 5, 9, 0)
    )
    .unwrap_err()
    .contains("5 fields"));
    assert!(due_slots(
        "0 9 * * *",
        Some("Mars/Olympus"),
        utc(2026, 1, 5, 8, 0),
        utc(2026, 1, 5, 9, 0)
    )
    .unwrap_err()
    .contains("IANA"));
}

#[test]
fn a_slot_in_the_spring_gap_fires_once() {
    // 2026-03-29 in Paris: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    let s = due_slots(
        "30 2 * * *",
        Some("Europe/Paris"),
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1, 20),
    )
    .unwrap();
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(paris(&s), vec!["03:00+02:00"]);
    // The next poll does not fire it again, and the next day is back at 02:30.
    assert!(due_slots(
        "30 2 * * *",
        Some("Europe/Paris"),
        s[0],
        utc(2026, 3, 29, 1, 50)
    )
    .unwrap()
    .is_empty());
    let next = due_slots(
        "30 2 * * *",
        Some("Europe/Paris"),
        utc(2026, 3, 30, 0, 0),
        utc(2026, 3, 30, 0, 40),
    )
    .unwrap();
    assert_eq!(paris(&next), vec!["02:30+02:00"]);
}

#[test]
fn a_repeated_autumn_hour_fires_once() {
    // 2026-10-25 in Paris: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice
    // (00:30 and 01:30 UTC).
    let daily = due_slots(
        "30 2 * * *",
        Some("Europe/Paris"),
        utc(2026, 10, 25, 0, 0),
        utc(2026, 10, 25, 1, 45),
    )
    .unwrap();
    assert_eq!(daily, vec![utc(2026, 10, 25, 0, 30)]);
    // Polled in two halves: the second instant does not fire either.
    assert!(due_slots(
        "30 2 * * *",
        Some("Europe/Paris"),
        daily[0],
        utc(2026, 10, 25, 1, 45)
    )
    .unwrap()
    .is_empty());
    // An hourly pattern fires at each wall-clock time once: 02:30 once, then 03:30.
    let hourly = due_slots(
        "30 * * * *",
        Some("Europe/Paris"),
        utc(2026, 10, 25, 0, 0),
        utc(2026, 10, 25, 0, 59),
    )
    .unwrap();
    let later = due_slots(
        "30 * * * *",
        Some("Europe/Paris"),
        utc(2026, 10, 25, 0, 59),
        utc(2026, 10, 25, 1, 59),
    )
    .unwrap();
    let later2 = due_slots(
        "30 * * * *",
        Some("Europe/Paris"),
        utc(2026, 10, 25, 1, 59),
        utc(2026, 10, 25, 2, 59),
    )
    .unwrap();
    assert_eq!(paris(&hourly), vec!["02:30+02:00"]);
    assert!(later.is_empty(), "the repeated 02:30: {later:?}");
    assert_eq!(paris(&later2), vec!["03:30+01:00"]);
}

#[test]
fn a_far_behind_since_returns_at_most_the_last_slot() {
    // A week offline: a daily flow runs once, for the latest slot.
    let s = due_slots(
        "0 9 * * *",
        Some("Europe/Paris"),
        utc(2026, 1, 1, 0, 0),
        utc(2026, 1, 8, 12, 0),
    )
    .unwrap();
    assert_eq!(s, vec![utc(2026, 1, 8, 8, 0)]);
    let minutes = due_slots(
        "* * * * *",
        None,
        utc(2026, 1, 1, 0, 0),
        utc(2026, 1, 1, 5, 0),
    )
    .unwrap();
    assert_eq!(minutes, vec![utc(2026, 1, 1, 5, 0)]);
    // Far behind but no slot since then: nothing.
    assert!(due_slots(
        "0 9 1 1 *",
        None,
        utc(2026, 1, 1, 10, 0),
        utc(2026, 1, 9, 0, 0)
    )
    .unwrap()
    .is_empty());
    // Within the grace window every missed slot is returned.
    let caught = due_slots(
        "*/10 * * * *",
        None,
        utc(2026, 1, 1, 0, 0),
        utc(2026, 1, 1, 0, 50),
    )
    .unwrap();
    assert_eq!(caught.len(), 5);
}

#[test]
fn schedule_items_are_keyed_by_their_slot() {
    let flow = validate(
        "s.flow.yaml",
        "schema_version: 1\nname: daily\ntrigger:\n  schedule: {cron: \"0 9 * * *\", tz: Europe/Paris}\nsteps:\n  - id: a\n    map: {x: \"1\"}\n",
    )
    .unwrap();
    let item = schedule_item(&flow, utc(2026, 7, 1, 7, 0));
    assert_eq!(item.key, "2026-07-01T07:00:00Z");
    assert_eq!(item.payload["local"], "2026-07-01T09:00:00+02:00");
    assert_eq!(item.payload["tz"], "Europe/Paris");
    assert_eq!(item.payload["cron"], "0 9 * * *");
}
