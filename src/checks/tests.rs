//! Checks driven by hand-made facts.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::config::Severity;
use crate::probes::http::Health;

fn timed<T>(value: T) -> Timed<T> {
    Timed {
        value,
        duration: Duration::from_millis(3),
    }
}

fn me() -> ProcessInfo {
    ProcessInfo {
        pid: 42,
        name: "mpm-top".into(),
        cmdline: "mpm-top serve".into(),
        uid: None,
        start_time: 1,
    }
}

/// A healthy mpm-top server on the default port.
fn healthy() -> Facts {
    let settings = Settings::defaults(Path::new("/home/u"));
    Facts {
        target: crate::target::Target {
            scheme: "http",
            host: settings.host.clone(),
            port: settings.port,
            chosen: crate::target::Chosen::Default,
        },
        settings,
        config_findings: Vec::new(),
        holders: timed(vec![me()]),
        health: timed(Ok(Health::parse(
            json!({"status": "running", "service": "mpm-top", "pid": 42}),
            Duration::ZERO,
        ))),
        handshake: timed(Ok(Handshake {
            sid: "s".into(),
            upgrades: vec!["websocket".into()],
            ping_interval_ms: 25000,
            ping_timeout_ms: 20000,
            max_payload: 1_000_000,
        })),
        websocket: timed(Ok(Duration::from_millis(2))),
        cors: timed(Ok(Cors {
            origin: "http://localhost:3000".into(),
            allowed: true,
            status: 200,
            allow_origin: Some("http://localhost:3000".into()),
        })),
        process: timed(Some(ProcessStats {
            pid: 42,
            rss_bytes: 20 << 20,
            cpu_percent: 1.0,
            threads: Some(1),
            open_files: Some(20),
            fd_limit: Some(1024),
            uptime_secs: 5,
        })),
        log: LogFacts {
            shown: "~/.claude/logs/socketio_server.log".into(),
            exists: true,
            writable: true,
            idle_secs: Some(3),
        },
        pid_files: Vec::new(),
        thresholds: crate::config::alerts::Thresholds::default(),
        servers: Vec::new(),
        elsewhere: Vec::new(),
    }
}

fn status_of(facts: &Facts, name: &str) -> (Status, String) {
    let c = evaluate(facts, &[name.to_owned()]).remove(0);
    (c.status, c.reason)
}

#[test]
fn a_healthy_server_passes_every_check() {
    let results = evaluate(&healthy(), &[]);
    assert_eq!(results.len(), NAMES.len());
    assert!(
        results.iter().all(|c| c.status == Status::Ok),
        "{results:#?}"
    );
    assert_eq!(worst(&results), Status::Ok);
}

#[test]
fn a_dead_server_fails_with_fixes_and_points_at_one_found_elsewhere() {
    let mut f = healthy();
    f.holders.value.clear();
    f.health.value = Err(ProbeError::Refused);
    f.handshake.value = Err(ProbeError::Refused);
    f.websocket.value = Err(ProbeError::Refused);
    f.process.value = None;
    f.elsewhere = vec![(8766, ServerKind::ClaudeMpm)];
    let results = evaluate(&f, &[]);
    let process = &results[0];
    assert_eq!(process.status, Status::Fail);
    assert_eq!(
        process.reason,
        "no server process on localhost:8765 (Claude MPM server found on port 8766: use --port 8766)"
    );
    assert_eq!(
        process.fix,
        Some(Fix {
            command: "mpm-top serve --daemon".into(),
            key: Some('s')
        })
    );
    assert_eq!(status_of(&f, "hooks").0, Status::Fail);
    assert_eq!(worst(&results), Status::Fail);
}

#[test]
fn a_port_held_by_something_that_is_not_a_server_says_who() {
    let mut f = healthy();
    f.health.value = Err(ProbeError::Timeout(2000));
    let (status, reason) = status_of(&f, "port");
    assert_eq!(status, Status::Fail);
    assert_eq!(
        reason,
        "port 8765 is held by PID 42 (mpm-top serve) but /health fails (no answer within 2000 ms)"
    );
}

