//! The Status pane: target and how it was chosen, server kind, health, clients, transports,
//! latency, availability, and the findings that need the user.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Wrap};

use super::Theme;
use super::format::age;
use crate::app::{State, events_long_running};
use crate::checks::Status;
use crate::target::Chosen;

fn mark(ok: Option<bool>, theme: &Theme) -> Span<'static> {
    match ok {
        Some(true) => Span::styled("✓", theme.ok),
        Some(false) => Span::styled("✗", theme.bad),
        None => Span::styled("?", theme.dim),
    }
}

fn chosen(state: &State) -> String {
    match &state.target.chosen {
        Chosen::Named(by) => format!(" ({by})"),
        Chosen::Default => " (default)".into(),
        Chosen::Discovered => " (found)".into(),
        Chosen::Switched { from } => format!(" (switched from {from})"),
        Chosen::Demo => " (demo)".into(),
    }
}

/// Status: target, server kind, health, clients, transports, latency, availability, findings.
pub fn status(frame: &mut Frame, state: &State, theme: &Theme, area: Rect) {
    let s = &state.server;
    let kind = s.kind.clone().unwrap_or_else(|| "none".into());
    let alive = s.kind.is_some();
    let mut lines = tape_line(state, theme, area.width);
    lines.extend(banner(state, theme, area.width));
    lines.extend([
        Line::from(vec![
            Span::raw("target  "),
            Span::raw(state.target.url()),
            Span::styled(chosen(state), theme.dim),
        ]),
        Line::from(vec![
            Span::raw("server  "),
            Span::styled(kind, if alive { theme.ok } else { theme.bad }),
            // The PID a server reports about itself: shown as what it says, never acted on.
            Span::styled(
                s.pid.map_or(String::new(), |p| format!("  says pid {p}")),
                theme.dim,
            ),
            others(state, theme),
        ]),
        Line::from(vec![Span::raw("health  "), Span::raw(s.health.clone())]),
        Line::from(format!(
            "uptime  {}   clients {}",
            s.uptime.map_or("—".into(), age),
            s.clients.map_or("—".into(), |c| c.to_string())
        )),
        Line::from(vec![
            Span::raw("handshake "),
            mark(s.handshake, theme),
            Span::raw("  websocket "),
            mark(s.websocket, theme),
            Span::raw("  feed "),
            mark(Some(state.connected), theme),
            // The feed's whole error is in the Log pane; here, what fits on the line.
            Span::styled(
                format!(
                    " {}",
                    crate::text::truncate(
                        &state.feed_status,
                        usize::from(area.width).saturating_sub(35).max(1)
                    )
                ),
                theme.dim,
            ),
        ]),
    ]);
    // A ping from a server that has gone is not its latency now.
    let latency = match state.latency.last() {
        Some(ms) if state.connected && alive => format!("{ms:.1} ms"),
        _ => "—".into(),
    };
    lines.push(Line::from(format!("ping    {latency}")));
    // The newest seconds that fit beside the label: a narrow pane shows fewer, never wraps.
    let fits = usize::from(area.width).saturating_sub(8);
    let strip: String = state
        .availability
        .iter()
        .skip(state.availability.len().saturating_sub(fits))
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
    lines.extend(attention(state, theme, alive));
    let [text, spark] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    // Wrapped: a long target, an offer or a finding shows whole rather than cut.
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
    if state.connected && alive {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        // microseconds for the sparkline
        let data: Vec<u64> = state
            .latency
            .iter()
            .map(|ms| (ms * 1000.0) as u64)
            .collect();
        frame.render_widget(Sparkline::default().data(&data).style(theme.link), spark);
    }
}

/// How many other servers the last scan found on this host (`S` lists them).
fn others(state: &State, theme: &Theme) -> Span<'static> {
    match crate::app::servers::others(state) {
        0 => Span::raw(""),
        1 => Span::styled(" · 1 other [S]", theme.link),
        n => Span::styled(format!(" · {n} others [S]"), theme.link),
    }
}

/// Alerts shown at most this many at once; the rest are counted (each is in the Log pane).
const BANNER_ALERTS: usize = 2;

/// The alerts that hold, first, one line each (cut to the pane: the Log pane has them whole):
/// when raised, what, the console key; under the first, its fix.
fn banner(state: &State, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let fit = |text: String| crate::text::truncate(&text, width.saturating_sub(1).max(1));
    let active = &state.alerts.active;
    let mut lines = Vec::new();
    for (i, a) in active.iter().take(BANNER_ALERTS).enumerate() {
        let fix = a.kind.fix();
        let key = fix.key.map_or(String::new(), |k| format!(" [{k}]"));
        let head = format!("⚠ {} {}{key}: ", a.since.seconds_text(), a.kind.name());
        let room = width.saturating_sub(head.chars().count() + 1).max(1);
        lines.push(Line::from(vec![
            Span::styled(head, theme.bad),
            Span::styled(crate::text::truncate(&a.message, room), theme.warn),
        ]));
        if i == 0 {
            lines.push(Line::from(Span::styled(
                fit(format!("  fix: {}", fix.command)),
                theme.dim,
            )));
        }
    }
    if active.len() > BANNER_ALERTS {
        lines.push(Line::from(Span::styled(
            fit(format!(
                "⚠ {} more alert(s): see the Log pane",
                active.len() - BANNER_ALERTS
            )),
            theme.bad,
        )));
    }
    lines
}

