//! One function per check: facts in, verdict with a reason and a fix out.

use std::time::Duration;

use super::{Check, Facts, Fix, Status};
use crate::config::{Key, Severity, tilde};
use crate::probes::http::ServerKind;
use crate::probes::pidfiles::PidFileState;
use crate::probes::process::memory_status;

/// Runs the check called `name`.
pub fn run(name: &'static str, f: &Facts) -> Check {
    let rule: fn(&Facts) -> Check = match name {
        "process" => process,
        "port" => port,
        "health" => health,
        "handshake" => handshake,
        "websocket" => websocket,
        "cors" => cors,
        "fds" => fds,
        "memory" => memory,
        "log" => log,
        "pidfile" => pidfile,
        "config" => config,
        "hooks" => hooks,
        "tls" => tls,
        "mixed-content" => mixed_content,
        "servers" => servers,
        _ => {
            return check(
                name,
                Status::Warn,
                format!("unknown check '{name}'"),
                Duration::ZERO,
                None,
            );
        }
    };
    rule(f)
}

fn check(
    name: &'static str,
    status: Status,
    reason: String,
    duration: Duration,
    fix: Option<Fix>,
) -> Check {
    Check {
        name,
        status,
        reason,
        duration_ms: duration.as_secs_f64() * 1000.0,
        fix,
    }
}

#[allow(clippy::unnecessary_wraps)] // it builds the optional `fix` field of a check directly
fn fix(command: &str, key: char) -> Option<Fix> {
    Some(Fix::new(command, Some(key)))
}

fn at(f: &Facts) -> String {
    f.target.authority()
}

