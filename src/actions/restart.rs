//! Graceful restart and emergency recovery, the guide's scripts without `pgrep -f`,
//! `killall` or `fuser -k`: the targets are the processes actually holding the port.

use std::time::Duration;

use anyhow::{Context as _, bail};

use super::holder::{self, Holder};
use super::kill::{GRACE, Outcome, describe_targets, terminate};
use super::{Audit, confirm};
use crate::config::Resolved;
use crate::probes::http::{self, ServerKind};
use crate::probes::pidfiles;
use crate::target::Target;

/// How long a restarted server gets to answer `/health`, as the guide's script waits.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The server to stop: the processes holding the target's listening socket, by this machine's
/// socket table, and what `/health` says it is. The PID a server reports in `/health` is never
/// a target: anything can claim one.
///
/// # Errors
/// When the target is not on this machine, or the socket table cannot be read.
pub async fn current_server(target: &Target) -> anyhow::Result<(Vec<Holder>, Option<ServerKind>)> {
    // The holders first: a target that is not this machine is refused before anything is
    // sent to it.
    let owned = target.clone();
    let holders = tokio::task::spawn_blocking(move || holder::current(&owned))
        .await?
        .map_err(anyhow::Error::msg)?;
    let health = http::health(&target.url(), Duration::from_secs(2))
        .await
        .ok();
    Ok((holders, health.map(|h| h.kind)))
}

/// Stops a confirmed action when the port's holders are not the ones the dialog showed.
fn unchanged(shown: &[Holder], now: &[Holder]) -> anyhow::Result<()> {
    let ids = |hs: &[Holder]| {
        let mut v: Vec<(u32, u64, u32)> = hs
            .iter()
            .map(|h| (h.process.pid, h.process.start_time, h.inode))
            .collect();
        v.sort_unstable();
        v
    };
    if ids(shown) == ids(now) {
        return Ok(());
    }
    let list = |hs: &[Holder]| {
        if hs.is_empty() {
            "nothing".to_owned()
        } else {
            hs.iter()
                .map(Holder::describe)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    bail!(
        "the port's holders changed since the dialog opened (it showed {}; now {}): nothing was done",
        list(shown),
        list(now)
    )
}

/// Starts the bundled server detached (`mpm-top serve --daemon`) on the target's host and
/// port, with the configuration file in force, and waits for `/health`.
///
/// # Errors
/// When it cannot be started or does not answer within [`READY_TIMEOUT`].
pub async fn start_server(
    resolved: &Resolved,
    target: &Target,
    audit: &Audit,
    action: &str,
) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find the mpm-top executable")?;
    let mut command = tokio::process::Command::new(exe);
    command.args([
        "serve",
        "--daemon",
        "--host",
        &target.host,
        "--port",
        &target.port.to_string(),
    ]);
    let explicit_file = crate::config::expand_tilde(&resolved.file_shown, resolved.home.as_deref());
    if resolved.file_status != crate::config::FileStatus::Missing {
        command.arg("--config").arg(explicit_file);
    }
    audit.step(
        action,
        &target.authority(),
        "starting mpm-top serve --daemon",
    );
    let out = command
        .output()
        .await
        .context("cannot start mpm-top serve")?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        audit.step(action, "mpm-top serve", &format!("failed: {why}"));
        bail!("the new server did not start: {why}");
    }
    let url = target.url();
    match http::wait_for_health(&url, READY_TIMEOUT).await {
        Ok(h) => {
            audit.step(
                action,
                &url,
                &format!(
                    "/health answers '{}' (it says PID {})",
                    crate::text::sanitize(&h.status),
                    h.pid.unwrap_or_default()
                ),
            );
            Ok(url)
        }
        Err(e) => {
            audit.step(action, &url, &format!("no /health answer: {e}"));
            bail!("the new server did not answer {url}/health within {READY_TIMEOUT:?}: {e}")
        }
    }
}

/// Whether the port is held by mpm-top's own server: `/health` says so (anything can say it)
/// and every process holding the socket runs this very mpm-top executable (what this machine
/// says; a process's name is whatever it chose). Anything else is replaced only after asking.
/// The console's `r` and `mpm-top restart` both decide with this.
#[must_use]
pub fn is_ours(says_mpm_top: bool, holders: &[Holder]) -> bool {
    says_mpm_top && holders.iter().all(|h| h.is_mpm_top)
}

