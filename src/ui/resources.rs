//! The Resources pane: the process holding the port, and the port's sockets.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use super::Theme;
use super::format::age;
use crate::app::State;
use crate::checks::Status;
use crate::probes::process::{Projection, memory_status};
use crate::probes::sockets::SocketRow;

/// Socket rows in the order that matters: holders (listeners), then established connections,
/// then other states; `TIME_WAIT` rows, which are many and say little, are one counted row.
fn ordered(sockets: &[SocketRow]) -> (Vec<&SocketRow>, usize) {
    let rank = |s: &SocketRow| match s.state.as_str() {
        "LISTEN" => 0,
        "ESTABLISHED" => 1,
        _ => 2,
    };
    let mut rows: Vec<&SocketRow> = sockets.iter().filter(|s| s.state != "TIME_WAIT").collect();
    rows.sort_by_key(|s| rank(s)); // stable: the probe's order within a rank
    let waiting = sockets.len() - rows.len();
    (rows, waiting)
}

fn process_lines(state: &State, theme: &Theme) -> Vec<Line<'static>> {
    let Some(p) = &state.resources else {
        return vec![Line::from(Span::styled(
            "no process holds the port",
            theme.dim,
        ))];
    };
    let style = match memory_status(p.rss_bytes) {
        Status::Fail => theme.bad,
        Status::Warn => theme.warn,
        Status::Ok => theme.ok,
    };
    let trend = match state.trend.projection() {
        Projection::TooEarly { span_secs } => format!("trend in {}", age(300.0 - span_secs)),
        Projection::Flat => "flat".to_owned(),
        Projection::Growing {
            mib_per_min,
            minutes,
        } => format!("+{mib_per_min:.2} MiB/min: 500 MB in {minutes:.0} min"),
    };
    let known = |n: Option<usize>| n.map_or("?".to_owned(), |n| n.to_string());
    vec![
        Line::from(vec![
            Span::styled(format!("RSS {} MiB", p.rss_bytes >> 20), style),
            Span::raw(format!(
                " ({trend})  CPU {:.0}%  threads {}",
                p.cpu_percent,
                known(p.threads)
            )),
        ]),
        Line::from(format!(
            "pid {}  fds {} / {}   uptime {}",
            p.pid,
            known(p.open_files),
            known(p.fd_limit),
            // Sampled every few seconds: its uptime now is that plus the time since.
            age(f64::from(u32::try_from(p.uptime_secs).unwrap_or(u32::MAX))
                + (state.now.mono - state.resources_at).max(0.0))
        )),
    ]
}

/// Resources: the server process, and the port's sockets (holders first).
pub fn resources(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let [top, table] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
    frame.render_widget(Paragraph::new(process_lines(state, theme)), top);
    let (sockets, waiting) = ordered(&state.sockets);
    let mut rows: Vec<Row> = sockets
        .iter()
        .map(|s| {
            let owner = s.owners.first().map_or(String::new(), |p| {
                format!("{} {}", p.pid, p.program_and_args())
            });
            let style = if s.is_listener() {
                theme.ok
            } else {
                Style::default()
            };
            Row::new(vec![
                s.state.clone(),
                s.local.clone(),
                s.remote.clone(),
                owner,
            ])
            .style(style)
        })
        .collect();
    // What does not fit is counted, not silently cut.
    let room = usize::from(table.height.saturating_sub(1));
    let extra = usize::from(waiting > 0);
    if rows.len() + extra > room && room > 0 {
        let hidden = rows.len() + 1 - room.saturating_sub(extra);
        rows.truncate(room.saturating_sub(extra + 1));
        rows.push(
            Row::new(vec![
                "…".to_owned(),
                format!("{hidden} more"),
                "(z zooms)".to_owned(),
                String::new(),
            ])
            .style(theme.dim),
        );
    }
    if waiting > 0 {
        rows.push(
            Row::new(vec![
                "TIME_WAIT".to_owned(),
                format!("×{waiting}"),
                "closed, waiting out".to_owned(),
                String::new(),
            ])
            .style(theme.dim),
        );
    }
    let widths = [
        Constraint::Length(11),
        Constraint::Length(17),
        Constraint::Length(17),
        Constraint::Min(10),
    ];
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(vec!["STATE", "LOCAL", "REMOTE", "PID PROGRAM"]).style(theme.dim)),
        table,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str, n: u16) -> SocketRow {
        SocketRow {
            state: state.into(),
            local: format!("127.0.0.1:{n}"),
            remote: String::new(),
            owners: Vec::new(),
            inode: u32::from(n),
        }
    }

    #[test]
    fn holders_then_established_then_time_wait_counted() {
        let sockets = [
            row("TIME_WAIT", 1),
            row("TIME_WAIT", 2),
            row("CLOSE_WAIT", 3),
            row("ESTABLISHED", 4),
            row("LISTEN", 5),
        ];
        let (rows, waiting) = ordered(&sockets);
        let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["LISTEN", "ESTABLISHED", "CLOSE_WAIT"]);
        assert_eq!(waiting, 2);
    }
}
