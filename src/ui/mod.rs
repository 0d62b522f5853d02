//! Pure rendering: `render(frame, &State, &Theme, &LogView)` only reads the state (it never
//! reads a clock: every time shown was stamped where it happened), so whole screens are
//! snapshot-tested. The one thing drawn from outside the state is the Log pane: tui-logger keeps
//! mpm-top's log lines itself, and its widget state (selection, levels, scrolling) is `LogView`.
//!
//! ```text
//! ┌1 Status──────────────┐┌2 Events─────────────────────────┐
//! │ target, kind, health ││ time  src  name  session  summary│
//! ├3 Rates───────────────┤├4 Resources──────────────────────┤
//! │ events/s per type    ││ RSS, CPU, fds; socket table      │
//! ├5 Config──────────────┤├6 Log────────────────────────────┤
//! │ key value source     ││ what mpm-top did                 │
//! └──────────────────────┘└─────────────────────────────────┘
//!  footer: keys
//! ```

pub mod format;
mod overlay;
mod panes;
mod resources;
mod servers;
mod status;
mod stream;
pub mod theme;
mod views;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub use format::bytes;
pub use theme::Theme;

use crate::app::{FOOTER_KEYS, LOG_KEYS, Pane, State};

/// The Log pane's widget state (tui-logger's): which topics and levels it shows, and where it
/// is scrolled to.
pub type LogView = tui_logger::TuiWidgetState;

/// Smallest terminal the layout fits.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// Draws the whole screen.
pub fn render(frame: &mut Frame, state: &State, theme: &Theme, log: &LogView) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let text = format!(
            "Terminal too small: mpm-top needs {}×{}, this one is {}×{}. Enlarge it, or press q to quit.",
            MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [main, footer] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    if state.zoom {
        pane(frame, state, theme, log, (state.focus, main));
    } else {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)])
                .areas(main);
        let [status, rates, config] = Layout::vertical([
            Constraint::Length(12),
            Constraint::Min(6),
            Constraint::Length(9),
        ])
        .areas(left);
        let [events, resources, log_area] = Layout::vertical([
            Constraint::Min(8),
            Constraint::Length(9),
            Constraint::Length(7),
        ])
        .areas(right);
        for (p, r) in [
            (Pane::Status, status),
            (Pane::Rates, rates),
            (Pane::Config, config),
            (Pane::Events, events),
            (Pane::Resources, resources),
            (Pane::Log, log_area),
        ] {
            pane(frame, state, theme, log, (p, r));
        }
    }
    footer_line(frame, state, theme, footer);
    views::render(frame, state, theme, main);
    overlay::render(frame, state, theme, main);
    make_controls_visible(frame);
}

/// The last line of defence: text from outside is sanitised where it enters the state, and
/// whatever still holds a control character here (a path, a config value) is shown as `�`
/// rather than handed to the terminal, which would act on it.
fn make_controls_visible(frame: &mut Frame) {
    let area = frame.area();
    let buffer = frame.buffer_mut();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            if let Some(cell) = buffer.cell_mut((x, y))
                && cell.symbol().chars().any(char::is_control)
            {
                cell.set_symbol("�");
            }
        }
    }
}

fn pane(frame: &mut Frame, state: &State, theme: &Theme, log: &LogView, at: (Pane, Rect)) {
    let (which, area) = at;
    let style = if state.focus == which {
        theme.focus
    } else {
        theme.border
    };
    let title = if which == Pane::Events {
        stream::events_title(state)
    } else {
        which.title().to_owned()
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(title, style));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match which {
        Pane::Status => status::status(frame, state, theme, inner),
        Pane::Events => stream::events(frame, state, theme, inner),
        Pane::Rates => panes::rates(frame, state, theme, inner),
        Pane::Resources => resources::resources(frame, state, theme, inner),
        Pane::Config => panes::config(frame, state, theme, inner),
        Pane::Log => panes::log(frame, state, theme, log, inner),
    }
}

