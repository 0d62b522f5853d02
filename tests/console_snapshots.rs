//! Whole-screen snapshots of the console (`TestBackend` + insta). Deterministic: time, PIDs and
//! facts enter as data. Regenerate with `INSTA_UPDATE=always cargo test --test console_snapshots`
//! and review the diff.
#![allow(clippy::unwrap_used)]

use mpm_top::app::{Action, Key, State, update};
use mpm_top::probes::http::Health;
use mpm_top::probes::process::{ProcessInfo, ProcessStats};
use mpm_top::probes::sockets::SocketRow;
use mpm_top::ui::{Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

fn screen(state: &State, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| render(f, state, &Theme::new(true)))
        .unwrap();
    terminal.backend().to_string()
}

fn server() -> ProcessInfo {
    ProcessInfo {
        pid: 4242,
        name: "mpm-top".into(),
        cmdline: "mpm-top serve".into(),
        uid: Some("1000".into()),
        start_time: 1,
    }
}

/// A server with a short history of a Claude MPM session.
fn steady() -> State {
    let mut s = State::new("http://127.0.0.1:8765", false);
    s.config = vec![
        [
            "host".into(),
            "localhost".into(),
            "default".into(),
            String::new(),
            String::new(),
        ],
        [
            "port".into(),
            "9100".into(),
            "flag --port".into(),
            "9000 (env SOCKETIO_PORT), 8765 (default)".into(),
            String::new(),
        ],
        [
            "hook_port".into(),
            "8765".into(),
            "default".into(),
            String::new(),
            "hooks post to localhost:8765 but the server is configured for localhost:9100".into(),
        ],
    ];
    let health = Health::parse(
        json!({"status": "running", "service": "mpm-top", "pid": 4242, "uptime": 75, "clients": 2}),
        std::time::Duration::ZERO,
    );
    update(&mut s, Action::Health(Ok(health)));
    update(&mut s, Action::Connected);
    update(
        &mut s,
        Action::Transport {
            handshake: true,
            websocket: true,
        },
    );
    for ms in [0.8, 0.7, 0.9, 1.2, 0.8] {
        update(&mut s, Action::Latency(ms));
    }
    let stats = ProcessStats {
        pid: 4242,
        rss_bytes: 9 << 20,
        cpu_percent: 0.4,
        threads: Some(1),
        open_files: Some(14),
        fd_limit: Some(1024),
        uptime_secs: 75,
    };
    let sockets = vec![
        SocketRow {
            state: "LISTEN".into(),
            local: "127.0.0.1:8765".into(),
            remote: "0.0.0.0:0".into(),
            owners: vec![server()],
        },
        SocketRow {
            state: "ESTABLISHED".into(),
            local: "127.0.0.1:8765".into(),
            remote: "127.0.0.1:50001".into(),
            owners: vec![server()],
        },
    ];
    update(&mut s, Action::Resources(Some(stats), sockets));
    let mut t = 1.0;
    for (i, (subtype, tool)) in [
        ("pre_tool", "Read"),
        ("post_tool", "Read"),
        ("pre_tool", "Bash"),
        ("post_tool", "Bash"),
        ("pre_tool", "Edit"),
    ]
    .iter()
    .enumerate()
    {
        t += 0.5;
        update(&mut s, Action::Tick(t));
        let corr = format!("c-{}", i / 2);
        update(
            &mut s,
            Action::FeedEvent {
                name: "tool_event".into(),
                data: json!({"subtype": subtype, "session_id": "sess-1", "correlation_id": corr, "data": {"tool_name": tool, "status": "success"}}),
            },
        );
    }
    update(
        &mut s,
        Action::FeedEvent {
            name: "claude_event".into(),
            data: json!({"subtype": "user_prompt", "session_id": "sess-1"}),
        },
    );
    s
}

#[test]
fn steady_state() {
    insta::assert_snapshot!(screen(&steady(), 120, 36));
}

#[test]
fn no_server() {
    let mut s = State::new("http://localhost:8765", false);
    update(
        &mut s,
        Action::Health(Err("connection refused: nothing is listening".into())),
    );
    update(
        &mut s,
        Action::Disconnected("connection refused (retry in 0.5s)".into()),
    );
    insta::assert_snapshot!(screen(&s, 120, 36));
}

