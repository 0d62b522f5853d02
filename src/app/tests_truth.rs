//! Reducer tests for what the console claims as fact: durations, one row per happening, the
//! pause, the target, and the bounds against what servers send.

use serde_json::{Value, json};

use super::tests::{at, fresh, logged, press, target, tool_at, update};
use super::*;
use crate::bounded::OTHER;
use crate::target::Chosen;

fn hook(state: &mut State, subtype: &str, corr: &str, secs: f64, sent: &str, source: &str) {
    let data = json!({"type": "tool_event", "subtype": subtype, "correlation_id": corr, "source": source, "timestamp": sent, "data": {"tool_name": "Bash", "status": "success"}});
    update(
        state,
        Action::FeedEvent {
            name: "tool_event".into(),
            data,
            at: at(secs),
        },
    );
}

fn log(state: &mut State, line: &str, secs: f64) {
    update(state, Action::LogLine(LogLine::from_text(line), at(secs)));
}

/// Each row's name, source and summary.
fn rows(state: &State) -> Vec<(&str, Origin, &str)> {
    state
        .events
        .iter()
        .map(|e| (e.name.as_str(), e.origin, e.summary.as_str()))
        .collect()
}

fn last_duration(state: &State) -> Option<f64> {
    state.events.last().and_then(|e| e.duration)
}

#[test]
fn durations_are_exact_to_the_millisecond_from_arrival_instants() {
    let mut s = fresh(false);
    for (start, gap) in [(10.123, 0.25), (20.123, 1.5), (30.123, 2.7)] {
        let corr = format!("c-{start}");
        tool_at(&mut s, "pre_tool", &corr, start);
        tool_at(&mut s, "post_tool", &corr, start + gap);
        let took = last_duration(&s).unwrap();
        assert!((took - gap).abs() < 1e-9, "{took} vs {gap}");
    }
}

#[test]
fn the_senders_own_timestamps_win_when_both_ends_carry_them() {
    let mut s = fresh(false);
    // Arrived 3.0 s apart (a slow network), sent 2.4 s apart by the hook.
    hook(
        &mut s,
        "pre_tool",
        "c",
        1.0,
        "2026-11-25T19:08:14.149725+00:00",
        "hook",
    );
    hook(
        &mut s,
        "post_tool",
        "c",
        4.0,
        "2026-11-25T19:08:16.549725+00:00",
        "hook",
    );
    assert!((last_duration(&s).unwrap() - 2.4).abs() < 1e-9);
    // Different senders: their clocks are not comparable, so the arrival instants are used.
    hook(
        &mut s,
        "pre_tool",
        "d",
        5.0,
        "2026-11-25T19:08:14+00:00",
        "hook",
    );
    hook(
        &mut s,
        "post_tool",
        "d",
        5.5,
        "2026-11-25T19:09:14+00:00",
        "other",
    );
    assert!((last_duration(&s).unwrap() - 0.5).abs() < 1e-9);
}

#[test]
fn the_same_tool_call_on_the_feed_and_in_the_log_is_one_row() {
    let mut s = fresh(false);
    hook(
        &mut s,
        "pre_tool",
        "c-1",
        1.0,
        "2026-11-26T10:00:01+00:00",
        "hook",
    );
    log(
        &mut s,
        "2026-11-26T10:00:01.002Z  INFO tool_start tool=Bash correlation_id=c-1 session=s (pre_tool)",
        1.003,
    );
    // The log can be first too; the feed's copy then brings the whole payload.
    log(
        &mut s,
        "2026-11-26T10:00:02.000Z  INFO tool_stop tool=Bash correlation_id=c-1 session=s status=success (post_tool)",
        2.0,
    );
    hook(
        &mut s,
        "post_tool",
        "c-1",
        2.001,
        "2026-11-26T10:00:02+00:00",
        "hook",
    );
    let rows: Vec<(&str, Origin)> = s
        .events
        .iter()
        .map(|e| (e.name.as_str(), e.origin))
        .collect();
    assert_eq!(
        rows,
        [("tool_start", Origin::Both), ("tool_stop", Origin::Both)]
    );
    assert_eq!(s.events.last().unwrap().payload["correlation_id"], "c-1");
    assert_eq!(s.totals.get("tool_stop"), 1, "counted once");
    assert!(
        (last_duration(&s).unwrap() - 1.0).abs() < 1e-9,
        "by the log's own times"
    );
}

