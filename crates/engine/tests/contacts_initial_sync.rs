//! Initial sync of 2,000 contacts on each side, 300 overlapping by e-mail: each side
//! ends with exactly 3,700, overlapping ones linked not duplicated, fields mapped; a
//! following no-change cycle writes nothing.

mod common;

use std::time::Instant;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_emulator::sellsy::Owner;
use hlbridge_engine::store::{Kind, Side};
use serde_json::Value;

fn sellsy_tags(env: &common::Env, id: i64) -> Vec<String> {
    let state = env.sellsy.state();
    let store = state.store();
    let mut tags: Vec<String> = store
        .tag_links
        .iter()
        .filter(|(o, c, _)| *o == Owner::Contact && *c == id)
        .filter_map(|(_, _, t)| {
            store
                .smart_tags
                .get(*t)?
                .get("value")?
                .as_str()
                .map(str::to_lowercase)
        })
        .collect();
    tags.sort();
    tags
}

fn sellsy_company(env: &common::Env, id: i64) -> Option<String> {
    let state = env.sellsy.state();
    let store = state.store();
    store
        .company_contacts
        .keys()
        .find(|(_, c)| *c == id)
        .and_then(|(co, _)| {
            store
                .companies
                .get(*co)?
                .get("name")?
                .as_str()
                .map(str::to_string)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_sync_of_2000_plus_2000_with_300_overlapping() {
    let env = common::start(2_000, 2_000, FaultConfig::default()).await;
    let overlap = env.overlap_emails(300);
    let engine = env.engine("[sync]\nsweep_max_contacts = 0\n").await;

    // Dry run first: counts, no writes.
    let dry = engine
        .run_once(true, &common::quiet())
        .await
        .expect("dry run");
    assert_eq!(dry.linked, 300, "{}", dry.line());
    assert_eq!(dry.sellsy.created, 1_700, "{}", dry.line());
    assert_eq!(dry.ghl.created, 1_700, "{}", dry.line());
    assert!(!dry.samples.is_empty());
    assert_eq!(env.ghl.state().contact_count(), 2_000);

    let started = Instant::now();
    let report = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    eprintln!("initial sync: {} in {:?}", report.line(), started.elapsed());
    eprintln!("GHL requests: {:?}", env.ghl.state().stats().by_operation);
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(env.ghl.state().contact_count(), 3_700);
    assert_eq!(env.sellsy_contacts().len(), 3_700);
    for (e, n) in common::email_counts(&env.ghl_contacts()) {
        assert_eq!(n, 1, "duplicate {e} in GHL");
    }
    for (e, n) in common::email_counts(&env.sellsy_contacts()) {
        assert_eq!(n, 1, "duplicate {e} in Sellsy");
    }
    let store = engine.store();
    assert_eq!(store.count_links(Kind::Contact).unwrap(), 3_700);
    for email in overlap.iter().take(20) {
        let g = store
            .find_records(Side::Ghl, Kind::Contact, "email", email)
            .unwrap();
        assert_eq!(g.len(), 1);
        let link = store
            .link_by(Kind::Contact, Side::Ghl, &g[0].id)
            .unwrap()
            .expect("linked");
        assert!(
            link.sellsy_id.parse::<i64>().unwrap() <= 300,
            "overlap linked to a seeded Sellsy contact"
        );
    }

    // Fields as mapped, Sellsy → GHL: seeded contact #1 (index 0: address, company, no
    // subscriptions) was overlapped; index 3 has a company, index 1 a smart tag.
    let by_email = |email: &str| {
        env.ghl_contacts()
            .into_iter()
            .find(|c| c["email"].as_str() == Some(email))
            .expect("contact in GHL")
    };
    let sellsy: Vec<Value> = env.sellsy_contacts();
    for s in sellsy
        .iter()
        .filter(|s| (301..=320).contains(&s["id"].as_i64().unwrap_or(0)))
    {
        let sid = s["id"].as_i64().unwrap();
        let g = by_email(s["email"].as_str().unwrap());
        assert_eq!(g["firstName"], s["first_name"]);
        assert_eq!(g["lastName"], s["last_name"]);
        assert_eq!(g["phone"], s["mobile_number"], "mobile wins over phone");
        let dnd = s["marketing_campaigns_subscriptions"]
            .as_array()
            .is_none_or(|a| a.is_empty());
        assert_eq!(g["dnd"].as_bool().unwrap_or(false), dnd);
        let mut g_tags: Vec<String> = g["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        g_tags.sort();
        assert_eq!(g_tags, sellsy_tags(&env, sid));
        assert_eq!(
            g["companyName"].as_str().map(str::to_string),
            sellsy_company(&env, sid)
        );
        let state = env.sellsy.state();
        let st = state.store();
        if let Some(addr) = s["invoicing_address_id"]
            .as_i64()
            .and_then(|a| st.addresses.get(a))
        {
            assert_eq!(g["city"], addr["city"]);
            assert_eq!(g["postalCode"], addr["postal_code"]);
            assert_eq!(g["address1"], addr["address_line_1"]);
            assert_eq!(g["country"], addr["country_code"]);
        }
    }
    // GHL → Sellsy: tags and company of GHL-seeded contacts.
    for g in env.ghl_contacts().iter().skip(300).take(20) {
        let email = g["email"].as_str().unwrap();
        let s = sellsy
            .iter()
            .find(|s| s["email"].as_str() == Some(email))
            .expect("in Sellsy");
        let sid = s["id"].as_i64().unwrap();
        assert_eq!(s["first_name"], g["firstName"]);
        assert_eq!(s["mobile_number"], g["phone"]);
        let mut g_tags: Vec<String> = g["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        g_tags.sort();
        assert_eq!(sellsy_tags(&env, sid), g_tags);
        assert_eq!(
            sellsy_company(&env, sid),
            g["companyName"].as_str().map(str::to_string)
        );
    }

    // A cycle with no change writes nothing.
    let before = env.ghl.state().stats().by_operation;
    let sellsy_before = env.sellsy_contacts();
    let quiet = engine
        .run_once(false, &common::quiet())
        .await
        .expect("quiet cycle");
    assert!(quiet.is_clean(), "{quiet:#?}");
    assert_eq!(
        (
            quiet.ghl.created,
            quiet.ghl.updated,
            quiet.sellsy.created,
            quiet.sellsy.updated
        ),
        (0, 0, 0, 0),
        "{}",
        quiet.line()
    );
    let after = env.ghl.state().stats().by_operation;
    for (op, n) in &after {
        if !op.contains("search") && !op.contains("get") {
            assert_eq!(
                Some(n),
                before.get(op).or(Some(&0)),
                "{op} called during a no-change cycle"
            );
        }
    }
    assert_eq!(
        env.sellsy_contacts(),
        sellsy_before,
        "Sellsy changed during a no-change cycle"
    );
    env.cleanup();
}
