//! Files mpm-top writes about the user's work (its log, audit log, PID file, backups, the
//! bundle) are the user's alone: mode 0600 from the first byte.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Opens `path` for appending, creating it 0600; an existing file is made 0600 too. Only a
/// regular file is opened: a symlink there is not followed, and a device or FIFO is refused
/// (untouched: `/dev/null` made 0600 by root would be unusable to everyone else, and a FIFO
/// would block the open).
///
/// # Errors
/// When the file cannot be opened, or is not a regular file.
pub fn append_private(path: &Path) -> io::Result<File> {
    use nix::fcntl::OFlag;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) {
                io::Error::other("it is a symlink, which is not followed")
            } else {
                e
            }
        })?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("it is not a regular file"));
    }
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
    fn only_regular_files_are_opened_and_nothing_else_is_touched() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "x").unwrap();
        std::fs::set_permissions(&target, Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fifo = dir.path().join("fifo.log");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        for path in [&link, &fifo, &dir.path().to_owned()] {
            assert!(append_private(path).is_err(), "{}", path.display());
        }
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&target), 0o644, "a symlink's target keeps its mode");
        assert_eq!(mode(&fifo), 0o644, "a FIFO keeps its mode");
    }

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
