//! The flow registry: versions, same text same version, invalid text refused with
//! positions, enable/disable, record_version, state across a re-open.

use hlbridge_flows::deploy::{DeployError, FlowRegistry};

fn flow(name: &str, title: &str) -> String {
    format!(
        r#"schema_version: 1
name: {name}
title: {title}
trigger:
  schedule:
    cron: "0 9 * * 1-5"
    tz: Europe/Paris
steps:
  - id: hello
    map:
      text: "Hello at {{{{ now }}}}"
"#
    )
}

fn db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hlb-deploy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.sqlite")
}

#[test]
fn same_text_is_the_same_version_and_a_change_is_the_next() {
    let path = db("versions");
    let reg = FlowRegistry::open(&path).unwrap();
    let v1 = reg.deploy(&flow("daily", "One"), None).unwrap();
    assert_eq!(
        (v1.name.as_str(), v1.version, v1.enabled),
        ("daily", 1, true)
    );
    assert_eq!(v1.pair, None);
    assert_eq!(reg.deploy(&flow("daily", "One"), None).unwrap().version, 1);
    let v2 = reg.deploy(&flow("daily", "Two"), Some("pair-1")).unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.pair.as_deref(), Some("pair-1"));
    assert!(v2.text.contains("title: Two"));
    // A redeploy without --pair keeps the pair; going back to an older text is that
    // older version again, and it becomes the deployed one.
    let back = reg.deploy(&flow("daily", "One"), None).unwrap();
    assert_eq!(back.version, 1);
    assert_eq!(back.pair.as_deref(), Some("pair-1"));
    assert_eq!(reg.get("daily").unwrap().unwrap().version, 1);
    assert!(reg
        .version("daily", 2)
        .unwrap()
        .unwrap()
        .text
        .contains("Two"));
    assert_eq!(reg.version("daily", 3).unwrap(), None);
    assert_eq!(reg.latest_version("daily").unwrap(), Some(2));

    // Another flow is versioned on its own; the list is by name; state survives a re-open.
    reg.deploy(&flow("another", "A"), None).unwrap();
    drop(reg);
    let reg = FlowRegistry::open(&path).unwrap();
    let names: Vec<(String, i64)> = reg
        .list()
        .unwrap()
        .into_iter()
        .map(|d| (d.name, d.version))
        .collect();
    assert_eq!(names, vec![("another".into(), 1), ("daily".into(), 1)]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the state database is private");
    }
}

#[test]
fn invalid_text_is_refused_with_positions_and_nothing_is_stored() {
    let reg = FlowRegistry::open(&db("invalid")).unwrap();
    let bad = flow("broken", "B").replace("map:", "mapp:");
    let err = reg.deploy_file("broken.flow.yaml", &bad, None).unwrap_err();
    let DeployError::Invalid(problems) = &err else {
        panic!("{err}")
    };
    assert!(!problems.is_empty());
    let text = err.to_string();
    assert!(text.starts_with("broken.flow.yaml:"), "{text}");
    let first = &problems[0];
    assert!(first.line >= 9 && first.col >= 1, "{first}");
    assert_eq!(reg.get("broken").unwrap(), None);
    assert!(reg.list().unwrap().is_empty());
    assert!(matches!(
        reg.record_version(&bad),
        Err(DeployError::Invalid(_))
    ));
    assert_eq!(reg.latest_version("broken").unwrap(), None);
}

#[test]
fn enable_and_disable_choose_what_runs() {
    let reg = FlowRegistry::open(&db("enable")).unwrap();
    reg.deploy(&flow("a", "A"), Some("p1")).unwrap();
    reg.deploy(&flow("b", "B"), None).unwrap();
    let names = |reg: &FlowRegistry| -> Vec<String> {
        reg.deployed()
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect()
    };
    assert_eq!(names(&reg), vec!["a", "b"]);
    reg.set_enabled("a", false).unwrap();
    assert_eq!(names(&reg), vec!["b"]);
    assert!(!reg.get("a").unwrap().unwrap().enabled);
    // A redeploy keeps the disabled flag.
    reg.deploy(&flow("a", "A2"), None).unwrap();
    assert_eq!(names(&reg), vec!["b"]);
    reg.set_enabled("a", true).unwrap();
    let a = reg
        .deployed()
        .unwrap()
        .into_iter()
        .find(|d| d.name == "a")
        .unwrap();
    assert_eq!((a.version, a.pair.as_deref()), (2, Some("p1")));
    let err = reg.set_enabled("nope", true).unwrap_err();
    assert!(matches!(err, DeployError::NotFound(_)));
    assert!(err.to_string().contains("flow deploy"), "{err}");
}

#[test]
fn record_version_stores_without_deploying() {
    let reg = FlowRegistry::open(&db("record")).unwrap();
    let r1 = reg.record_version(&flow("tried", "T1")).unwrap();
    assert_eq!((r1.version, r1.enabled), (1, false));
    assert_eq!(reg.record_version(&flow("tried", "T1")).unwrap().version, 1);
    assert_eq!(reg.get("tried").unwrap(), None, "not deployed");
    assert!(reg.list().unwrap().is_empty());
    assert_eq!(reg.record_version(&flow("tried", "T2")).unwrap().version, 2);
    // Deploying a recorded text reuses its version.
    assert_eq!(reg.deploy(&flow("tried", "T1"), None).unwrap().version, 1);
    assert_eq!(reg.deploy(&flow("tried", "T3"), None).unwrap().version, 3);
    let rec = reg.record_version(&flow("tried", "T3")).unwrap();
    assert!(rec.enabled, "the deployed flow's flag");
}
