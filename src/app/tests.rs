//! Reducer tests: key and event sequences in, state and effects out.

use serde_json::json;

use super::*;
use crate::actions::holder::Holder;
use crate::actions::restart::Confirmed;
use crate::probes::process::ProcessInfo;
use crate::probes::sockets::SocketRow;
use crate::target::{Chosen, Target};

thread_local! {
    /// mpm-top's log lines the test's `update`s returned (each test has a thread of its own).
    static LOGGED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `update`, with the log lines it returns kept for [`logged`] and the other effects returned.
pub(super) fn update(state: &mut State, action: Action) -> Vec<Effect> {
    let (lines, effects): (Vec<Effect>, Vec<Effect>) = super::update(state, action)
        .into_iter()
        .partition(|e| matches!(e, Effect::Log(_)));
    LOGGED.with(|l| {
        l.borrow_mut()
            .extend(lines.into_iter().filter_map(|e| match e {
                Effect::Log(entry) => Some(entry.line),
                _ => None,
            }));
    });
    effects
}

/// Every log line this test's `update`s returned, oldest first.
pub(super) fn logged() -> Vec<String> {
    LOGGED.with(|l| l.borrow().clone())
}

/// A target nobody named, for tests.
pub(super) fn target(port: u16) -> Target {
    Target {
        scheme: "http",
        host: "127.0.0.1".into(),
        port,
        chosen: Chosen::Default,
    }
}

pub(super) fn fresh(read_only: bool) -> State {
    State::new(target(8765), read_only)
}

pub(super) fn at(secs: f64) -> Stamp {
    Stamp::fixed(secs)
}

pub(super) fn holder(pid: u32) -> Holder {
    Holder {
        process: ProcessInfo {
            pid,
            name: "python".into(),
            cmdline: "python -m claude_mpm monitor".into(),
            uid: Some("1000".into()),
            start_time: 99,
        },
        inode: 1000 + pid,
        local: "127.0.0.1:8765".into(),
        is_mpm_top: false,
    }
}

/// What the probes report when `pids` hold the target's listening socket.
pub(super) fn listening(pids: &[u32]) -> Action {
    let holders: Vec<Holder> = pids.iter().map(|p| holder(*p)).collect();
    let rows = holders
        .iter()
        .map(|h| SocketRow {
            state: "LISTEN".into(),
            local: h.local.clone(),
            remote: "0.0.0.0:0".into(),
            owners: vec![h.process.clone()],
            inode: h.inode,
        })
        .collect();
    Action::Resources {
        process: None,
        sockets: rows,
        holders: Ok(holders),
        at: at(0.0),
    }
}

pub(super) fn press(state: &mut State, keys: &str) -> Vec<Effect> {
    keys.chars()
        .flat_map(|c| update(state, Action::Key(Key::Char(c))))
        .collect()
}

/// A tool event from the feed, arriving at `secs`, without a sender timestamp.
pub(super) fn tool_at(state: &mut State, subtype: &str, correlation: &str, secs: f64) {
    let data = json!({"type": "tool_event", "subtype": subtype, "session_id": "s-1", "correlation_id": correlation, "data": {"tool_name": "Bash", "status": "success"}});
    update(
        state,
        Action::FeedEvent {
            name: "tool_event".into(),
            data,
            at: at(secs),
        },
    );
}

fn tool(state: &mut State, subtype: &str, correlation: &str) {
    let now = state.now.mono;
    tool_at(state, subtype, correlation, now);
}

#[test]
fn pre_and_post_tool_pair_into_tool_start_and_stop_with_a_duration() {
    let mut s = fresh(false);
    tool_at(&mut s, "pre_tool", "c-1", 10.0);
    assert_eq!(s.running.len(), 1);
    tool_at(&mut s, "post_tool", "c-1", 12.5);
    let names: Vec<&str> = s.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["tool_start", "tool_stop"]);
    assert_eq!(s.events.last().unwrap().duration, Some(2.5));
    assert!(s.running.is_empty());
    assert_eq!(s.totals.get("tool_start"), 1);
}

