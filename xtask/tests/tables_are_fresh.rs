//! The committed tables match a fresh generation from `../shared/specs`.

#[test]
fn committed_tables_are_fresh() {
    let root = xtask::workspace_root();
    let shared = xtask::shared_dir(&root);
    if !xtask::specs_available(&shared) {
        eprintln!(
            "note: {} has no specs; skipping the freshness check",
            shared.display()
        );
        return;
    }
    let stale = xtask::stale_files(&root, &shared).expect("generation succeeds");
    assert!(
        stale.is_empty(),
        "out of date (run `cargo xtask gen`): {stale:?}"
    );
}
