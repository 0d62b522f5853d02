//! `mpm-top doctor`: gather the facts (every probe bounded by a timeout, concurrently), run the
//! checks, print them with ✓ / ! / ✗ (or ASCII), or as versioned JSON.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::checks::{self, Check, Facts, LogFacts, Status, Timed};
use crate::config::{Resolved, tilde};
use crate::probes::http;
use crate::probes::{pidfiles, process};
use crate::target::Target;

/// Version of the `--json` document.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Longest any single probe may take; a hung server costs at most this.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

async fn timed<T>(work: impl std::future::Future<Output = T>) -> Timed<T> {
    let started = Instant::now();
    let value = work.await;
    Timed {
        value,
        duration: started.elapsed(),
    }
}

/// Runs a blocking probe off the async threads, bounded by [`PROBE_TIMEOUT`].
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static, fallback: T) -> T {
    match tokio::time::timeout(PROBE_TIMEOUT, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(value)) => value,
        _ => fallback,
    }
}

/// Gathers every fact the checks need about `target`. Strictly read-only.
pub async fn gather(resolved: &Resolved, target: &Target) -> Facts {
    let s = resolved.settings.clone();
    let base = target.url();
    let origin = s
        .cors_origins
        .iter()
        .find(|o| *o != "*")
        .cloned()
        .unwrap_or_else(|| "http://localhost:3000".into());
    let port = target.port;
    let owned = target.clone();
    let other_ports = http::discovery_ports(s.port_range, port);
    let scan_ports = crate::probes::servers::scan_ports(s.port_range, target);
    let mut scanner = crate::probes::servers::Scanner::new(target, resolved.home.clone());
    let (holders, health, handshake, websocket, cors, elsewhere, servers) = tokio::join!(
        timed(blocking(
            move || {
                // The same holders the actions would stop: on the target's address, never
                // mpm-top itself; none for a target on another machine.
                crate::actions::holder::current(&owned)
                    .map(|hs| hs.into_iter().map(|h| h.process).collect())
                    .unwrap_or_default()
            },
            Vec::new()
        )),
        timed(http::health(&base, PROBE_TIMEOUT)),
        timed(http::handshake(&base, PROBE_TIMEOUT)),
        timed(http::websocket_upgrade(&base, PROBE_TIMEOUT)),
        timed(http::cors(&base, &origin, PROBE_TIMEOUT)),
        http::discover(&target.host, other_ports, Duration::from_millis(500)),
        scanner.scan(&target.host, &scan_ports),
    );
    // The process holding the port, by the socket table; /health's pid is only what it says.
    let server_pid = holders.value.first().map(|p| p.pid);
    let process = timed(blocking(
        move || server_pid.and_then(|pid| process::stats(pid, Duration::from_millis(200))),
        None,
    ))
    .await;
    let home = resolved.home.clone();
    let log = log_facts(&s.log_file, home.as_deref());
    let pid_file = s.pid_file.clone();
    let cwd = std::env::current_dir().unwrap_or_default();
    let pid_files = blocking(move || pidfiles::all(&pid_file, &cwd), Vec::new()).await;
    Facts {
        settings: s,
        target: target.clone(),
        // mpm-top's alert thresholds are configuration too: a bad one falls back, and says so.
        config_findings: resolved
            .findings
            .iter()
            .chain(&resolved.alerts.findings)
            .cloned()
            .collect(),
        holders,
        health,
        handshake,
        websocket,
        cors,
        process,
        log,
        pid_files,
        elsewhere: elsewhere
            .into_iter()
            .map(|f| (f.port, f.health.kind))
            .collect(),
        thresholds: resolved.alerts.thresholds,
        servers,
    }
}

fn log_facts(path: &Path, home: Option<&Path>) -> LogFacts {
    let meta = std::fs::metadata(path).ok();
    let writable_target = if meta.is_some() {
        path.to_owned()
    } else {
        nearest_existing_dir(path)
    };
    LogFacts {
        shown: tilde(path, home),
        exists: meta.is_some(),
        writable: nix::unistd::access(&writable_target, nix::unistd::AccessFlags::W_OK).is_ok(),
        idle_secs: meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map(|d| d.as_secs()),
    }
}

