//! The Clients view's facts from `client:list` answers and log lines, time as data.

use serde_json::json;

use crate::app::tests::{at, fresh, update};
use crate::app::{Action, State};
use crate::probes::logtail::LogLine;

fn listed(s: &mut State, secs: f64, clients: &serde_json::Value, boot: Option<f64>) {
    update(
        s,
        Action::ClientList {
            data: json!({"clients": clients, "total": clients.as_array().map_or(0, Vec::len)}),
            at: at(secs),
            boot,
        },
    );
}

/// Seconds since the Unix epoch of the fixed test clock at `secs`.
fn epoch(secs: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let origin = at(0.0).wall.timestamp() as f64;
    origin + secs
}

#[test]
fn both_clocks_of_connected_at_are_read_and_this_console_is_marked() {
    let mut s = fresh(false);
    update(
        &mut s,
        Action::FeedEvent {
            name: "dashboard:welcome".into(),
            data: json!({"session_id": "me"}),
            at: at(1.0),
        },
    );
    // mpm-top serve: seconds since the epoch. Claude MPM: its monotonic clock, which at the
    // answer (console second 100) read 5000 here.
    listed(
        &mut s,
        100.0,
        &json!([
            {"session_id": "me", "name": "mpm-top", "type": "console", "connected_at": epoch(1.0), "transport": "websocket"},
            {"session_id": "dash", "name": "Client-dash", "type": "unknown", "connected_at": 4990.5},
            {"session_id": "liar", "connected_at": 1e300},
            {"session_id": "\u{1b}[2Jx", "connected_at": "soon"},
            {"name": "no sid"}
        ]),
        Some(5000.0),
    );
    let c = &s.clients.list;
    assert_eq!(c.len(), 4);
    assert!(c[0].own && !c[1].own);
    assert_eq!(c[0].connected.map(|t| t.mono), Some(1.0));
    assert_eq!(c[0].transport, "websocket");
    assert_eq!(c[1].connected.map(|t| t.mono), Some(90.5));
    assert_eq!(c[1].connected.unwrap().seconds_text(), "10:01:30");
    assert_eq!((c[2].connected, c[3].connected), (None, None));
    assert_eq!(c[3].sid, "\\e[2Jx", "escapes are shown, not obeyed");
    assert_eq!(s.clients.others(), 3);
    // Without this machine's clock (a server elsewhere) Claude MPM's time means nothing.
    listed(
        &mut s,
        101.0,
        &json!([{"session_id": "dash", "connected_at": 4990.5}]),
        None,
    );
    assert_eq!(s.clients.list[0].connected, None);
}

#[test]
fn a_sid_the_next_answer_lacks_has_left_and_the_log_gives_its_reason() {
    let mut s = fresh(false);
    listed(
        &mut s,
        10.0,
        &json!([{"session_id": "a", "name": "dash", "connected_at": epoch(8.0)},
               {"session_id": "b", "name": "old", "connected_at": epoch(1.0)}]),
        None,
    );
    listed(
        &mut s,
        12.0,
        &json!([{"session_id": "b", "connected_at": epoch(1.0)}]),
        None,
    );
    let d = s.clients.departures.last().unwrap().clone();
    assert_eq!((d.sid.as_str(), d.name.as_str()), ("a", "dash"));
    assert_eq!(
        (d.left.mono, d.lived, d.reason.clone()),
        (12.0, Some(4.0), None)
    );
    assert!(d.flapped());
    assert!(
        d.lived_at_most,
        "seen only as a list without it: 4 s at most"
    );
    // The server's log line about it came later but says when and why: it wins.
    update(
        &mut s,
        Action::LogLine(
            LogLine::from_text(
                "2026-11-26T10:00:11Z  INFO disconnect sid=a reason=\"transport close\" clients=1",
            ),
            at(11.0),
        ),
    );
    assert_eq!(s.clients.departures.len(), 1, "one departure, not two");
    let d = s.clients.departures.last().unwrap();
    assert_eq!(
        (d.left.mono, d.lived, d.reason.as_deref()),
        (11.0, Some(3.0), Some("transport close"))
    );
    assert!(!d.lived_at_most);
    assert_eq!(s.clients.flaps.len(), 1);
}

#[test]
fn a_client_between_two_answers_is_seen_in_the_log() {
    let mut s = fresh(false);
    for (text, secs) in [
        (
            "2026-11-26T10:00:20Z  INFO connect sid=q transport=Polling clients=2",
            20.0,
        ),
        (
            "2026-11-26T10:00:20.300Z  INFO disconnect sid=q reason=\"client namespace disconnect\" clients=1",
            // Read in the same batch as the connect, later: the server's times measure it.
            20.9,
        ),
    ] {
        update(&mut s, Action::LogLine(LogLine::from_text(text), at(secs)));
    }
    let d = s.clients.departures.last().unwrap();
    assert_eq!(d.sid, "q");
    assert!((d.lived.unwrap() - 0.3).abs() < 1e-9);
    assert!(d.flapped());
}

#[test]
fn departures_and_lists_are_bounded() {
    let mut s = fresh(false);
    for i in 0..250 {
        let line = format!(
            "2026-11-26T10:00:00Z  INFO disconnect sid=s{i} reason=\"transport close\" clients=0"
        );
        update(&mut s, Action::LogLine(LogLine::from_text(&line), at(1.0)));
    }
    assert_eq!(s.clients.departures.len(), crate::app::clients::DEPARTURES);
    let many: Vec<_> = (0..5000)
        .map(|i| json!({"session_id": format!("c{i}")}))
        .collect();
    listed(&mut s, 2.0, &json!(many), None);
    assert_eq!(s.clients.list.len(), crate::app::clients::MAX_LISTED);
    assert_eq!(s.clients.total, 5000);
}

