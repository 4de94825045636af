//! `hlbridge up`: the sandbox folder is created, reused on the next start (same
//! sign-in password, same connections and pair), and `--fresh` starts over; SIGTERM
//! stops it with exit 0.

#![cfg(unix)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Start `up`, wait for `listening on`, check the service answers, SIGTERM it.
/// Returns everything it printed on stdout.
async fn up_once(dir: &Path, extra: &[&str]) -> String {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hlbridge"));
    cmd.args(["up", "--seed", "5", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .args(extra)
        .current_dir(dir.parent().unwrap());
    for (k, _) in std::env::vars() {
        if k.starts_with("HLBRIDGE_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("up printed nothing")
            .unwrap()
            .expect("up stopped before listening");
        out.push_str(&line);
        out.push('\n');
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.to_string();
        }
    };
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let login = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{url}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()["location"], "/login");
    unsafe { libc_kill(child.id().unwrap() as i32, 15) };
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("up did not stop")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut err = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    assert!(err.contains("stopped: the next `hlbridge up`"), "{err}");
    out
}

fn connections(dir: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hlbridge"))
        .args(["connections", "list", "--json"])
        .env(
            "HLBRIDGE_DATABASE_URL",
            format!("sqlite://{}", dir.join("hlbridge.sqlite").display()),
        )
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn up_reuses_its_sandbox_folder_and_fresh_starts_over() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let root = std::env::temp_dir().join(format!("hlbridge-up-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let dir = root.join("sandbox");
    let first = up_once(&dir, &[]).await;
    assert!(first.contains("hlbridge sandbox in"), "{first}");
    assert!(first.contains("admin-password"), "{first}");
    let password = std::fs::read_to_string(dir.join("admin-password")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["admin-password", "hlbridge.sqlite", "hlbridge.sqlite.key"] {
            let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
    }
    let conns = connections(&dir);
    assert!(
        conns.contains("\"pit\"") && conns.contains("client-credentials"),
        "{conns}"
    );

    up_once(&dir, &[]).await;
    assert_eq!(
        std::fs::read_to_string(dir.join("admin-password")).unwrap(),
        password
    );
    assert_eq!(connections(&dir), conns, "the same connections are reused");

    let fresh = up_once(&dir, &["--fresh"]).await;
    assert!(fresh.contains("--fresh: removed"), "{fresh}");
    assert_ne!(
        std::fs::read_to_string(dir.join("admin-password")).unwrap(),
        password
    );
    std::fs::remove_dir_all(&root).ok();
}
