//! The Servers view, switching, and the servers kept watched after a switch.

use serde_json::json;

use crate::app::state::{MAX_PARKED, View};
use crate::app::tests::{at, fresh, update};
use crate::app::{Action, Effect, Key, State};
use crate::probes::http::ServerKind;
use crate::probes::servers::ServerRow;

fn row(port: u16, project: &str) -> ServerRow {
    ServerRow {
        port,
        url: format!("http://127.0.0.1:{port}"),
        kind: ServerKind::MpmTop,
        kind_label: "mpm-top".into(),
        pid: Some(u32::from(port)),
        reported_pid: None,
        project: Some(project.into()),
        answered: true,
        health: "running".into(),
        clients: Some(1),
        events_per_sec: Some(0.0),
        uptime_secs: Some(5.0),
        configured: port == 8765,
    }
}

fn scan(s: &mut State, rows: Vec<ServerRow>, secs: f64) {
    update(s, Action::Servers { rows, at: at(secs) });
}

fn event(s: &mut State, generation: u64, name: &str, secs: f64) {
    update(
        s,
        Action::Watched(
            generation,
            Box::new(Action::FeedEvent {
                name: name.into(),
                data: json!({}),
                at: at(secs),
            }),
        ),
    );
}

fn press(s: &mut State, key: Key) -> Vec<Effect> {
    update(s, Action::Key(key))
}

fn names(s: &State) -> Vec<String> {
    s.events.iter().map(|e| e.name.clone()).collect()
}

/// `S`, select `port`'s row, Enter; the switch it asks for, applied as the runtime does.
fn switch_to(s: &mut State, port: u16) {
    press(s, Key::Char('S'));
    assert_eq!(s.view, Some(View::Servers));
    while s.servers[s.server_selected].port > port {
        press(s, Key::Up);
    }
    while s.servers[s.server_selected].port < port {
        press(s, Key::Down);
    }
    let effects = press(s, Key::Enter);
    assert_eq!(s.view, None, "Enter closes the view");
    let [Effect::Switch(to)] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(to.port, port);
    update(s, Action::Retargeted(to.clone()));
}

#[test]
fn switching_back_and_forth_loses_nothing_of_either_server() {
    let mut s = fresh(false);
    scan(&mut s, vec![row(8765, "~/a"), row(8766, "~/b")], 1.0);
    assert_eq!(crate::app::servers::others(&s), 1);
    event(&mut s, 0, "on_a_before", 2.0);
    switch_to(&mut s, 8766);
    assert_eq!((s.target.port, s.generation), (8766, 1));
    assert!(s.events.is_empty(), "a new server starts empty");
    // Both keep being fed: the one on screen, and the one parked.
    event(&mut s, 1, "on_b", 3.0);
    event(&mut s, 0, "on_a_while_away", 4.0);
    event(&mut s, 7, "from_a_server_let_go", 4.5);
    assert_eq!(names(&s), ["on_b"]);
    switch_to(&mut s, 8765);
    assert_eq!((s.target.port, s.generation), (8765, 0));
    assert_eq!(names(&s), ["on_a_before", "on_a_while_away"]);
    assert_eq!(
        s.servers.len(),
        2,
        "the scan is the console's, not the server's"
    );
    switch_to(&mut s, 8766);
    assert_eq!(names(&s), ["on_b"]);
    assert_eq!(
        s.next_generation, 2,
        "no new producers for a server watched before"
    );
}

#[test]
fn a_parked_servers_rates_roll_with_the_clock() {
    let mut s = fresh(false);
    scan(&mut s, vec![row(8765, "~/a"), row(8766, "~/b")], 1.0);
    event(&mut s, 0, "x", 1.5);
    switch_to(&mut s, 8766);
    update(&mut s, Action::Tick(at(10.0)));
    let parked = &s.parked[0];
    let ring = &parked.rates["x"];
    assert_eq!(
        ring.last(),
        Some(&0),
        "nine seconds later the second is empty"
    );
    assert_eq!(ring.iter().sum::<u32>(), 1);
}

