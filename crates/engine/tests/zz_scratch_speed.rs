mod common;
use hlbridge_emulator::faults::FaultConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speed() {
    let env = common::start(200, 200, FaultConfig::default()).await;
    env.overlap_emails(30);
    let engine = env.engine("[sync]\nsweep_max_contacts = 0\n").await;
    let r = engine.run_once(false, &common::quiet()).await.unwrap();
    eprintln!("{} {:?}", r.line(), r.errors);
    let r = engine.run_once(true, &common::quiet()).await.unwrap();
    for s in &r.samples {
        let id = s.target_id.clone().unwrap();
        eprintln!("{}", serde_json::to_string(s).unwrap());
        let c = env.ghl.state().contact(&id).unwrap();
        eprintln!("  ghl: company={} email={}", c["companyName"], c["email"]);
        let l = engine.store().link_by(hlbridge_engine::store::Kind::Contact, hlbridge_engine::store::Side::Ghl, &id).unwrap();
        eprintln!("  link {:?} shadow {:?}", l, engine.store().shadow(hlbridge_engine::store::Kind::Contact, &id).unwrap().get("company"));
        eprintln!("  rec {:?}", engine.store().record(hlbridge_engine::store::Side::Ghl, hlbridge_engine::store::Kind::Contact, &id).unwrap().map(|r| r.data["f"]["company"].clone()));
    }
}
