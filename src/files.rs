//! Files mpm-top writes about the user's work (its log, audit log, PID file, backups, the
//! bundle) are the user's alone: mode 0600 from the first byte.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Opens `path` for appending, creating it 0600; an existing file is made 0600 too.
///
/// # Errors
/// When the file cannot be opened.
pub fn append_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Creates `path` (which must not exist) 0600 with `bytes` in it.
///
/// # Errors
/// When it exists or cannot be written.
pub fn create_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_and_existing_files_are_the_users_alone() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        std::fs::write(&log, "old\n").unwrap();
        std::fs::set_permissions(&log, Permissions::from_mode(0o644)).unwrap();
        drop(append_private(&log).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&log), 0o600);
        let new = dir.path().join("b.pid");
        create_private(&new, b"1\n").unwrap();
        assert_eq!(mode(&new), 0o600);
        assert!(
            create_private(&new, b"2\n").is_err(),
            "never over an existing file"
        );
    }
}
