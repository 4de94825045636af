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
