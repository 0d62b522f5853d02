use super::*;

fn fired(m: &Moment, t: &Thresholds) -> Vec<AlertKind> {
    evaluate(m, t).into_iter().map(|f| f.kind).collect()
}

#[test]
fn a_quiet_moment_fires_nothing() {
    assert_eq!(fired(&Moment::default(), &Thresholds::default()), []);
}

#[test]
fn silence_counts_from_the_later_of_the_last_event_and_the_clients_arriving() {
    let t = Thresholds {
        silence_secs: 60,
        ..Thresholds::default()
    };
    let mut m = Moment {
        now: 100.0,
        other_clients: Some(2),
        last_event: 10.0,
        clients_since: Some(50.0),
        ..Moment::default()
    };
    assert_eq!(fired(&m, &t), [], "clients came 50 s ago");
    m.now = 110.0;
    let f = evaluate(&m, &t);
    assert_eq!(f[0].kind, AlertKind::Silence);
    assert!(
        f[0].message
            .contains("no events for 1m00s while 2 clients are connected")
    );
    m.other_clients = Some(0);
    assert_eq!(fired(&m, &t), [], "nobody is waiting for events");
}

#[test]
fn a_storm_is_enough_short_lived_clients_within_a_minute() {
    let t = Thresholds {
        reconnects_per_min: 3,
        ..Thresholds::default()
    };
    let mut m = Moment {
        now: 100.0,
        short_lived: vec![30.0, 50.0, 60.0],
        ..Moment::default()
    };
    assert_eq!(fired(&m, &t), [], "one of them is older than a minute");
    m.short_lived.push(99.0);
    assert_eq!(fired(&m, &t), [AlertKind::ReconnectStorm]);
}

#[test]
fn fds_warn_at_the_threshold_and_fail_at_95() {
    assert_eq!(fd_use(79, 100, 80).unwrap().0, Status::Ok);
    assert_eq!(fd_use(80, 100, 80).unwrap().0, Status::Warn);
    assert_eq!(fd_use(95, 100, 80).unwrap().0, Status::Fail);
    assert_eq!(fd_use(96, 100, 97).unwrap().0, Status::Ok);
    assert_eq!(fd_use(97, 100, 97).unwrap().0, Status::Fail);
    assert_eq!(fd_use(1, 0, 80), None);
    let m = Moment {
        fds: Some((900, 1000)),
        ..Moment::default()
    };
    assert_eq!(fired(&m, &Thresholds::default()), [AlertKind::Fds]);
}

#[test]
fn memory_growth_needs_five_minutes_of_samples_and_an_hour_to_the_line() {
    let t = Thresholds::default();
    let grows = |span| Moment {
        // 300 MB, +5 MB a minute: 500 MB in 40 minutes.
        rss: Some((300_000_000, Some(5_000_000.0), span)),
        ..Moment::default()
    };
    assert_eq!(fired(&grows(120.0), &t), [], "too early to say");
    let f = evaluate(&grows(300.0), &t);
    assert_eq!(f[0].kind, AlertKind::RssGrowth);
    assert!(
        f[0].message.contains("500 MB in about 40m00s"),
        "{}",
        f[0].message
    );
    let slow = Moment {
        rss: Some((300_000_000, Some(1_000_000.0), 900.0)),
        ..Moment::default()
    };
    assert_eq!(fired(&slow, &t), [], "200 minutes away");
}

#[test]
fn the_longest_open_tool_is_named() {
    let t = Thresholds {
        tool_open_secs: 2,
        ..Thresholds::default()
    };
    let m = Moment {
        open_tools: vec![
            ("Read".into(), "c-1".into(), 1.0),
            ("Bash".into(), "c-2".into(), 7.5),
            ("Grep".into(), "c-3".into(), 3.0),
        ],
        ..Moment::default()
    };
    let f = evaluate(&m, &t);
    assert_eq!(
        f[0].message,
        "Bash open for 7s without a tool_stop (correlation c-2); 1 more open past 2s"
    );
}

#[test]
fn hook_drift_compares_as_a_hook_sender_reaches_a_server() {
    assert_eq!(hook_drift("localhost", 8765, "127.0.0.1", 8765), None);
    assert_eq!(hook_drift("localhost", 8765, "0.0.0.0", 8765), None);
    assert_eq!(hook_drift("0.0.0.0", 8765, "127.0.0.1", 8765), None);
    assert_eq!(hook_drift("::1", 8765, "::", 8765), None);
    assert_eq!(
        hook_drift("::1", 8765, "127.0.0.1", 8765).as_deref(),
        Some("hooks post to [::1]:8765 but the server is at 127.0.0.1:8765"),
        "an IPv4 server is not reached on ::1"
    );
    assert!(hook_drift("localhost", 8765, "127.0.0.1", 8766).is_some());
    assert!(hook_drift("10.0.0.2", 8765, "127.0.0.1", 8765).is_some());
}

#[test]
fn emit_failures_fire_only_while_rising() {
    let mut m = Moment {
        emit_failures: vec![(0.0, 4), (30.0, 4), (60.0, 4)],
        ..Moment::default()
    };
    assert_eq!(
        fired(&m, &Thresholds::default()),
        [],
        "old failures, none new"
    );
    m.emit_failures.push((61.0, 9));
    let f = evaluate(&m, &Thresholds::default());
    assert!(
        f[0].message
            .contains("failed 5 deliveries in the last 1m01s (9 in all)")
    );
}

#[test]
fn projects_with_two_servers_are_named() {
    let groups = [("~/a".to_owned(), vec![8765, 8770])];
    assert_eq!(
        same_project_text(&groups),
        "2 servers run for ~/a (ports 8765, 8770)"
    );
}

#[test]
fn every_alert_names_a_command_and_a_key() {
    for kind in AlertKind::ALL {
        let fix = kind.fix();
        assert!(!fix.command.is_empty() && fix.key.is_some(), "{kind:?}");
    }
}
