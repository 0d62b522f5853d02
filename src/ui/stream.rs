//! The Events pane: the merged stream, newest at the bottom, with a selection that holds on to
//! its event and a pause that freezes the rows.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Row, Table};

use super::Theme;
use super::format::duration;
use crate::app::State;

/// The Events pane's title, with what the user should not forget: pause and filter.
#[must_use]
pub fn events_title(state: &State) -> String {
    let paused = if state.paused.is_some() {
        format!(" [PAUSED: {} new]", state.held_back())
    } else {
        String::new()
    };
    let filter = if state.filter.is_empty() {
        String::new()
    } else {
        format!(" [filter '{}']", crate::text::sanitize(&state.filter))
    };
    format!("2 Events{paused}{filter}")
}

/// The first and last index (exclusive) of the visible rows to draw in `height` lines. While
/// following, the newest rows; with a selection, a window that keeps the selected row on screen
/// and does not move as new rows arrive below it.
fn window(len: usize, height: usize, selected: Option<usize>) -> (usize, usize) {
    let end = match selected {
        None => len,
        // A full page whenever there are enough rows; the selection below its middle.
        Some(i) => (i + 1 + height / 2).max(height).min(len).max(i + 1),
    };
    (end.saturating_sub(height), end)
}

/// Events: the merged stream, newest at the bottom.
pub fn events(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let height = area.height.saturating_sub(1) as usize;
    let visible: Vec<_> = state.visible_events().collect();
    let selected_id = state.selected_event().map(|e| e.id);
    let selected_index = state
        .selected
        .and_then(|id| visible.iter().position(|e| e.id == id));
    let (start, end) = window(visible.len(), height, selected_index);
    let rows = visible[start..end].iter().map(|e| {
        let style = match e.name.as_str() {
            "tool_start" | "tool_stop" => theme.tool,
            "connect" | "disconnect" | "dashboard:client:count" => theme.link,
            "error" => theme.bad,
            "warning" => theme.warn,
            _ => Style::default(),
        };
        let style = if Some(e.id) == selected_id {
            style.add_modifier(Modifier::REVERSED)
        } else {
            style
        };
        Row::new(vec![
            e.at.clock_text(),
            e.origin.label().to_owned(),
            e.name.clone(),
            e.duration.map_or(String::new(), duration),
            e.session.clone(),
            e.summary.clone(),
        ])
        .style(style)
    });
    let header = Row::new(vec!["time", "src", "event", "took", "session", "summary"]);
    // Zoomed, the event column holds the longest names (`dashboard:client:count`).
    let event_width = if area.width >= 100 { 24 } else { 16 };
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(7),
            Constraint::Length(event_width),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
    )
    .header(header.style(theme.dim));
    frame.render_widget(table, area);
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn the_window_follows_the_newest_or_holds_the_selection() {
        assert_eq!(window(100, 10, None), (90, 100));
        assert_eq!(window(5, 10, None), (0, 5));
        // Selected row 50: it stays on screen, and rows arriving later do not move it.
        assert_eq!(window(100, 10, Some(50)), (46, 56));
        assert_eq!(window(200, 10, Some(50)), (46, 56));
        assert_eq!(window(100, 10, Some(99)), (90, 100));
        assert_eq!(
            window(100, 10, Some(0)),
            (0, 10),
            "the oldest, and a full page"
        );
        assert_eq!(window(100, 10, Some(3)), (0, 10));
    }
}