fn footer_line(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let mut spans = Vec::new();
    if state.replay.is_some() {
        spans.push(Span::styled(" REPLAY ", theme.warn));
    } else if state.read_only {
        spans.push(Span::styled(" READ-ONLY ", theme.warn));
    }
    if state.editing_filter {
        spans.push(Span::raw(format!(
            " filter: {}▏ (Enter to keep, Esc to stop)",
            crate::text::sanitize(&state.filter)
        )));
    } else {
        let used: usize = spans.iter().map(Span::width).sum();
        for (key, what) in footer_keys(state, usize::from(area.width).saturating_sub(used)) {
            spans.push(Span::styled(format!(" {key}"), theme.focus));
            spans.push(Span::styled(format!(" {what}"), theme.dim));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The footer's keys for `width` columns: help and quit always (last), and before them as many
/// of the others, in priority order, as fit; `g` first while a switch is offered, and `p`
/// saying what it will do.
fn footer_keys(state: &State, width: usize) -> Vec<(&'static str, &'static str)> {
    use crate::app::state::View;
    let mut keys: Vec<(&str, &str)> = Vec::new();
    // A view takes its own keys; the actions below it still work.
    match state.view {
        Some(View::Servers) => {
            keys.extend([
                ("Up/Down", "select"),
                ("Enter", "monitor it"),
                ("S/Esc", "close"),
                ("C", "clients"),
                ("?", "help"),
                ("q", "quit"),
            ]);
            return fit(&keys, width);
        }
        Some(View::Clients) => {
            keys.extend([
                ("C/Esc", "close"),
                ("S", "servers"),
                ("?", "help"),
                ("q", "quit"),
            ]);
            return fit(&keys, width);
        }
        None => {}
    }
    if let Some(replay) = &state.replay {
        keys.push(("space", if replay.playing { "pause" } else { "play" }));
        keys.extend([
            ("←/→", "seek"),
            ("[ ]", "speed"),
            ("Home/End", "start/end"),
            ("/", "filter"),
            ("Enter", "detail"),
            ("Tab", "focus"),
            ("z", "zoom"),
            ("?", "help"),
            ("q", "quit"),
        ]);
        return fit(&keys, width);
    }
    if state.zoom && state.focus == Pane::Log {
        keys.extend(LOG_KEYS.iter().copied());
        keys.extend([("Esc", "unzoom"), ("?", "help"), ("q", "quit")]);
        return fit(&keys, width);
    }
    if state.offer.is_some() {
        keys.push(("g", "switch"));
    }
    keys.extend(FOOTER_KEYS.iter().map(|&(k, w)| match k {
        "p" if state.paused.is_some() => (k, "resume"),
        _ => (k, w),
    }));
    fit(&keys, width)
}

/// As many keys as fit in `width`, in order, and always the last two (help and quit).
fn fit(keys: &[(&'static str, &'static str)], width: usize) -> Vec<(&'static str, &'static str)> {
    let cost = |(k, w): &(&str, &str)| 2 + k.chars().count() + w.chars().count();
    let (rest, always) = keys.split_at(keys.len() - 2);
    let mut room = width.saturating_sub(always.iter().map(cost).sum());
    let mut keys: Vec<_> = rest
        .iter()
        .take_while(|k| {
            let fits = cost(k) <= room;
            room = room.saturating_sub(cost(k));
            fits
        })
        .copied()
        .collect();
    keys.extend_from_slice(always);
    keys
}

#[cfg(test)]
mod tests {
    use super::footer_keys;
    use crate::app::{Offer, State};
    use crate::target::{Chosen, Target};

    fn state() -> State {
        let target = Target {
            scheme: "http",
            host: "h".into(),
            port: 1,
            chosen: Chosen::Default,
        };
        State::new(target, false)
    }

    #[test]
    fn help_and_quit_always_fit_and_the_rest_follow_by_priority() {
        let s = state();
        let narrow = footer_keys(&s, 20);
        assert_eq!(narrow, [("?", "help"), ("q", "quit")]);
        let wide: usize = footer_keys(&s, 120)
            .iter()
            .map(|(k, w)| 2 + k.len() + w.len())
            .sum();
        assert!(wide <= 120, "{wide}");
        assert!(footer_keys(&s, 120).len() > 8);
        assert_eq!(footer_keys(&s, 1000).len(), crate::app::FOOTER_KEYS.len());
    }

    #[test]
    fn an_offered_switch_comes_first_and_pause_says_resume() {
        let mut s = state();
        s.offer = Some(Offer {
            port: 8779,
            kind: "mpm-top".into(),
        });
        s.paused = Some(0);
        let keys = footer_keys(&s, 120);
        assert_eq!(keys[0], ("g", "switch"));
        assert!(keys.contains(&("p", "resume")));
    }
}
