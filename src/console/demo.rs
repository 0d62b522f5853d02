//! `--demo`: the bundled server in-process on a free port, with a workload that looks like a
//! Claude MPM session (sessions, prompts, tool pre/post pairs with durations, a subagent, an
//! occasional error, clients connecting and leaving), fed through the server's own ingestion.

use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::Resolved;
use crate::serve::hook::normalize;
use crate::serve::socket::{ingest, now_rfc3339};
use crate::serve::{Running, spawn};
use crate::sio_client::{Transport, connect};

const TOOLS: [&str; 6] = ["Bash", "Read", "Edit", "Grep", "Write", "Glob"];

/// A small deterministic-enough generator (xorshift); the demo needs variety, not security.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

/// The demo server and the private folder its log is in.
pub struct Demo {
    /// The server.
    pub server: Running,
    /// What writes its log, for the console's subscriber to install (taken once).
    pub log_layer: Option<crate::serve::command::LogLayer>,
    /// Its log, written as `mpm-top serve` writes one, so the console tails it.
    pub log: PathBuf,
    dir: PathBuf,
}

impl Demo {
    /// Stops the server (waiting at most `grace` for its connections) and removes its log.
    pub async fn stop(self, grace: Duration) {
        let _ = tokio::time::timeout(grace, self.server.stop()).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new folder only this user can enter, for the demo's log. Created, never reused: a path
/// someone else prepared (a symlink in the temporary folder) makes this fail, not follow it.
fn private_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    remove_abandoned();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("mpm-top-demo-{}-{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create the demo's folder '{}'", dir.display()))?;
    Ok(dir)
}

/// Removes the folders of demos that were killed before they could (SIGKILL, a crash): ours
/// by name and owner, and whose process is gone. A link by that name is removed, not followed.
fn remove_abandoned() {
    use std::os::unix::fs::MetadataExt as _;
    let me = nix::unistd::geteuid().as_raw();
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("mpm-top-demo-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let ours = std::fs::symlink_metadata(entry.path()).is_ok_and(|m| m.uid() == me);
        if ours && crate::probes::process::start_ticks(pid).is_none() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Starts the demo server on 127.0.0.1:0, logging to a private folder, and its workload; stop
/// the workload with `stop`, the server with [`Demo::stop`].
///
/// # Errors
/// When no local port can be bound, or the folder cannot be made.
pub async fn start(resolved: &Resolved, stop: watch::Receiver<bool>) -> anyhow::Result<Demo> {
    let mut settings = resolved.settings.clone();
    settings.host = "127.0.0.1".into();
    let dir = private_dir()?;
    settings.log_file = dir.join("socketio_server.log");
    // No stderr for the demo (the terminal is the console's). The console installs the one
    // subscriber, with this layer beside the Log pane's.
    let log_layer = crate::serve::command::file_log(&settings, resolved.home.as_deref());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = spawn(listener, &settings, None)?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| {
            u64::try_from(d.as_nanos() % u128::from(u64::MAX)).unwrap_or(7) | 1
        });
    tokio::spawn(workload(
        server.io.clone(),
        server.state.clone(),
        Dice(seed),
        stop.clone(),
    ));
    tokio::spawn(visitors(
        format!("http://{}", server.addr),
        Dice(seed.rotate_left(17)),
        stop,
    ));
    Ok(Demo {
        server,
        log_layer,
        log: settings.log_file,
        dir,
    })
}

async fn hook(
    io: &socketioxide::SocketIo,
    state: &crate::serve::socket::Shared,
    subtype: &str,
    session: &str,
    correlation: &str,
    data: serde_json::Value,
) {
    let body = json!({"event": "claude_event", "data": {"source": "hook", "type": "hook", "subtype": subtype, "session_id": session, "correlation_id": correlation, "data": data}});
    if let Ok(event) = normalize(&body, &now_rfc3339()) {
        ingest(io, state, &event).await;
    }
}

async fn pause(ms: u64, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(ms)) => true,
        _ = stop.changed() => false,
    }
}

async fn workload(
    io: socketioxide::SocketIo,
    state: crate::serve::socket::Shared,
    mut dice: Dice,
    mut stop: watch::Receiver<bool>,
) {
    let mut call = 0u64;
    for session_no in 1u64.. {
        let session = format!("demo-{session_no}");
        hook(
            &io,
            &state,
            "session_start",
            &session,
            "",
            json!({"cwd": "~/projects/demo"}),
        )
        .await;
        for prompt in 0..(3 + dice.roll(4)) {
            hook(
                &io,
                &state,
                "user_prompt",
                &session,
                "",
                json!({"prompt_preview": format!("task {prompt}: fix the failing test")}),
            )
            .await;
            let subagent = dice.roll(5) == 0;
            if subagent {
                hook(
                    &io,
                    &state,
                    "subagent_start",
                    &session,
                    "",
                    json!({"agent_type": "engineer"}),
                )
                .await;
            }
            for _ in 0..=dice.roll(4) {
                call += 1;
                let correlation = format!("c-{call}");
                let tool = TOOLS[usize::try_from(dice.roll(TOOLS.len() as u64)).unwrap_or(0)];
                hook(
                    &io,
                    &state,
                    "pre_tool",
                    &session,
                    &correlation,
                    json!({"tool_name": tool}),
                )
                .await;
                if !pause(50 + dice.roll(1500), &mut stop).await {
                    return;
                }
                let failed = dice.roll(15) == 0;
                let status = if failed { "error" } else { "success" };
                hook(&io, &state, "post_tool", &session, &correlation, json!({"tool_name": tool, "status": status, "success": !failed, "exit_code": u8::from(failed)})).await;
            }
            if subagent {
                hook(
                    &io,
                    &state,
                    "subagent_stop",
                    &session,
                    "",
                    json!({"agent_type": "engineer"}),
                )
                .await;
            }
            hook(
                &io,
                &state,
                "stop",
                &session,
                "",
                json!({"reason": "completed"}),
            )
            .await;
            if !pause(300 + dice.roll(1200), &mut stop).await {
                return;
            }
        }
        hook(&io, &state, "session_end", &session, "", json!({})).await;
    }
}

/// Dashboards that come and go.
async fn visitors(url: String, mut dice: Dice, mut stop: watch::Receiver<bool>) {
    loop {
        if !pause(3000 + dice.roll(8000), &mut stop).await {
            return;
        }
        let url = url.clone();
        let stay = 4000 + dice.roll(12_000);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            if let Ok(session) = connect(&url, Transport::Websocket, Duration::from_secs(5)).await {
                // As Claude MPM's dashboard does: the Clients view (`C`) shows it by name.
                let me = json!({"name": "demo dashboard", "type": "dashboard"});
                let _ = session.emit("client:register", me).await;
                pause(stay, &mut stop).await;
                let _ = session.disconnect().await;
            }
        });
    }
}
