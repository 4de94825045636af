//! Phone numbers as a match key: the GHL location's country as read from the API, and
//! two spellings of one number (E.164 in GHL, national in Sellsy) matched through the
//! configured default region.

mod common;

use hlbridge_emulator::faults::FaultConfig;
use hlbridge_engine::phone;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_country_reads_the_ghl_location() {
    let env = common::start(1, 1, FaultConfig::default()).await;
    let client = env.ghl_client();
    let country = phone::location_country(&client, &env.ghl_cfg.location_id).await;
    assert_eq!(country.as_deref(), Some("US"));
    assert_eq!(
        phone::resolve_region(None, country.as_deref()),
        Ok(phone::Region::US)
    );
    // Another location is not readable with this location's token: no country.
    assert_eq!(
        phone::location_country(&client, "someOtherLocation00000").await,
        None
    );
    env.cleanup();
}

/// Gives the first Sellsy contact the national US spelling of the first GHL contact's
/// phone (and no landline), keeping distinct e-mails: only the phone can pair them.
fn share_a_phone(env: &common::Env) -> String {
    let ghl = env.ghl.state();
    let first = ghl.contact_ids().into_iter().next().expect("a GHL contact");
    let e164 = ghl.contact(&first).expect("contact")["phone"]
        .as_str()
        .expect("seeded phone")
        .to_string();
    let national = e164.strip_prefix("+1").expect("a NANP seed");
    let spelled = format!(
        "({}) {}-{}",
        &national[..3],
        &national[3..6],
        &national[6..]
    );
    let state = env.sellsy.state();
    let mut store = state.store();
    let id = *store.contacts.rows.keys().next().expect("a Sellsy contact");
    let c = store.contacts.get_mut(id).expect("contact");
    c.insert("mobile_number".into(), json!(spelled));
    c.insert("phone_number".into(), Value::Null);
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn national_and_e164_spellings_match_in_the_configured_region() {
    let env = common::start(3, 3, FaultConfig::default()).await;
    share_a_phone(&env);
    let engine = env.engine("[sync]\ndefault_phone_region = \"us\"\n").await;
    let report = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.linked, 1, "paired by phone: {report:#?}");
    assert_eq!(env.ghl.state().contact_count(), 5);
    assert_eq!(env.sellsy_contacts().len(), 5);
    env.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_national_number_of_another_plan_is_no_match_key() {
    let env = common::start(3, 3, FaultConfig::default()).await;
    share_a_phone(&env);
    // Read in France, "(555) 100-0000" is no number: nothing pairs the two contacts.
    let engine = env.engine("[sync]\ndefault_phone_region = \"FR\"\n").await;
    let report = engine
        .run_once(false, &common::quiet())
        .await
        .expect("cycle");
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.linked, 0, "{report:#?}");
    env.cleanup();
}
