//! The console in a pseudo-terminal with more than one real `mpm-top serve` (each on
//! 127.0.0.1:0, in a project of its own): switching between them in the Servers view keeps
//! each one's events; a tool left open past `tool_open_secs` raises its alert on screen; the
//! Clients view and `mpm-top clients --json` show python-socketio peers coming and going.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::pty::Tty;
use common::{Peers, ServeProcess, mpm_top_command};
use serde_json::json;

/// A HOME whose Claude config scans `other` too (`port_range`) and whose mpm-top config holds
/// `alerts`.
fn console_home(other: Option<u16>, alerts: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), other, alerts);
    home
}

/// Writes into `home` the configuration [`console_home`] describes.
fn write_config(home: &Path, other: Option<u16>, alerts: &str) {
    if let Some(port) = other {
        std::fs::create_dir_all(home.join(".claude")).unwrap();
        std::fs::write(
            home.join(".claude/config.yaml"),
            format!("socketio:\n  port_range: \"{port}-{port}\"\n"),
        )
        .unwrap();
    }
    std::fs::create_dir_all(home.join(".config/mpm-top")).unwrap();
    std::fs::write(home.join(".config/mpm-top/config.yaml"), alerts).unwrap();
}

fn console(port: u16, home: &Path) -> Tty {
    let exe = Path::new(env!("CARGO_BIN_EXE_mpm-top"));
    let mut path = std::ffi::OsString::from(exe.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let args = ["--host", "127.0.0.1", "--port", &port.to_string()].map(str::to_owned);
    Tty::spawn("mpm-top", &args, home, &path)
}

fn tool(server: &ServeProcess, subtype: &str, name: &str) {
    let body = json!({"event": "claude_event", "data": {"type": "hook", "subtype": subtype,
        "session_id": "s-multi", "correlation_id": name, "data": {"tool_name": name}}});
    common::post_event(&server.url, &body);
}

/// `S`, then the row of `port` (Up/Down from where the selection starts), then Enter.
fn switch_to(tty: &mut Tty, port: u16, down: bool) {
    tty.keys("S");
    tty.wait_for("Up/Down select, Enter monitors");
    tty.keys(if down { "\x1b[B" } else { "\x1b[A" });
    std::thread::sleep(std::time::Duration::from_millis(200));
    tty.keys("\r");
    tty.wait_for(&format!("target  http://127.0.0.1:{port} (switched from"));
}

#[test]
fn two_servers_switched_in_the_console_each_keep_their_events() {
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (project_a, project_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = ServeProcess::start_in(home_a.path(), project_a.path(), &[], &[]);
    let b = ServeProcess::start_in(home_b.path(), project_b.path(), &[], &[]);
    // The lower port is listed first: the selection starts on the one watched.
    let (first, second) = if a.port < b.port { (&a, &b) } else { (&b, &a) };
    let home = console_home(Some(second.port), "alerts: {}\n");
    let mut tty = console(first.port, home.path());
    tty.wait_for("feed ✓");
    tty.wait_for("1 other [S]");
    tool(first, "pre_tool", "OnFirst");
    tty.wait_for("OnFirst");

    tty.keys("S");
    let view = tty.wait_for("Up/Down select, Enter monitors");
    assert!(
        view.contains(&format!("▶ {}", first.port)) && view.contains(&second.port.to_string()),
        "{view}"
    );
    tty.escape();
    switch_to(&mut tty, second.port, true);
    tty.wait_for("feed ✓");
    tool(first, "pre_tool", "WhileAway");
    tool(second, "pre_tool", "OnSecond");
    tty.wait_until("the second server's event and none of the first's", |s| {
        s.contains("OnSecond") && !s.contains("OnFirst")
    });

    switch_to(&mut tty, first.port, false);
    // Back on the first: what it had, and what came while the console watched the second.
    // Waited for as one whole frame: a screen read mid-frame could still hold old rows.
    tty.wait_until(
        "both of the first server's events, and none of the second's",
        |s| s.contains("OnFirst") && s.contains("WhileAway") && !s.contains("OnSecond"),
    );
    tty.keys("q");
}

#[test]
fn a_tool_left_open_past_its_threshold_raises_an_alert_on_screen() {
    let server_home = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(server_home.path(), &[], &[]);
    let home = console_home(None, "# mine\nalerts:\n  tool_open_secs: 2\n");
    let mut tty = console(server.port, home.path());
    tty.wait_for("feed ✓");
    // The threshold is in the Config pane, with where it came from.
    tty.keys("5z");
    tty.wait_for("alerts.tool_open_secs");
    let config = tty.wait_for("config.yaml");
    assert!(
        config.lines().any(|l| l.contains("alerts.tool_open_secs")
            && l.contains(" 2 ")
            && l.contains("mpm-top/config.yaml")),
        "{config}"
    );
    tty.keys("z");
    tool(&server, "pre_tool", "Slowpoke");
    tty.wait_until("the alert, its reason and its fix", |s| {
        s.contains("tool open [d]")
            && s.contains("Slowpoke open for")
            && s.contains("fix: mpm-top doctor --checks hooks")
    });
    tool(&server, "post_tool", "Slowpoke");
    // Both in one whole frame (a screen read mid-frame can hold one without the other).
    tty.wait_until("the alert cleared, in the banner and the Log pane", |s| {
        !s.contains("tool open [d]") && s.contains("alert cleared: tool open")
    });
    // The bundle `c` writes (in the console's working directory, its HOME here) holds it.
    tty.keys("c");
    let bundle = home.path().join("debug_info.txt");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&bundle).unwrap_or_default();
        if text.contains("===== Redacted =====") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "no bundle written");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let alerts = text
        .split("===== Alerts (raised and cleared while the console ran) =====")
        .nth(1)
        .unwrap();
    let line = alerts
        .lines()
        .find(|l| l.contains(": tool open raised "))
        .unwrap();
    assert!(
        line.contains("(cleared ") && line.contains("Slowpoke open for"),
        "{alerts}"
    );
    tty.keys("q");
}

