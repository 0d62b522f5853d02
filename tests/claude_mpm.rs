//! mpm-top against the REAL Claude MPM monitor server: claude-mpm 6.5.83 from `PyPI`, pinned in
//! `tests/interop/requirements-claude-mpm.txt`, installed by the test itself into a Python
//! 3.13 virtualenv under target/, started on 127.0.0.1 by `tests/interop/claude_mpm_server.py`
//! the way its daemon runs (PID file and packet log under the project's `.claude-mpm/`).
//!
//! Without a Python 3.13 on this machine the test says so on stderr and skips.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::pty::Tty;
use common::{first_line_port, interop_dir, python_3_13, signal, venv, wait_with_timeout};
use nix::sys::signal::Signal;
use serde_json::{Value, json};

/// The real server, in a scratch project and HOME; stopped (SIGTERM, as its daemon expects)
/// when dropped.
struct RealServer {
    child: Child,
    port: u16,
    project: tempfile::TempDir,
    _home: tempfile::TempDir,
}

impl RealServer {
    fn start() -> Option<RealServer> {
        let Some(base) = python_3_13() else {
            eprintln!(
                "SKIPPED: no Python 3.13 found (pyenv prefix 3.13, ~/.pyenv/versions/3.13*, \
                 python3.13 on PATH); claude-mpm 6.5.83 needs it. Install it \
                 (`pyenv install 3.13`) to run this test."
            );
            return None;
        };
        let python = venv("claude-mpm-venv", &base, "requirements-claude-mpm.txt");
        // Under the system's temporary folder, so claude-mpm takes it as its project root.
        let (project, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut child = Command::new(python)
            .arg(interop_dir().join("claude_mpm_server.py"))
            .args(["--host", "127.0.0.1"])
            .current_dir(project.path())
            .env_clear()
            .env("HOME", home.path())
            .env("PWD", project.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (line, port) = first_line_port(&mut child);
        let port = port.unwrap_or_else(|| panic!("the real server did not start: {line}"));
        Some(RealServer {
            child,
            port,
            project,
            _home: home,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        signal(self.child.id(), Signal::SIGTERM);
        // claude-mpm's own shutdown sleeps; about 10 s.
        if wait_with_timeout(&mut self.child, Duration::from_secs(30)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn mpm_top(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::mpm_top_command(home, &[])
        .args(args)
        .output()
        .unwrap()
}

/// A hook event in the wrapper `claude-hook` posts, with the hook's own timestamp.
fn hook(subtype: &str, correlation: &str, timestamp: &str) -> Value {
    json!({"namespace": "", "event": "claude_event",
        "data": {"event": "mpm_event", "source": "hook", "type": "hook", "subtype": subtype,
            "timestamp": timestamp, "session_id": "s-real", "correlation_id": correlation,
            "data": {"tool_name": "RealBash", "status": "success", "session_id": "s-real"}}})
}

#[test]
fn the_console_doctor_and_test_tell_the_truth_about_the_real_server() {
    let Some(server) = RealServer::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let port = server.port.to_string();
    let target = ["--host", "127.0.0.1", "--port", port.as_str()];

    // `test` reads /health first and goes straight to dashboard:ping.
    let out = mpm_top(home.path(), &[&["test"], &target[..]].concat());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("a Claude MPM server"), "{said}");
    assert!(said.contains("Received dashboard:pong"), "{said}");
    assert!(
        !said.contains("test_response"),
        "it asked test_event first:\n{said}"
    );

    // doctor: the server, its transports, and its process found by the socket table.
    let out = mpm_top(home.path(), &[&["doctor", "--json"], &target[..]].concat());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["server"], "Claude MPM", "{report:#}");
    for name in ["process", "port", "health", "handshake", "websocket"] {
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        assert_eq!(check["status"], "ok", "{check:#}");
    }

    // --collect describes the stack that runs: the server's own version, its interpreter and
    // the packages of its environment, and its own log.
    let bundle_path = home.path().join("bundle.txt");
    let out = mpm_top(
        home.path(),
        &[&["--collect", bundle_path.to_str().unwrap()], &target[..]].concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = std::fs::read_to_string(&bundle_path).unwrap();
    for fact in [
        "full_version=\"v6.5.83",
        "claude-mpm 6.5.83",
        "Python 3.13",
        &format!("monitor-daemon-{}.log", server.port),
        "dashboard:welcome",
    ] {
        assert!(bundle.contains(fact), "the bundle lacks {fact}:\n{bundle}");
    }

    // The console: kind, clients from dashboard:client:count, the daemon's packet log tailed,
    // and a tool call timed by the hook's own timestamps, seen on the feed and in the log.
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_mpm-top"));
    let mut path = std::ffi::OsString::from(exe.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let args = target.map(str::to_owned);
    let mut tty = Tty::spawn("mpm-top", &args, home.path(), &path);
    tty.wait_for("server  Claude MPM");
    tty.wait_for("feed ✓");
    tty.wait_for("clients 1");
    let log = format!("monitor-daemon-{}.log", server.port);
    tty.keys("6z"); // the Log pane, zoomed: room for the whole path
    tty.wait_for(&format!("tailing {}", server.project.path().display()));
    tty.wait_for(&log);
    tty.escape();
    assert!(
        server
            .project
            .path()
            .join(".claude-mpm/logs")
            .join(&log)
            .is_file()
    );
    let http = reqwest::blocking::Client::new();
    for (subtype, at) in [
        ("pre_tool", "2026-11-26T10:00:01.100000+00:00"),
        ("post_tool", "2026-11-26T10:00:03.500000+00:00"),
    ] {
        let status = http
            .post(format!("{}/api/events", server.url()))
            .json(&hook(subtype, "c-real", at))
            .send()
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 204);
    }
    let screen = tty.wait_for("2.400 s");
    let stop = screen
        .lines()
        .find(|l| l.contains("tool_stop"))
        .unwrap_or_default();
    assert!(stop.contains("RealBash suc"), "{screen}"); // the summary column is narrow
    // The daemon's log line and the feed's event are one row.
    let screen = tty.wait_for("sio+log tool_stop");
    assert_eq!(
        screen.matches("tool_stop").count(),
        2,
        "one row, plus its rate:\n{screen}"
    );
    tty.keys("q");
    let _ = tty.child.wait();
}

#[test]
fn the_clients_of_the_real_server_in_the_view_and_in_clients_json() {
    let Some(server) = RealServer::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let port = server.port.to_string();
    let target = ["--host", "127.0.0.1", "--port", port.as_str()];
    let peers = common::Peers::start(&server.url());

    // Claude MPM answers client:list with its own fields; its connected_at is its event
    // loop's monotonic clock, which this machine shares.
    let out = mpm_top(home.path(), &[&["clients", "--json"], &target[..]].concat());
    let (doc, dash) = common::clients_with_py_dash(&out);
    let clients = doc["clients"].as_array().unwrap();
    assert_eq!(dash["type"], "dashboard", "{doc:#}");
    let age = dash["connected_secs"].as_f64().unwrap();
    assert!((0.0..60.0).contains(&age), "{doc:#}");
    assert!(clients.iter().any(|c| c["this_command"] == true), "{doc:#}");
    assert_eq!(
        dash["transport"],
        Value::Null,
        "Claude MPM does not say: {doc:#}"
    );

    // The console's Clients view: the peer, its type, and when it connected.
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_mpm-top"));
    let mut path = std::ffi::OsString::from(exe.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let mut tty = Tty::spawn("mpm-top", &target.map(str::to_owned), home.path(), &path);
    tty.wait_for("feed ✓");
    tty.keys("C");
    let view = tty.wait_for("py-dash");
    let row = view.lines().find(|l| l.contains("py-dash")).unwrap();
    assert!(row.contains("dashboard") && !row.contains(" ? "), "{view}");
    assert!(view.contains("(this console)"), "{view}");
    drop(peers);
    tty.keys("Cq");
    let _ = tty.child.wait();
}