#[test]
fn at_most_a_few_servers_are_kept_in_the_background() {
    let mut s = fresh(false);
    let rows: Vec<ServerRow> = (8765..8775).map(|p| row(p, "~/p")).collect();
    scan(&mut s, rows, 1.0);
    for port in 8766..8772 {
        switch_to(&mut s, port);
    }
    assert_eq!(s.parked.len(), MAX_PARKED);
    let kept: Vec<u16> = s.parked.iter().map(|p| p.target.port).collect();
    assert_eq!(kept, [8767, 8768, 8769, 8770]);
    // What a server let go still sends is dropped.
    event(&mut s, 0, "late", 5.0);
    assert!(s.parked.iter().all(|p| p.events.is_empty()));
}

#[test]
fn two_servers_on_one_project_raise_their_alert_from_the_scan() {
    let mut s = fresh(false);
    let h = crate::probes::http::Health::parse(
        json!({"status": "running", "service": "mpm-top", "clients": 0}),
        std::time::Duration::ZERO,
    );
    update(&mut s, Action::Tick(at(1.0)));
    update(&mut s, Action::Health(Ok(h)));
    scan(&mut s, vec![row(8765, "~/a"), row(8770, "~/a")], 1.5);
    update(&mut s, Action::Tick(at(2.0)));
    let kinds: Vec<_> = s.alerts.active.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [crate::checks::alerts::AlertKind::SameProject]);
    assert_eq!(
        s.alerts.active[0].message,
        "2 servers run for ~/a (ports 8765, 8770)"
    );
    scan(&mut s, vec![row(8765, "~/a")], 6.5);
    update(&mut s, Action::Tick(at(7.0)));
    assert!(s.alerts.active.is_empty());
}

#[test]
fn enter_on_the_server_watched_only_closes_the_view() {
    let mut s = fresh(false);
    scan(&mut s, vec![row(8765, "~/a"), row(8766, "~/b")], 1.0);
    press(&mut s, Key::Char('S'));
    assert_eq!(
        s.server_selected, 0,
        "the selection starts on the server watched"
    );
    assert_eq!(press(&mut s, Key::Enter), []);
    assert_eq!(s.view, None);
    press(&mut s, Key::Char('S'));
    press(&mut s, Key::Esc);
    assert_eq!(s.view, None);
}

#[test]
fn r_refuses_a_server_switched_to_it_was_started_with_another_configuration() {
    let mut s = fresh(false);
    scan(&mut s, vec![row(8765, "~/a"), row(8766, "~/b")], 1.0);
    switch_to(&mut s, 8766);
    assert_eq!(press(&mut s, Key::Char('r')), []);
    assert!(s.dialog.is_none() && s.busy.is_none());
}

#[test]
fn the_selection_stays_on_its_server_when_the_list_changes() {
    let mut s = fresh(false);
    scan(&mut s, vec![row(8765, "~/a"), row(8770, "~/b")], 1.0);
    press(&mut s, Key::Char('S'));
    press(&mut s, Key::Down);
    assert_eq!(s.servers[s.server_selected].port, 8770);
    scan(
        &mut s,
        vec![row(8765, "~/a"), row(8766, "~/c"), row(8770, "~/b")],
        6.0,
    );
    assert_eq!(
        s.servers[s.server_selected].port, 8770,
        "a new row above moved it"
    );
}

#[test]
fn the_alerts_of_a_server_let_go_stay_in_the_bundle() {
    let mut s = fresh(false);
    let rows: Vec<ServerRow> = (8765..8775).map(|p| row(p, "~/p")).collect();
    scan(&mut s, rows, 1.0);
    s.alerts.history.push(crate::app::alerts::Raised {
        kind: crate::checks::alerts::AlertKind::Fds,
        raised: at(1.0),
        cleared: Some(at(2.0)),
        message: "900 of 1000".into(),
    });
    for port in 8766..8772 {
        switch_to(&mut s, port);
    }
    assert!(
        s.parked.iter().all(|p| p.target.port != 8765),
        "8765 was let go"
    );
    let text = crate::app::alerts::history_text(&s);
    assert!(
        text.starts_with("127.0.0.1:8765: file descriptors raised 10:00:01.000"),
        "{text}"
    );
}