fn stop_all(targets: &[Holder], force: bool, audit: &Audit, action: &str) -> anyhow::Result<()> {
    for target in targets {
        match terminate(target, force, GRACE, audit, action) {
            Outcome::Failed(why) => bail!("could not stop PID {}: {why}", target.process.pid),
            Outcome::Refused(why) => bail!("did not stop PID {}: {why}", target.process.pid),
            Outcome::Terminated | Outcome::Killed | Outcome::AlreadyGone => {}
        }
    }
    Ok(())
}

/// How an action was confirmed: on the command line (`--yes`, or a question it asks), or by a
/// console dialog that showed exactly these holders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// Ask on the terminal when it must; `yes` answers for scripts.
    Ask {
        /// `--yes`.
        yes: bool,
    },
    /// A dialog showed these and the user said yes; act only if they are still the holders.
    Shown(Vec<Holder>),
    /// Nothing needed confirming when the console offered it (mpm-top's own server).
    NotNeeded,
}

/// `mpm-top restart`: stop the server on the port, start the bundled one, wait for `/health`.
/// Replacing a server that is not mpm-top's asks first.
///
/// # Errors
/// When a step fails or the user declines.
pub async fn restart(
    resolved: &Resolved,
    target: &Target,
    confirmed: &Confirmed,
    force: bool,
    audit: &Audit,
) -> anyhow::Result<String> {
    let (targets, kind) = current_server(target).await?;
    match confirmed {
        Confirmed::Shown(shown) => unchanged(shown, &targets)?,
        _ if targets.is_empty() => {
            audit.step("restart", &target.url(), "no server running; starting one");
        }
        Confirmed::NotNeeded if is_ours(kind == Some(ServerKind::MpmTop), &targets) => {}
        Confirmed::NotNeeded => bail!(
            "the port is no longer held by mpm-top's own server: nothing was done; press r again to be asked"
        ),
        Confirmed::Ask { yes } => {
            if !is_ours(kind == Some(ServerKind::MpmTop), &targets) {
                let what = kind.map_or("a process that is not mpm-top's server".into(), |k| {
                    format!("a {} server", k.label())
                });
                let question = format!(
                    "The port is held by {what}:\n{}Stop it and start mpm-top's server instead?",
                    describe_targets(&targets)
                );
                if !confirm(&question, *yes) {
                    bail!("nothing was changed");
                }
            }
        }
    }
    let work = targets.clone();
    let audit2 = audit.clone();
    tokio::task::spawn_blocking(move || stop_all(&work, force, &audit2, "restart")).await??;
    start_server(resolved, target, audit, "restart").await
}

/// `mpm-top recover`: kill the port's holders (listed, confirmed), remove stale PID files (only
/// stale ones), start a clean server, verify `/health`.
///
/// # Errors
/// When a step fails or the user declines.
pub async fn recover(
    resolved: &Resolved,
    target: &Target,
    yes: bool,
    force: bool,
    audit: &Audit,
) -> anyhow::Result<String> {
    let (targets, _) = current_server(target).await?;
    if !targets.is_empty() {
        let question = format!(
            "These processes hold {}:\n{}Kill them?",
            target.authority(),
            describe_targets(&targets)
        );
        if !confirm(&question, yes) {
            bail!("nothing was changed");
        }
        let work = targets.clone();
        let audit2 = audit.clone();
        tokio::task::spawn_blocking(move || stop_all(&work, force, &audit2, "recover")).await??;
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    for stale in pidfiles::all(&resolved.settings.pid_file, &cwd)
        .into_iter()
        .filter(pidfiles::PidFileState::is_stale)
    {
        let shown = crate::config::tilde(&stale.path, resolved.home.as_deref());
        match std::fs::remove_file(&stale.path) {
            Ok(()) => audit.step("recover", &shown, "removed stale PID file"),
            Err(e) => audit.step(
                "recover",
                &shown,
                &format!("could not remove stale PID file: {e}"),
            ),
        }
    }
    start_server(resolved, target, audit, "recover").await
}