#[test]
fn a_tool_open_for_minutes_is_listed() {
    let mut s = fresh(false);
    tool(&mut s, "pre_tool", "c-9");
    update(&mut s, Action::Tick(at(200.0)));
    assert_eq!(events::long_running(&s), [("Bash".to_owned(), 200.0)]);
}

#[test]
fn kill_opens_a_dialog_with_the_targets_captured_and_acts_only_on_y() {
    let mut s = fresh(false);
    update(&mut s, listening(&[42]));
    assert_eq!(press(&mut s, "K"), []);
    assert_eq!(s.dialog, Some(Dialog::Kill(vec![holder(42)])));
    update(&mut s, listening(&[43])); // the port changed hands after the dialog opened
    assert_eq!(
        press(&mut s, "z"),
        [],
        "other keys do nothing while it is open"
    );
    assert!(s.dialog.is_some());
    assert_eq!(
        press(&mut s, "y"),
        [Effect::Kill(target(8765), vec![holder(42)])],
        "acts on what was shown"
    );
    assert_eq!(s.dialog, None);
    update(&mut s, Action::Done("killed".into()));
    press(&mut s, "K");
    assert_eq!(press(&mut s, "n"), []);
    assert!(
        logged()
            .iter()
            .any(|l| l.contains("cancelled: nothing was changed"))
    );
}

#[test]
fn restarting_a_server_that_is_not_ours_asks_and_ours_does_not() {
    let mut s = fresh(false);
    s.server.kind = Some("mpm-top".into());
    assert_eq!(
        press(&mut s, "r"),
        [Effect::Restart(target(8765), Confirmed::NotNeeded)]
    );
    update(&mut s, Action::Done("restarted".into()));
    s.server.kind = Some("Claude MPM".into());
    update(&mut s, listening(&[42]));
    assert_eq!(press(&mut s, "r"), []);
    assert_eq!(s.dialog, Some(Dialog::Restart(vec![holder(42)])));
    assert_eq!(
        press(&mut s, "y"),
        [Effect::Restart(
            target(8765),
            Confirmed::Shown(vec![holder(42)])
        )],
        "the dialog's holders travel with the effect"
    );
    update(&mut s, Action::Done("restarted".into()));
    let file = "~/.claude/config.yaml".to_owned();
    assert_eq!(press(&mut s, "R"), [Effect::PlanReset(file.clone())]);
    let diff = vec!["- port: 9000".to_owned(), "+ port: 8765".to_owned()];
    update(&mut s, Action::ResetPlanned(Ok((true, diff.clone()))));
    assert_eq!(
        s.dialog,
        Some(Dialog::ResetConfig {
            file: file.clone(),
            exists: true,
            diff: diff.clone()
        }),
        "the dialog shows the change itself"
    );
    assert_eq!(
        press(&mut s, "y"),
        [Effect::ResetConfig { file, diff }],
        "and acts on exactly that change"
    );
}

#[test]
fn read_only_disables_every_action_and_says_so() {
    let mut s = fresh(true);
    update(&mut s, listening(&[42]));
    assert_eq!(press(&mut s, "srKR"), []);
    assert_eq!(s.dialog, None);
    assert_eq!(
        logged().iter().filter(|l| l.contains("read-only")).count(),
        4
    );
    assert_eq!(
        press(&mut s, "c"),
        [Effect::Collect(target(8765))],
        "reading is still allowed"
    );
    update(&mut s, Action::Done("wrote debug_info.txt".into()));
    assert_eq!(press(&mut s, "d"), [Effect::Doctor(target(8765))]);
}

