//! Stopping the processes that hold a target's port: only [`Holder`]s listed and shown first,
//! each proven again right before every signal (PID, start time in ticks, the listening
//! socket), the signal sent through a pidfd opened before that proof, never PID 1, never
//! mpm-top itself.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

use super::Audit;
use super::holder::{Holder, NotNow, check};
use crate::probes::process::start_ticks;

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

/// A handle on exactly this process: opened first, then the process is proven to be the one
/// listed. A signal through it can only reach that process, even if its PID is reused later.
fn pin(holder: &Holder, force: bool) -> Result<OwnedFd, Outcome> {
    let pid = i32::try_from(holder.process.pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| Outcome::Refused(format!("PID {} is not valid", holder.process.pid)))?;
    let fd = match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => return Err(Outcome::AlreadyGone),
        Err(e) => return Err(Outcome::Failed(format!("cannot open a pidfd: {e}"))),
    };
    match check(holder, force) {
        Ok(()) => Ok(fd),
        Err(NotNow::Gone) => Err(Outcome::AlreadyGone),
        Err(NotNow::Refused(why)) => Err(Outcome::Refused(why)),
    }
}

fn alive(holder: &Holder) -> bool {
    start_ticks(holder.process.pid) == Some(holder.process.start_time)
}

fn wait_gone(holder: &Holder, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !alive(holder) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(holder)
}

fn send(fd: &OwnedFd, signal: Signal) -> Result<(), String> {
    match pidfd_send_signal(fd, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()), // SRCH: it has exited meanwhile
        Err(e) => Err(e.to_string()),
    }
}

/// SIGTERM, up to `grace` to exit, then SIGKILL: for exactly `holder`, proven again before
/// each signal. `force` allows a process of another user or PID namespace.
#[must_use = "the outcome says whether the process is gone"]
pub fn terminate(
    holder: &Holder,
    force: bool,
    grace: Duration,
    audit: &Audit,
    action: &str,
) -> Outcome {
    let who = holder.describe();
    let fd = match pin(holder, force) {
        Ok(fd) => fd,
        Err(outcome) => {
            let said = match &outcome {
                Outcome::AlreadyGone => "already gone".to_owned(),
                Outcome::Refused(why) => format!("refused: {why}"),
                other => format!("{other:?}"),
            };
            audit.step(action, &who, &said);
            return outcome;
        }
    };
    if let Err(e) = send(&fd, Signal::TERM) {
        audit.step(action, &who, &format!("SIGTERM failed: {e}"));
        return Outcome::Failed(e);
    }
    audit.step(action, &who, "sent SIGTERM");
    if wait_gone(holder, grace) {
        audit.step(action, &who, "exited");
        return Outcome::Terminated;
    }
    // Still there: proven once more (it may have let go of the socket meanwhile); the pidfd
    // still names the same process, so a PID reused meanwhile cannot be reached.
    match check(holder, force) {
        Ok(()) => {}
        Err(NotNow::Gone) => {
            audit.step(action, &who, "exited");
            return Outcome::Terminated;
        }
        Err(NotNow::Refused(why)) => {
            audit.step(action, &who, &format!("not killed: {why}"));
            return Outcome::Refused(why);
        }
    }
    match send(&fd, Signal::KILL) {
        Ok(()) => {
            wait_gone(holder, Duration::from_secs(2));
            audit.step(
                action,
                &who,
                &format!("still running after {grace:?}: sent SIGKILL"),
            );
            Outcome::Killed
        }
        Err(e) => {
            audit.step(action, &who, &format!("SIGKILL failed: {e}"));
            Outcome::Failed(e)
        }
    }
}

/// Stops the holders a dialog showed for `target`: each only if it still holds the target's
/// listening socket now (the socket table is read again), then proven once more before each
/// signal. What happened to each, or why nothing happened.
///
/// # Errors
/// When any shown holder was refused or could not be stopped (the others still are).
pub fn stop_shown(
    target: &crate::target::Target,
    shown: &[Holder],
    audit: &Audit,
) -> anyhow::Result<String> {
    let now = super::holder::current(target).map_err(anyhow::Error::msg)?;
    let same = |a: &Holder, b: &Holder| {
        (a.process.pid, a.process.start_time, a.inode)
            == (b.process.pid, b.process.start_time, b.inode)
    };
    let mut said = Vec::new();
    let mut trouble = false;
    for h in shown {
        let outcome = if now.iter().any(|n| same(n, h)) {
            terminate(h, false, GRACE, audit, "kill")
        } else {
            let why = format!(
                "PID {} no longer holds {}: it was not touched",
                h.process.pid,
                target.authority()
            );
            audit.step("kill", &h.describe(), &format!("refused: {why}"));
            Outcome::Refused(why)
        };
        trouble |= matches!(outcome, Outcome::Refused(_) | Outcome::Failed(_));
        said.push(match outcome {
            Outcome::Terminated => format!("PID {} exited after SIGTERM", h.process.pid),
            Outcome::Killed => format!("PID {} was killed (SIGKILL)", h.process.pid),
            Outcome::AlreadyGone => format!("PID {} had already exited", h.process.pid),
            Outcome::Refused(why) | Outcome::Failed(why) => why,
        });
    }
    if trouble {
        anyhow::bail!("{}", said.join("; "));
    }
    Ok(said.join("; "))
}

