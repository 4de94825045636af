//! Files holding secrets are created readable by their owner only.

use std::path::Path;

use crate::error::{AccountsError, Result};

/// Create `path` empty with mode 0600 when it does not exist (SQLite then gives its
/// `-wal` and `-shm` files the same mode). An existing file is left as it is.
pub fn ensure_private_file(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| AccountsError::Store(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(AccountsError::Store(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}
