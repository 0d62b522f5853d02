//! Each rule raised and cleared through `update`, with time as data.

use serde_json::json;

use crate::app::tests::{at, fresh, logged, update};
use crate::app::{Action, State};
use crate::checks::alerts::AlertKind;
use crate::config::ConfigRow;
use crate::config::alerts::Thresholds;
use crate::probes::logtail::LogLine;
use crate::probes::process::ProcessStats;

/// An mpm-top server answering `/health` with `clients` and `emit_failures`, at `secs`.
fn health(state: &mut State, secs: f64, clients: u64, emit_failures: u64) {
    tick(state, secs);
    let h = crate::probes::http::Health::parse(
        json!({"status": "running", "service": "mpm-top", "clients": clients,
            "emit_failures": emit_failures}),
        std::time::Duration::ZERO,
    );
    update(state, Action::Health(Ok(h)));
}

fn tick(state: &mut State, secs: f64) {
    update(state, Action::Tick(at(secs)));
}

fn with(t: Thresholds) -> State {
    let mut s = fresh(false);
    update(&mut s, Action::Thresholds(t));
    s
}

fn active(state: &State) -> Vec<AlertKind> {
    state.alerts.active.iter().map(|a| a.kind).collect()
}

/// The one alert of `kind` in the history: raised and cleared, in console seconds.
fn life(state: &State, kind: AlertKind) -> (f64, Option<f64>) {
    let h: Vec<_> = state
        .alerts
        .history
        .iter()
        .filter(|h| h.kind == kind)
        .collect();
    assert_eq!(h.len(), 1, "{:?}", state.alerts.history);
    (h[0].raised.mono, h[0].cleared.map(|c| c.mono))
}

fn tool(state: &mut State, subtype: &str, corr: &str, secs: f64) {
    update(
        state,
        Action::FeedEvent {
            name: "tool_event".into(),
            data: json!({"type": "tool_event", "subtype": subtype, "correlation_id": corr,
                "data": {"tool_name": "Bash"}}),
            at: at(secs),
        },
    );
}

#[test]
fn a_tool_open_past_its_threshold_is_raised_then_cleared_by_its_stop() {
    let mut s = with(Thresholds {
        tool_open_secs: 2,
        ..Thresholds::default()
    });
    health(&mut s, 10.0, 1, 0);
    tool(&mut s, "pre_tool", "c-1", 10.2);
    tick(&mut s, 11.0);
    tick(&mut s, 12.0);
    assert_eq!(active(&s), [], "open 1.8 s");
    tick(&mut s, 13.0);
    assert_eq!(active(&s), [AlertKind::ToolOpen]);
    tool(&mut s, "post_tool", "c-1", 13.5);
    tick(&mut s, 14.0);
    assert_eq!(active(&s), []);
    assert_eq!(life(&s, AlertKind::ToolOpen), (13.0, Some(14.0)));
    let log = logged().join("\n");
    assert!(
        log.contains("alert raised: tool open: Bash open for 2s without a tool_stop (correlation c-1); fix: mpm-top doctor --checks hooks"),
        "{log}"
    );
    assert!(log.contains("(key d)"), "{log}");
    assert!(
        log.contains("10:00:14 alert cleared: tool open (raised 10:00:13, held 1s)"),
        "{log}"
    );
}

#[test]
fn silence_with_clients_waiting_is_raised_and_an_event_clears_it() {
    let mut s = with(Thresholds {
        silence_secs: 60,
        ..Thresholds::default()
    });
    health(&mut s, 1.0, 2, 0);
    for second in 2..62 {
        tick(&mut s, f64::from(second));
    }
    assert_eq!(active(&s), [], "silent 60 s only at 61");
    tick(&mut s, 62.0);
    assert_eq!(active(&s), [AlertKind::Silence]);
    assert!(
        s.alerts.active[0]
            .message
            .contains("2 clients are connected")
    );
    tool(&mut s, "pre_tool", "c-1", 62.5);
    tick(&mut s, 63.0);
    assert_eq!(life(&s, AlertKind::Silence), (62.0, Some(63.0)));
}

#[test]
fn a_console_alone_is_not_waiting_for_events() {
    let mut s = with(Thresholds {
        silence_secs: 5,
        ..Thresholds::default()
    });
    update(&mut s, Action::Connected);
    health(&mut s, 1.0, 1, 0); // the one client is this console's feed
    for second in 2..20 {
        tick(&mut s, f64::from(second));
    }
    assert_eq!(active(&s), []);
}

