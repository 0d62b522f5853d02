//! The server's PID file: refuse to start beside a live mpm-top server, replace a stale file,
//! and remove it on exit only while it still names this process.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::config::tilde;
use crate::probes::process::{ProcessInfo, describe};

/// What a PID file says about who is running.
#[derive(Debug, PartialEq, Eq)]
pub enum Occupant {
    /// No file, unreadable contents, or a PID that is gone or now another program: stale.
    Nobody,
    /// A live mpm-top server.
    Server(ProcessInfo),
}

/// Whether a process looks like `mpm-top serve` (checked by name and arguments, since a PID
/// alone may have been reused).
#[must_use]
pub fn is_mpm_top_server(p: &ProcessInfo) -> bool {
    p.command().contains("mpm-top") && p.command().split_whitespace().any(|a| a == "serve")
}

/// Reads the PID file at `path`.
#[must_use]
pub fn occupant(path: &Path) -> Occupant {
    let pid = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok());
    match pid.filter(|p| *p != std::process::id()).and_then(describe) {
        Some(p) if is_mpm_top_server(&p) => Occupant::Server(p),
        _ => Occupant::Nobody,
    }
}

/// Only a missing path, or a regular file holding nothing but a PID (a stale one), may be
/// replaced: `pid_file` naming someone's notes, a symlink or `/dev/null` must not have it
/// replaced and then removed at exit.
fn refuse_what_is_not_a_pid_file(path: &Path, home: Option<&Path>) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    // Empty counts: a crash while writing leaves one, and it holds nothing to lose.
    let holds_a_pid = meta.is_file()
        && meta.len() <= 32
        && std::fs::read_to_string(path)
            .is_ok_and(|t| t.trim().bytes().all(|b| b.is_ascii_digit()));
    if holds_a_pid {
        return Ok(());
    }
    let what = if meta.file_type().is_symlink() {
        "a symlink"
    } else if meta.is_file() {
        "a file that does not hold a PID"
    } else {
        "not a regular file"
    };
    anyhow::bail!(
        "the PID file '{}' is {what}; it is left alone: set pid_file to a path of its own",
        tilde(path, home)
    )
}

/// This process's claim on the PID file; dropping it removes the file if it is still ours.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's PID to `path` (atomically), unless a live server owns it.
    ///
    /// # Errors
    /// When another mpm-top server is running, or the file cannot be written.
    pub fn claim(path: &Path, home: Option<&Path>) -> anyhow::Result<PidFile> {
        if let Occupant::Server(p) = occupant(path) {
            anyhow::bail!(
                "another mpm-top server is running (PID {}: {}), per the PID file '{}'; stop it with `mpm-top restart` or `kill {}`, or give this one another pid_file",
                p.pid,
                p.command(),
                tilde(path, home),
                p.pid
            );
        }
        refuse_what_is_not_a_pid_file(path, home)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create '{}'", dir.display()))?;
        }
        let tmp = path.with_extension(format!("pid.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp); // a leftover of this same PID, long dead
        crate::files::create_private(&tmp, format!("{}\n", std::process::id()).as_bytes())
            .and_then(|()| std::fs::rename(&tmp, path))
            .with_context(|| format!("cannot write the PID file '{}'", tilde(path, home)))?;
        Ok(PidFile {
            path: path.to_owned(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path)
            .is_ok_and(|t| t.trim() == std::process::id().to_string());
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_file_is_replaced_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/mpm.pid");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "999999999\n").unwrap();
        assert_eq!(occupant(&path), Occupant::Nobody);
        let claim = PidFile::claim(&path, None).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(claim);
        assert!(!path.exists());
    }

    #[test]
    fn what_is_not_a_pid_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("notes.txt");
        std::fs::write(&notes, "important\n").unwrap();
        let link = dir.path().join("link.pid");
        std::os::unix::fs::symlink(&notes, &link).unwrap();
        for (path, said) in [
            (&notes, "a file that does not hold a PID"),
            (&link, "a symlink"),
            (&dir.path().to_owned(), "not a regular file"),
        ] {
            let err = PidFile::claim(path, None).unwrap_err().to_string();
            assert!(err.contains(said), "{err}");
        }
        assert_eq!(std::fs::read_to_string(&notes).unwrap(), "important\n");
        let empty = dir.path().join("empty.pid");
        std::fs::write(&empty, "").unwrap();
        drop(PidFile::claim(&empty, None).unwrap());
    }

    #[test]
    fn a_live_process_that_is_not_a_server_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mpm.pid");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(&path, child.id().to_string()).unwrap();
        assert_eq!(occupant(&path), Occupant::Nobody, "PID reused by `sleep`");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
