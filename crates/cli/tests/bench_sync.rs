//! `hlbridge bench sync --json` runs every phase against in-process emulators.
//! No timing assertions: only what the run must report.

use std::process::Command;

use serde_json::Value;

#[test]
fn bench_sync_reports_every_phase_without_duplicates() {
    let dir = std::env::temp_dir().join(format!("hlbridge-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hlbridge"))
        .args(["bench", "sync", "--contacts", "200", "--json"])
        // Below the 1,000 minimum, to stay fast in debug builds.
        .env("HLBRIDGE_BENCH_MIN", "50")
        .env_remove("HLBRIDGE_GHL_TOKEN")
        .env_remove("HLBRIDGE_DATABASE_URL")
        .env("TMPDIR", &dir)
        .output()
        .expect("run hlbridge");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{stderr}",
        output.status
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(out["contacts"], 200);

    let phases = out["phases"].as_array().expect("phases");
    let phase = |name: &str| {
        phases
            .iter()
            .find(|p| p["phase"] == name)
            .unwrap_or_else(|| panic!("no phase {name}: {out}"))
    };
    let requests = |name: &str| phase(name)["requests"].as_u64().unwrap();
    for name in ["initial", "no-change", "one-change", "faults"] {
        let p = phase(name);
        for key in [
            "requests",
            "requests_per_record",
            "engine_cpu_us_per_record",
            "wall_s",
            "ghl_window_pct",
            "responses_429",
        ] {
            assert!(p.get(key).is_some(), "{name} has no {key}");
        }
    }
    let initial = phase("initial");
    assert!(
        initial["ghl"]["requests"].as_u64().unwrap() > 0,
        "{initial}"
    );
    assert!(
        initial["sellsy"]["requests"].as_u64().unwrap() > 0,
        "{initial}"
    );
    assert!(
        requests("no-change") < requests("initial"),
        "no-change {} vs initial {}",
        requests("no-change"),
        requests("initial")
    );
    assert_eq!(out["duplicates"], 0, "{}", out["checks"]);
    assert_eq!(out["checks"]["faults"]["verification"]["duplicates"], 0);
    assert_eq!(out["checks"]["initial"]["duplicates"], 0);
    let targets = out["targets"].as_array().expect("targets");
    assert!(targets.len() >= 7, "{targets:?}");
    assert!(stderr.contains("bench sync: initial:"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_sync_refuses_sizes_outside_the_range() {
    let output = Command::new(env!("CARGO_BIN_EXE_hlbridge"))
        .args(["bench", "sync", "--contacts", "500000"])
        .output()
        .expect("run hlbridge");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("between"));
}
