//! The stack that runs: the server's own version (from `/version.json` or `/health`), the
//! interpreter of the process holding the port and the package versions of *its* environment
//! (not whatever `python3` is first on PATH), the server's own log, and a few seconds of live
//! events from its feed.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::actions::holder;
use crate::app::{Action, Clock, Stamp};
use crate::probes::http;
use crate::probes::logtail::last_lines;
use crate::probes::pidfiles;
use crate::record::{Entry, Header};
use crate::sio_client::{Transport, connect};
use crate::target::Target;

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
/// version and the packages of its environment, read from the files that process has loaded
/// (`/proc/PID/maps`: its `site-packages`) and their `*.dist-info` metadata. Nothing the
/// process names is ever run: its argv[0] is whatever it chose. Blocking.
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
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let _ = writeln!(
        out,
        "executable: {}",
        exe.as_ref().map_or("?".into(), |e| e.display().to_string())
    );
    let sites = site_packages(pid);
    if !sites.is_empty() {
        out.push_str(&python_packages(&sites));
    }
    (out, Some(pid))
}

/// The `site-packages` folders whose files `pid` has mapped (a server on aiohttp loads its C
/// extensions from there), in the order first seen.
fn site_packages(pid: u32) -> Vec<std::path::PathBuf> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let mut found: Vec<std::path::PathBuf> = Vec::new();
    for line in maps.lines() {
        let Some(path) = line.split_whitespace().nth(5) else {
            continue;
        };
        if let Some(at) = path.find("/site-packages/") {
            let dir = std::path::PathBuf::from(&path[..at + "/site-packages".len()]);
            if !found.contains(&dir) {
                found.push(dir);
            }
        }
    }
    found
}

/// `Python 3.13` (from the `lib/pythonX.Y` folder), the environment's `pyvenv.cfg` version, and
/// the versions of the server's packages from their `*.dist-info/METADATA`.
fn python_packages(sites: &[std::path::PathBuf]) -> String {
    let mut out = String::new();
    let first = &sites[0];
    let version = first
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().replace("python", "Python "));
    let exact = first
        .ancestors()
        .nth(3)
        .and_then(|root| std::fs::read_to_string(root.join("pyvenv.cfg")).ok())
        .and_then(|cfg| {
            cfg.lines().find_map(|l| {
                l.strip_prefix("version")
                    .map(|v| v.trim_start_matches([' ', '=']).trim().to_owned())
            })
        });
    let _ = writeln!(
        out,
        "{}{} (environment: {})",
        version.unwrap_or_else(|| "Python ?".into()),
        exact.map_or(String::new(), |v| format!(", pyvenv.cfg says {v}")),
        first.display()
    );
    for package in [
        "claude-mpm",
        "python-socketio",
        "python-engineio",
        "aiohttp",
    ] {
        let found = sites.iter().find_map(|site| dist_version(site, package));
        let _ = writeln!(
            out,
            "{package} {}",
            found.as_deref().unwrap_or("not installed")
        );
    }
    out
}

/// A package's version from `<site>/<name>-<version>.dist-info` (names normalised as pip does).
fn dist_version(site: &std::path::Path, package: &str) -> Option<String> {
    let wanted = package.replace(['-', '.'], "_").to_lowercase();
    std::fs::read_dir(site).ok()?.flatten().find_map(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stem = name.strip_suffix(".dist-info")?;
        let (dist, version) = stem.rsplit_once('-')?;
        (dist.replace(['-', '.'], "_").to_lowercase() == wanted).then(|| version.to_owned())
    })
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

/// What the server sent a new client over [`LISTEN`]: as text, and as a recording the console
/// can replay (`/health`, then the feed's events at their arrival times).
pub struct Live {
    /// Event names and payloads, one a line.
    pub text: String,
    /// The same, as a recording's header and entries.
    pub recording: (Header, Vec<Entry>),
}

/// What the console's panes would show beside the feed, as entries at `started`: the clock,
/// the transports and the port.
async fn pane_entries(target: &Target, started: Stamp) -> Vec<Entry> {
    let url = target.url();
    let owned = target.clone();
    let (handshake, websocket, port) = tokio::join!(
        http::handshake(&url, Duration::from_secs(2)),
        http::websocket_upgrade(&url, Duration::from_secs(2)),
        tokio::task::spawn_blocking(move || holder::port_facts(&owned))
    );
    let mut entries = vec![
        Entry {
            t: 0.0,
            a: Action::Tick(started),
        },
        Entry {
            t: 0.0,
            a: Action::Transport {
                handshake: handshake.is_ok(),
                websocket: websocket.is_ok(),
            },
        },
    ];
    if let Ok(port) = port {
        entries.push(Entry {
            t: 0.0,
            a: Action::Resources {
                process: port.stats,
                sockets: port.rows,
                holders: port.holders,
                at: started,
            },
        });
    }
    entries
}

/// Listens to the server's feed for [`LISTEN`].
pub async fn live_events(target: &Target) -> Live {
    let clock = Clock::start();
    let started = clock.stamp();
    let url = target.url();
    let (health, session, mut entries) = tokio::join!(
        http::health(&url, Duration::from_secs(2)),
        connect(&url, Transport::Websocket, Duration::from_secs(2)),
        pane_entries(target, started)
    );
    let kind = health
        .as_ref()
        .map_or_else(|_| "none".to_owned(), |h| h.kind.label());
    let header = Header::new(target, &kind, started.wall, 0.0);
    entries.insert(
        1,
        Entry {
            t: 0.0,
            a: Action::Health(health.map_err(|e| e.to_string())),
        },
    );
    let mut session = match session {
        Ok(s) => s,
        Err(e) => {
            let why = format!("{e:#}");
            entries.push(Entry {
                t: clock.mono(),
                a: Action::Disconnected(why.clone()),
            });
            return Live {
                text: format!("(no feed: {why})\n"),
                recording: (header, entries),
            };
        }
    };
    entries.push(Entry {
        t: clock.mono(),
        a: Action::Connected,
    });
    let listening = Instant::now();
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
                event.at.saturating_duration_since(listening).as_secs_f64(),
                event.name
            );
            let at = clock.stamp_at(event.at);
            entries.push(Entry {
                t: at.mono,
                a: Action::Tick(at),
            });
            entries.push(Entry {
                t: at.mono,
                a: Action::FeedEvent {
                    name: event.name,
                    data: event.data,
                    at,
                },
            });
        }
        kept += 1;
    }
    let _ = session.disconnect().await;
    let end = clock.stamp();
    entries.push(Entry {
        t: end.mono,
        a: Action::Tick(end),
    });
    if kept > EVENTS {
        let _ = writeln!(out, "(and {} more)", kept - EVENTS);
        entries.push(Entry {
            t: end.mono,
            a: Action::Note(format!(
                "the bundle keeps the first {EVENTS} events of its {} s: {} more arrived",
                LISTEN.as_secs(),
                kept - EVENTS
            )),
        });
    }
    if kept == 0 {
        out.push_str("(no events in that time)\n");
    }
    Live {
        text: out,
        recording: (header, entries),
    }
}
