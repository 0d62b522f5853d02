//! `mpm-top servers` against real `mpm-top serve` processes on 127.0.0.1:0, each in a
//! working directory of its own (its project), as Claude MPM runs one server per project.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{ServeProcess, mpm_top_command};
use serde_json::Value;

/// `mpm-top servers ARGS` with HOME=`home`, the first server's port as the target (`--port`)
/// and the second's as the configured `port_range`, so both are scanned: its stdout, and how
/// long it took. It must exit 0.
fn servers(home: &Path, target: u16, other: u16, args: &[&str]) -> (String, Duration) {
    let range = format!("{other}-{other}");
    let started = Instant::now();
    let out = mpm_top_command(home, &[("SOCKETIO_PORT_RANGE", &range)])
        .args([
            "servers",
            "--host",
            "127.0.0.1",
            "--port",
            &target.to_string(),
        ])
        .args(args)
        .output()
        .unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (stdout, took)
}

fn row(doc: &Value, port: u16) -> &Value {
    doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["port"] == port)
        .unwrap_or_else(|| panic!("no row for port {port}: {doc:#}"))
}

#[test]
fn two_servers_in_two_projects_are_listed_with_their_process_project_and_rate() {
    let (home_a, home_b, home) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (project_a, project_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A HOME each: a second server with the same HOME refuses to share its PID file.
    let a = ServeProcess::start_in(home_a.path(), project_a.path(), &[], &[]);
    let b = ServeProcess::start_in(home_b.path(), project_b.path(), &[], &[]);

    // Hook posts to A all through the command's two scans.
    let posting = Arc::new(AtomicBool::new(true));
    let poster = {
        let (posting, url) = (Arc::clone(&posting), a.url.clone());
        std::thread::spawn(move || {
            let body = serde_json::json!({"event": "claude_event", "data": {"subtype": "pre_tool", "session_id": "s-1", "data": {"tool_name": "Bash"}}});
            while posting.load(Ordering::Relaxed) {
                common::post_event(&url, &body);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let (out, took) = servers(home.path(), a.port, b.port, &["--json"]);
    posting.store(false, Ordering::Relaxed);
    poster.join().unwrap();

    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let scanned: Vec<u64> = doc["scanned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    for port in (8765..=8785).chain([a.port, b.port]) {
        assert!(
            scanned.contains(&u64::from(port)),
            "{port} not in {scanned:?}"
        );
    }
    for (server, project, configured) in [(&a, &project_a, true), (&b, &project_b, false)] {
        let r = row(&doc, server.port);
        assert_eq!(r["kind"], "mpm_top", "{r:#}");
        assert_eq!(r["kind_label"], "mpm-top");
        assert_eq!(r["pid"], server.child.id(), "the socket table's PID: {r:#}");
        assert_eq!(r["reported_pid"], server.child.id());
        let dir = project.path().canonicalize().unwrap();
        assert_eq!(r["project"], dir.display().to_string(), "{r:#}");
        assert_eq!(r["health"], "running");
        assert_eq!(r["answered"], true);
        assert_eq!(r["configured"], configured, "{r:#}");
        assert_eq!(r["url"], format!("http://127.0.0.1:{}", server.port));
        assert!(r["uptime_secs"].as_f64().unwrap() >= 0.0, "{r:#}");
        assert_eq!(r["clients"], 0);
        assert!(r["events_per_sec"].as_f64().unwrap() >= 0.0, "{r:#}");
    }
    let busy = row(&doc, a.port)["events_per_sec"].as_f64().unwrap();
    assert!(busy > 1.0, "A got a post every ~20 ms: {busy} ev/s");
    assert_eq!(
        row(&doc, b.port)["events_per_sec"],
        0.0,
        "nothing was sent to B"
    );
    // Two scans a second apart, each asking only the ports with a listener.
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn two_servers_in_one_project_are_warned_of() {
    let (home_a, home_b, home) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    // The project under the command's HOME, so it shows with ~.
    let project = home.path().join("proj");
    std::fs::create_dir(&project).unwrap();
    let a = ServeProcess::start_in(home_a.path(), &project, &[], &[]);
    let b = ServeProcess::start_in(home_b.path(), &project, &[], &[]);
    let (out, _) = servers(home.path(), a.port, b.port, &[]);
    assert!(out.starts_with("PORT "), "{out}");
    let line = |port: u16| {
        out.lines()
            .find(|l| l.starts_with(&port.to_string()))
            .unwrap_or_else(|| panic!("no line for {port}:\n{out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line(a.port)[..5],
        [
            &format!("{}*", a.port),
            "mpm-top",
            &a.child.id().to_string(),
            "~/proj",
            "running"
        ],
        "{out}"
    );
    assert_eq!(line(b.port)[0], b.port.to_string(), "{out}");
    let (low, high) = (a.port.min(b.port), a.port.max(b.port));
    assert!(
        out.contains(&format!(
            "Warning: 2 servers for one project, ~/proj (ports {low}, {high})"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "* the configured target, http://127.0.0.1:{} (set by --host, --port).",
            a.port
        )),
        "{out}"
    );
    // The same warning in the JSON document.
    let (json, _) = servers(home.path(), a.port, b.port, &["--json"]);
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        doc["same_project"],
        serde_json::json!([{"project": "~/proj", "ports": [low, high]}]),
        "{doc:#}"
    );
}

#[test]
fn nothing_found_still_exits_zero_and_says_where_it_looked() {
    let home = tempfile::tempdir().unwrap();
    // Two ports that were free a moment ago; nothing of this test listens there.
    let free = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (target, other) = (free(), free());
    let (out, _) = servers(home.path(), target, other, &[]);
    assert!(
        out.contains(&format!(
            "The configured target, http://127.0.0.1:{target} (set by --host, --port): nothing listens there."
        )),
        "{out}"
    );
    assert!(out.contains("8765-8785"), "{out}");
}