/// The directory the log file would be created in: its parent, or that parent's nearest
/// existing ancestor (the server creates the missing ones).
fn nearest_existing_dir(path: &Path) -> std::path::PathBuf {
    path.ancestors()
        .skip(1)
        .find(|d| d.is_dir())
        .unwrap_or(Path::new("/"))
        .to_owned()
}

/// How marks are drawn: ✓ ! ✗ on a UTF-8 terminal, ASCII otherwise or with `NO_COLOR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Use ✓ ! ✗.
    pub unicode: bool,
    /// Use ANSI colours.
    pub colour: bool,
}

impl Style {
    /// From the environment and whether stdout is a terminal.
    #[must_use]
    pub fn detect() -> Style {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        let locale = [var("LC_ALL"), var("LC_CTYPE"), var("LANG")]
            .into_iter()
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        let utf8 = locale
            .to_ascii_uppercase()
            .replace('-', "")
            .contains("UTF8");
        let no_colour = std::env::var_os("NO_COLOR").is_some();
        let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
        Style {
            unicode: utf8 && !no_colour,
            colour: tty && !no_colour,
        }
    }

    fn mark(self, status: Status) -> String {
        let (u, a, code) = match status {
            Status::Ok => ("✓", "[ok]  ", "32"),
            Status::Warn => ("!", "[warn]", "33"),
            Status::Fail => ("✗", "[FAIL]", "31"),
        };
        let mark = if self.unicode { u } else { a };
        if self.colour {
            format!("\x1b[{code}m{mark}\x1b[0m")
        } else {
            mark.to_owned()
        }
    }
}

/// The checks as lines a person reads.
#[must_use]
pub fn to_text(target: &str, checks: &[Check], style: Style) -> String {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let mut out = format!("=== Socket.IO health check: {target} ===\n");
    for c in checks {
        let _ = writeln!(
            out,
            "{} {:<13} {} ({:.0} ms)",
            style.mark(c.status),
            c.name,
            crate::text::sanitize(&c.reason),
            c.duration_ms
        );
        if let Some(fix) = &c.fix {
            let key = fix
                .key
                .map_or(String::new(), |k| format!("  [console: {k}]"));
            let _ = writeln!(out, "  {:<13} fix: {}{key}", "", fix.command);
        }
    }
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    let _ = writeln!(
        out,
        "{} ok, {} warning(s), {} failure(s)",
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail)
    );
    out
}

/// The versioned JSON document (schema in the README).
#[must_use]
pub fn to_json(target: &str, facts: &Facts, checks: &[Check]) -> Value {
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    json!({
        "schema_version": JSON_SCHEMA_VERSION,
        "target": target,
        "server": facts.health.value.as_ref().ok().map(|h| h.kind.label()),
        "checks": checks,
        "summary": {"ok": count(Status::Ok), "warn": count(Status::Warn), "fail": count(Status::Fail)},
        "exit_code": exit_code(checks),
    })
}

/// 0 when every check passed, 1 with warnings, 2 with failures.
#[must_use]
pub fn exit_code(checks: &[Check]) -> u8 {
    match checks::worst(checks) {
        Status::Ok => 0,
        Status::Warn => 1,
        Status::Fail => 2,
    }
}

/// `mpm-top doctor`: gathers, checks, prints; returns the exit code.
pub async fn run(resolved: &Resolved, only: &[String], json: bool) -> u8 {
    if let Some(bad) = only.iter().find(|n| !checks::NAMES.contains(&n.as_str())) {
        eprintln!(
            "mpm-top doctor: unknown check '{bad}'; the checks are: {}",
            checks::NAMES.join(", ")
        );
        return 2;
    }
    let target = Target::configured(resolved);
    let facts = gather(resolved, &target).await;
    let results = checks::evaluate(&facts, only);
    let out = if json {
        format!("{:#}\n", to_json(&target.url(), &facts, &results))
    } else {
        to_text(&target.url(), &results, Style::detect())
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
    exit_code(&results)
}
