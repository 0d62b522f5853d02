//! What is drawn over the panes: help, confirm dialogs, the selected event's payload.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::Theme;
use crate::app::{Dialog, HELP_KEYS, LOG_KEYS, Pane, REPLAY_KEYS, State};

/// The help: a replay's controls first when replaying, then the console's keys (without those
/// a replay turns off or gives another meaning), then a few reminders.
fn help_lines(state: &State, theme: &Theme) -> Vec<Line<'static>> {
    if state.zoom && state.focus == Pane::Log {
        return log_help_lines(theme);
    }
    // Replaying, its controls come first; the console's own keys follow.
    let replaying = if state.replay.is_some() {
        &REPLAY_KEYS[..]
    } else {
        &[]
    };
    // What is off or means something else in a replay is not listed twice.
    let live_only = |k: &&(&str, &str)| {
        state.replay.is_none()
            || !matches!(
                k.0,
                "s" | "r" | "K" | "R" | "c" | "d" | "g" | "w" | "Home/End"
            )
    };
    let mut lines: Vec<Line> = replaying
        .iter()
        .chain(HELP_KEYS.iter().filter(live_only))
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>10}  "), theme.focus),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    // Short lines: the box's height counts lines, so nothing may wrap.
    for reminder in [
        "K, R, and r on a server not mpm-top's, ask first:",
        "nothing happens without y.",
        "Times are local; durations come from the sender's clock when both ends carry it.",
        "Any key closes this help.",
    ] {
        lines.push(Line::from(Span::styled(reminder, theme.dim)));
    }
    lines
}

/// The zoomed Log pane's help: tui-logger's keys, as the console binds them.
fn log_help_lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = vec![Line::from(Span::styled(
        "The zoomed Log pane: topics are what a line is about (feed, probe, action, ...)",
        theme.dim,
    ))];
    lines.extend(
        LOG_KEYS
            .iter()
            .chain(&[("Esc", "unzoom"), ("q", "quit")])
            .map(|(k, what)| {
                Line::from(vec![
                    Span::styled(format!("{k:>10}  "), theme.focus),
                    Span::raw(*what),
                ])
            }),
    );
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Esc, then ?, lists the console's other keys. Any key closes this help.",
        theme.dim,
    )));
    lines
}

fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let [_, v, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(height.min(area.height)),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, h, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(width.min(area.width)),
        Constraint::Fill(1),
    ])
    .areas(v);
    h
}

fn boxed(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line>,
    style: ratatui::style::Style,
) {
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(title.to_owned(), style));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// Draws whichever overlay is open.
/// A holder on one line that fits the dialog: the PID, the address, the start of its command.
fn brief(h: &crate::actions::holder::Holder) -> String {
    let head = format!("PID {} on {}: ", h.process.pid, h.local);
    let room = 80usize.saturating_sub(head.chars().count()).max(10);
    format!(
        "{head}{}",
        crate::text::truncate(&h.process.program_and_args(), room)
    )
}

/// Lines of a change a dialog lists before it says how many more there are.
const SHOWN: usize = 16;

/// A dialog's title and the exact things it will affect, one line each.
fn dialog_lines(dialog: &Dialog) -> (&'static str, Vec<String>) {
    match dialog {
        Dialog::Kill(targets) => (
            "Kill port holders",
            targets
                .iter()
                .map(|h| format!("  SIGTERM, then SIGKILL: {}", brief(h)))
                .collect(),
        ),
        Dialog::Restart(targets) => (
            "Restart a server that is not mpm-top's",
            targets
                .iter()
                .map(|h| format!("  stop {}", brief(h)))
                .collect(),
        ),
        Dialog::ResetConfig { file, exists, diff } => {
            let mut lines = vec![if *exists {
                format!("  {file}: a backup first, then only its socketio: lines change:")
            } else {
                format!("  create {file} (there is none) with the default socketio: section:")
            }];
            lines.extend(diff.iter().take(SHOWN).map(|l| format!("    {l}")));
            if diff.len() > SHOWN {
                lines.push(format!(
                    "    … and {} more (mpm-top reset-config shows all)",
                    diff.len() - SHOWN
                ));
            }
            ("Reset configuration", lines)
        }
    }
}

pub fn render(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    if let Some(dialog) = &state.dialog {
        let (title, what) = dialog_lines(dialog);
        // One line per target, cut to the box: a wrapped line would push later targets and
        // the keys out of the box.
        let inner = usize::from(area.width.min(90).saturating_sub(2));
        let mut lines: Vec<Line> = vec![Line::from("This will affect exactly:")];
        lines.extend(
            what.into_iter()
                .map(|l: String| Line::from(crate::text::truncate(&l, inner.saturating_sub(1)))),
        );
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("y", theme.bad),
            Span::raw(" go ahead   "),
            Span::styled("n/Esc", theme.ok),
            Span::raw(" cancel"),
        ]));
        let height = u16::try_from(lines.len())
            .unwrap_or(u16::MAX)
            .saturating_add(2);
        boxed(frame, centred(area, 90, height), title, lines, theme.bad);
    } else if state.help {
        let lines = help_lines(state, theme);
        let height = u16::try_from(lines.len())
            .unwrap_or(u16::MAX)
            .saturating_add(2);
        boxed(frame, centred(area, 86, height), "Keys", lines, theme.focus);
    } else if state.detail {
        // serde_json escapes C0 controls in strings, not C1, DEL or bidi controls: the lines
        // are sanitised like any other text from outside.
        let text = state.selected_event().map_or_else(
            || {
                "the selected event is no longer held (the stream keeps the newest 2,000)"
                    .to_owned()
            },
            |e| {
                format!(
                    "{} {} {}\n{}",
                    e.at.clock_text(),
                    e.origin.label(),
                    e.name,
                    serde_json::to_string_pretty(&e.payload).unwrap_or_default()
                )
            },
        );
        let box_area = centred(
            area,
            area.width.saturating_sub(10),
            area.height.saturating_sub(4),
        );
        let text = crate::text::sanitize_lines(&text);
        let all: Vec<&str> = text.lines().collect();
        let room = usize::from(box_area.height.saturating_sub(2)).max(1);
        let top = state.detail_scroll.min(all.len().saturating_sub(room));
        let below = all.len().saturating_sub(top + room);
        let lines: Vec<Line> = all
            .iter()
            .skip(top)
            .take(room)
            .map(|l| Line::from((*l).to_owned()))
            .collect();
        let title = match (top, below) {
            (0, 0) => "Event (Enter or Esc closes)".to_owned(),
            (_, 0) => format!("Event: {top} lines above (Up/PgUp; Enter or Esc closes)"),
            _ => format!("Event: {below} more lines below (Down/PgDn; Enter or Esc closes)"),
        };
        boxed(frame, box_area, &title, lines, theme.focus);
    }
}