fn holder_names(f: &Facts) -> String {
    f.holders
        .value
        .iter()
        .map(|p| format!("PID {} ({})", p.pid, p.command()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn process(f: &Facts) -> Check {
    let name = "process";
    // The process is the one the socket table shows holding the port; the PID a server
    // reports about itself is only what it says.
    if let Some(p) = f.holders.value.first() {
        let says = match &f.health.value {
            Ok(h) => match h.pid {
                Some(pid) if pid != p.pid => {
                    format!("; the {} server says it is PID {pid}", h.kind.label())
                }
                _ => format!("; a {} server", h.kind.label()),
            },
            Err(_) => String::new(),
        };
        return check(
            name,
            Status::Ok,
            format!("PID {} holds the port: {}{says}", p.pid, p.command()),
            f.holders.duration,
            None,
        );
    }
    let hint = f.elsewhere.first().map_or(String::new(), |(port, kind)| {
        format!(
            " ({} server found on port {port}: use --port {port})",
            kind.label()
        )
    });
    check(
        name,
        Status::Fail,
        format!("no server process on {}{hint}", at(f)),
        f.holders.duration,
        fix("mpm-top serve --daemon", 's'),
    )
}

fn port(f: &Facts) -> Check {
    let (name, port, d) = ("port", f.target.port, f.holders.duration);
    match (f.holders.value.is_empty(), &f.health.value) {
        (false, Ok(_)) => check(
            name,
            Status::Ok,
            format!("port {port} listening: {}", holder_names(f)),
            d,
            None,
        ),
        (false, Err(e)) => check(
            name,
            Status::Fail,
            format!(
                "port {port} is held by {} but /health fails ({e})",
                holder_names(f)
            ),
            d,
            fix("mpm-top recover", 'K'),
        ),
        (true, Ok(_)) => check(
            name,
            Status::Ok,
            format!("port {port} answers (its owner is not visible to this user)"),
            d,
            None,
        ),
        (true, Err(_)) => check(
            name,
            Status::Fail,
            format!("nothing listens on port {port}"),
            d,
            fix("mpm-top serve --daemon", 's'),
        ),
    }
}

fn health(f: &Facts) -> Check {
    match &f.health.value {
        Ok(h) => check(
            "health",
            Status::Ok,
            format!("/health answers '{}' from {}", h.status, h.kind.label()),
            f.health.duration,
            None,
        ),
        Err(e) => check(
            "health",
            Status::Fail,
            format!("/health on {}: {e}", at(f)),
            f.health.duration,
            fix("mpm-top restart", 'r'),
        ),
    }
}

fn handshake(f: &Facts) -> Check {
    match &f.handshake.value {
        Ok(h) => {
            let reason = format!(
                "Socket.IO handshake works (ping {} ms / timeout {} ms, maxPayload {})",
                h.ping_interval_ms, h.ping_timeout_ms, h.max_payload
            );
            check("handshake", Status::Ok, reason, f.handshake.duration, None)
        }
        Err(e) => check(
            "handshake",
            Status::Fail,
            format!("Socket.IO handshake failed: {e}"),
            f.handshake.duration,
            fix("mpm-top restart", 'r'),
        ),
    }
}

fn websocket(f: &Facts) -> Check {
    let d = f.websocket.duration;
    match (&f.websocket.value, &f.handshake.value) {
        (Ok(_), _) => check(
            "websocket",
            Status::Ok,
            "websocket upgrade works".into(),
            d,
            None,
        ),
        (Err(e), Ok(_)) => check(
            "websocket",
            Status::Warn,
            format!("websocket upgrade failed ({e}); clients fall back to slower polling"),
            d,
            fix("mpm-top restart", 'r'),
        ),
        (Err(e), Err(_)) => check(
            "websocket",
            Status::Fail,
            format!("websocket upgrade failed: {e}"),
            d,
            fix("mpm-top restart", 'r'),
        ),
    }
}

fn cors(f: &Facts) -> Check {
    let d = f.cors.duration;
    match &f.cors.value {
        Ok(c) if c.allowed => check(
            "cors",
            Status::Ok,
            format!("CORS allows the dashboard origin {}", c.origin),
            d,
            None,
        ),
        Ok(c) => {
            let reason = format!(
                "CORS refuses the dashboard origin {} (HTTP {}): browsers show 'Transport unknown'",
                c.origin, c.status
            );
            check(
                "cors",
                Status::Warn,
                reason,
                d,
                fix(
                    &format!(
                        "SOCKETIO_CORS={} mpm-top restart",
                        f.settings.cors_origins.join(",")
                    ),
                    'r',
                ),
            )
        }
        Err(e) => check(
            "cors",
            Status::Fail,
            format!("CORS preflight failed: {e}"),
            d,
            None,
        ),
    }
}

fn fds(f: &Facts) -> Check {
    let d = f.process.duration;
    match f
        .process
        .value
        .as_ref()
        .and_then(|p| Some((p.open_files?, p.fd_limit?)))
    {
        Some((open, limit)) if limit > 0 => {
            // The console's `file descriptors` alert is this rule, at the same threshold.
            let (status, reason) = super::alerts::fd_use(open, limit, f.thresholds.fd_percent)
                .unwrap_or((Status::Ok, String::new()));
            let fix = (status != Status::Ok).then(|| {
                Fix::new(
                    "raise the limit (ulimit -n) and run mpm-top restart",
                    Some('r'),
                )
            });
            check("fds", status, reason, d, fix)
        }
        _ => check(
            "fds",
            Status::Warn,
            "file descriptor use unknown (no server process visible)".into(),
            d,
            None,
        ),
    }
}

fn memory(f: &Facts) -> Check {
    let d = f.process.duration;
    let Some(p) = &f.process.value else {
        return check(
            "memory",
            Status::Warn,
            "memory unknown (no server process visible)".into(),
            d,
            None,
        );
    };
    let status = memory_status(p.rss_bytes);
    let reason = format!(
        "server RSS {} MiB (the guide escalates at 500 MB); CPU {:.0}%, {} threads",
        p.rss_bytes >> 20,
        p.cpu_percent,
        p.threads.unwrap_or(0)
    );
    let fix = (status != Status::Ok).then(|| {
        Fix::new(
            "mpm-top restart; if it grows back, mpm-top --collect and escalate",
            Some('r'),
        )
    });
    check("memory", status, reason, d, fix)
}

fn log(f: &Facts) -> Check {
    let l = &f.log;
    let ours = matches!(&f.health.value, Ok(h) if h.kind == ServerKind::MpmTop);
    let (status, reason, fix_it) = match (l.exists, l.writable, l.idle_secs) {
        (_, false, _) => (
            Status::Fail,
            format!("log file {} cannot be written", l.shown),
            Some(Fix::new(
                "check the permissions of the log file and its directory",
                None,
            )),
        ),
        (false, true, _) if ours => (
            Status::Warn,
            format!(
                "log file {} does not exist although the server runs",
                l.shown
            ),
            fix("mpm-top restart", 'r'),
        ),
        (false, true, _) => (
            Status::Ok,
            format!(
                "log file {} does not exist yet (it is created on start)",
                l.shown
            ),
            None,
        ),
        (true, true, Some(idle)) if ours && idle > 3600 => (
            Status::Warn,
            format!(
                "log file {} has not been written for {} min",
                l.shown,
                idle / 60
            ),
            fix("mpm-top restart", 'r'),
        ),
        (true, true, idle) => (
            Status::Ok,
            format!(
                "log file {} writable, last written {} s ago",
                l.shown,
                idle.unwrap_or(0)
            ),
            None,
        ),
    };
    check("log", status, reason, Duration::ZERO, fix_it)
}

fn pidfile(f: &Facts) -> Check {
    let stale: Vec<&PidFileState> = f.pid_files.iter().filter(|p| p.is_stale()).collect();
    if let Some(p) = stale.first() {
        let pid = p.pid.map_or("?".into(), |x| x.to_string());
        let reason = format!(
            "{} stale PID file(s), e.g. {} (PID {pid} is not that server)",
            stale.len(),
            p.path.display()
        );
        return check(
            "pidfile",
            Status::Warn,
            reason,
            Duration::ZERO,
            fix("mpm-top recover", 'K'),
        );
    }
    let live: Vec<String> = f
        .pid_files
        .iter()
        .map(|p| format!("{} (PID {})", p.owner, p.pid.unwrap_or_default()))
        .collect();
    let reason = if live.is_empty() {
        "no PID files".into()
    } else {
        format!("PID files fresh: {}", live.join(", "))
    };
    check("pidfile", Status::Ok, reason, Duration::ZERO, None)
}

fn config(f: &Facts) -> Check {
    let errors = f
        .config_findings
        .iter()
        .filter(|x| x.severity == Severity::Error)
        .count();
    let warnings = f.config_findings.len() - errors;
    let status = if errors > 0 {
        Status::Fail
    } else if warnings > 0 {
        Status::Warn
    } else {
        Status::Ok
    };
    let reason = match f.config_findings.first() {
        None => "configuration resolves without findings".into(),
        Some(first) => format!("{errors} error(s), {warnings} warning(s); first: {first}"),
    };
    let fix = (status != Status::Ok).then(|| Fix::new("mpm-top config", Some('5')));
    check("config", status, reason, Duration::ZERO, fix)
}

fn hooks(f: &Facts) -> Check {
    let (s, t) = (&f.settings, &f.target);
    // The console's `hook drift` alert is this rule.
    let drift = super::alerts::hook_drift(&s.hook_host, s.hook_port, &t.host, t.port);
    if drift.is_none() && t.scheme == "https" {
        let reason = format!(
            "hooks post plain http://{}:{}/api/events (Claude MPM's hook sender never uses HTTPS), but the server there speaks only HTTPS: every hook event is lost",
            s.hook_host, s.hook_port
        );
        return check(
            "hooks",
            Status::Fail,
            reason,
            Duration::ZERO,
            Some(Fix::new(
                "set ssl: false in the socketio: section (or SOCKETIO_SSL=false), then mpm-top restart",
                Some('r'),
            )),
        );
    }
    let Some(drift) = drift else {
        return if f.health.value.is_ok() {
            check(
                "hooks",
                Status::Ok,
                format!(
                    "hooks post to {}:{}, where the server answers",
                    crate::target::bracket(&s.hook_host),
                    s.hook_port
                ),
                Duration::ZERO,
                None,
            )
        } else {
            let reason = format!(
                "hooks post to {}:{} where nothing answers: hook events are lost until a server runs there",
                crate::target::bracket(&s.hook_host),
                s.hook_port
            );
            check(
                "hooks",
                Status::Fail,
                reason,
                Duration::ZERO,
                fix("mpm-top serve --daemon", 's'),
            )
        };
    };
    let hook_server = f.elsewhere.iter().find(|(port, _)| *port == s.hook_port);
    let hint = hook_server.map_or(String::new(), |(port, kind)| {
        format!("; a {} server does answer on {port}", kind.label())
    });
    let status = if hook_server.is_some() {
        Status::Warn
    } else {
        Status::Fail
    };
    let reason = format!("{drift}: hook events will be lost{hint}");
    check(
        "hooks",
        status,
        reason,
        Duration::ZERO,
        // The variable that differs (both, when both do).
        Some(Fix::new(
            &if s.hook_port == t.port {
                format!("export CLAUDE_MPM_SERVER_HOST={}", t.host)
            } else if super::alerts::reaches(&s.hook_host, &t.host) {
                format!("export CLAUDE_MPM_SERVER_PORT={}", t.port)
            } else {
                format!(
                    "export CLAUDE_MPM_SERVER_HOST={} CLAUDE_MPM_SERVER_PORT={}",
                    t.host, t.port
                )
            },
            None,
        )),
    )
}

fn tls(f: &Facts) -> Check {
    let s = &f.settings;
    let unusable = f.config_findings.iter().any(|x| {
        x.severity == Severity::Error && matches!(x.key, Some(Key::CertPath | Key::KeyPath))
    });
    match (s.ssl, &s.cert_path, &s.key_path) {
        (false, _, _) => check("tls", Status::Ok, "TLS is off".into(), Duration::ZERO, None),
        (true, Some(c), Some(k)) if !unusable => check(
            "tls",
            Status::Ok,
            format!("TLS on with {} and {}", tilde(c, None), tilde(k, None)),
            Duration::ZERO,
            None,
        ),
        (true, _, _) => check(
            "tls",
            Status::Fail,
            "TLS is on but the certificate or key is missing or unreadable".into(),
            Duration::ZERO,
            fix("mpm-top config", '5'),
        ),
    }
}

fn mixed_content(f: &Facts) -> Check {
    let s = &f.settings;
    match s.cors_origins.iter().find(|o| o.starts_with("https://")) {
        Some(o) if !s.ssl => {
            let reason = format!(
                "dashboard origin {o} is HTTPS but the server is plain HTTP: browsers block the mixed content"
            );
            check(
                "mixed-content",
                Status::Warn,
                reason,
                Duration::ZERO,
                fix(
                    "SOCKETIO_SSL=true SOCKETIO_CERT_PATH=… SOCKETIO_KEY_PATH=… mpm-top restart",
                    'r',
                ),
            )
        }
        _ => check(
            "mixed-content",
            Status::Ok,
            "no HTTPS page talking to a plain-HTTP server".into(),
            Duration::ZERO,
            None,
        ),
    }
}

/// One server per project: two for one project split its events (the hooks reach only one).
/// The console's `same project` alert is this rule.
fn servers(f: &Facts) -> Check {
    let groups = crate::probes::servers::same_project(&f.servers);
    if groups.is_empty() {
        let n = f.servers.iter().filter(|r| r.answered).count();
        return check(
            "servers",
            Status::Ok,
            format!("{n} monitor server(s) on this host, none sharing a project"),
            Duration::ZERO,
            None,
        );
    }
    check(
        "servers",
        Status::Warn,
        super::alerts::same_project_text(&groups),
        Duration::ZERO,
        Some(super::alerts::AlertKind::SameProject.fix()),
    )
}
