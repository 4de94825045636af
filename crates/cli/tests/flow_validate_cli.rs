//! `hlbridge flow validate` and `hlbridge flow schema` through the binary.

use std::process::Command;

fn run(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hlbridge"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_exits_0_or_2_with_file_line_col_lines_and_schema_is_json() {
    let dir = std::env::temp_dir().join(format!("hlbridge-flow-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("good.flow.yaml"),
        "schema_version: 1\nname: good\ntrigger:\n  poll:\n    operation: \"ghl:contacts.get-contacts\"\n    every: 5m\nsteps:\n  - id: copy\n    map:\n      email: \"{{ trigger.email }}\"\n",
    )
    .unwrap();
    let (code, out, err) = run(&["flow", "validate", "good.flow.yaml"], &dir);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "good.flow.yaml: ok");
    std::fs::write(
        dir.join("bad.flow.yaml"),
        "schema_version: 1\nname: bad\ntrigger:\n  poll:\n    operation: \"ghl:contacts.get-contactz\"\n    every: 45m\nsteps:\n  - id: copy\n    map:\n      email: \"{{ steps.nope.output }}\"\n",
    )
    .unwrap();
    let (code, out, err) = run(&["flow", "validate", "bad.flow.yaml"], &dir);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].starts_with(
            "bad.flow.yaml:5:17: unknown operation ghl:contacts.get-contactz; did you mean"
        ),
        "{err}"
    );
    assert!(lines[1].starts_with("bad.flow.yaml:6:12: every"), "{err}");
    assert!(lines[2].starts_with("bad.flow.yaml:10:"), "{err}");
    let (code, _, err) = run(&["flow", "validate", "missing.flow.yaml"], &dir);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("missing.flow.yaml:1:1: cannot read the file"),
        "{err}"
    );
    let (code, out, _) = run(&["flow", "schema"], &dir);
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(schema.to_string().contains("for_each"));
    std::fs::remove_dir_all(&dir).ok();
}

fn run_db(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hlbridge"))
        .args(args)
        .current_dir(dir)
        .env(
            "HLBRIDGE_DATABASE_URL",
            format!("sqlite://{}", dir.join("state.sqlite").display()),
        )
        .env_remove("HLBRIDGE_GHL_TOKEN")
        .env_remove("HLBRIDGE_SELLSY_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn deploy_versions_list_enable_disable() {
    let dir = std::env::temp_dir().join(format!("hlbridge-flow-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // `flow list` on a fresh machine: no database is created.
    let (code, out, _) = run_db(&["flow", "list", "--json"], &dir);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "[]");
    assert!(!dir.join("state.sqlite").exists());
    let text = "schema_version: 1\nname: vip\ntrigger:\n  webhook: { app: ghl, events: [ContactCreate] }\nsteps:\n  - id: copy\n    map:\n      email: \"{{ trigger.email }}\"\n";
    std::fs::write(dir.join("vip.flow.yaml"), text).unwrap();
    let (code, out, err) = run_db(&["flow", "deploy", "vip.flow.yaml"], &dir);
    assert_eq!((code, out.trim()), (0, "deployed vip version 1"), "{err}");
    // Same text: same version; an edit: the next one.
    let (_, out, _) = run_db(&["flow", "deploy", "vip.flow.yaml"], &dir);
    assert_eq!(out.trim(), "deployed vip version 1");
    std::fs::write(dir.join("vip.flow.yaml"), text.replace("email:", "mail:")).unwrap();
    let (_, out, _) = run_db(&["flow", "deploy", "vip.flow.yaml"], &dir);
    assert_eq!(out.trim(), "deployed vip version 2");
    // An invalid file is refused with positions, the deployed version stays.
    std::fs::write(
        dir.join("vip.flow.yaml"),
        text.replace("ContactCreate", "ContactCreat"),
    )
    .unwrap();
    let (code, _, err) = run_db(&["flow", "deploy", "vip.flow.yaml"], &dir);
    assert_eq!(code, 2);
    assert!(err.contains("vip.flow.yaml:4:"), "{err}");
    assert!(err.contains("did you mean ContactCreate"), "{err}");
    // An unknown pair is refused.
    let (code, _, err) = run_db(&["flow", "deploy", "vip.flow.yaml", "--pair", "nope"], &dir);
    assert_eq!(code, 2, "{err}");
    let list = |dir: &std::path::Path| {
        let (code, out, err) = run_db(&["flow", "list", "--json"], dir);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v.as_array().unwrap()[0].clone()
    };
    let row = list(&dir);
    assert_eq!(row["name"], "vip");
    assert_eq!(row["version"], 2);
    assert_eq!(row["enabled"], true);
    let (code, _, _) = run_db(&["flow", "disable", "vip"], &dir);
    assert_eq!(code, 0);
    assert_eq!(list(&dir)["enabled"], false);
    let (code, _, _) = run_db(&["flow", "enable", "vip"], &dir);
    assert_eq!(code, 0);
    assert_eq!(list(&dir)["enabled"], true);
    let (code, _, err) = run_db(&["flow", "disable", "nope"], &dir);
    assert_eq!(code, 2, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