#[test]
fn pause_counts_what_arrives_and_the_filter_narrows_the_stream() {
    let mut s = fresh(false);
    press(&mut s, "p");
    tool(&mut s, "pre_tool", "c-1");
    tool(&mut s, "pre_tool", "c-2");
    assert_eq!(s.held_back(), 2);
    press(&mut s, "p");
    assert_eq!(s.held_back(), 0);
    assert!(
        logged()
            .last()
            .unwrap()
            .contains("2 event(s) arrived while paused")
    );
    update(
        &mut s,
        Action::FeedEvent {
            name: "claude_event".into(),
            data: json!({"subtype": "user_prompt"}),
            at: at(1.0),
        },
    );
    press(&mut s, "/prompt");
    update(&mut s, Action::Key(Key::Enter));
    assert!(!s.editing_filter);
    let visible: Vec<&str> = s.visible_events().map(|e| e.subtype.as_str()).collect();
    assert_eq!(visible, ["user_prompt"]);
    press(&mut s, "x");
    assert!(s.events.is_empty());
}

#[test]
fn focus_zoom_window_help_and_quit() {
    let mut s = fresh(false);
    press(&mut s, "4");
    assert_eq!(s.focus, Pane::Resources);
    update(&mut s, Action::Key(Key::Tab));
    assert_eq!(s.focus, Pane::Config);
    press(&mut s, "z++++++");
    assert!(s.zoom);
    assert_eq!(s.window(), 3600);
    press(&mut s, "-");
    assert_eq!(s.window(), 900);
    press(&mut s, "?");
    assert!(s.help);
    press(&mut s, "q");
    assert!(!s.quit && !s.help, "the first key closes help");
    press(&mut s, "q");
    assert!(s.quit);
}

#[test]
fn rates_count_per_second_and_buffers_stay_bounded() {
    let mut s = fresh(false);
    tool(&mut s, "pre_tool", "a");
    tool(&mut s, "pre_tool", "b");
    update(&mut s, Action::Tick(at(1.2)));
    tool(&mut s, "pre_tool", "c");
    let ring: Vec<u32> = s.rates["tool_start"].iter().copied().collect();
    assert_eq!(ring, [2, 1]);
    for i in 0..(state::EVENT_CAPACITY + 500) {
        update(
            &mut s,
            Action::FeedEvent {
                name: "x".into(),
                data: json!({"i": i}),
                at: at(2.0),
            },
        );
    }
    assert_eq!(s.events.len(), state::EVENT_CAPACITY);
    // A jump past the whole history: silence everywhere, at the cost of one step, and the
    // next event is counted in the new second.
    update(&mut s, Action::Tick(at(100_000.0)));
    let ring = &s.rates["tool_start"];
    assert!(ring.len() <= state::RATE_HISTORY && ring.iter().all(|n| *n == 0));
    tool(&mut s, "pre_tool", "d");
    assert_eq!(s.rates["tool_start"].last(), Some(&1));
    update(&mut s, Action::Tick(at(100_003.0)));
    let ring: Vec<u32> = s.rates["tool_start"].iter().copied().collect();
    assert_eq!(ring, [1, 0, 0, 0]);
}

#[test]
fn the_server_going_and_coming_back_is_shown_not_a_crash() {
    let mut s = fresh(false);
    let health = crate::probes::http::Health::parse(
        json!({"status": "running", "service": "mpm-top", "pid": 5}),
        std::time::Duration::ZERO,
    );
    update(&mut s, Action::Health(Ok(health.clone())));
    update(&mut s, Action::Connected);
    update(&mut s, Action::Health(Err("connection refused".into())));
    update(&mut s, Action::Disconnected("closed".into()));
    assert_eq!(s.server.kind, None);
    assert!(!s.connected);
    update(&mut s, Action::Health(Ok(health)));
    assert_eq!(s.server.kind.as_deref(), Some("mpm-top"));
    assert_eq!(
        s.availability.iter().copied().collect::<Vec<_>>(),
        [true, false, true]
    );
    assert!(logged().iter().any(|l| l.contains("server went away")));
}

