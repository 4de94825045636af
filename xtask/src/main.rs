use std::process::ExitCode;

fn main() -> ExitCode {
    let root = xtask::workspace_root();
    let shared = xtask::shared_dir(&root);
    let cmd = std::env::args().nth(1).unwrap_or_default();
    let result = match cmd.as_str() {
        "gen" => xtask::write_all(&root, &shared).map(|paths| {
            for p in paths {
                println!("wrote {}", p.strip_prefix(&root).unwrap_or(&p).display());
            }
            true
        }),
        "check" => xtask::stale_files(&root, &shared).map(|stale| {
            for f in &stale {
                eprintln!("{f} is out of date; run `cargo xtask gen`");
            }
            stale.is_empty()
        }),
        _ => {
            eprintln!("usage: cargo xtask <gen|check>");
            eprintln!("  gen    regenerate the operation tables from ../shared/specs (or $HLBRIDGE_SHARED_DIR)");
            eprintln!("  check  fail if the committed tables differ from a fresh generation");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
