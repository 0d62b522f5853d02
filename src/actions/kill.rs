//! Killing the processes that hold the port: only those listed, only after confirmation, never
//! PID 1, never mpm-top itself, never a process whose identity changed since it was listed.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Audit;
use crate::probes::process::{ProcessInfo, describe};

/// How long a process gets between SIGTERM and SIGKILL, as the guide's restart allows.
pub const GRACE: Duration = Duration::from_secs(10);

/// What became of one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It exited after SIGTERM.
    Terminated,
    /// It ignored SIGTERM and was killed.
    Killed,
    /// It had already exited.
    AlreadyGone,
    /// Not touched, and why.
    Refused(String),
    /// A signal could not be sent (permission, usually).
    Failed(String),
}

/// Why `target` must not be signalled, if it must not.
#[must_use]
pub fn refusal(target: &ProcessInfo) -> Option<String> {
    if target.pid <= 1 {
        return Some("PID 1 is never killed".into());
    }
    if target.pid == std::process::id() {
        return Some("that is this mpm-top itself".into());
    }
    // Gone is fine (nothing to do); a different process under the same PID is not. Identity
    // is the PID with its start time: a reused PID always has a later start, while the command
    // line can legitimately change (a process seen between fork and exec).
    describe(target.pid)
        .filter(|now| now.start_time != target.start_time)
        .map(|now| {
            format!(
                "PID {} is now a different process ({}): it was not touched",
                target.pid,
                now.command()
            )
        })
}

fn alive(target: &ProcessInfo) -> bool {
    describe(target.pid).is_some_and(|now| now.start_time == target.start_time)
}

fn wait_gone(target: &ProcessInfo, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !alive(target) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(target)
}

/// SIGTERM, up to `grace` to exit, then SIGKILL: for exactly `target`, re-checked first.
#[must_use = "the outcome says whether the process is gone"]
pub fn terminate(target: &ProcessInfo, grace: Duration, audit: &Audit, action: &str) -> Outcome {
    let who = format!("PID {} ({})", target.pid, target.command());
    if let Some(why) = refusal(target) {
        audit.step(action, &who, &format!("refused: {why}"));
        return Outcome::Refused(why);
    }
    if !alive(target) {
        audit.step(action, &who, "already gone");
        return Outcome::AlreadyGone;
    }
    let pid = Pid::from_raw(i32::try_from(target.pid).unwrap_or(i32::MAX));
    if let Err(e) = kill(pid, Signal::SIGTERM) {
        audit.step(action, &who, &format!("SIGTERM failed: {e}"));
        return Outcome::Failed(e.to_string());
    }
    audit.step(action, &who, "sent SIGTERM");
    if wait_gone(target, grace) {
        audit.step(action, &who, "exited");
        return Outcome::Terminated;
    }
    // Re-check: in the grace period the PID could have been reused.
    if let Some(why) = refusal(target) {
        audit.step(action, &who, &format!("not killed: {why}"));
        return Outcome::Refused(why);
    }
    match kill(pid, Signal::SIGKILL) {
        Ok(()) => {
            wait_gone(target, Duration::from_secs(2));
            audit.step(
                action,
                &who,
                &format!("still running after {grace:?}: sent SIGKILL"),
            );
            Outcome::Killed
        }
        Err(e) => {
            audit.step(action, &who, &format!("SIGKILL failed: {e}"));
            Outcome::Failed(e.to_string())
        }
    }
}

/// The listing shown before asking: one line per target.
#[must_use]
pub fn describe_targets(targets: &[ProcessInfo]) -> String {
    use std::fmt::Write as _;
    targets.iter().fold(String::new(), |mut out, p| {
        let _ = writeln!(
            out,
            "  PID {:<7} uid {:<6} {}",
            p.pid,
            p.uid.as_deref().unwrap_or("?"),
            p.command()
        );
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The child as a listing would show it, once it has exec'd (right after spawn, /proc may
    /// still show the forked test binary).
    fn listed(child: &std::process::Child, command: &str) -> ProcessInfo {
        for _ in 0..200 {
            if let Some(p) = describe(child.id()).filter(|p| p.command() == command) {
                return p;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{command} did not start");
    }

    fn audit() -> (tempfile::TempDir, Audit) {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::beside(&dir.path().join("server.log"));
        (dir, audit)
    }

    #[test]
    fn a_listed_process_is_terminated_and_audited() {
        let (_dir, audit) = audit();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let target = listed(&child, "sleep 30");
        assert_eq!(
            terminate(&target, GRACE, &audit, "kill"),
            Outcome::Terminated
        );
        let _ = child.wait();
        let log = std::fs::read_to_string(audit.path()).unwrap();
        assert!(
            log.contains(&format!(
                "action=kill target=\"PID {} (sleep 30)\" result=\"sent SIGTERM\"",
                target.pid
            )),
            "{log}"
        );
        assert!(log.contains("result=\"exited\""), "{log}");
    }

    #[test]
    fn one_that_ignores_sigterm_is_killed() {
        let (_dir, audit) = audit();
        let mut child = std::process::Command::new("sh")
            .args(["-c", "trap '' TERM; sleep 30 & wait"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200)); // let the trap be set
        let target = describe(child.id()).unwrap();
        assert_eq!(
            terminate(&target, Duration::from_millis(300), &audit, "kill"),
            Outcome::Killed
        );
        let _ = child.wait();
    }

    #[test]
    fn a_changed_identity_pid_1_and_itself_are_refused() {
        let (_dir, audit) = audit();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut decoy = describe(child.id()).unwrap();
        decoy.start_time -= 100; // as if the PID had been reused since it was listed
        assert!(
            matches!(terminate(&decoy, GRACE, &audit, "kill"), Outcome::Refused(why) if why.contains("is now a different process"))
        );
        assert!(
            describe(child.id()).is_some(),
            "the decoy's PID was left alone"
        );
        let _ = child.kill();
        let _ = child.wait();
        let init = ProcessInfo {
            pid: 1,
            name: "init".into(),
            cmdline: String::new(),
            uid: None,
            start_time: 0,
        };
        assert!(matches!(
            terminate(&init, GRACE, &audit, "kill"),
            Outcome::Refused(_)
        ));
        let me = describe(std::process::id()).unwrap();
        assert!(
            matches!(terminate(&me, GRACE, &audit, "kill"), Outcome::Refused(why) if why.contains("itself"))
        );
    }
}
