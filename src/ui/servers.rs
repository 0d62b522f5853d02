//! The Servers view (`S`): every monitor server the last scan found, the one watched marked,
//! those watched in the background marked as keeping their events.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, Wrap};

use super::Theme;
use super::format::age;
use crate::app::State;
use crate::app::servers::is_parked;

/// Draws the Servers view inside `area`.
pub fn servers(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let scanned = state.servers_at.map_or("not scanned yet".to_owned(), |at| {
        format!("scanned {}", at.seconds_text())
    });
    let title = format!(
        " Servers on {}: {} found, {scanned}   Up/Down select, Enter monitors, S or Esc closes ",
        crate::target::bracket(crate::target::unbracket(&state.target.host)),
        state.servers.len()
    );
    let inner = super::views::boxed(frame, theme, title, area);
    let [table_area, notes] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(3)]).areas(inner);
    let rows = state.servers.iter().enumerate().map(|(i, r)| {
        let mark = if r.port == state.target.port {
            "▶"
        } else if is_parked(state, r.port) {
            "•"
        } else {
            " "
        };
        let style = if i == state.server_selected {
            theme.focus.add_modifier(ratatui::style::Modifier::REVERSED)
        } else if !r.answered {
            theme.bad
        } else {
            ratatui::style::Style::default()
        };
        Row::new([
            format!("{mark} {}", r.port),
            r.kind_label.clone(),
            r.pid.map_or("—".into(), |p| p.to_string()),
            r.project.clone().unwrap_or_else(|| "—".into()),
            r.health.clone(),
            r.clients.map_or("—".into(), |c| c.to_string()),
            r.events_per_sec.map_or("n/a".into(), |e| format!("{e:.1}")),
            r.uptime_secs.map_or("—".into(), age),
            if r.configured {
                "configured".into()
            } else {
                String::new()
            },
        ])
        .style(style)
    });
    let header = Row::new([
        "PORT", "KIND", "PID", "PROJECT", "HEALTH", "CLIENTS", "EV/S", "UPTIME", "",
    ])
    .style(theme.dim);
    let widths = [
        Constraint::Length(7),
        Constraint::Length(14),
        Constraint::Length(8),
        Constraint::Min(16),
        Constraint::Length(24),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(10),
    ];
    frame.render_widget(Table::new(rows, widths).header(header), table_area);
    let mut lines = vec![Line::from(Span::styled(
        "▶ watched   • watched in the background since a switch (its events and rates are kept)   PID: the socket table's listener, never what /health claims",
        theme.dim,
    ))];
    for (project, ports) in &crate::probes::servers::same_project(&state.servers) {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        lines.push(Line::from(Span::styled(
            format!(
                "⚠ {} servers for {project} (ports {}): hooks reach only one",
                ports.len(),
                ports.join(", ")
            ),
            theme.warn,
        )));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), notes);
}