#[test]
fn clients_coming_and_going_show_in_the_view_and_in_clients_json() {
    // One HOME for the server and the console, as a user has: the console tails the log the
    // server writes, and so sees the client that left between two lists, with its reason.
    let server_home = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(server_home.path(), &[], &[]);
    write_config(server_home.path(), None, "");
    let mut tty = console(server.port, server_home.path());
    tty.wait_for("feed ✓");
    let peers = Peers::start(&server.url);
    tty.keys("C");
    let view = tty.wait_until("the peers in the Clients view", |s| {
        s.contains("py-dash") && s.contains("(this console)") && s.contains("⚡ ")
    });
    let peer = view.lines().find(|l| l.contains("py-dash")).unwrap();
    assert!(
        peer.contains("dashboard") && peer.contains("websocket"),
        "{view}"
    );
    assert!(view.contains("(this console)"), "{view}");
    let flapper = view
        .lines()
        .find(|l| l.contains("⚡ ") && !l.contains("departures"))
        .unwrap();
    assert!(
        !flapper.contains("not in the server's log") && flapper.contains("ms "),
        "the flapping client's lifetime and reason, from serve's log:\n{view}"
    );

    // The same from the command line, with the server's HOME (whose log it reads).
    let out = mpm_top_command(server_home.path(), &[])
        .args(["clients", "--json", "--host", "127.0.0.1", "--port"])
        .arg(server.port.to_string())
        .output()
        .unwrap();
    let (doc, dash) = common::clients_with_py_dash(&out);
    let clients = doc["clients"].as_array().unwrap();
    assert_eq!(
        (&dash["type"], &dash["transport"]),
        (&json!("dashboard"), &json!("websocket"))
    );
    assert!(dash["connected_secs"].as_f64().unwrap() < 60.0, "{doc:#}");
    assert!(clients.iter().any(|c| c["this_command"] == true), "{doc:#}");
    assert_eq!(
        clients.len(),
        3,
        "the peer, the console and this command: {doc:#}"
    );
    let short_lived = doc["departures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["short_lived"] == true && d["reason"].is_string())
        .count();
    assert!(short_lived >= 1, "{doc:#}");
    drop(peers);
    tty.keys("Cq");
}