#[test]
fn our_own_connect_is_matched_by_sid_and_log_lines_are_parsed() {
    let mut s = fresh(false);
    update(
        &mut s,
        Action::FeedEvent {
            name: "dashboard:welcome".into(),
            data: json!({"message": "Connected", "session_id": "AbC"}),
            at: at(1.0),
        },
    );
    log(
        &mut s,
        "2026-11-26T10:00:01Z  INFO connect sid=AbC transport=Websocket clients=3",
        1.01,
    );
    log(
        &mut s,
        "2026-11-26T10:00:02Z  INFO disconnect sid=XyZ reason=\"transport close\" clients=2",
        2.0,
    );
    log(
        &mut s,
        "2026-11-26T10:00:03Z  WARN emit event=x failed: queue full",
        3.0,
    );
    let rows = rows(&s);
    assert_eq!(
        rows,
        [
            ("connect", Origin::Both, "sid=AbC (this console)"),
            (
                "disconnect",
                Origin::Log,
                "sid=XyZ transport close, 2 client(s)"
            ),
            ("warning", Origin::Log, "emit event=x failed: queue full"),
        ]
    );
    assert_eq!(s.server.clients, Some(2));
}

#[test]
fn clients_come_from_client_count_when_health_has_none() {
    let mut s = fresh(false);
    update(
        &mut s,
        Action::FeedEvent {
            name: "dashboard:client:count".into(),
            data: json!({"count": 4}),
            at: at(1.0),
        },
    );
    let claude = crate::probes::http::Health::parse(
        json!({"status": "running", "service": "claude-mpm-monitor", "pid": 1}),
        std::time::Duration::ZERO,
    );
    update(&mut s, Action::Health(Ok(claude)));
    assert_eq!(s.server.clients, Some(4));
}

#[test]
fn pause_freezes_the_rows_and_counts_only_what_the_filter_shows() {
    let mut s = fresh(false);
    tool_at(&mut s, "pre_tool", "a", 1.0);
    press(&mut s, "/tool_start");
    update(&mut s, Action::Key(Key::Enter));
    press(&mut s, "p");
    let frozen: Vec<u64> = s.visible_events().map(|e| e.id).collect();
    tool_at(&mut s, "pre_tool", "b", 2.0);
    tool_at(&mut s, "post_tool", "a", 3.0); // hidden by the filter
    assert_eq!(s.visible_events().map(|e| e.id).collect::<Vec<_>>(), frozen);
    assert_eq!(s.held_back(), 1);
    press(&mut s, "p");
    assert_eq!(s.visible_events().count(), 2, "shown on resume");
    assert!(
        logged()
            .last()
            .unwrap()
            .contains("1 event(s) arrived while paused")
    );
}

#[test]
fn the_selection_and_the_detail_stay_on_their_event() {
    let mut s = fresh(false);
    tool_at(&mut s, "pre_tool", "a", 1.0);
    tool_at(&mut s, "pre_tool", "b", 2.0);
    update(&mut s, Action::Key(Key::Up));
    let chosen = s.selected_event().unwrap().id;
    update(&mut s, Action::Key(Key::Enter));
    for i in 0..5 {
        tool_at(&mut s, "pre_tool", &format!("n{i}"), 3.0 + f64::from(i));
    }
    assert_eq!(s.selected_event().unwrap().id, chosen);
    assert!(s.detail);
    // Enter on "following" pins the event it opened on (Esc closes the detail, Esc again
    // lets go of the selection).
    update(&mut s, Action::Key(Key::Esc));
    update(&mut s, Action::Key(Key::Esc));
    assert_eq!(s.selected, None);
    update(&mut s, Action::Key(Key::Enter));
    let pinned = s.selected_event().unwrap().id;
    tool_at(&mut s, "pre_tool", "later", 9.0);
    assert_eq!(s.selected_event().unwrap().id, pinned);
    update(&mut s, Action::Key(Key::Esc)); // the detail closes; Home then selects
    update(&mut s, Action::Key(Key::Home));
    assert_eq!(s.selected, Some(1));
    update(&mut s, Action::Key(Key::End));
    assert_eq!(s.selected, None);
}

