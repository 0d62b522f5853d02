//! The six panes. Each draws into the inside of its block.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Sparkline, Table};

use super::Theme;
use crate::app::state::Origin;
use crate::app::{State, events_long_running};
use crate::checks::Status;
use crate::probes::process::MEMORY_ESCALATION_BYTES;

fn mark(ok: Option<bool>, theme: &Theme) -> Span<'static> {
    match ok {
        Some(true) => Span::styled("✓", theme.ok),
        Some(false) => Span::styled("✗", theme.bad),
        None => Span::styled("?", theme.dim),
    }
}

fn age(secs: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // display of a duration
    let s = secs.max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Status: target, server kind, health, clients, transports, latency, availability, findings.
pub fn status(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let s = &state.server;
    let kind = s.kind.clone().unwrap_or_else(|| "none".into());
    let alive = s.kind.is_some();
    let mut lines = vec![
        Line::from(vec![Span::raw("target  "), Span::raw(state.target.clone())]),
        Line::from(vec![
            Span::raw("server  "),
            Span::styled(kind, if alive { theme.ok } else { theme.bad }),
            Span::raw(s.pid.map_or(String::new(), |p| format!("  pid {p}"))),
        ]),
        Line::from(vec![Span::raw("health  "), Span::raw(s.health.clone())]),
        Line::from(format!(
            "uptime  {}   clients {}",
            s.uptime.map_or("-".into(), age),
            s.clients.map_or("-".into(), |c| c.to_string())
        )),
        Line::from(vec![
            Span::raw("handshake "),
            mark(s.handshake, theme),
            Span::raw("  websocket "),
            mark(s.websocket, theme),
            Span::raw("  feed "),
            mark(Some(state.connected), theme),
            Span::styled(format!(" {}", state.feed_status), theme.dim),
        ]),
    ];
    let latency = state
        .latency
        .last()
        .map_or("-".into(), |ms| format!("{ms:.1} ms"));
    lines.push(Line::from(format!("ping    {latency}")));
    let strip: String = state
        .availability
        .iter()
        .map(|ok| if *ok { '▮' } else { '·' })
        .collect();
    lines.push(Line::from(vec![
        Span::raw("60s     "),
        Span::styled(
            strip,
            if state.availability.iter().all(|ok| *ok) {
                theme.ok
            } else {
                theme.warn
            },
        ),
    ]));
    if !alive {
        lines.push(Line::from(Span::styled(
            "no server answers: press s to start the bundled one",
            theme.warn,
        )));
    } else if let Some((tool, secs)) = events_long_running(state).first() {
        lines.push(Line::from(Span::styled(
            format!("! {tool} running for {}", age(*secs)),
            theme.warn,
        )));
    }
    if let Some((status, reason)) = &state.worst {
        let style = match status {
            Status::Ok => theme.ok,
            Status::Warn => theme.warn,
            Status::Fail => theme.bad,
        };
        lines.push(Line::from(Span::styled(format!("doctor: {reason}"), style)));
    }
    let [text, spark] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    frame.render_widget(Paragraph::new(lines), text);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // microseconds for the sparkline
    let data: Vec<u64> = state
        .latency
        .iter()
        .map(|ms| (ms * 1000.0) as u64)
        .collect();
    frame.render_widget(Sparkline::default().data(&data).style(theme.link), spark);
}

/// The Events pane's title, with what the user should not forget: pause and filter.
#[must_use]
pub fn events_title(state: &State) -> String {
    let paused = if state.paused {
        format!(" [PAUSED: {} new]", state.paused_new)
    } else {
        String::new()
    };
    let filter = if state.filter.is_empty() {
        String::new()
    } else {
        format!(" [filter '{}']", state.filter)
    };
    format!("2 Events{paused}{filter}")
}

/// Events: the merged stream, newest at the bottom.
pub fn events(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let height = area.height.saturating_sub(1) as usize;
    let visible: Vec<_> = state.visible_events().collect();
    let skip = visible
        .len()
        .saturating_sub(height + state.selected.saturating_sub(height.saturating_sub(1)));
    let selected_index = visible.len().checked_sub(1 + state.selected);
    let rows = visible
        .iter()
        .enumerate()
        .skip(skip)
        .take(height)
        .map(|(i, e)| {
            let style = match e.name.as_str() {
                "tool_start" | "tool_stop" => theme.tool,
                "connect" | "disconnect" | "dashboard:client:count" => theme.link,
                "error" => theme.bad,
                _ => ratatui::style::Style::default(),
            };
            let style = if Some(i) == selected_index {
                style.add_modifier(ratatui::style::Modifier::REVERSED)
            } else {
                style
            };
            let duration = e
                .duration
                .map_or(String::new(), |d| format!(" ({:.0} ms)", d * 1000.0));
            let origin = if e.origin == Origin::Feed {
                "sio"
            } else {
                "log"
            };
            Row::new(vec![
                format!("{:>7.1}", e.at),
                origin.into(),
                e.name.clone(),
                e.session.clone(),
                format!("{}{duration}", e.summary),
            ])
            .style(style)
        });
    let header = Row::new(vec![
        "time".to_owned(),
        "src".into(),
        "event".into(),
        "session".into(),
        "summary".to_owned(),
    ]);
    let table = Table::new(
        rows,
        [
            Constraint::Length(7),
            Constraint::Length(3),
            Constraint::Length(22),
            Constraint::Length(12),
            Constraint::Min(10),
        ],
    )
    .header(header.style(theme.dim));
    frame.render_widget(table, area);
}

/// Rates: events/s per type over the window, with totals.
pub fn rates(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let window = state.window();
    let mut lines = vec![Line::from(Span::styled(
        format!("window {window}s (+/-)   type: rate/s  total"),
        theme.dim,
    ))];
    for (kind, ring) in &state.rates {
        #[allow(clippy::cast_possible_truncation)] // the window is at most 3600
        let recent: Vec<u64> = ring
            .iter()
            .rev()
            .take(window as usize)
            .map(|n| u64::from(*n))
            .collect();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let rate = recent.iter().sum::<u64>() as f64 / window as f64;
        let bars: String = recent.iter().take(20).rev().map(|n| bar(*n)).collect();
        lines.push(Line::from(vec![
            Span::raw(format!(
                "{kind:<22} {rate:>7.2} {:>7} ",
                state.totals.get(kind).copied().unwrap_or(0)
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

/// Resources: the server process, and the port's sockets (holders first).
pub fn resources(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let [top, table] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
    let lines = match &state.resources {
        Some(p) => {
            let mib = p.rss_bytes >> 20;
            let style = if p.rss_bytes >= MEMORY_ESCALATION_BYTES {
                theme.bad
            } else if p.rss_bytes >= MEMORY_ESCALATION_BYTES / 2 {
                theme.warn
            } else {
                theme.ok
            };
            // A projection from less than a minute of samples is start-up noise.
            let trend = match state.trend.minutes_to_escalation() {
                _ if state.trend.span_secs() < 60.0 => "trend after 1 min".to_owned(),
                Some(m) => format!("500 MB in {m:.0} min"),
                None => "flat".to_owned(),
            };
            vec![
                Line::from(vec![
                    Span::styled(format!("RSS {mib} MiB"), style),
                    Span::raw(format!(
                        " ({trend})  CPU {:.0}%  threads {}",
                        p.cpu_percent,
                        p.threads.unwrap_or(0)
                    )),
                ]),
                Line::from(format!(
                    "fds {} / {}   uptime {}",
                    p.open_files.unwrap_or(0),
                    p.fd_limit.unwrap_or(0),
                    age(f64::from(u32::try_from(p.uptime_secs).unwrap_or(u32::MAX)))
                )),
            ]
        }
        None => vec![Line::from(Span::styled(
            "no server process visible",
            theme.dim,
        ))],
    };
    frame.render_widget(Paragraph::new(lines), top);
    let rows = state.sockets.iter().map(|s| {
        let owner = s
            .owners
            .first()
            .map_or(String::new(), |p| format!("{} {}", p.pid, p.command()));
        let style = if s.is_listener() {
            theme.ok
        } else {
            ratatui::style::Style::default()
        };
        Row::new(vec![
            s.state.clone(),
            s.local.clone(),
            s.remote.clone(),
            owner,
        ])
        .style(style)
    });
    let widths = [
        Constraint::Length(11),
        Constraint::Length(21),
        Constraint::Length(21),
        Constraint::Min(10),
    ];
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(vec!["STATE", "LOCAL", "REMOTE", "PID PROCESS"]).style(theme.dim)),
        table,
    );
}

/// Config: every key, its value and source, with shadowed values and findings.
pub fn config(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let rows = state
        .config
        .iter()
        .map(|[key, value, source, shadowed, finding]| {
            let style = if finding.is_empty() {
                ratatui::style::Style::default()
            } else {
                theme.warn
            };
            let note = if finding.is_empty() {
                shadowed.clone()
            } else {
                finding.clone()
            };
            Row::new(vec![key.clone(), value.clone(), source.clone(), note]).style(style)
        });
    let widths = [
        Constraint::Length(18),
        Constraint::Length(16),
        Constraint::Length(16),
        Constraint::Min(10),
    ];
    frame.render_widget(
        Table::new(rows, widths).header(
            Row::new(vec!["KEY", "VALUE", "SOURCE", "SHADOWED / FINDING"]).style(theme.dim),
        ),
        area,
    );
}

/// Log: what mpm-top itself did, newest at the bottom.
pub fn log(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let height = area.height as usize;
    let lines: Vec<Line> = state
        .log
        .iter()
        .skip(state.log.len().saturating_sub(height))
        .map(|l| Line::from(Span::styled(l.clone(), theme.dim)))
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}
