//! Files that hold secrets or account state stay private to the user running hlbridge.
//!
//! - [`ensure_private_db`]: call before `rusqlite::Connection::open` on the state
//!   database. SQLite creates the `-wal` and `-shm` files with the mode of the main
//!   file, so a main file created here with mode 0600 keeps all three private.
//! - [`check_not_world_readable`]: refuse a key file (or database) other users can read.
//!
//! On non-Unix systems these only create the file (there are no mode bits to set).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The mode private files are created with (owner read and write).
pub const PRIVATE_MODE: u32 = 0o600;

/// Make sure the SQLite database at `path` is private before it is opened:
/// - missing: create its folder and an empty file with mode 0600 (SQLite accepts an
///   empty file as a new database);
/// - present: tighten it, and its `-wal`, `-shm` and `-journal` files if present, to
///   0600 when group or other users have any access (files created by older versions
///   with 0644).
///
/// In-memory paths (`:memory:`, empty) are left alone.
pub fn ensure_private_db(path: &Path) -> Result<()> {
    let text = path.as_os_str();
    if text.is_empty() || text == ":memory:" {
        return Ok(());
    }
    create_private_file(path)?;
    for file in std::iter::once(path.to_path_buf()).chain(sidecars(path)) {
        tighten(&file)?;
    }
    Ok(())
}

/// Create `path` (and its folder) as an empty file with mode 0600 if it does not exist.
/// An existing file is left as it is.
pub fn create_private_file(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Config(format!("cannot create folder {}: {e}", dir.display())))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(PRIVATE_MODE);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Config(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// Refuse a file that users other than its owner's group can read or write (mode
/// `o+r` or `o+w`), e.g. the key file before `serve` uses it. The error names the file
/// and the fix (`chmod 600 FILE`). A missing file is an error too.
pub fn check_not_world_readable(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o006 != 0 {
            return Err(Error::Config(format!(
                "{} is readable by other users (mode {mode:04o}); it holds secrets: run `chmod 600 {}`",
                path.display(),
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

/// The mode bits of `path` (Unix), for checks and tests.
#[cfg(unix)]
pub fn mode_of(path: &Path) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))
}

fn sidecars(path: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    ["-wal", "-shm", "-journal"].into_iter().map(move |suffix| {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Set an existing file to 0600 when group or others have access; a missing file is
/// fine.
fn tighten(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE_MODE))
                .map_err(|e| {
                    Error::Config(format!(
                        "{} is readable by other users and cannot be made private ({e}): run `chmod 600 {}`",
                        path.display(),
                        path.display()
                    ))
                })?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A fresh, empty folder under the system temp dir, for tests.
#[cfg(test)]
pub(crate) fn test_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hlb-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_database_and_its_wal_are_private() {
        let dir = test_dir("fsutil");
        let db = dir.join("sub/state.sqlite");
        ensure_private_db(&db).unwrap();
        assert_eq!(mode_of(&db).unwrap(), 0o600);
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);",
        )
        .unwrap();
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", db.display()));
            assert_eq!(mode_of(&side).unwrap(), 0o600, "{suffix}");
        }
        drop(conn);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn an_old_world_readable_database_is_tightened() {
        let dir = test_dir("fsutil-old");
        let db = dir.join("old.sqlite");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(check_not_world_readable(&db).is_err());
        ensure_private_db(&db).unwrap();
        assert_eq!(mode_of(&db).unwrap(), 0o600);
        assert!(check_not_world_readable(&db).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn world_readable_key_file_is_refused_with_the_fix() {
        let dir = test_dir("fsutil-key");
        let key = dir.join("state.sqlite.key");
        std::fs::write(&key, b"k").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = check_not_world_readable(&key).unwrap_err().to_string();
        assert!(
            err.contains(&format!("chmod 600 {}", key.display())),
            "{err}"
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(check_not_world_readable(&key).is_ok());
        assert!(check_not_world_readable(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