/// The listing shown before asking: one line per target.
#[must_use]
pub fn describe_targets(targets: &[Holder]) -> String {
    use std::fmt::Write as _;
    targets.iter().fold(String::new(), |mut out, h| {
        let _ = writeln!(
            out,
            "  PID {:<7} uid {:<6} on {:<22} {}",
            h.process.pid,
            h.process.uid.as_deref().unwrap_or("?"),
            h.local,
            h.process.command()
        );
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{Chosen, Target};

    /// A Python process listening on 127.0.0.1:0 (ignoring SIGTERM when asked), as the socket
    /// table lists it.
    fn listener(ignore_term: bool) -> (std::process::Child, Holder) {
        let ignore = if ignore_term {
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)"
        } else {
            ""
        };
        let script = format!(
            "import signal, socket\n{ignore}\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\nprint(s.getsockname()[1], flush=True)\nsignal.pause()\n"
        );
        let mut child = std::process::Command::new("python3")
            .args(["-c", &script])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let target = Target {
            scheme: "http",
            host: "127.0.0.1".into(),
            port: line.trim().parse().unwrap(),
            chosen: Chosen::Default,
        };
        let holders = super::super::holder::current(&target).unwrap();
        assert_eq!(holders.len(), 1, "{holders:?}");
        (child, holders.into_iter().next().unwrap())
    }

    fn audit() -> (tempfile::TempDir, Audit) {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::beside(&dir.path().join("server.log"));
        (dir, audit)
    }

    #[test]
    fn a_listed_holder_is_terminated_and_audited() {
        let (_dir, audit) = audit();
        let (mut child, holder) = listener(false);
        assert_eq!(
            terminate(&holder, false, GRACE, &audit, "kill"),
            Outcome::Terminated
        );
        let _ = child.wait();
        let log = std::fs::read_to_string(audit.path()).unwrap();
        assert!(
            log.contains(&format!("target=\"PID {} (", holder.process.pid))
                && log.contains("result=\"sent SIGTERM\""),
            "{log}"
        );
        assert!(log.contains("result=\"exited\""), "{log}");
    }

    #[test]
    fn one_that_ignores_sigterm_is_killed() {
        let (_dir, audit) = audit();
        let (mut child, holder) = listener(true);
        assert_eq!(
            terminate(&holder, false, Duration::from_millis(300), &audit, "kill"),
            Outcome::Killed
        );
        let _ = child.wait();
    }

    #[test]
    fn a_changed_identity_a_socket_let_go_pid_1_and_itself_are_refused() {
        let (_dir, audit) = audit();
        let (mut child, holder) = listener(false);
        let mut reused = holder.clone();
        reused.process.start_time -= 1; // as if the PID had been reused a tick later
        assert!(
            matches!(terminate(&reused, false, GRACE, &audit, "kill"), Outcome::Refused(why) if why.contains("is now a different process"))
        );
        let mut other_socket = holder.clone();
        other_socket.inode = other_socket.inode.wrapping_add(1);
        assert!(
            matches!(terminate(&other_socket, false, GRACE, &audit, "kill"), Outcome::Refused(why) if why.contains("no longer holds"))
        );
        assert!(alive(&holder), "the listener was left alone");
        let _ = child.kill();
        let _ = child.wait();
        let mut init = holder.clone();
        init.process.pid = 1;
        assert!(matches!(
            terminate(&init, true, GRACE, &audit, "kill"),
            Outcome::Refused(_)
        ));
        let mut me = holder;
        me.process.pid = std::process::id();
        assert!(
            matches!(terminate(&me, true, GRACE, &audit, "kill"), Outcome::Refused(why) if why.contains("itself"))
        );
    }
}
