//! Full-screen views over the panes: `C` Clients and `S` Servers.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Table};

use super::Theme;
use super::format::{age, duration};
use crate::app::State;
use crate::app::state::View;

/// Draws the open view, if any, over `area`.
pub fn render(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let Some(view) = state.view else {
        return;
    };
    frame.render_widget(Clear, area);
    match view {
        View::Clients => clients(frame, state, theme, area),
        View::Servers => super::servers::servers(frame, state, theme, area),
    }
}

/// A bordered block titled `title`, drawn; its inside.
pub fn boxed(frame: &mut Frame, theme: &Theme, title: String, area: Rect) -> Rect {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus)
        .title(Span::styled(title, theme.focus));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// The Clients view: every connected client, then the last departures, flapping ones marked.
fn clients(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let c = &state.clients;
    let listed = c.listed.map_or(
        "not listed yet: the feed asks when it connects".to_owned(),
        |at| format!("{} connected, listed {}", c.total, at.seconds_text()),
    );
    let title = format!(
        " Clients of {}: {listed}   C or Esc closes ",
        state.target.authority()
    );
    let inner = boxed(frame, theme, title, area);
    // The connected clients take what they need, up to half the view: the departures keep
    // the rest. This console first, so a long list never hides it.
    let wanted = u16::try_from(c.list.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let most = (inner.height / 2).max(3);
    let [now_area, gone_area] = Layout::vertical([
        Constraint::Length(wanted.clamp(3, most)),
        Constraint::Min(4),
    ])
    .areas(inner);
    connected(frame, state, theme, now_area);
    departures(frame, state, theme, gone_area);
}

/// The connected clients (this console first), with a "more" row when they do not fit.
fn connected(frame: &mut Frame, state: &State, theme: &Theme, now_area: Rect) {
    let c = &state.clients;
    let now = state.now.mono;
    let room = usize::from(now_area.height.saturating_sub(2));
    let mut ordered: Vec<&crate::app::clients::Client> = c.list.iter().collect();
    ordered.sort_by_key(|client| !client.own);
    let hidden = ordered.len().saturating_sub(room);
    let cut = usize::try_from(c.total).unwrap_or(usize::MAX) > c.list.len();
    let shown = if hidden > 0 || cut {
        room.saturating_sub(1).min(ordered.len())
    } else {
        room
    };
    // The server's total, not the rows kept: a list past 1,000 is cut where it arrives.
    let total = usize::try_from(c.total)
        .unwrap_or(usize::MAX)
        .max(ordered.len());
    let more = (hidden > 0 || total > ordered.len()).then(|| {
        Row::new([
            String::new(),
            format!("… {} more", total.saturating_sub(shown)),
        ])
        .style(theme.dim)
    });
    let rows = ordered.into_iter().take(shown).map(|client| {
        let (at, for_) = client.connected.map_or(("?".into(), "?".into()), |t| {
            (t.seconds_text(), age(now - t.mono))
        });
        let name = if client.own {
            format!("{} (this console)", client.name)
        } else {
            client.name.clone()
        };
        Row::new([
            client.sid.clone(),
            name,
            client.kind.clone(),
            or_dash(&client.transport),
            at,
            for_,
        ])
    });
    let header =
        Row::new(["SID", "NAME", "TYPE", "TRANSPORT", "CONNECTED", "FOR"]).style(theme.dim);
    let widths = [
        Constraint::Length(22),
        Constraint::Min(16),
        Constraint::Length(12),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Length(8),
    ];
    frame.render_widget(
        Table::new(rows.chain(more), widths).header(header),
        now_area,
    );
}

/// The last departures, newest first, flapping ones marked.
fn departures(frame: &mut Frame, state: &State, theme: &Theme, gone_area: Rect) {
    let c = &state.clients;
    let flapped = c.departures.iter().filter(|d| d.flapped()).count();
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("Last {} departures", c.departures.len()),
            theme.focus,
        ),
        Span::styled(
            format!(
                "   {flapped} lived under {:.0} s (⚡): the guide's \"connects then immediately disconnects\"",
                crate::checks::alerts::SHORT_LIVED_SECS
            ),
            if flapped > 0 { theme.warn } else { theme.dim },
        ),
    ])];
    let [label, table] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(gone_area);
    frame.render_widget(Paragraph::new(lines.remove(0)), label);
    // Newest first: what just happened is what the user came for.
    let rows = c.departures.iter().rev().map(|d| {
        // A departure seen only as a list without it lived at most this long.
        let lived = d.lived.map_or("?".into(), |l| {
            format!("{}{}", if d.lived_at_most { "≤ " } else { "" }, duration(l))
        });
        let style = if d.flapped() {
            theme.warn
        } else {
            ratatui::style::Style::default()
        };
        Row::new([
            d.left.seconds_text(),
            d.sid.clone(),
            or_dash(&d.name),
            if d.flapped() {
                format!("⚡ {lived}")
            } else {
                lived
            },
            d.reason
                .clone()
                .unwrap_or_else(|| "— (not in the server's log)".into()),
        ])
        .style(style)
    });
    let header = Row::new(["LEFT", "SID", "NAME", "LIVED", "REASON"]).style(theme.dim);
    let widths = [
        Constraint::Length(9),
        Constraint::Length(22),
        Constraint::Length(16),
        Constraint::Length(12),
        Constraint::Min(10),
    ];
    frame.render_widget(Table::new(rows, widths).header(header), table);
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "—".into()
    } else {
        text.to_owned()
    }
}