#[test]
fn a_named_target_is_offered_an_alternative_never_replaced() {
    let mut s = State::new(
        target(18931).on_port(18931, Chosen::Named("flag --port".into())),
        false,
    );
    update(&mut s, Action::Health(Err("connection refused".into())));
    update(&mut s, Action::Found(vec![(8779, "mpm-top".into())]));
    assert_eq!(s.target.port, 18931);
    assert_eq!(s.offer.as_ref().map(|o| o.port), Some(8779));
    assert!(logged().iter().any(|l| l.contains("press g to switch")));
    // Actions act on the target shown.
    assert_eq!(press(&mut s, "s"), [Effect::StartServer(s.target.clone())]);
    update(&mut s, Action::Done("started".into()));
    let effects = press(&mut s, "g");
    let [Effect::Switch(to)] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(to.port, 8779);
    assert!(matches!(&to.chosen, Chosen::Switched { from } if from == "127.0.0.1:18931"));
    update(&mut s, Action::Retargeted(to.clone()));
    assert_eq!(s.target.port, 8779);
    assert_eq!(s.server.kind, None);
    assert!(
        logged().iter().any(|l| l.contains("now monitoring")),
        "the log is kept"
    );
}

#[test]
fn one_action_at_a_time() {
    let mut s = fresh(false);
    assert_eq!(press(&mut s, "d"), [Effect::Doctor(target(8765))]);
    assert_eq!(press(&mut s, "c"), []);
    assert!(
        logged()
            .last()
            .unwrap()
            .contains("'doctor' is still running")
    );
    update(&mut s, Action::Done("doctor: ok".into()));
    assert_eq!(press(&mut s, "c"), [Effect::Collect(target(8765))]);
}

#[test]
fn names_a_server_invents_are_capped() {
    let mut s = fresh(false);
    for i in 0..(state::MAX_TYPES + 30) {
        update(
            &mut s,
            Action::FeedEvent {
                name: format!("invented_{i}"),
                data: json!({}),
                at: at(1.0),
            },
        );
    }
    assert_eq!(s.rates.len(), state::MAX_TYPES + 1);
    assert_eq!(s.totals.get(OTHER), 30);
    for i in 0..(state::MAX_OPEN_TOOLS + 10) {
        tool_at(&mut s, "pre_tool", &format!("open-{i}"), 2.0);
    }
    assert_eq!(s.running.len(), state::MAX_OPEN_TOOLS);
    assert_eq!(s.running_dropped, 10);
}

#[test]
fn a_memory_projection_waits_for_five_minutes_of_samples() {
    let mut s = fresh(false);
    let stats = |rss: u64| crate::probes::process::ProcessStats {
        pid: 9,
        rss_bytes: rss,
        cpu_percent: 0.0,
        threads: Some(1),
        open_files: None,
        fd_limit: None,
        uptime_secs: 1,
    };
    for (secs, mib) in [(0.0, 100), (60.0, 120)] {
        update(
            &mut s,
            Action::Resources {
                process: Some(stats(mib << 20)),
                sockets: Vec::new(),
                holders: Ok(Vec::new()),
                at: at(secs),
            },
        );
    }
    assert!(matches!(
        s.trend.projection(),
        crate::probes::process::Projection::TooEarly { .. }
    ));
}

