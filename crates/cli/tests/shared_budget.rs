//! One rate budget per location across processes: 60 `hlbridge ghl` processes started
//! at once on one state database stay inside the emulator's window (no 429).

use std::process::Stdio;
use std::time::Duration;

use hlbridge_emulator::ghl::{start, GhlConfig};

const TOKEN: &str = "pit-shared-budget";
const LOCATION: &str = "loc-shared-budget";
const PROCESSES: usize = 60;
/// Longest one process may take before the test fails (a hang, not a timing check).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hlb-shared-budget-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_processes_on_one_database_get_no_429() {
    // GHL's 100 per 10 s, scaled down to 20 per 2 s: 60 calls need three windows.
    let emu = start(
        GhlConfig {
            token: TOKEN.into(),
            location_id: LOCATION.into(),
            rate_max: 20,
            rate_interval: Duration::from_secs(2),
            ..GhlConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("the GHL emulator starts");
    let dir = temp_dir();
    let db = dir.join("state.sqlite");
    let database_url = format!("sqlite://{}", db.display());
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_hlbridge"))
                .args(["ghl", "locations.get-location", "--json"])
                .args(["--param", &format!("locationId={LOCATION}")])
                .env("HLBRIDGE_GHL_BASE_URL", &emu.base_url)
                .env("HLBRIDGE_GHL_TOKEN", TOKEN)
                .env("HLBRIDGE_GHL_LOCATION_ID", LOCATION)
                .env("HLBRIDGE_DATABASE_URL", &database_url)
                .env_remove("HLBRIDGE_LOG")
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("the hlbridge binary starts")
        })
        .collect();
    let mut failures = Vec::new();
    for child in children {
        let out = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
            .await
            .expect("hlbridge ghl finishes")
            .expect("hlbridge output");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !stdout.contains(LOCATION) {
            failures.push(format!(
                "exit {:?}: {stdout} {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
    let stats = emu.state().stats();
    assert_eq!(stats.rate_limited, 0, "429s served: {stats:?}");
    assert_eq!(stats.by_status.get(&429), None, "{stats:?}");
    assert_eq!(
        stats.by_status.get(&200).copied(),
        Some(PROCESSES as u64),
        "one answer per process, no retries: {stats:?}"
    );
    #[cfg(unix)]
    for file in ["state.sqlite", "state.sqlite-wal", "state.sqlite-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(file);
        if let Ok(meta) = std::fs::metadata(&path) {
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{file}");
        } else {
            assert_ne!(file, "state.sqlite", "the database was created");
        }
    }
    emu.shutdown_and_wait().await;
    std::fs::remove_dir_all(&dir).ok();
}
