//! The Rates, Config and Log panes. Each draws into the inside of its block.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use super::Theme;
use crate::app::State;

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
        lines.push(Line::from(vec![
            Span::raw(format!(
                "{kind:<22} {rate:>7.2} {:>7} ",
                state.totals.get(kind)
            )),
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
    let widths = if area.width >= 90 {
        [
            Constraint::Length(18),
            Constraint::Fill(3),
            Constraint::Length(26),
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

/// Log: what mpm-top itself did, newest at the bottom; long lines wrap rather than lose their
/// end (where an error says why).
pub fn log(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    // Wrapped here, a row per `width` characters, so the newest row is always the last one
    // on screen (a paragraph's word wrap takes rows that cannot be counted beforehand).
    let (height, width) = (usize::from(area.height), usize::from(area.width).max(1));
    let mut rows: Vec<String> = Vec::with_capacity(height);
    for line in state.log.iter().rev() {
        let chars: Vec<char> = line.chars().collect();
        let pieces: Vec<String> = chars.chunks(width).map(|c| c.iter().collect()).collect();
        rows.extend(pieces.into_iter().rev());
        if rows.len() >= height {
            break;
        }
    }
    rows.truncate(height);
    let lines: Vec<Line> = rows
        .into_iter()
        .rev()
        .map(|row| Line::from(Span::styled(row, theme.dim)))
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}