#[test]
fn claude_mpms_packet_log_is_one_row_per_happening_too() {
    let mut s = fresh(false);
    let packet = r#"TTJvUspRCmvcPNIOAAAA: Sending packet MESSAGE data 2["tool_event",{"type":"tool_event","subtype":"pre_tool","correlation_id":"c-7","source":"hook","timestamp":"2026-11-26T10:00:01+00:00","data":{"tool_name":"Bash"}}]"#;
    // One line per client the server sent it to, then the feed's copy.
    log(&mut s, packet, 1.0);
    log(
        &mut s,
        &packet.replace("TTJvUspRCmvcPNIOAAAA", "cFjWlZhvMc4qx8YMAAAC"),
        1.001,
    );
    hook(
        &mut s,
        "pre_tool",
        "c-7",
        1.002,
        "2026-11-26T10:00:01+00:00",
        "hook",
    );
    log(
        &mut s,
        r#"TTJvUspRCmvcPNIOAAAA: Sending packet MESSAGE data 0{"sid":"ZmfU"}"#,
        2.0,
    );
    for _ in 0..3 {
        log(
            &mut s,
            "ARkq_QMy0un4SsDMAAAC: Client is gone, closing socket",
            3.0,
        );
    }
    log(
        &mut s,
        r#"TTJvUspRCmvcPNIOAAAA: Sending packet MESSAGE data 2["claude_event",{"subtype":"stop"}]"#,
        4.0,
    );
    log(
        &mut s,
        "TTJvUspRCmvcPNIOAAAA: Sending packet PING data None",
        5.0,
    );
    let rows = rows(&s);
    assert_eq!(
        rows,
        [
            ("tool_start", Origin::Both, "Bash"),
            ("connect", Origin::Log, "sid=ZmfU"),
            (
                "disconnect",
                Origin::Log,
                "engine.io ARkq_QMy0un4SsDMAAAC: no pong, client gone"
            ),
        ]
    );
    assert!(
        s.events.iter().next().unwrap().payload.is_object(),
        "the feed's payload wins"
    );
}

#[test]
fn a_reused_correlation_id_is_a_new_call_not_a_copy() {
    let mut s = fresh(false);
    for (session, secs) in [("x", 1.0), ("y", 10.0)] {
        for (subtype, offset) in [("pre_tool", 0.0), ("post_tool", 0.5)] {
            update(
                &mut s,
                Action::FeedEvent {
                    name: "tool_event".into(),
                    data: json!({"subtype": subtype, "correlation_id": "same", "session_id": session, "data": {"tool_name": "Bash"}}),
                    at: at(secs + offset),
                },
            );
        }
    }
    // A retried post_tool, moments later, from the same source: also shown.
    tool_at(&mut s, "post_tool", "same", 10.6);
    assert_eq!(s.events.len(), 5);
    assert_eq!(s.totals.get("tool_stop"), 3);
}

#[test]
fn the_hooks_clock_wins_even_when_the_log_copy_came_first() {
    let mut s = fresh(false);
    // The log's lines, written 1.009 s apart, arrive before the feed's copies.
    log(
        &mut s,
        "2026-11-26T10:00:01.000Z  INFO tool_start tool=Bash correlation_id=c session=s (pre_tool)",
        1.0,
    );
    hook(
        &mut s,
        "pre_tool",
        "c",
        1.01,
        "2026-11-26T04:00:00.000Z",
        "hook",
    );
    log(
        &mut s,
        "2026-11-26T10:00:02.009Z  INFO tool_stop tool=Bash correlation_id=c session=s status=success (post_tool)",
        2.009,
    );
    assert!(
        (last_duration(&s).unwrap() - 1.009).abs() < 1e-9,
        "the log's clock, for now"
    );
    hook(
        &mut s,
        "post_tool",
        "c",
        2.02,
        "2026-11-26T04:00:05.500Z",
        "hook",
    );
    assert!(
        (last_duration(&s).unwrap() - 5.5).abs() < 1e-9,
        "then the hook's own"
    );
    assert_eq!(s.events.len(), 2);
}