#[test]
fn paused_and_filtered_stream() {
    let mut s = steady();
    for key in "p/Bash".chars() {
        update(&mut s, Action::Key(Key::Char(key)));
    }
    update(&mut s, Action::Key(Key::Enter));
    update(
        &mut s,
        Action::FeedEvent {
            name: "tool_event".into(),
            data: json!({"subtype": "pre_tool", "correlation_id": "c-9", "data": {"tool_name": "Bash"}}),
        },
    );
    insta::assert_snapshot!(screen(&s, 120, 36));
}

#[test]
fn zoomed_events_with_detail() {
    let mut s = steady();
    for key in ["2", "z"] {
        update(&mut s, Action::Key(Key::Char(key.chars().next().unwrap())));
    }
    update(&mut s, Action::Key(Key::Enter));
    insta::assert_snapshot!(screen(&s, 120, 36));
}

#[test]
fn help_overlay() {
    let mut s = steady();
    update(&mut s, Action::Key(Key::Char('?')));
    insta::assert_snapshot!(screen(&s, 120, 36));
}

#[test]
fn kill_confirm_dialog() {
    let mut s = steady();
    let foreign = ProcessInfo {
        pid: 777,
        name: "python".into(),
        cmdline: "python -m claude_mpm.monitor".into(),
        uid: Some("1000".into()),
        start_time: 3,
    };
    update(
        &mut s,
        Action::Resources(
            None,
            vec![SocketRow {
                state: "LISTEN".into(),
                local: "127.0.0.1:8765".into(),
                remote: "0.0.0.0:0".into(),
                owners: vec![foreign],
            }],
        ),
    );
    update(&mut s, Action::Key(Key::Char('K')));
    insta::assert_snapshot!(screen(&s, 120, 36));
}

#[test]
fn too_small_a_terminal_gets_a_message() {
    insta::assert_snapshot!(screen(&steady(), 60, 20));
}

#[test]
fn claude_mpm_server() {
    let mut s = State::new("http://localhost:8765", false);
    let health = Health::parse(
        json!({"status": "running", "service": "claude-mpm-monitor", "version": "1.0.0", "port": 8765, "pid": 3131, "uptime": 4000}),
        std::time::Duration::ZERO,
    );
    update(&mut s, Action::Health(Ok(health)));
    update(&mut s, Action::Connected);
    update(
        &mut s,
        Action::FeedEvent {
            name: "dashboard:welcome".into(),
            data: json!({"message": "Connected to Claude MPM Unified Monitor"}),
        },
    );
    update(
        &mut s,
        Action::FeedEvent {
            name: "claude_event".into(),
            data: json!({"type": "claude_event", "subtype": "hook_execution", "session_id": null}),
        },
    );
    insta::assert_snapshot!(screen(&s, 120, 36));
}

#[test]
fn disconnected_and_reconnecting() {
    let mut s = steady();
    update(&mut s, Action::Tick(9.0));
    update(
        &mut s,
        Action::Health(Err("no answer within 1000 ms".into())),
    );
    update(
        &mut s,
        Action::Disconnected("no pong for 5s (retry in 2.0s)".into()),
    );
    insta::assert_snapshot!(screen(&s, 120, 36));
}

#[test]
fn each_pane_zoomed() {
    for (key, name) in [
        ('1', "status"),
        ('2', "events"),
        ('3', "rates"),
        ('4', "resources"),
        ('5', "config"),
        ('6', "log"),
    ] {
        let mut s = steady();
        update(&mut s, Action::Key(Key::Char(key)));
        update(&mut s, Action::Key(Key::Char('z')));
        insta::assert_snapshot!(format!("zoomed_{name}"), screen(&s, 120, 36));
    }
}

#[test]
fn restart_and_reset_confirm_dialogs() {
    let mut s = steady();
    s.server.kind = Some("Claude MPM".into());
    update(&mut s, Action::Key(Key::Char('r')));
    insta::assert_snapshot!("restart_dialog", screen(&s, 120, 36));
    update(&mut s, Action::Key(Key::Esc));
    update(&mut s, Action::Key(Key::Char('R')));
    insta::assert_snapshot!("reset_dialog", screen(&s, 120, 36));
}
