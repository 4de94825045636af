//! Sellsy polling triggers in the engine: seek paging over several pages, each item
//! once, state across a re-open of the store, `updated` on real changes only.

use hlbridge_core::call::CallInput;
use hlbridge_emulator::sellsy::{start, SellsyConfig};
use hlbridge_engine::triggers::{poll_sellsy, sellsy_trigger, Mode, SqliteTriggerStore};
use hlbridge_sellsy::{SellsyAuth, SellsyClient};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_followed_and_each_item_is_emitted_once_across_a_reopen() {
    let emu = start(
        SellsyConfig {
            quota_per_second: 100_000,
            quota_per_minute: 1_000_000,
            ..SellsyConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let client = SellsyClient::builder()
        .base_url(&emu.base_url)
        .auth(SellsyAuth::Token(emu.state().mint_access_token()))
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..12 {
        let body = client
            .call(
                "contacts.create-contact",
                CallInput::new().body(json!({"last_name": format!("Page{n}")})),
            )
            .await
            .unwrap();
        ids.push(body["id"].as_i64().unwrap());
    }
    let dir = std::env::temp_dir().join(format!("hlb-eng-trig-sellsy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("state.sqlite");
    let op = hlbridge_sellsy::operation("contacts.get-list").unwrap();
    // Pages of 5 (the seek token of each page leads to the next).
    let trigger = sellsy_trigger(op, CallInput::new().param("limit", 5), Mode::Updated).unwrap();

    let store = SqliteTriggerStore::open(&db).unwrap();
    let mut got: Vec<Value> = Vec::new();
    let outcome = poll_sellsy(&client, &store, &trigger, true, |i| got.push(i.clone()))
        .await
        .unwrap();
    assert_eq!((outcome.seen, outcome.emitted), (12, 12));
    let mut emitted: Vec<i64> = got.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    emitted.sort();
    assert_eq!(emitted, ids);
    drop(store);

    // A re-opened store emits nothing; a real change emits that one item.
    let store = SqliteTriggerStore::open(&db).unwrap();
    let mut again = 0;
    poll_sellsy(&client, &store, &trigger, false, |_| again += 1)
        .await
        .unwrap();
    assert_eq!(again, 0);
    let mut input = CallInput::new().body(json!({"last_name": "Moved"}));
    input.set("id", ids[7]);
    client
        .call("contacts.update-contact-info", input)
        .await
        .unwrap();
    let mut changed = Vec::new();
    poll_sellsy(&client, &store, &trigger, false, |i| {
        changed.push(i.clone())
    })
    .await
    .unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["id"].as_i64(), Some(ids[7]));
    assert_eq!(changed[0]["last_name"], "Moved");
}
