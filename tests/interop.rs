//! Real python-socketio peers (pinned, in a virtualenv under target/) against the real
//! `mpm-top serve` process: the guide's own scripts, and a polling-only burst.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Output, Stdio};

use common::{ServeProcess, interop_dir, python};
use serde_json::json;

fn script(name: &str) -> Command {
    let mut command = Command::new(python());
    command.arg(interop_dir().join(name));
    command
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_guides_connection_test_passes_over_websocket_and_polling_with_upgrade() {
    let home = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(home.path(), &[], &[]);
    for (transports, expect) in [
        ("websocket", "transport: websocket"),
        ("polling,websocket", "transport: websocket"),
    ] {
        let out = script("guide_connection_test.py")
            .args([&server.url, transports])
            .output()
            .unwrap();
        let said = text(&out);
        assert!(out.status.success(), "{transports}: {said}");
        for line in [
            "✓ Connected to Socket.IO server",
            "✓ Received response: {'received': {'message': 'Hello Server'}",
            "✓ Disconnected cleanly",
            "✓ Connection test passed",
            expect,
        ] {
            assert!(
                said.contains(line),
                "{transports}: missing '{line}' in:\n{said}"
            );
        }
    }
}

#[test]
fn the_guides_benchmark_passes_over_websocket_and_polling_with_upgrade() {
    let home = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(home.path(), &[], &[]);
    for transports in ["websocket", "polling,websocket"] {
        let out = script("guide_benchmark.py")
            .args([&server.url, transports, "300"])
            .output()
            .unwrap();
        let said = text(&out);
        assert!(out.status.success(), "{transports}: {said}");
        assert!(
            said.contains("✓ Throughput:") && said.contains("✓ Max latency:"),
            "{transports}: {said}"
        );
    }
}

/// python-engineio refuses a polling payload of more than 16 packets; the server must hand a
/// burst over in slices so the client is neither dropped nor loses events. The client stalls
/// on the first event, so the other 99 are waiting for its next poll all at once.
#[test]
fn a_polling_only_python_client_receives_a_burst_of_100_without_being_dropped() {
    let home = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(home.path(), &[], &[]);
    let mut client = script("polling_burst.py")
        .args([&server.url, "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let http = reqwest::blocking::Client::new();
    for i in 0..100 {
        let body = json!({"namespace": "", "event": "claude_event", "data": {"type": "hook", "subtype": "pre_tool", "correlation_id": format!("c-{i}"), "data": {"tool_name": "Bash"}}});
        assert_eq!(
            http.post(format!("{}/api/events", server.url))
                .json(&body)
                .send()
                .unwrap()
                .status(),
            204
        );
    }
    let report = lines.next().unwrap().unwrap();
    assert_eq!(
        report,
        "received 100 of 100, in order: True, dropped: False"
    );
    assert!(client.wait().unwrap().success());
}