/// The first line while replaying (position, bar, speed) or recording (`● REC` and the size).
fn tape_line(state: &State, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    if let Some(r) = &state.replay {
        let mark = if r.seeking {
            "seeking…"
        } else if r.playing {
            "▶"
        } else if r.elapsed >= r.length {
            "■ end"
        } else {
            "❚❚ paused"
        };
        // The recording's own clock, then where that is in it, on a line of its own so the
        // bar has room in a narrow pane.
        let mut lines = vec![Line::from(vec![
            Span::styled(
                format!("REPLAY {}", r.at.format("%H:%M:%S%.3f")),
                theme.warn,
            ),
            Span::raw(format!("  ×{} {mark}", r.speed)),
        ])];
        let times = format!(" {}/{}", clock(r.elapsed), clock(r.length));
        let room = usize::from(width).saturating_sub(times.chars().count() + 2);
        lines.push(Line::from(vec![
            Span::styled(bar(r.elapsed, r.length, room.max(1)), theme.link),
            Span::raw(times),
        ]));
        if let (Some(_), false) = (&r.damage, r.playing) {
            lines.push(Line::from(Span::styled(
                "file damaged: replay stops there (see Log)",
                theme.warn,
            )));
        }
        return lines;
    }
    if let Some(rec) = &state.recording {
        return vec![Line::from(vec![
            Span::styled("● REC ", theme.bad),
            Span::raw(format!("{} ", crate::ui::bytes(rec.bytes))),
            Span::styled(rec.file.clone(), theme.dim),
        ])];
    }
    Vec::new()
}

/// `m:ss` (or `h:mm:ss`) of a recording's time.
fn clock(secs: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // display of a position
    let s = secs.max(0.0) as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A position bar `width` cells wide, between `▕` and `▏`.
fn bar(at: f64, length: f64, width: usize) -> String {
    let fraction = if length > 0.0 {
        (at / length).clamp(0.0, 1.0)
    } else {
        1.0
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let filled = ((fraction * width as f64).round() as usize).min(width);
    format!("▕{}{}▏", "█".repeat(filled), "░".repeat(width - filled))
}

/// The lines that ask for the user's attention: an offer, a silent target, a long tool, a
/// running action, the doctor's verdict.
fn attention(state: &State, theme: &Theme, alive: bool) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(running) = &state.busy {
        lines.push(Line::from(Span::styled(
            format!("running: {running} …"),
            theme.link,
        )));
    }
    // A port held by a process that does not answer is not "nothing": say who holds it (the
    // same holders K is offered).
    let holder = state
        .holders
        .as_ref()
        .ok()
        .and_then(|h| h.first())
        .map(|h| &h.process);
    if let Some(offer) = &state.offer {
        let here = if holder.is_some() {
            "no answer"
        } else {
            "nothing"
        };
        lines.push(Line::from(Span::styled(
            format!(
                "{here} on :{}; {} server on :{}: g switches",
                state.target.port, offer.kind, offer.port
            ),
            theme.warn,
        )));
    } else if let (false, Some(p)) = (alive, holder) {
        lines.push(Line::from(Span::styled(
            format!(
                "PID {} ({}) holds {} but does not answer /health: K frees the port",
                p.pid,
                p.name,
                state.target.authority()
            ),
            theme.warn,
        )));
    } else if !alive {
        lines.push(Line::from(Span::styled(
            format!(
                "nothing answers on {}: press s to start the bundled one",
                state.target.authority()
            ),
            theme.warn,
        )));
    } else if let Some((tool, secs)) = events_long_running(state).first() {
        lines.push(Line::from(Span::styled(
            format!("! {tool} running for {}", age(*secs)),
            theme.warn,
        )));
    }
    if state.feed_dropped > 0 {
        lines.push(Line::from(Span::styled(
            format!(
                "{} feed event(s) dropped: the console fell behind; rates and rows miss them",
                state.feed_dropped
            ),
            theme.warn,
        )));
    }
    if state.running_dropped > 0 {
        lines.push(Line::from(Span::styled(
            format!(
                "{} open tool call(s) forgotten: more than {} were open",
                state.running_dropped,
                crate::app::state::MAX_OPEN_TOOLS
            ),
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
    lines
}
