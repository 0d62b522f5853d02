//! Whole-screen snapshots of the console (`TestBackend` + insta). Deterministic: time, PIDs and
//! facts enter as data. The Log pane is empty here: nothing installs its logger in this test
//! binary (`tests/log_pane.rs` feeds it known lines). Regenerate with `INSTA_UPDATE=always cargo test --test console_snapshots`
//! and review the diff.
#![allow(clippy::unwrap_used)]

use mpm_top::actions::holder::Holder;
use mpm_top::app::{Action, Key, Stamp, State, update};
use mpm_top::config::ConfigRow;
use mpm_top::probes::http::Health;
use mpm_top::probes::logtail::LogLine;
use mpm_top::probes::process::{ProcessInfo, ProcessStats};
use mpm_top::probes::sockets::SocketRow;
use mpm_top::target::{Chosen, Target};
use mpm_top::ui::{LogView, Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

fn screen(state: &State, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| render(f, state, &Theme::new(true), &LogView::new()))
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

fn target(port: u16, chosen: Chosen) -> Target {
    Target {
        scheme: "http",
        host: "127.0.0.1".into(),
        port,
        chosen,
    }
}

fn row(key: &str, value: &str, source: &str, shadowed: &str, finding: Option<&str>) -> ConfigRow {
    ConfigRow {
        key: key.into(),
        value: value.into(),
        source: source.into(),
        shadowed: shadowed.into(),
        finding: finding.map(str::to_owned),
    }
}

fn at(secs: f64) -> Stamp {
    Stamp::fixed(secs)
}

fn feed(s: &mut State, name: &str, data: serde_json::Value, secs: f64) {
    update(
        s,
        Action::FeedEvent {
            name: name.into(),
            data,
            at: at(secs),
        },
    );
}

/// A server with a short history of a Claude MPM session.
fn steady() -> State {
    let mut s = State::new(target(9100, Chosen::Named("flag --port".into())), false);
    s.config = vec![
        row("host", "localhost", "default", "", None),
        row(
            "port",
            "9100",
            "flag --port",
            "9000 (env SOCKETIO_PORT), 8765 (default)",
            None,
        ),
        row(
            "hook_port",
            "8765",
            "default",
            "",
            Some("hooks post to localhost:8765 but the server is configured for localhost:9100"),
        ),
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
        threads: Some(3),
        open_files: Some(14),
        fd_limit: Some(1024),
        uptime_secs: 75,
    };
    let sockets = vec![
        SocketRow {
            state: "LISTEN".into(),
            local: "127.0.0.1:9100".into(),
            remote: "0.0.0.0:0".into(),
            owners: vec![server()],
            inode: 501,
        },
        SocketRow {
            state: "ESTABLISHED".into(),
            local: "127.0.0.1:9100".into(),
            remote: "127.0.0.1:50001".into(),
            owners: vec![server()],
            inode: 502,
        },
    ];
    let holders = Ok(vec![Holder {
        process: server(),
        inode: 501,
        local: "127.0.0.1:9100".into(),
        is_mpm_top: true,
    }]);
    update(
        &mut s,
        Action::Resources {
            process: Some(stats),
            sockets,
            holders,
            at: at(1.0),
        },
    );
    claude_session(&mut s);
    update(&mut s, Action::Tick(at(6.0)));
    s
}

/// Tool pairs arriving 250 ms and 1.5 s apart (the Bash pair also carries the hook's own
/// timestamps, 2.4 s apart, which win), one of them also in the server's log, and a prompt.
fn claude_session(s: &mut State) {
    for (secs, subtype, tool, corr, sent) in [
        (1.000, "pre_tool", "Read", "c-0", None),
        (1.250, "post_tool", "Read", "c-0", None),
        (
            2.000,
            "pre_tool",
            "Bash",
            "c-1",
            Some("2026-11-26T10:00:02.000000+00:00"),
        ),
        (
            4.500,
            "post_tool",
            "Bash",
            "c-1",
            Some("2026-11-26T10:00:04.400000+00:00"),
        ),
        (5.000, "pre_tool", "Edit", "c-2", None),
    ] {
        feed(
            s,
            "tool_event",
            json!({"subtype": subtype, "session_id": "sess-1", "correlation_id": corr, "source": "hook", "timestamp": sent, "data": {"tool_name": tool, "status": "success"}}),
            secs,
        );
    }
    // The same tool_stop in the server's log: one row, marked sio+log.
    update(
        s,
        Action::LogLine(
            LogLine::from_text(
                "2026-11-26T10:00:04.401Z  INFO tool_stop tool=Bash correlation_id=c-1 session=sess-1 status=success (post_tool)",
            ),
            at(4.502),
        ),
    );
    feed(
        s,
        "claude_event",
        json!({"subtype": "user_prompt", "session_id": "sess-1"}),
        5.5,
    );
}

#[test]
fn steady_state() {
    insta::assert_snapshot!(screen(&steady(), 120, 36));
}

#[test]
fn no_server() {
    let mut s = State::new(target(8765, Chosen::Default), false);
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
    feed(
        &mut s,
        "tool_event",
        json!({"subtype": "pre_tool", "correlation_id": "c-9", "data": {"tool_name": "Bash"}}),
        7.0,
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
        Action::Resources {
            process: None,
            sockets: vec![SocketRow {
                state: "LISTEN".into(),
                local: "127.0.0.1:9100".into(),
                remote: "0.0.0.0:0".into(),
                owners: vec![foreign.clone()],
                inode: 777,
            }],
            holders: Ok(vec![Holder {
                process: foreign,
                inode: 777,
                local: "127.0.0.1:9100".into(),
                is_mpm_top: false,
            }]),
            at: at(7.0),
        },
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
    let mut s = State::new(target(8765, Chosen::Default), false);
    let health = Health::parse(
        json!({"status": "running", "service": "claude-mpm-monitor", "version": "1.0.0", "port": 8765, "pid": 3131, "uptime": 4000}),
        std::time::Duration::ZERO,
    );
    update(&mut s, Action::Health(Ok(health)));
    update(&mut s, Action::Connected);
    feed(
        &mut s,
        "dashboard:welcome",
        json!({"message": "Connected to Claude MPM Unified Monitor", "session_id": "cPSMgQCBCsCSszoaAAAG"}),
        0.017,
    );
    feed(&mut s, "dashboard:client:count", json!({"count": 2}), 0.017);
    feed(
        &mut s,
        "claude_event",
        json!({"type": "claude_event", "subtype": "hook_execution", "session_id": null}),
        1.382,
    );
    insta::assert_snapshot!(screen(&s, 120, 36));
}

#[test]
fn disconnected_and_reconnecting() {
    let mut s = steady();
    update(&mut s, Action::Tick(at(9.0)));
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
    let diff = [
        "- port: 9100",
        "+ port: 8765",
        "- debug: true",
        "+ debug: false",
    ];
    update(
        &mut s,
        Action::ResetPlanned(Ok((true, diff.map(str::to_owned).to_vec()))),
    );
    insta::assert_snapshot!("reset_dialog", screen(&s, 120, 36));
}

#[test]
fn escape_sequences_from_a_server_are_shown_not_obeyed() {
    let mut s = steady();
    let hostile = "\u{1b}]2;PWNED\u{7}\u{1b}[2J\u{1b}[31mBash\r\n2026-11-26 ERROR forged";
    feed(
        &mut s,
        "tool_event",
        json!({"subtype": "pre_tool", "correlation_id": "c-h", "session_id": "\u{9b}31m", "data": {"tool_name": hostile}}),
        8.0,
    );
    for key in ['2', 'z'] {
        update(&mut s, Action::Key(Key::Char(key)));
    }
    let text = screen(&s, 120, 36);
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(text.contains("\\e]2;PWNED\\x07\\e[2J\\e[31mBash\\r\\n2026-11"));
    insta::assert_snapshot!(text);
}

#[test]
fn a_named_target_that_is_silent_offers_the_server_found_elsewhere() {
    let mut s = State::new(target(18931, Chosen::Named("flag --port".into())), false);
    update(
        &mut s,
        Action::Health(Err("connection refused: nothing is listening".into())),
    );
    update(&mut s, Action::Found(vec![(8779, "mpm-top".into())]));
    insta::assert_snapshot!(screen(&s, 120, 36));
}

#[test]
fn recording_and_replaying() {
    let mut s = steady();
    s.recording = Some(mpm_top::app::RecordingView {
        file: "mpm-top-20261126-100000.jsonl.gz".into(),
        bytes: 48_213,
    });
    insta::assert_snapshot!("recording", screen(&s, 120, 36));
    let mut s = steady();
    s.read_only = true;
    s.replay = Some(mpm_top::app::ReplayView {
        file: "incident.jsonl.gz".into(),
        at: at(42.5).wall,
        elapsed: 42.5,
        length: 130.0,
        speed: 4.0,
        playing: false,
        seeking: false,
        damage: Some("damaged at line 812, after 810 entries: the last line is cut short".into()),
    });
    insta::assert_snapshot!("replaying_paused_at_damage", screen(&s, 120, 36));
    update(&mut s, Action::Key(Key::Char('?')));
    insta::assert_snapshot!("replay_help", screen(&s, 120, 36));
}

/// A scan's row for the Servers view.
fn scanned(
    port: u16,
    kind: mpm_top::probes::http::ServerKind,
    label: &str,
    project: &str,
    answered: bool,
) -> mpm_top::probes::servers::ServerRow {
    mpm_top::probes::servers::ServerRow {
        port,
        url: format!("http://127.0.0.1:{port}"),
        kind,
        kind_label: label.into(),
        pid: Some(u32::from(port)),
        reported_pid: None,
        project: Some(project.into()),
        answered,
        health: if answered {
            "running".into()
        } else {
            "no answer within 300 ms".into()
        },
        clients: answered.then_some(2),
        events_per_sec: answered.then_some(1.5),
        uptime_secs: answered.then_some(75.0),
        configured: port == 9100,
    }
}

/// The Clients view (`C`) and the Servers view (`S`), and an alert in the banner: a
/// registered dashboard, this console, two departures (one flapping, its reason from the
/// log), a second server and a hung one; a tool open past `tool_open_secs`.
#[test]
fn clients_servers_and_an_alert() {
    use mpm_top::config::alerts::Thresholds;
    use mpm_top::probes::http::ServerKind;
    let mut s = steady();
    update(
        &mut s,
        Action::Thresholds(Thresholds {
            tool_open_secs: 2,
            ..Thresholds::default()
        }),
    );
    feed(
        &mut s,
        "dashboard:welcome",
        json!({"session_id": "me-console"}),
        60.0,
    );
    for (text, secs) in [
        (
            "2026-11-26T10:01:01.000Z  INFO connect sid=flapper transport=Polling clients=3",
            61.0,
        ),
        (
            "2026-11-26T10:01:01.400Z  INFO disconnect sid=flapper reason=\"transport close\" clients=2",
            61.5,
        ),
    ] {
        update(&mut s, Action::LogLine(LogLine::from_text(text), at(secs)));
    }
    #[allow(clippy::cast_precision_loss)] // epoch milliseconds fit an f64 exactly
    let epoch = |secs: f64| at(secs).wall.timestamp_millis() as f64 / 1000.0;
    let list = |extra: bool| {
        let mut clients = vec![
            json!({"session_id": "me-console", "name": "mpm-top console", "type": "mpm-top", "connected_at": epoch(60.0), "transport": "websocket"}),
            json!({"session_id": "dash-1", "name": "dashboard", "type": "dashboard", "connected_at": epoch(20.0), "transport": "websocket"}),
        ];
        if extra {
            clients.push(json!({"session_id": "old-tab", "name": "Client-old-tab", "type": "unknown", "connected_at": epoch(30.0), "transport": "polling"}));
        }
        json!({"clients": clients, "total": clients.len()})
    };
    update(
        &mut s,
        Action::ClientList {
            data: list(true),
            at: at(61.0),
            boot: None,
        },
    );
    update(
        &mut s,
        Action::ClientList {
            data: list(false),
            at: at(70.0),
            boot: None,
        },
    );
    feed(
        &mut s,
        "tool_event",
        json!({"type": "tool_event", "subtype": "pre_tool", "correlation_id": "slow-1", "data": {"tool_name": "LongBash"}}),
        71.0,
    );
    update(
        &mut s,
        Action::Servers {
            rows: vec![
                scanned(
                    8766,
                    ServerKind::ClaudeMpm,
                    "Claude MPM",
                    "~/code/api",
                    true,
                ),
                scanned(
                    8770,
                    ServerKind::Foreign(None),
                    "not answering",
                    "~/code/old",
                    false,
                ),
                scanned(9100, ServerKind::MpmTop, "mpm-top", "~/code/web", true),
            ],
            at: at(72.0),
        },
    );
    update(&mut s, Action::Tick(at(74.0)));
    insta::assert_snapshot!("alert_banner", screen(&s, 120, 36));
    update(&mut s, Action::Key(Key::Char('C')));
    insta::assert_snapshot!("clients_view", screen(&s, 120, 36));
    update(&mut s, Action::Key(Key::Char('S')));
    insta::assert_snapshot!("servers_view", screen(&s, 120, 36));
}
