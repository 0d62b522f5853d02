//! Facts about one process, from sysinfo.

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

/// Who a process is: enough to show a user, and to notice a PID reused by another program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process ID.
    pub pid: u32,
    /// Executable name.
    pub name: String,
    /// Command line, space-joined.
    pub cmdline: String,
    /// Owning user ID, when known.
    pub uid: Option<String>,
    /// Start time, seconds since the epoch; with the PID it identifies the process.
    pub start_time: u64,
}

impl ProcessInfo {
    /// The command line, or the name when the command line is hidden.
    #[must_use]
    pub fn command(&self) -> &str {
        if self.cmdline.is_empty() {
            &self.name
        } else {
            &self.cmdline
        }
    }
}

/// The process `pid`, if it exists.
#[must_use]
pub fn describe(pid: u32) -> Option<ProcessInfo> {
    let pid = Pid::from_u32(pid);
    let mut system = System::new();
    let what = ProcessRefreshKind::nothing()
        .with_cmd(UpdateKind::Always)
        .with_user(UpdateKind::Always);
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), false, what);
    let p = system.process(pid)?;
    Some(ProcessInfo {
        pid: pid.as_u32(),
        name: p.name().to_string_lossy().into_owned(),
        cmdline: p
            .cmd()
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        uid: p.user_id().map(|u| u.to_string()),
        start_time: p.start_time(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_process_and_not_a_missing_one() {
        let me = describe(std::process::id()).unwrap();
        assert!(me.start_time > 0);
        assert!(!me.command().is_empty());
        assert_eq!(describe(u32::MAX - 1), None);
    }
}