#[test]
fn claude_mpms_log_names_the_sid_in_words() {
    assert_eq!(
        crate::app::clients::sid_in_words("Dashboard client disconnected: Ab_9"),
        Some("Ab_9".into())
    );
    let mut s = fresh(false);
    for (text, secs) in [
        (
            "2026-11-26 10:00:20,001 - claude_mpm - INFO - Dashboard client connected: Zq1",
            20.0,
        ),
        (
            "2026-11-26 10:00:22,501 - claude_mpm - INFO - Dashboard client disconnected: Zq1",
            22.5,
        ),
    ] {
        update(&mut s, Action::LogLine(LogLine::from_text(text), at(secs)));
    }
    let d = s.clients.departures.last().unwrap();
    assert_eq!(
        (d.sid.as_str(), d.lived, d.reason.clone()),
        ("Zq1", Some(2.5), None)
    );
}

#[test]
fn a_list_cut_at_its_limit_says_nothing_of_who_left() {
    let mut s = fresh(false);
    let all: Vec<_> = (0..3000)
        .map(|i| json!({"session_id": format!("c{i}")}))
        .collect();
    listed(&mut s, 1.0, &json!(all), None);
    // The same clients, listed in another order: none of them left.
    let reversed: Vec<_> = all.iter().rev().cloned().collect();
    listed(&mut s, 2.0, &json!(reversed), None);
    assert!(s.clients.departures.is_empty());
}

#[test]
fn mpm_tops_own_short_visits_are_not_flapping() {
    let mut s = fresh(false);
    for (text, secs) in [
        (
            "2026-11-26T10:00:20.000Z  INFO connect sid=me2 transport=Websocket clients=2",
            20.0,
        ),
        (
            "2026-11-26T10:00:20.010Z  INFO client registered sid=me2 name='mpm-top clients' type='mpm-top'",
            20.0,
        ),
        (
            "2026-11-26T10:00:20.050Z  INFO disconnect sid=me2 reason=\"client namespace disconnect\" clients=1",
            20.1,
        ),
    ] {
        update(&mut s, Action::LogLine(LogLine::from_text(text), at(secs)));
    }
    let d = s.clients.departures.last().unwrap();
    assert_eq!((d.sid.as_str(), d.kind.as_str()), ("me2", "mpm-top"));
    assert!(!d.flapped());
    assert!(s.clients.flaps.is_empty());
    listed(
        &mut s,
        30.0,
        &json!([{"session_id": "c1", "type": "mpm-top"}, {"session_id": "d1", "type": "dashboard"}]),
        None,
    );
    assert_eq!(
        s.clients.others(),
        1,
        "another console is not a client waiting on events"
    );
}

#[test]
fn this_consoles_row_is_kept_however_far_down_a_long_list_holds_it() {
    let mut s = fresh(false);
    update(
        &mut s,
        Action::FeedEvent {
            name: "dashboard:welcome".into(),
            data: json!({"session_id": "me"}),
            at: at(1.0),
        },
    );
    let mut all: Vec<_> = (0..3000)
        .map(|i| json!({"session_id": format!("c{i}")}))
        .collect();
    all.insert(2500, json!({"session_id": "me", "type": "mpm-top"}));
    listed(&mut s, 2.0, &json!(all), None);
    assert!(s.clients.list[0].own);
    assert_eq!(s.clients.list.len(), crate::app::clients::MAX_LISTED);
    assert_eq!(s.clients.total, 3001);
}

#[test]
fn lines_another_server_wrote_into_a_shared_log_are_not_this_ones() {
    // The watched server is on 8765 (`fresh`); another writes the same log from 19206.
    let mut s = fresh(false);
    for (text, secs) in [
        (
            "2026-11-26T10:00:20.000Z  INFO connect sid=x transport=Polling clients=2 port=19206",
            20.0,
        ),
        (
            "2026-11-26T10:00:20.100Z  INFO disconnect sid=x reason=\"transport close\" clients=1 port=19206",
            20.1,
        ),
        (
            "2026-11-26T10:00:21.000Z  INFO connect sid=y transport=Polling clients=2 port=8765",
            21.0,
        ),
        (
            "2026-11-26T10:00:21.100Z  INFO disconnect sid=y reason=\"transport close\" clients=1 port=8765",
            21.1,
        ),
    ] {
        update(&mut s, Action::LogLine(LogLine::from_text(text), at(secs)));
    }
    let sids: Vec<&str> = s
        .clients
        .departures
        .iter()
        .map(|d| d.sid.as_str())
        .collect();
    assert_eq!(sids, ["y"]);
    assert_eq!(
        s.events.len(),
        2,
        "only this server's connect and disconnect are rows"
    );
}

#[test]
fn a_feed_that_lost_the_server_lists_nobody_as_connected() {
    let mut s = fresh(false);
    listed(
        &mut s,
        1.0,
        &json!([{"session_id": "a"}, {"session_id": "b"}]),
        None,
    );
    update(&mut s, Action::Connected);
    update(&mut s, Action::Disconnected("connection refused".into()));
    assert!(s.clients.list.is_empty() && s.clients.listed.is_none());
    assert_eq!(s.clients.total, 0);
    // Nor are they booked as departures: when they left is not known.
    assert!(s.clients.departures.is_empty());
}

#[test]
fn the_answer_to_this_consoles_registration_is_not_traffic() {
    let mut s = fresh(false);
    update(
        &mut s,
        Action::FeedEvent {
            name: "client:registered".into(),
            data: json!({"name": "mpm-top console", "type": "mpm-top", "session_id": "me"}),
            at: at(1.0),
        },
    );
    assert!(s.events.is_empty() && s.rates.is_empty());
}
