//! The real binary in a pseudo-terminal: `mpm-top --demo` started, keys sent, the screen read
//! back (vt100), the terminal restored on quit.
//!
//! The ignored test regenerates `screenshots/` from the real program:
//! `cargo test --test console_pty -- --ignored`.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::pty::Tty;

/// `mpm-top ARGS` in a pty with a scratch HOME. Started by name from PATH, so its command
/// line (shown in the socket table, and so in the screenshots) is `mpm-top --demo`, not this
/// machine's build path.
fn console(args: &[&str]) -> (Tty, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_mpm-top"));
    let mut path = std::ffi::OsString::from(exe.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    (Tty::spawn("mpm-top", &args, home.path(), &path), home)
}

#[test]
fn the_demo_runs_answers_keys_and_restores_the_terminal() {
    let (mut console, _home) = console(&["--demo"]);
    console.wait_for("server  mpm-top");
    console.wait_for("tool_start");
    console.keys("?");
    console.wait_for("Any key closes this help.");
    console.escape();
    console.keys("/Bash\r");
    console.wait_for("filter 'Bash'");
    console.keys("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = console.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "q did not quit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    std::thread::sleep(Duration::from_millis(200));
    let parser = console.screen.lock().unwrap();
    assert!(
        !parser.screen().alternate_screen(),
        "the alternate screen was left"
    );
}

/// The screen as an SVG picture, cell by cell, with the terminal's colours.
fn svg(screen: &vt100::Screen) -> String {
    const W: f64 = 8.4;
    const H: f64 = 17.0;
    let (rows, cols) = screen.size();
    let colour = |c: vt100::Color, default: &str| -> String {
        const PALETTE: [&str; 16] = [
            "#1e1e1e", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
            "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
        ];
        match c {
            vt100::Color::Default => default.to_owned(),
            vt100::Color::Idx(i) if i < 16 => PALETTE[i as usize].to_owned(),
            vt100::Color::Idx(i) => format!("#{i:02x}{i:02x}{i:02x}"),
            vt100::Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        }
    };
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\"14\">\n<rect width=\"100%\" height=\"100%\" fill=\"#1e1e1e\"/>\n",
        f64::from(cols) * W,
        f64::from(rows) * H
    );
    for row in 0..rows {
        for col in 0..cols {
            let Some(cell) = screen.cell(row, col) else {
                continue;
            };
            let text = cell.contents();
            if text.trim().is_empty() {
                continue;
            }
            let (x, y) = (f64::from(col) * W, f64::from(row) * H + 13.0);
            let fg = colour(
                if cell.inverse() {
                    cell.bgcolor()
                } else {
                    cell.fgcolor()
                },
                "#d4d4d4",
            );
            let escaped = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            let weight = if cell.bold() {
                " font-weight=\"bold\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" fill=\"{fg}\"{weight}>{escaped}</text>"
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[test]
#[ignore = "writes screenshots/; run with --ignored to regenerate them"]
fn regenerate_screenshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let (mut console, _home) = console(&["--demo"]);
    console.wait_for("tool_stop");
    std::thread::sleep(Duration::from_secs(8)); // let rates and the availability strip fill
    let shot = |console: &Tty, name: &str| {
        let parser = console.screen.lock().unwrap();
        std::fs::write(dir.join(format!("{name}.svg")), svg(parser.screen())).unwrap();
    };
    shot(&console, "main");
    console.keys("?");
    console.wait_for("Any key closes this help.");
    shot(&console, "help");
    console.escape();
    console.keys("R");
    console.wait_for("Reset configuration");
    shot(&console, "reset-config-dialog");
    console.keys("n2z\r");
    console.wait_for("Event (Enter or Esc closes)");
    shot(&console, "event-detail");
    console.keys("q");
    drop(console);

    // A replay: a demo recorded for a while (by a relative name: the command line shows in
    // the socket table), opened, seeked and paused part-way.
    let (mut recording, home) = self::console(&["--demo", "--record", "demo.jsonl.gz"]);
    recording.wait_for("● REC");
    std::thread::sleep(Duration::from_secs(20));
    recording.keys("q");
    recording.wait_for("mpm-top replay demo.jsonl.gz opens it");
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_mpm-top"));
    let mut path = std::ffi::OsString::from(exe.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let args = ["replay", "demo.jsonl.gz"].map(str::to_owned);
    let mut replay = Tty::spawn("mpm-top", &args, home.path(), &path);
    replay.wait_for("REPLAY");
    replay.keys("]\x1b[C");
    replay.wait_for("0:1");
    replay.keys(" ");
    replay.wait_for("paused");
    shot(&replay, "replay");
    replay.keys("q");
    drop(replay);
    alerts_clients_and_servers(&dir);
}

/// The demo beside a second server in another project, with a flapping client: the alert
/// banner, the Clients view (`C`) and the Servers view (`S`).
fn alerts_clients_and_servers(dir: &std::path::Path) {
    let (other_home, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Its project under the console's HOME, so the picture shows `~/code/web`.
    let project = home.path().join("code/web");
    std::fs::create_dir_all(&project).unwrap();
    let other = common::ServeProcess::start_in(other_home.path(), &project, &[], &[]);
    std::fs::create_dir_all(home.path().join(".claude")).unwrap();
    std::fs::write(
        home.path().join(".claude/config.yaml"),
        format!("socketio:\n  port_range: \"{0}-{0}\"\n", other.port),
    )
    .unwrap();
    std::fs::create_dir_all(home.path().join(".config/mpm-top")).unwrap();
    // One flapping client a minute is a storm here, so that the picture has an alert.
    std::fs::write(
        home.path().join(".config/mpm-top/config.yaml"),
        "alerts:\n  reconnects_per_min: 1\n",
    )
    .unwrap();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_mpm-top"));
    let mut path = std::ffi::OsString::from(exe.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let args = ["--demo".to_owned()];
    let mut console = Tty::spawn("mpm-top", &args, home.path(), &path);
    let screen = console.wait_for("1 other [S]");
    let url = screen
        .split("target  ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    let peers = common::Peers::start(&url);
    console.wait_for("reconnect storm [C]");
    std::thread::sleep(Duration::from_secs(2));
    let shot = |console: &Tty, name: &str| {
        let parser = console.screen.lock().unwrap();
        std::fs::write(dir.join(format!("{name}.svg")), svg(parser.screen())).unwrap();
    };
    shot(&console, "alert");
    console.keys("C");
    console.wait_for("py-dash");
    // The whole frame, not its first rows: a shot taken while the frame is still arriving
    // shows the panes under the view.
    std::thread::sleep(Duration::from_secs(1));
    shot(&console, "clients");
    console.keys("S");
    console.wait_for("Up/Down select, Enter monitors");
    std::thread::sleep(Duration::from_secs(1));
    shot(&console, "servers");
    drop(peers);
    console.keys("Sq");
}
