//! Pure rendering: `render(frame, &State, &Theme)` only reads the state (time came in a tick),
//! so whole screens are snapshot-tested.
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

mod overlay;
mod panes;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub use theme::Theme;

use crate::app::{KEYS, Pane, State};

/// Smallest terminal the layout fits.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// Draws the whole screen.
pub fn render(frame: &mut Frame, state: &State, theme: &Theme) {
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
        pane(frame, state, theme, state.focus, main);
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
        let [events, resources, log] = Layout::vertical([
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
            (Pane::Log, log),
        ] {
            pane(frame, state, theme, p, r);
        }
    }
    footer_line(frame, state, theme, footer);
    overlay::render(frame, state, theme, main);
}

fn pane(frame: &mut Frame, state: &State, theme: &Theme, which: Pane, area: Rect) {
    let style = if state.focus == which {
        theme.focus
    } else {
        theme.border
    };
    let title = if which == Pane::Events {
        panes::events_title(state)
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
        Pane::Status => panes::status(frame, state, theme, inner),
        Pane::Events => panes::events(frame, state, theme, inner),
        Pane::Rates => panes::rates(frame, state, theme, inner),
        Pane::Resources => panes::resources(frame, state, theme, inner),
        Pane::Config => panes::config(frame, state, theme, inner),
        Pane::Log => panes::log(frame, state, theme, inner),
    }
}

fn footer_line(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let mut spans = Vec::new();
    if state.read_only {
        spans.push(Span::styled(" READ-ONLY ", theme.warn));
    }
    if state.editing_filter {
        spans.push(Span::raw(format!(
            " filter: {}▏ (Enter to keep, Esc to stop)",
            state.filter
        )));
    } else {
        for (key, what) in KEYS {
            spans.push(Span::styled(format!(" {key}"), theme.focus));
            spans.push(Span::styled(format!(" {what}"), theme.dim));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