#[test]
fn a_stop_that_overtakes_its_start_is_timed_by_the_senders_clock() {
    let mut s = fresh(false);
    hook(
        &mut s,
        "post_tool",
        "late",
        1.0,
        "2026-11-26T10:00:03.000Z",
        "hook",
    );
    assert_eq!(last_duration(&s), None);
    hook(
        &mut s,
        "pre_tool",
        "late",
        1.1,
        "2026-11-26T10:00:01.500Z",
        "hook",
    );
    let stop = s.events.iter().find(|e| e.name == "tool_stop").unwrap();
    assert!((stop.duration.unwrap() - 1.5).abs() < 1e-9);
    assert!(s.running.is_empty(), "not left open");
}

#[test]
fn a_tool_call_without_a_correlation_id_is_still_one_row() {
    let mut s = fresh(false);
    update(
        &mut s,
        Action::FeedEvent {
            name: "tool_event".into(),
            data: json!({"subtype": "pre_tool", "session_id": "s", "data": {"tool_name": "Bash"}}),
            at: at(1.0),
        },
    );
    log(
        &mut s,
        "2026-11-26T10:00:01Z  INFO tool_start tool=Bash correlation_id=- session=s (pre_tool)",
        1.001,
    );
    log(
        &mut s,
        "2026-11-26T10:00:09Z  INFO tool_start tool=Read correlation_id=- session=s (pre_tool)",
        9.0,
    );
    let rows = rows(&s);
    assert_eq!(
        rows,
        [
            ("tool_start", Origin::Both, "Bash"),
            ("tool_start", Origin::Log, "Read")
        ]
    );
}

#[test]
fn a_late_client_gets_history_as_rows_at_their_own_times() {
    let mut s = fresh(false);
    let history = json!({"events": [
        {"event": "tool_event", "type": "tool_event", "subtype": "pre_tool", "correlation_id": "h1", "source": "hook",
         "timestamp": "2026-11-26T09:59:00.000000Z", "data": {"tool_name": "Read"}},
        {"event": "tool_event", "type": "tool_event", "subtype": "post_tool", "correlation_id": "h1", "source": "hook",
         "timestamp": "2026-11-26T09:59:00.750000Z", "data": {"tool_name": "Read", "status": "success"}},
        {"event": "tool_event", "type": "tool_event", "subtype": "pre_tool", "correlation_id": "h2", "data": {"tool_name": "Bash"}},
    ], "count": 3});
    update(
        &mut s,
        Action::FeedEvent {
            name: "event_history".into(),
            data: history,
            at: at(30.0),
        },
    );
    let rows = rows(&s);
    assert_eq!(rows[0].2, "3 earlier event(s) follow, at their own times");
    assert_eq!(rows.len(), 4);
    let stop = s.events.iter().find(|e| e.name == "tool_stop").unwrap();
    assert_eq!(stop.at.clock_text(), "09:59:00.750");
    assert!((stop.duration.unwrap() - 0.75).abs() < 1e-9);
    // A replayed start with no timestamp is not timed by its arrival when its stop comes live.
    tool_at(&mut s, "post_tool", "h2", 31.0);
    assert_eq!(s.events.last().unwrap().duration, None);
}

#[test]
fn the_detail_scrolls_and_esc_steps_back_one_thing_at_a_time() {
    let mut s = fresh(false);
    tool_at(&mut s, "pre_tool", "a", 1.0);
    tool_at(&mut s, "pre_tool", "b", 2.0);
    press(&mut s, "2z");
    update(&mut s, Action::Key(Key::Up));
    let chosen = s.selected;
    update(&mut s, Action::Key(Key::Enter));
    update(&mut s, Action::Key(Key::PageDown));
    assert_eq!(
        (s.detail, s.detail_scroll, s.selected),
        (true, 10, chosen),
        "scrolls the detail"
    );
    update(&mut s, Action::Key(Key::Esc));
    assert!(
        !s.detail && s.zoom && s.selected == chosen,
        "closes only the detail"
    );
    update(&mut s, Action::Key(Key::Esc));
    assert!(!s.zoom && s.selected == chosen, "then unzooms");
    update(&mut s, Action::Key(Key::Esc));
    assert_eq!(s.selected, None, "then follows the newest");
    // With another pane zoomed, Enter opens nothing.
    press(&mut s, "5z");
    update(&mut s, Action::Key(Key::Enter));
    assert!(!s.detail);
}

