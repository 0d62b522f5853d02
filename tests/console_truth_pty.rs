//! The real console in a pseudo-terminal, monitoring a real `mpm-top serve` that the test
//! started on 127.0.0.1:0, fed through the server's own `POST /api/events`: durations shown to
//! the millisecond, a pause that holds rows back, and text from outside that cannot drive the
//! terminal.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::ServeProcess;
use common::pty::Tty;
use serde_json::json;

fn console_for(server: &ServeProcess, home: &std::path::Path) -> Tty {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_mpm-top"));
    let mut path = std::ffi::OsString::from(exe.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let args = ["--host", "127.0.0.1", "--port", &server.port.to_string()].map(str::to_owned);
    Tty::spawn("mpm-top", &args, home, &path)
}

/// Posts a hook event; returns when the server has answered (and so has broadcast it).
fn post(url: &str, subtype: &str, correlation: &str, tool: &str) -> Instant {
    let body = json!({"event": "claude_event", "data": {"type": "hook", "subtype": subtype,
        "session_id": "s-pty", "correlation_id": correlation,
        "data": {"tool_name": tool, "status": "success"}}});
    common::post_event(url, &body);
    Instant::now()
}

/// The `took` of the `tool_stop` row whose summary names `tool`, in seconds.
fn took(screen: &str, tool: &str) -> Option<f64> {
    let line = screen
        .lines()
        .find(|l| l.contains("tool_stop") && l.contains(tool))?;
    let after = line.split("tool_stop").nth(1)?.trim_start();
    let mut words = after.split_whitespace();
    let (number, unit) = (words.next()?.parse::<f64>().ok()?, words.next()?);
    match unit {
        "ms" => Some(number / 1000.0),
        "s" => Some(number),
        _ => None,
    }
}

#[test]
fn durations_pause_and_hostile_text_through_a_real_server() {
    let home = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(home.path(), &[], &[]);
    let mut tty = console_for(&server, home.path());
    tty.wait_for("server  mpm-top");
    tty.wait_for("feed ✓");

    post(&server.url, "pre_tool", "warm-up", "WarmUp"); // the connection, once
    let mut real = Vec::new();
    for (tool, gap) in [("T250", 0.25), ("T1500", 1.5), ("T2700", 2.7)] {
        let started = post(&server.url, "pre_tool", tool, tool);
        std::thread::sleep(Duration::from_secs_f64(gap));
        let stopped = post(&server.url, "post_tool", tool, tool);
        // What really passed between the two answers: the gap plus one request's time.
        real.push((tool, (stopped - started).as_secs_f64()));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let screen = loop {
        let screen = tty.text();
        if ["T250", "T1500", "T2700"]
            .iter()
            .all(|t| took(&screen, t).is_some())
        {
            break screen;
        }
        assert!(Instant::now() < deadline, "no durations:\n{screen}");
        std::thread::sleep(Duration::from_millis(20));
    };
    for (tool, real) in real {
        let shown = took(&screen, tool).unwrap();
        assert!(
            (shown - real).abs() <= 0.020,
            "{tool}: shown {shown} s for a call of {real:.4} s:\n{screen}"
        );
    }

    tty.keys("p");
    tty.wait_for("[PAUSED: 0 new]");
    post(&server.url, "pre_tool", "after-pause", "AfterPause");
    tty.wait_for("[PAUSED: 1 new]");
    assert!(!tty.text().contains("AfterPause"), "a paused stream moved");
    tty.keys("p");
    tty.wait_for("AfterPause");

    tty.keys("2z"); // the Events pane, zoomed: room for the whole summary
    tty.wait_for("summary");
    let hostile = "\u{1b}]2;PWNED\u{7}\u{1b}[2J\u{1b}[31mEvil\r\nFORGED";
    post(&server.url, "pre_tool", "hostile", hostile);
    let screen = tty.wait_for("Evil");
    assert!(
        screen.contains("\\e]2;PWNED\\x07\\e[2J\\e[31mEvil\\r\\nFORGED"),
        "{screen}"
    );
    {
        let parser = tty.screen.lock().unwrap();
        assert_eq!(parser.screen().title(), "", "a payload set the title");
        assert!(screen.contains("T1500"), "a payload cleared the screen");
        let red = (0..36u16).any(|row| {
            (0..120u16).any(|col| {
                parser
                    .screen()
                    .cell(row, col)
                    .is_some_and(|c| c.fgcolor() == vt100::Color::Idx(1) && c.contents() == "E")
            })
        });
        assert!(!red, "a payload changed the colours");
    }
    tty.keys("q");
    let deadline = Instant::now() + Duration::from_secs(5);
    while tty.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "q did not quit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A process that holds a port on 127.0.0.1 and ignores SIGTERM (a stuck server); its port.
fn stubborn_holder() -> (std::process::Child, u16) {
    let script = "import signal, socket, sys\n\
signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
print(s.getsockname()[1], flush=True)\n\
signal.pause()\n";
    let (child, port) = common::python_script(script);
    (child, port.unwrap())
}

#[test]
fn quitting_while_an_action_runs_does_not_wait_for_it() {
    let home = tempfile::tempdir().unwrap();
    let (mut holder, port) = stubborn_holder();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_mpm-top"));
    let mut path = std::ffi::OsString::from(exe.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let args = ["--host", "127.0.0.1", "--port", &port.to_string()].map(str::to_owned);
    let mut tty = Tty::spawn("mpm-top", &args, home.path(), &path);
    tty.wait_for("LISTEN"); // the socket table names the holder
    tty.keys("K");
    tty.wait_for("Kill port holders"); // the dialog, naming the holder
    tty.wait_for(&format!("SIGTERM, then SIGKILL: PID {}", holder.id()));
    tty.keys("y");
    tty.wait_for("running: kill port holders");
    // The kill now waits out SIGTERM's grace period (10 s) before SIGKILL; quitting does not.
    let asked = Instant::now();
    tty.keys("q");
    while tty.child.try_wait().unwrap().is_none() {
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "q waited for the action"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "quit {:?} after q, with the kill still running",
        asked.elapsed()
    );
    let _ = holder.kill();
    let _ = holder.wait();
}
