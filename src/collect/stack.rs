//! The stack that runs: the server's own version (from `/version.json` or `/health`), the
//! interpreter of the process holding the port and the package versions of *its* environment
//! (not whatever `python3` is first on PATH), the server's own log, and a few seconds of live
//! events from its feed.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::actions::holder;
use crate::probes::http;
use crate::probes::logtail::last_lines;
use crate::probes::pidfiles;
use crate::sio_client::{Transport, connect};
use crate::target::Target;

/// How long the interpreter may take to report its packages.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the feed is listened to.
pub const LISTEN: Duration = Duration::from_secs(3);
/// Events kept from it.
const EVENTS: usize = 200;
/// Lines of the server's own log.
const LOG_LINES: usize = 200;

/// The server's version as it reports it: `/version.json` (Claude MPM's build) and `/health`.
pub async fn server_version(target: &Target) -> String {
    let url = target.url();
    let mut out = String::new();
    let (version_url, health_url) = (format!("{url}/version.json"), format!("{url}/health"));
    let (version, health) = tokio::join!(
        http::get_json(&version_url, Duration::from_secs(2)),
        http::get_json(&health_url, Duration::from_secs(2))
    );
    for (path, answer) in [("/version.json", version), ("/health", health)] {
        let _ = match answer {
            Ok(v) => {
                let version = ["full_version", "version", "build"]
                    .iter()
                    .filter_map(|k| v.get(*k).map(|x| format!("{k}={x}")))
                    .collect::<Vec<_>>()
                    .join(" ");
                let service = v.get("service").map_or(String::new(), ToString::to_string);
                writeln!(out, "{path}: service={service} {version}")
            }
            Err(e) => writeln!(out, "{path}: {e}"),
        };
    }
    out
}

/// The process holding the port: its program, and, for a Python program, its interpreter's
/// version and the packages of its environment. Blocking.
#[must_use]
pub fn server_process(target: &Target) -> (String, Option<u32>) {
    let holders = match holder::current(target) {
        Ok(h) if !h.is_empty() => h,
        Ok(_) => return ("(no process holds the port)\n".into(), None),
        Err(e) => return (format!("({e})\n"), None),
    };
    let h = &holders[0];
    let pid = h.process.pid;
    let mut out = format!("PID {pid} holds {}: {}\n", h.local, h.process.command());
    let argv0 = std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .and_then(|c| {
            c.split(|b| *b == 0)
                .next()
                .map(|a| String::from_utf8_lossy(a).into_owned())
        })
        .unwrap_or_default();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let _ = writeln!(
        out,
        "executable: {}",
        exe.as_ref().map_or("?".into(), |e| e.display().to_string())
    );
    // A virtualenv's python is a link to the base interpreter: argv[0] keeps the venv (and so
    // its site-packages); /proc/PID/exe would not.
    let interpreter = if argv0.contains('/') {
        Some(std::path::PathBuf::from(&argv0))
    } else {
        exe
    };
    let is_python = interpreter
        .as_ref()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n.to_string_lossy().starts_with("python"));
    if let (true, Some(python)) = (is_python, interpreter) {
        let _ = writeln!(out, "interpreter: {}", python.display());
        out.push_str(&python_packages(&python));
    }
    (out, Some(pid))
}

/// `Python 3.13.0` and the versions of the server's packages, as that interpreter sees them.
fn python_packages(python: &std::path::Path) -> String {
    const SCRIPT: &str = "import sys\nprint('Python', sys.version.split()[0])\nimport importlib.metadata as m\nfor p in ('claude-mpm', 'python-socketio', 'python-engineio', 'aiohttp'):\n    try: print(p, m.version(p))\n    except Exception: print(p, 'not installed')\n";
    let Ok(mut child) = Command::new(python)
        .args(["-I", "-c", SCRIPT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return format!("({} could not be run)\n", python.display());
    };
    let deadline = Instant::now() + PYTHON_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return child
                .wait_with_output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    format!("(the interpreter did not answer within {PYTHON_TIMEOUT:?})\n")
}

/// The last lines of Claude MPM's daemon log for the server `pid` on `port`, when it has one.
#[must_use]
pub fn claude_mpm_log(pid: u32, port: u16) -> Option<(String, String)> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let path = pidfiles::claude_mpm_log(pid, port, &cwd)?;
    let text = match last_lines(&path, LOG_LINES) {
        Ok(lines) => lines.iter().fold(String::new(), |mut acc, l| {
            let _ = writeln!(acc, "{}", l.text);
            acc
        }),
        Err(e) => format!("({e})\n"),
    };
    Some((path.display().to_string(), text))
}

/// What the server sends a new client over [`LISTEN`]: event names and payloads, one a line.
pub async fn live_events(target: &Target) -> String {
    let mut session =
        match connect(&target.url(), Transport::Websocket, Duration::from_secs(2)).await {
            Ok(s) => s,
            Err(e) => return format!("(no feed: {e:#})\n"),
        };
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + LISTEN;
    let mut out = String::new();
    let mut kept = 0;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, session.events.recv()).await {
        if kept < EVENTS {
            let data = match &event.data {
                Value::Null => String::new(),
                v => crate::text::truncate(&v.to_string(), 2000),
            };
            let _ = writeln!(
                out,
                "+{:>6.3}s {} {data}",
                event.at.saturating_duration_since(started).as_secs_f64(),
                event.name
            );
        }
        kept += 1;
    }
    let _ = session.disconnect().await;
    if kept > EVENTS {
        let _ = writeln!(out, "(and {} more)", kept - EVENTS);
    }
    if kept == 0 {
        out.push_str("(no events in that time)\n");
    }
    out
}
