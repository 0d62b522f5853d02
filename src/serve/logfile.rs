//! The server log file: appended, never truncated, and reopened when something outside
//! (logrotate, a user) renames, deletes or replaces it, so the server keeps logging to the path.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the path is checked for rotation; a stat per log line would be wasteful.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// A log file that follows its path.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: File,
    inode: u64,
    checked: Instant,
}

impl LogFile {
    /// Opens `path` for appending, creating it and its directory.
    ///
    /// # Errors
    /// When the directory or file cannot be created or opened.
    pub fn open(path: &Path) -> io::Result<LogFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = crate::files::append_private(path)?;
        let inode = file.metadata()?.ino();
        Ok(LogFile {
            path: path.to_owned(),
            file,
            inode,
            checked: Instant::now(),
        })
    }

    /// Reopens when the path no longer names the file being written (renamed, deleted, replaced).
    /// Copy-truncate needs nothing: appends land at the new end.
    fn follow_rotation(&mut self) {
        if self.checked.elapsed() < CHECK_EVERY {
            return;
        }
        self.checked = Instant::now();
        let moved = std::fs::metadata(&self.path).map_or(true, |m| m.ino() != self.inode);
        if moved && let Ok(fresh) = LogFile::open(&self.path) {
            *self = fresh;
        }
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.follow_rotation();
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_line(log: &mut LogFile, text: &str) {
        log.checked = Instant::now()
            .checked_sub(CHECK_EVERY)
            .unwrap_or_else(Instant::now);
        writeln!(log, "{text}").unwrap();
    }

    #[test]
    fn keeps_writing_to_the_path_through_rename_delete_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/server.log");
        let mut log = LogFile::open(&path).unwrap();
        write_line(&mut log, "one");
        std::fs::rename(&path, dir.path().join("server.log.1")).unwrap();
        write_line(&mut log, "two");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        std::fs::remove_file(&path).unwrap();
        write_line(&mut log, "three");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
        std::fs::File::create(&path).unwrap(); // copy-truncate
        write_line(&mut log, "four");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "four\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("server.log.1")).unwrap(),
            "one\n"
        );
    }

    #[test]
    fn an_existing_log_is_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        std::fs::write(&path, "old\n").unwrap();
        let mut log = LogFile::open(&path).unwrap();
        write_line(&mut log, "new");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\nnew\n");
    }
}
