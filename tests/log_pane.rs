//! The Log pane is tui-logger's widget: known lines go in as the console sends them (the
//! effects `update` returns, through `tracing`), and whole screens come out. tui-logger's
//! logger is one per process, so this binary holds the only test that feeds it, and the
//! screens are taken in order. Regenerate with `INSTA_UPDATE=always cargo test --test log_pane`.
#![allow(clippy::unwrap_used)]

use mpm_top::app::{Action, Effect, Key, Stamp, State, update};
use mpm_top::console::logging;
use mpm_top::probes::http::Health;
use mpm_top::target::{Chosen, Target};
use mpm_top::ui::{LogView, Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

fn screen(state: &State, view: &LogView) -> String {
    logging::flush();
    let mut terminal = Terminal::new(TestBackend::new(120, 36)).unwrap();
    terminal
        .draw(|f| render(f, state, &Theme::new(true), view))
        .unwrap();
    terminal.backend().to_string()
}

/// Applies `action` as the console does: log lines are logged, widget keys reach the view.
fn apply(state: &mut State, view: &LogView, action: Action) {
    for effect in update(state, action) {
        match effect {
            Effect::Log(entry) => logging::emit(&entry),
            Effect::LogView(key) => logging::press(view, key),
            _ => {}
        }
    }
}

/// Presses `keys`, drawing after each as the console does: tui-logger's widget learns what is
/// selected when it is drawn, so a key acts on what the last frame showed.
fn key(state: &mut State, view: &LogView, keys: &[Key]) {
    for k in keys {
        apply(state, view, Action::Key(*k));
        screen(state, view);
    }
}

#[test]
fn the_log_pane_draws_tui_loggers_lines_and_takes_its_keys() {
    logging::init(None);
    let view = logging::view();
    let target = Target {
        scheme: "http",
        host: "127.0.0.1".into(),
        port: 9100,
        chosen: Chosen::Named("flag --port".into()),
    };
    let mut s = State::new(target, false);
    apply(&mut s, &view, Action::Tick(Stamp::fixed(10.0)));
    let health = Health::parse(
        json!({"status": "running", "service": "mpm-top", "pid": 4242, "uptime": 75, "clients": 2}),
        std::time::Duration::ZERO,
    );
    // One line per topic and level: probe info, feed info and warning, action info and error,
    // a console note, and a recording's line.
    apply(&mut s, &view, Action::Health(Ok(health)));
    apply(&mut s, &view, Action::Connected);
    apply(
        &mut s,
        &view,
        Action::Disconnected("connection refused".into()),
    );
    apply(&mut s, &view, Action::Done("wrote debug_info.txt".into()));
    apply(
        &mut s,
        &view,
        Action::Failed("restart: port 9100 is held by a process not ours".into()),
    );
    apply(
        &mut s,
        &view,
        Action::Note("a long line wraps in the pane rather than losing its end, where an error says why it failed: ".repeat(2)),
    );
    apply(
        &mut s,
        &view,
        Action::Logged("09:59:59 a line read back from a recording".into()),
    );
    insta::assert_snapshot!("log_in_the_layout", screen(&s, &view));

    key(&mut s, &view, &[Key::Char('6'), Key::Char('z')]);
    insta::assert_snapshot!("log_zoomed_with_topics", screen(&s, &view));

    // The widget's own keys: Down twice to the third topic (feed); Left shows a level less of
    // it (warnings and errors, not info); f shows only that topic.
    let fewer = [Key::Down, Key::Down, Key::Left];
    key(&mut s, &view, &fewer);
    key(&mut s, &view, &[Key::Char('f')]);
    insta::assert_snapshot!("log_one_topic_warnings_only", screen(&s, &view));

    // h hides the topic list; Esc leaves the zoom (and the widget's page mode).
    key(&mut s, &view, &[Key::Char('f'), Key::Char('h')]);
    insta::assert_snapshot!("log_zoomed_without_topics", screen(&s, &view));
    key(&mut s, &view, &[Key::Esc]);
    assert!(!s.zoom, "Esc leaves the zoom");
}
