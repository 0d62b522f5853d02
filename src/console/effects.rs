//! Carrying out an [`Effect`] with the same functions the command line uses, then reporting
//! back as an action.

use std::path::Path;

use tokio::sync::mpsc;

use crate::actions::{Audit, kill, reset_config, restart};
use crate::app::{Action, Effect};
use crate::checks::{self, Status};
use crate::config::Resolved;
use crate::{collect, doctor};

/// Reads the configuration again, as the console was started (flags, file, `--demo`).
pub type Reload = std::sync::Arc<dyn Fn() -> Resolved + Send + Sync>;

/// Carries out one effect; `Switch` and `Record` are the loop's own business and never arrive
/// here. `held` is what the console holds, as a recording, for `Collect`'s bundle.
pub async fn carry_out(
    effect: Effect,
    resolved: Resolved,
    reload: Reload,
    audit: Audit,
    tx: mpsc::Sender<Action>,
    held: Option<collect::Held>,
) {
    let outcome: anyhow::Result<String> = match effect {
        Effect::StartServer(target) => restart::start_server(&resolved, &target, &audit, "start")
            .await
            .map(|url| format!("server started: {url}")),
        Effect::Restart(target, confirmed) => {
            restart::restart(&resolved, &target, &confirmed, false, &audit)
                .await
                .map(|url| format!("restarted: {url}"))
        }
        Effect::Kill(target, shown) => {
            tokio::task::spawn_blocking(move || kill::stop_shown(&target, &shown, &audit))
                .await
                .map_err(anyhow::Error::from)
                .and_then(|r| r)
        }
        Effect::PlanReset(file) => {
            let path = crate::config::expand_tilde(&file, resolved.home.as_deref());
            let plan = tokio::task::spawn_blocking(move || {
                reset_config::plan(&path)
                    .map(|p| (p.exists, p.diff))
                    .map_err(|e| format!("{e:#}"))
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            let _ = tx.send(Action::ResetPlanned(plan)).await;
            return;
        }
        Effect::ResetConfig { file, diff } => {
            let path = crate::config::expand_tilde(&file, resolved.home.as_deref());
            // File work on a blocking thread: the runtime's two workers serve the console.
            let done = tokio::task::spawn_blocking(move || {
                let plan = reset_config::plan(&path)?;
                // Act on exactly the change the dialog showed.
                if plan.diff != diff {
                    anyhow::bail!(
                        "{file} changed since the dialog showed its change; nothing was changed: press R again"
                    );
                }
                let done = match reset_config::apply(&plan, &audit)? {
                    Some(b) => format!("config reset; the old file is at {}", b.display()),
                    None => format!("created {file} with the default socketio: section"),
                };
                Ok((done, crate::config::rows(&reload())))
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
            match done {
                Ok((text, rows)) => {
                    let _ = tx.send(Action::Config(rows)).await;
                    Ok(text)
                }
                Err(e) => Err(e),
            }
        }
        Effect::Collect(target) => {
            let path = Path::new("debug_info.txt");
            collect::collect(&resolved, &target, path, held, &mut std::io::sink())
                .await
                .map(|b| {
                    let recording = match &b.recording {
                        Ok(at) => format!("; the recording is {}", at.display()),
                        Err(why) => format!("; no recording: {why}"),
                    };
                    format!(
                        "wrote debug_info.txt ({} bytes, {} redacted, sha256 {}){recording}",
                        b.size,
                        b.redacted,
                        &b.sha256[..12]
                    )
                })
                .map_err(anyhow::Error::from)
        }
        Effect::Doctor(target) => {
            let facts = doctor::gather(&resolved, &target).await;
            let results = checks::evaluate(&facts, &[]);
            if let Some(c) = results.iter().max_by_key(|c| c.status) {
                let text = if c.status == Status::Ok {
                    "all checks pass".to_owned()
                } else {
                    format!("{}: {}", c.name, c.reason)
                };
                let _ = tx.send(Action::Doctor(c.status, text)).await;
            }
            let count = |s| results.iter().filter(|c| c.status == s).count();
            Ok(format!(
                "doctor: {} ok, {} warning(s), {} failure(s)",
                count(Status::Ok),
                count(Status::Warn),
                count(Status::Fail)
            ))
        }
        Effect::Switch(target) => Ok(format!("switching to {target}")),
        Effect::Record | Effect::Log(_) | Effect::LogView(_) => {
            Ok("recording and the log are the console's own business".into())
        }
    };
    let _ = tx
        .send(outcome.map_or_else(|e| Action::Failed(format!("{e:#}")), Action::Done))
        .await;
}