fn connect_and_leave(s: &mut State, sid: &str, from: f64, lived: f64) {
    let line = |text: String, secs: f64| (LogLine::from_text(&text), at(secs));
    // Each line carries the server's time, as serve writes it.
    let written = |secs: f64| at(secs).wall.to_rfc3339();
    let (c, t) = line(
        format!(
            "{}  INFO connect sid={sid} transport=Polling clients=2",
            written(from)
        ),
        from,
    );
    update(s, Action::LogLine(c, t));
    let (d, t) = line(
        format!(
            "{}  INFO disconnect sid={sid} reason=\"client namespace disconnect\" clients=1",
            written(from + lived)
        ),
        from + lived,
    );
    update(s, Action::LogLine(d, t));
}

#[test]
fn a_reconnect_storm_is_short_lived_clients_within_a_minute() {
    let mut s = with(Thresholds {
        reconnects_per_min: 3,
        ..Thresholds::default()
    });
    health(&mut s, 1.0, 1, 0);
    connect_and_leave(&mut s, "a", 2.0, 0.5);
    connect_and_leave(&mut s, "b", 3.0, 30.0); // lived 30 s: no flap
    connect_and_leave(&mut s, "c", 4.0, 1.0);
    tick(&mut s, 40.0);
    assert_eq!(active(&s), []);
    connect_and_leave(&mut s, "d", 40.0, 2.0);
    tick(&mut s, 43.0);
    assert_eq!(active(&s), [AlertKind::ReconnectStorm]);
    // A minute after the first flap it has fallen out of the window.
    tick(&mut s, 63.0);
    assert_eq!(life(&s, AlertKind::ReconnectStorm), (43.0, Some(63.0)));
    let departed: Vec<(&str, bool)> = s
        .clients
        .departures
        .iter()
        .map(|d| (d.sid.as_str(), d.flapped()))
        .collect();
    assert_eq!(
        departed,
        [("a", true), ("b", false), ("c", true), ("d", true)]
    );
    assert_eq!(
        s.clients.departures.first().unwrap().reason.as_deref(),
        Some("client namespace disconnect")
    );
}

fn resources(s: &mut State, secs: f64, rss: u64, fds: usize) {
    tick(s, secs);
    update(
        s,
        Action::Resources {
            process: Some(ProcessStats {
                pid: 7,
                rss_bytes: rss,
                cpu_percent: 0.0,
                threads: Some(2),
                open_files: Some(fds),
                fd_limit: Some(1000),
                uptime_secs: 1,
            }),
            sockets: Vec::new(),
            holders: Ok(Vec::new()),
            at: at(secs),
        },
    );
}

#[test]
fn file_descriptors_at_the_line_are_raised_and_cleared() {
    let mut s = with(Thresholds::default());
    health(&mut s, 1.0, 0, 0);
    resources(&mut s, 2.0, 1 << 20, 790);
    tick(&mut s, 3.0);
    assert_eq!(active(&s), []);
    resources(&mut s, 5.0, 1 << 20, 800);
    tick(&mut s, 6.0);
    assert_eq!(active(&s), [AlertKind::Fds]);
    resources(&mut s, 10.0, 1 << 20, 20);
    tick(&mut s, 11.0);
    assert_eq!(life(&s, AlertKind::Fds), (6.0, Some(11.0)));
}

#[test]
fn memory_heading_for_the_line_within_the_hour_is_raised() {
    let mut s = with(Thresholds {
        rss_mb: 500,
        ..Thresholds::default()
    });
    health(&mut s, 1.0, 0, 0);
    // +10 MB a minute from 200 MB: 500 MB in 30 minutes, once 5 minutes are sampled.
    for step in 0..=60u32 {
        let secs = 2.0 + f64::from(step) * 5.0;
        resources(
            &mut s,
            secs,
            200_000_000 + u64::from(step) * 5 * 10_000_000 / 60,
            10,
        );
    }
    assert_eq!(
        active(&s),
        [],
        "evaluated before the sample that makes 5 minutes"
    );
    tick(&mut s, 303.0);
    assert_eq!(active(&s), [AlertKind::RssGrowth]);
    // The server restarts (another PID): its history begins again.
    let restarted = ProcessStats {
        pid: 8,
        rss_bytes: 30_000_000,
        cpu_percent: 0.0,
        threads: None,
        open_files: None,
        fd_limit: None,
        uptime_secs: 1,
    };
    update(
        &mut s,
        Action::Resources {
            process: Some(restarted),
            sockets: Vec::new(),
            holders: Ok(Vec::new()),
            at: at(309.0),
        },
    );
    tick(&mut s, 310.0);
    assert_eq!(life(&s, AlertKind::RssGrowth), (303.0, Some(310.0)));
    assert!(
        logged()
            .join("\n")
            .contains("memory 250 MB, growing 10.0 MB/min over 5m00s: 500 MB in about 25m00s"),
        "{:?}",
        logged()
    );
}

