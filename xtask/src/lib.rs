//! `cargo xtask gen` / `cargo xtask check`: the GHL and Sellsy operation tables, generated
//! from the reference specs in `../shared/specs` (or `$HLBRIDGE_SHARED_DIR`).

pub mod emit;
pub mod ghl;
pub mod ghl_overrides;
pub mod ir;
pub mod sellsy;
pub mod spec;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Output files, relative to the workspace root.
pub const GHL_OUT: &str = "crates/ghl/src/generated/ops.rs";
pub const SELLSY_OUT: &str = "crates/sellsy/src/generated/ops.rs";

/// The workspace root (parent of the `xtask` crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `$HLBRIDGE_SHARED_DIR`, else `../shared` beside the workspace.
pub fn shared_dir(root: &Path) -> PathBuf {
    match std::env::var_os("HLBRIDGE_SHARED_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => root.join("../shared"),
    }
}

/// Whether the reference specs are available.
pub fn specs_available(shared: &Path) -> bool {
    shared.join("specs/ghl/apps").is_dir() && shared.join("specs/sellsy").is_dir()
}

/// Generate both tables in memory: `(path relative to the root, contents)`.
pub fn generate_all(shared: &Path) -> Result<Vec<(&'static str, String)>> {
    let ghl = ghl::generate(shared).context("generating the GHL table")?;
    let sellsy = sellsy::generate(shared).context("generating the Sellsy table")?;
    Ok(vec![
        (GHL_OUT, emit::table(&ghl, "specs/ghl/apps/*.json, specs/ghl/common/common-schemas.json, specs/ghl-operations.tsv")),
        (SELLSY_OUT, emit::table(&sellsy, "specs/sellsy/sellsy-v2-subset.yaml")),
    ])
}

/// Write the generated files; returns the paths written.
pub fn write_all(root: &Path, shared: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (rel, text) in generate_all(shared)? {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        written.push(path);
    }
    Ok(written)
}

/// Files whose committed contents differ from a fresh generation.
pub fn stale_files(root: &Path, shared: &Path) -> Result<Vec<&'static str>> {
    let mut stale = Vec::new();
    for (rel, text) in generate_all(shared)? {
        if fs::read_to_string(root.join(rel)).ok().as_deref() != Some(text.as_str()) {
            stale.push(rel);
        }
    }
    Ok(stale)
}