#[test]
fn start_refuses_when_a_server_answers_and_the_demo_is_not_restarted() {
    let mut s = fresh(false);
    s.server.kind = Some("mpm-top".into());
    assert_eq!(press(&mut s, "s"), []);
    assert!(logged().last().unwrap().contains("already answers"));
    let mut demo = State::new(target(9).on_port(9, Chosen::Demo), false);
    assert_eq!(press(&mut demo, "sr"), []);
    assert!(
        logged()
            .last()
            .unwrap()
            .contains("runs inside this console")
    );
}

#[test]
fn every_word_of_the_filter_must_match_and_ctrl_u_clears_it() {
    let mut s = fresh(false);
    tool_at(&mut s, "pre_tool", "a", 1.0);
    tool_at(&mut s, "post_tool", "a", 2.0);
    press(&mut s, "/bash SUCCESS");
    assert_eq!(
        rows(&s).len(),
        2,
        "typing does not hide rows it has not finished"
    );
    update(&mut s, Action::Key(Key::Enter));
    let shown: Vec<&str> = s.visible_events().map(|e| e.name.as_str()).collect();
    assert_eq!(shown, ["tool_stop"]);
    press(&mut s, "/");
    update(&mut s, Action::Key(Key::CtrlU));
    assert!(s.filter.is_empty());
}

#[test]
fn a_health_that_claims_to_be_mpm_top_does_not_skip_the_restart_dialog() {
    let mut s = fresh(false);
    s.server.kind = Some("mpm-top".into());
    update(&mut s, super::tests::listening(&[42])); // a python process holds the port
    assert_eq!(press(&mut s, "r"), []);
    assert_eq!(
        s.dialog,
        Some(Dialog::Restart(vec![super::tests::holder(42)]))
    );
}

#[test]
fn no_action_stops_anything_for_a_target_on_another_machine() {
    let mut s = fresh(false);
    update(
        &mut s,
        Action::Resources {
            process: None,
            sockets: Vec::new(),
            holders: Err("192.0.2.7:8765 is not this machine".into()),
            at: at(1.0),
        },
    );
    assert_eq!(press(&mut s, "K"), []);
    assert_eq!(press(&mut s, "r"), []);
    assert_eq!(s.dialog, None);
    assert!(logged().last().unwrap().contains("is not this machine"));
}

#[test]
fn a_megabyte_from_a_server_is_kept_as_a_few_kilobytes() {
    let mut s = fresh(false);
    let huge = "x".repeat(1 << 20);
    update(
        &mut s,
        Action::FeedEvent {
            name: "tool_event".into(),
            data: json!({"subtype": "pre_tool", "correlation_id": huge.clone(), "session_id": huge.clone(), "data": {"tool_name": huge}}),
            at: at(1.0),
        },
    );
    let row = s.events.last().unwrap();
    assert!(row.summary.chars().count() <= 201, "{}", row.summary.len());
    assert!(row.session.chars().count() <= 201);
    let Value::String(kept) = &row.payload else {
        panic!("the payload was kept whole");
    };
    assert!(kept.starts_with("(a payload of 3145"), "{}", &kept[..40]);
    assert!(kept.len() < events::PAYLOAD_BYTES + 100);
    assert!(s.running.keys().all(|k| k.chars().count() <= 201));
}

#[test]
fn mpm_tops_own_server_restarts_without_a_dialog_only_when_it_runs_this_program() {
    let mut s = fresh(false);
    s.server.kind = Some("mpm-top".into());
    let mut ours = super::tests::holder(42);
    ours.is_mpm_top = true;
    update(
        &mut s,
        Action::Resources {
            process: None,
            sockets: Vec::new(),
            holders: Ok(vec![ours]),
            at: at(1.0),
        },
    );
    assert_eq!(
        press(&mut s, "r"),
        [Effect::Restart(
            target(8765),
            crate::actions::restart::Confirmed::NotNeeded
        )]
    );
}
