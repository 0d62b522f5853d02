//! PID files: mpm-top's own (`pid_file`) and Claude MPM's per-project
//! `.claude-mpm/monitor-daemon-<port>.pid`; each live or stale.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::process::{ProcessInfo, describe};

/// What a PID file says, and whether it is still true.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PidFileState {
    /// The file.
    pub path: PathBuf,
    /// Whose file it is: `mpm-top` or `claude-mpm`.
    pub owner: &'static str,
    /// The PID written in it, when it parses.
    pub pid: Option<u32>,
    /// The process with that PID, when one is running.
    pub process: Option<ProcessInfo>,
}

impl PidFileState {
    /// Reads `path`.
    #[must_use]
    pub fn read(path: &Path, owner: &'static str) -> PidFileState {
        let pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        PidFileState {
            path: path.to_owned(),
            owner,
            pid,
            process: pid.and_then(describe),
        }
    }

    /// Whether it names no running process, or a process that is not its kind of server
    /// (the PID was reused).
    #[must_use]
    pub fn is_stale(&self) -> bool {
        let marker = if self.owner == "mpm-top" {
            "mpm-top"
        } else {
            "claude"
        };
        !self
            .process
            .as_ref()
            .is_some_and(|p| p.command().contains(marker))
    }
}

/// The project root Claude MPM would use: the nearest parent of `dir` holding `.git` or
/// `pyproject.toml`, else `dir` itself.
#[must_use]
pub fn project_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|d| d.join(".git").exists() || d.join("pyproject.toml").exists())
        .unwrap_or(dir)
        .to_path_buf()
}

/// The log of the server holding the port (`holder`): Claude MPM's daemon log (found from the
/// process's working directory or its PID file), or mpm-top serve's configured log (`ours`),
/// when it is there.
#[must_use]
pub fn server_log(
    kind: Option<&crate::probes::http::ServerKind>,
    holder: Option<u32>,
    port: u16,
    ours: &Path,
) -> Option<PathBuf> {
    use crate::probes::http::ServerKind;
    let holder = holder?;
    match kind? {
        ServerKind::ClaudeMpm | ServerKind::ClaudeMpmLegacy => {
            let cwd = std::env::current_dir().unwrap_or_default();
            claude_mpm_log(holder, port, &cwd)
        }
        // Only the log that server writes: mpm-top serve keeps its log open, so the configured
        // log is its own only when the process holding the port has that file open. (Another
        // mpm-top server, started with another HOME or `--log-file`, writes elsewhere: reading
        // this one would pin one server's connects and tool calls on another.)
        ServerKind::MpmTop => Some(ours.to_owned()).filter(|p| p.is_file() && has_open(holder, p)),
        ServerKind::Foreign(_) => None,
    }
}

/// Whether process `pid` has the file at `path` open (compared by device and inode, so a link
/// or another spelling of the path is the same file).
fn has_open(pid: u32, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(file) = std::fs::metadata(path) else {
        return false;
    };
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == file.dev() && m.ino() == file.ino())
    })
}

/// The log Claude MPM's monitor on `port` writes, when it can be found: under the project of
/// the listening process's working directory, else under the project of `cwd` when its PID
/// file there names `holder`. Only a file that exists is returned.
#[must_use]
pub fn claude_mpm_log(holder: u32, port: u16, cwd: &Path) -> Option<PathBuf> {
    let in_project = |root: &Path| {
        root.join(".claude-mpm/logs")
            .join(format!("monitor-daemon-{port}.log"))
    };
    let server_cwd = std::fs::read_link(format!("/proc/{holder}/cwd")).ok();
    let by_cwd = server_cwd.map(|d| in_project(&project_root(&d)));
    let by_pid_file = {
        let root = project_root(cwd);
        let pid_file = root.join(format!(".claude-mpm/monitor-daemon-{port}.pid"));
        (PidFileState::read(&pid_file, "claude-mpm").pid == Some(holder)).then(|| in_project(&root))
    };
    // The log must be a plain file (not a link to something else) owned by the server's
    // user: a process's working directory is its own to fill, and a bundle is for sharing.
    let owner = std::fs::metadata(format!("/proc/{holder}"))
        .map(|m| m.uid())
        .ok();
    [by_cwd, by_pid_file].into_iter().flatten().find(|p| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|m| m.file_type().is_file() && Some(m.uid()) == owner)
    })
}

/// Our PID file (if present) and every Claude MPM monitor PID file of the project at `cwd`.
#[must_use]
pub fn all(ours: &Path, cwd: &Path) -> Vec<PidFileState> {
    let mut found = Vec::new();
    if ours.exists() {
        found.push(PidFileState::read(ours, "mpm-top"));
    }
    let dir = project_root(cwd).join(".claude-mpm");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.starts_with("monitor-daemon-")
                        && Path::new(n).extension().is_some_and(|e| e == "pid")
                })
            })
            .collect();
        paths.sort();
        found.extend(paths.iter().map(|p| PidFileState::read(p, "claude-mpm")));
    }
    found
}

#[cfg(test)]
mod server_log_tests {
    use super::*;
    use crate::probes::http::ServerKind;

    #[test]
    fn mpm_tops_log_is_the_servers_only_when_it_has_it_open() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("socketio_server.log");
        std::fs::write(&log, "x\n").unwrap();
        let kind = Some(&ServerKind::MpmTop);
        // This process stands in for the server: it does not have the file open yet.
        let me = std::process::id();
        assert_eq!(server_log(kind, Some(me), 1, &log), None);
        let _open = std::fs::File::open(&log).unwrap();
        assert_eq!(server_log(kind, Some(me), 1, &log), Some(log.clone()));
        assert_eq!(server_log(kind, None, 1, &log), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_live_and_stale_files_of_both_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("proj");
        std::fs::create_dir_all(project.join(".git")).unwrap();
        std::fs::create_dir_all(project.join("src/deep")).unwrap();
        std::fs::create_dir_all(project.join(".claude-mpm")).unwrap();
        std::fs::write(
            project.join(".claude-mpm/monitor-daemon-8765.pid"),
            "999999999",
        )
        .unwrap();
        std::fs::write(project.join(".claude-mpm/other.pid"), "1").unwrap();
        let ours = dir.path().join("socketio.pid");
        std::fs::write(&ours, std::process::id().to_string()).unwrap();
        assert_eq!(project_root(&project.join("src/deep")), project);
        let found = all(&ours, &project.join("src/deep"));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].owner, "mpm-top");
        assert!(found[0].process.is_some());
        assert_eq!(found[1].owner, "claude-mpm");
        assert!(found[1].is_stale());
        assert_eq!(found[1].pid, Some(999_999_999));
    }
}