#[test]
fn resources_warn_and_fail_at_their_lines() {
    let mut f = healthy();
    let set = |f: &mut Facts, rss: u64, open: usize| {
        let p = f.process.value.as_mut().unwrap();
        p.rss_bytes = rss;
        p.open_files = Some(open);
    };
    set(&mut f, 300 << 20, 900);
    assert_eq!(status_of(&f, "memory").0, Status::Warn);
    assert_eq!(
        status_of(&f, "fds"),
        (
            Status::Warn,
            "900 of 1024 file descriptors open (87%; the line is 80%)".into()
        )
    );
    set(&mut f, 600 << 20, 1000);
    assert_eq!(status_of(&f, "memory").0, Status::Fail);
    assert_eq!(status_of(&f, "fds").0, Status::Fail);
}

#[test]
fn configuration_hooks_cors_tls_and_mixed_content() {
    let mut f = healthy();
    f.settings.hook_port = 8766;
    let (status, reason) = status_of(&f, "hooks");
    assert_eq!(status, Status::Fail);
    assert!(
        reason.starts_with("hooks post to localhost:8766 but the server is at localhost:8765"),
        "{reason}"
    );
    f.settings.hook_port = 8765;
    f.target.scheme = "https";
    let (status, reason) = status_of(&f, "hooks");
    assert_eq!(status, Status::Fail, "Claude MPM's hooks never post HTTPS");
    assert!(reason.contains("every hook event is lost"), "{reason}");
    f.target.scheme = "http";
    f.settings.hook_port = 8766;
    f.cors.value = Ok(Cors {
        origin: "http://localhost:3000".into(),
        allowed: false,
        status: 403,
        allow_origin: None,
    });
    assert_eq!(status_of(&f, "cors").0, Status::Warn);
    f.settings.cors_origins = vec!["https://dash.example".into()];
    assert_eq!(status_of(&f, "mixed-content").0, Status::Warn);
    f.settings.ssl = true;
    assert_eq!(
        status_of(&f, "tls").0,
        Status::Fail,
        "ssl without cert and key"
    );
    f.config_findings.push(crate::config::Finding {
        severity: Severity::Warning,
        key: None,
        source: None,
        message: "unknown key".into(),
    });
    assert_eq!(status_of(&f, "config").0, Status::Warn);
}

#[test]
fn stale_pid_files_and_an_unwritable_log_are_found() {
    let mut f = healthy();
    f.pid_files.push(crate::probes::pidfiles::PidFileState {
        path: "/p/monitor-daemon-8765.pid".into(),
        owner: "claude-mpm",
        pid: Some(999_999),
        process: None,
    });
    assert_eq!(status_of(&f, "pidfile").0, Status::Warn);
    f.log.writable = false;
    assert_eq!(status_of(&f, "log").0, Status::Fail);
}

#[test]
fn only_the_named_checks_run() {
    let names: Vec<&str> = evaluate(&healthy(), &["tls".into(), "health".into()])
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["health", "tls"]);
}

#[test]
fn two_servers_for_one_project_warn_with_the_servers_view() {
    let row = |port: u16, pid: u32, project: &str| crate::probes::servers::ServerRow {
        port,
        url: format!("http://localhost:{port}"),
        kind: ServerKind::ClaudeMpm,
        kind_label: "Claude MPM".into(),
        pid: Some(pid),
        reported_pid: None,
        project: Some(project.into()),
        answered: true,
        health: "running".into(),
        clients: None,
        events_per_sec: None,
        uptime_secs: None,
        configured: false,
    };
    let mut f = healthy();
    f.servers = vec![row(8765, 10, "~/a"), row(8766, 11, "~/b")];
    assert_eq!(rules::run("servers", &f).status, Status::Ok);
    f.servers.push(row(8770, 12, "~/a"));
    let c = rules::run("servers", &f);
    assert_eq!(
        (c.status, c.reason.as_str()),
        (Status::Warn, "2 servers run for ~/a (ports 8765, 8770)")
    );
    assert_eq!(c.fix.unwrap().key, Some('S'));
}