#[test]
fn log_lines_are_returned_as_effects_with_their_level_and_topic() {
    let mut s = fresh(false);
    let effects = super::update(&mut s, Action::Failed("port held".into()));
    let [Effect::Log(entry)] = effects.as_slice() else {
        panic!("one log line: {effects:?}");
    };
    assert_eq!((entry.level, entry.topic), (Level::Error, Topic::Action));
    assert!(entry.line.ends_with("failed: port held"), "{}", entry.line);
    let effects = super::update(&mut s, Action::Disconnected("refused (retry in 1s)".into()));
    assert!(
        matches!(effects.as_slice(), [Effect::Log(e)] if e.level == Level::Warn && e.topic == Topic::Feed),
        "{effects:?}"
    );
    assert!(
        s.take_log().is_empty(),
        "update hands out every line it wrote"
    );
}

#[test]
fn the_zoomed_log_pane_takes_its_own_keys() {
    let mut s = fresh(false);
    // Not zoomed on the log: + and - move the rate window, arrows select events.
    press(&mut s, "+");
    assert_eq!(s.rate_window, 1);
    press(&mut s, "6z");
    assert_eq!(
        press(&mut s, "+-f "),
        [
            Effect::LogView(LogKey::CaptureMore),
            Effect::LogView(LogKey::CaptureLess),
            Effect::LogView(LogKey::Focus),
            Effect::LogView(LogKey::HideOff),
        ]
    );
    assert_eq!(s.rate_window, 1, "the rate window did not move");
    assert_eq!(
        update(&mut s, Action::Key(Key::Left)),
        [Effect::LogView(LogKey::Less)]
    );
    press(&mut s, "h");
    assert!(s.log_topics_hidden);
    assert_eq!(
        update(&mut s, Action::Key(Key::Esc)),
        [Effect::LogView(LogKey::Escape)]
    );
    assert!(!s.zoom, "Esc also unzooms");
    assert_eq!(update(&mut s, Action::Key(Key::Up)), []);
}

#[test]
fn a_feed_failing_two_ways_in_turn_says_each_once_until_it_connects() {
    let mut s = fresh(false);
    let lines = |s: &mut State, why: &str| {
        super::update(s, Action::Disconnected(format!("{why} (retry in 1.00s)")))
            .into_iter()
            .filter(|e| matches!(e, Effect::Log(_)))
            .count()
    };
    assert_eq!(lines(&mut s, "refused a polling handshake"), 1);
    assert_eq!(lines(&mut s, "cannot connect"), 1);
    for _ in 0..5 {
        assert_eq!(lines(&mut s, "refused a polling handshake"), 0);
        assert_eq!(lines(&mut s, "cannot connect"), 0);
    }
    update(&mut s, Action::Connected);
    assert_eq!(
        lines(&mut s, "cannot connect"),
        1,
        "said again after a connect"
    );
}

#[test]
fn the_doctors_worst_finding_is_logged_at_its_level_and_recorded_lines_keep_theirs() {
    let mut s = fresh(false);
    let effects = super::update(
        &mut s,
        Action::Doctor(Status::Fail, "hooks post elsewhere".into()),
    );
    assert!(
        matches!(effects.as_slice(), [Effect::Log(e)] if e.level == Level::Error && e.topic == Topic::Action),
        "{effects:?}"
    );
    assert!(super::update(&mut s, Action::Doctor(Status::Ok, "all good".into())).is_empty());
    let entry = LogEntry {
        level: Level::Warn,
        topic: Topic::Feed,
        line: "12:00:00 feed: refused\x1b[2J".into(),
    };
    let effects = super::update(&mut s, Action::LoggedAs(entry));
    let [Effect::Log(replayed)] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!((replayed.level, replayed.topic), (Level::Warn, Topic::Feed));
    assert_eq!(
        replayed.line, "12:00:00 feed: refused\\e[2J",
        "shown, never obeyed"
    );
}
