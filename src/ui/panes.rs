//! The Rates, Config and Log panes. Each draws into the inside of its block.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table};

use tui_logger::{TuiLoggerLevelOutput, TuiLoggerTargetWidget, TuiLoggerWidget};

use super::{LogView, Theme};
use crate::app::{Pane, State};

/// Rates: events/s per type over the window, with totals.
pub fn rates(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let window = state.window();
    // Before the console has watched a whole window, a rate over it would count seconds
    // nobody saw: divide by what was seen, and say so.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // seconds since start
    let seen = ((state.now.mono - state.watched_since).ceil() as u64).clamp(1, window);
    let span = if seen < window {
        format!("window {window}s, {seen}s seen (+/-)")
    } else {
        format!("window {window}s (+/-)")
    };
    let mut lines = vec![Line::from(Span::styled(
        format!("{span}   type: rate/s  total"),
        theme.dim,
    ))];
    for (kind, ring) in &state.rates {
        #[allow(clippy::cast_possible_truncation)] // the window is at most 3600
        let recent: Vec<u64> = ring
            .iter()
            .rev()
            .take(seen as usize)
            .map(|n| u64::from(*n))
            .collect();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let rate = recent.iter().sum::<u64>() as f64 / seen as f64;
        let bars: String = recent.iter().take(20).rev().map(|n| bar(*n)).collect();
        // A name is whatever a server chose: cut to its column, so the numbers stay in theirs.
        let name = if kind.chars().count() > 22 {
            crate::text::truncate(kind, 21)
        } else {
            kind.clone()
        };
        let name = format!("{name:<22}");
        lines.push(Line::from(vec![
            Span::raw(format!("{name} {rate:>7.2} {:>7} ", state.totals.get(kind))),
            Span::styled(bars, theme.tool),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// A bar for one second's count, on a log scale (1, 2-3, 4-7, ... 128+).
fn bar(n: u64) -> char {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    match n.checked_ilog2() {
        None => ' ',
        Some(level) => BARS[(level as usize).min(BARS.len() - 1)],
    }
}

/// Config: every key, its value and source, with shadowed values and findings.
pub fn config(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let rows = state.config.iter().map(|r| {
        let (note, style) = match &r.finding {
            Some(finding) => (finding.clone(), theme.warn),
            None => (r.shadowed.clone(), Style::default()),
        };
        Row::new(vec![r.key.clone(), r.value.clone(), r.source.clone(), note]).style(style)
    });
    // Zoomed, values and sources get the room to show whole (a list of origins, a path).
    // (`alerts.reconnects_per_min` is 25 wide; a source in mpm-top's own file, 36.)
    let widths = if area.width >= 90 {
        [
            Constraint::Length(25),
            Constraint::Fill(3),
            Constraint::Length(36),
            Constraint::Fill(2),
        ]
    } else {
        [
            Constraint::Length(18),
            Constraint::Length(16),
            Constraint::Length(16),
            Constraint::Min(10),
        ]
    };
    frame.render_widget(
        Table::new(rows, widths).header(
            Row::new(vec!["KEY", "VALUE", "SOURCE", "SHADOWED / FINDING"]).style(theme.dim),
        ),
        area,
    );
}

/// Log: what mpm-top itself did, newest at the bottom, drawn by tui-logger from the lines it
/// holds. Each line carries its own local time (stamped by the console's clock), so the
/// widget's own timestamp is off. Zoomed, the topic list is shown beside it (unless `h` hid
/// it), and the widget's keys choose levels per topic, focus and scroll. (tui-logger's smart
/// widget would title the lines with a rate measured on its own clock; it is not used.)
pub fn log(frame: &mut Frame, state: &State, theme: &Theme, view: &LogView, area: Rect) {
    let zoomed = state.zoom && state.focus == Pane::Log;
    let lines_area = if zoomed && !state.log_topics_hidden {
        let [topics, lines] =
            Layout::horizontal([Constraint::Length(TOPICS_WIDTH), Constraint::Min(10)]).areas(area);
        let list = TuiLoggerTargetWidget::default()
            .block(
                Block::bordered()
                    .title(Span::styled("topics (h)", theme.dim))
                    .border_style(theme.border),
            )
            .highlight_style(theme.focus)
            .state(view);
        frame.render_widget(list, topics);
        lines
    } else {
        area
    };
    let lines = TuiLoggerWidget::default()
        .output_timestamp(None)
        .output_level(Some(TuiLoggerLevelOutput::Abbreviated))
        .output_target(zoomed)
        .output_file(false)
        .output_line(false)
        .style_error(theme.bad)
        .style_warn(theme.warn)
        .style_info(theme.dim)
        .state(view);
    frame.render_widget(lines, lines_area);
}

/// The topic list's width: the longest topic (`console`), its EWI levels, and borders.
const TOPICS_WIDTH: u16 = 7 + 6 + 2;
