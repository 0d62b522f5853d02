//! Graceful restart and emergency recovery, the guide's scripts without `pgrep -f`,
//! `killall` or `fuser -k`: the targets are the processes actually holding the port.

use std::time::Duration;

use anyhow::{Context as _, bail};

use super::kill::{GRACE, Outcome, describe_targets, terminate};
use super::{Audit, confirm};
use crate::config::Resolved;
use crate::probes::http::{self, ServerKind};
use crate::probes::pidfiles;
use crate::probes::process::ProcessInfo;
use crate::probes::sockets::holders;
use crate::target::Target;

/// How long a restarted server gets to answer `/health`, as the guide's script waits.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The server to stop: the processes holding the target's port, by this machine's socket
/// table. The PID a server reports in `/health` is never a target: anything can claim one.
pub async fn current_server(target: &Target) -> (Vec<ProcessInfo>, Option<ServerKind>) {
    let health = http::health(&target.url(), Duration::from_secs(2))
        .await
        .ok();
    let port = target.port;
    let targets = tokio::task::spawn_blocking(move || holders(port))
        .await
        .unwrap_or_default();
    (targets, health.map(|h| h.kind))
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

/// Whether the port is held by mpm-top's own server: `/health` says so (anything can) and every
/// process holding the socket is an `mpm-top` program (what this machine says). Anything else
/// is replaced only after asking.
#[must_use]
pub fn is_ours(kind: Option<&ServerKind>, holders: &[ProcessInfo]) -> bool {
    kind == Some(&ServerKind::MpmTop) && holders.iter().all(|p| p.name == "mpm-top")
}

fn stop_all(targets: &[ProcessInfo], audit: &Audit, action: &str) -> anyhow::Result<()> {
    for target in targets {
        if let Outcome::Failed(why) = terminate(target, GRACE, audit, action) {
            bail!("could not stop PID {}: {why}", target.pid);
        }
    }
    Ok(())
}

/// `mpm-top restart`: stop the server on the port, start the bundled one, wait for `/health`.
/// Replacing a server that is not mpm-top's asks first.
///
/// # Errors
/// When a step fails or the user declines.
pub async fn restart(
    resolved: &Resolved,
    target: &Target,
    yes: bool,
    audit: &Audit,
) -> anyhow::Result<String> {
    let (targets, kind) = current_server(target).await;
    if targets.is_empty() {
        audit.step("restart", &target.url(), "no server running; starting one");
    } else if !is_ours(kind.as_ref(), &targets) {
        let what = kind.map_or("a process that is not mpm-top's server".into(), |k| {
            format!("a {} server", k.label())
        });
        let question = format!(
            "The port is held by {what}:\n{}Stop it and start mpm-top's server instead?",
            describe_targets(&targets)
        );
        if !confirm(&question, yes) {
            bail!("nothing was changed");
        }
    }
    let work = targets.clone();
    let audit2 = audit.clone();
    tokio::task::spawn_blocking(move || stop_all(&work, &audit2, "restart")).await??;
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
    audit: &Audit,
) -> anyhow::Result<String> {
    let (targets, _) = current_server(target).await;
    if !targets.is_empty() {
        let question = format!(
            "These processes hold port {}:\n{}Kill them?",
            target.port,
            describe_targets(&targets)
        );
        if !confirm(&question, yes) {
            bail!("nothing was changed");
        }
        let work = targets.clone();
        let audit2 = audit.clone();
        tokio::task::spawn_blocking(move || stop_all(&work, &audit2, "recover")).await??;
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