fn hooks(s: &mut State, port: &str) {
    let row = |key: &str, value: &str| ConfigRow {
        key: key.into(),
        value: value.into(),
        ..ConfigRow::default()
    };
    update(
        s,
        Action::Config(vec![row("hook_host", "localhost"), row("hook_port", port)]),
    );
}

#[test]
fn hooks_posting_elsewhere_are_raised_until_they_point_here() {
    let mut s = with(Thresholds::default());
    health(&mut s, 1.0, 1, 0);
    hooks(&mut s, "8799");
    tick(&mut s, 2.0);
    assert_eq!(active(&s), [AlertKind::HookDrift]);
    assert!(
        s.alerts.active[0]
            .message
            .starts_with("hooks post to localhost:8799 but the server is at 127.0.0.1:8765")
    );
    hooks(&mut s, "8765");
    tick(&mut s, 3.0);
    assert_eq!(life(&s, AlertKind::HookDrift), (2.0, Some(3.0)));
}

#[test]
fn emit_failures_are_raised_while_they_rise() {
    let mut s = with(Thresholds::default());
    health(&mut s, 1.0, 2, 4);
    health(&mut s, 2.0, 2, 4);
    assert_eq!(active(&s), [], "old failures");
    health(&mut s, 3.0, 2, 9);
    tick(&mut s, 4.0);
    assert_eq!(active(&s), [AlertKind::EmitFailures]);
    assert!(s.alerts.active[0].message.contains("failed 5 deliveries"));
    for second in 5..=63 {
        health(&mut s, f64::from(second), 2, 9);
    }
    assert_eq!(life(&s, AlertKind::EmitFailures), (4.0, Some(63.0)));
}

#[test]
fn no_alert_about_a_server_that_does_not_answer() {
    let mut s = with(Thresholds::default());
    hooks(&mut s, "8799");
    tick(&mut s, 2.0);
    assert_eq!(active(&s), []);
    health(&mut s, 3.0, 1, 0);
    tick(&mut s, 4.0);
    assert_eq!(active(&s), [AlertKind::HookDrift]);
    update(&mut s, Action::Health(Err("connection refused".into())));
    tick(&mut s, 5.0);
    assert_eq!(life(&s, AlertKind::HookDrift), (4.0, Some(5.0)));
}

#[test]
fn a_tool_open_before_the_console_came_is_timed_by_its_senders_clock() {
    let mut s = with(Thresholds {
        tool_open_secs: 60,
        ..Thresholds::default()
    });
    health(&mut s, 100.0, 0, 0);
    // Started 90 s before the console joined, by the hook's own timestamp.
    let sent = at(10.0).wall.to_rfc3339();
    update(
        &mut s,
        Action::FeedEvent {
            name: "event_history".into(),
            data: json!({"events": [{"event": "tool_event", "type": "tool_event",
                "subtype": "pre_tool", "correlation_id": "early", "timestamp": sent,
                "source": "hook", "data": {"tool_name": "Write"}}]}),
            at: at(100.5),
        },
    );
    tick(&mut s, 101.0);
    assert_eq!(active(&s), [AlertKind::ToolOpen]);
    assert!(
        s.alerts.active[0]
            .message
            .starts_with("Write open for 1m31s"),
        "{}",
        s.alerts.active[0].message
    );
}

#[test]
fn a_senders_clock_years_off_does_not_claim_a_tool_open_for_years() {
    let mut s = with(Thresholds {
        tool_open_secs: 60,
        ..Thresholds::default()
    });
    // The server has run for 90 s: no tool in its history is older.
    let h = crate::probes::http::Health::parse(
        json!({"status": "running", "service": "mpm-top", "clients": 0, "uptime": 90.0}),
        std::time::Duration::ZERO,
    );
    tick(&mut s, 100.0);
    update(&mut s, Action::Health(Ok(h)));
    update(
        &mut s,
        Action::FeedEvent {
            name: "event_history".into(),
            data: json!({"events": [
                {"event": "tool_event", "type": "tool_event", "subtype": "pre_tool",
                 "correlation_id": "old", "timestamp": "2020-01-01T00:00:00+00:00",
                 "source": "hook", "data": {"tool_name": "OldTool"}},
                {"event": "tool_event", "type": "tool_event", "subtype": "pre_tool",
                 "correlation_id": "future", "timestamp": "2030-01-01T00:00:00+00:00",
                 "source": "hook", "data": {"tool_name": "Future"}}]}),
            at: at(100.5),
        },
    );
    tick(&mut s, 101.0);
    assert_eq!(active(&s), [AlertKind::ToolOpen]);
    assert!(
        s.alerts.active[0]
            .message
            .starts_with("OldTool open for 1m30s"),
        "{}",
        s.alerts.active[0].message
    );
}
