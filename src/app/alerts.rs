//! Alerts raised and cleared: once a second the console's state is reduced to a
//! [`Moment`] and the rules of `checks::alerts` say which alerts hold. A new one is raised
//! (a W line in the Log pane, a banner in the Status pane), one that no longer holds is
//! cleared (an I line), each with its time; the history goes into `--collect`'s bundle.

use std::fmt::Write as _;

use crate::checks::alerts::{self, AlertKind, Moment};
use crate::config::alerts::Thresholds;

use super::log::{Level, Topic};
use super::state::{Ring, State};
use super::time::Stamp;

/// Raisings and clearings kept for the bundle.
pub const HISTORY: usize = 200;
/// Samples of the server's emit-failure counter kept: one a second, the rule's minute.
const EMIT_SAMPLES: usize = 61;

/// An alert that holds now.
#[derive(Clone, Debug, PartialEq)]
pub struct Active {
    /// Which.
    pub kind: AlertKind,
    /// When it was raised.
    pub since: Stamp,
    /// Why, as of the last evaluation.
    pub message: String,
}

/// One alert's life: raised, and cleared once it no longer held.
#[derive(Clone, Debug, PartialEq)]
pub struct Raised {
    /// Which.
    pub kind: AlertKind,
    /// When it was raised.
    pub raised: Stamp,
    /// When it was cleared (None while it holds).
    pub cleared: Option<Stamp>,
    /// Why, as it was raised.
    pub message: String,
}

/// The alerts' state.
#[derive(Clone, Debug)]
pub struct Alerts {
    /// The thresholds in force.
    pub thresholds: Thresholds,
    /// The alerts that hold, in [`AlertKind::ALL`] order.
    pub active: Vec<Active>,
    /// The last [`HISTORY`] alerts, oldest first.
    pub history: Ring<Raised>,
    /// When the last event arrived (console seconds).
    pub last_event: Option<f64>,
    /// Since when other clients have been connected, in this stretch.
    clients_since: Option<f64>,
    /// The server's emit-failure counter, sampled with `/health`.
    pub emit_failures: Ring<(f64, u64)>,
    /// The last whole second evaluated: the rules run once a second.
    evaluated: Option<u64>,
    /// The alerts of servers no longer watched (let go past the parking limit), with each
    /// server: the bundle lists every alert raised while the console ran.
    pub let_go: Ring<(String, Raised)>,
}

impl Default for Alerts {
    fn default() -> Alerts {
        Alerts {
            thresholds: Thresholds::default(),
            active: Vec::new(),
            history: Ring::new(HISTORY),
            last_event: None,
            clients_since: None,
            emit_failures: Ring::new(EMIT_SAMPLES),
            evaluated: None,
            let_go: Ring::new(HISTORY),
        }
    }
}

/// Clients connected besides mpm-top's own: by the client list when there is one (it names
/// consoles and `mpm-top clients`), else the server's count less the feed's own connection.
fn other_clients(state: &State) -> Option<u64> {
    if state.clients.listed.is_some() && state.connected {
        return Some(state.clients.others() as u64);
    }
    let count = state.server.clients?;
    Some(count.saturating_sub(u64::from(state.connected)))
}

/// Where hooks post, from the configuration the Config pane shows, when that is not the
/// watched server.
fn hook_drift(state: &State) -> Option<String> {
    let value = |key: &str| {
        state
            .config
            .iter()
            .find(|r| r.key == key)
            .map(|r| r.value.clone())
    };
    let (host, port) = (value("hook_host")?, value("hook_port")?.parse().ok()?);
    let target = &state.target;
    alerts::hook_drift(
        &host,
        port,
        crate::target::unbracket(&target.host),
        target.port,
    )
}

/// The state reduced to what the rules read.
#[must_use]
pub fn moment(state: &State) -> Moment {
    let now = state.now.mono;
    let fds = state
        .resources
        .as_ref()
        .and_then(|p| Some((p.open_files?, p.fd_limit?)));
    let rss = state.resources.as_ref().map(|p| {
        (
            p.rss_bytes,
            state.trend.growth_per_minute(),
            state.trend.span_secs(),
        )
    });
    // A start seen arrive is timed from its arrival; one replayed from the server's history
    // (the console came later) from its sender's clock, when it carries one.
    let open_tools = state
        .running
        .iter()
        .filter_map(|(id, t)| {
            let age = if t.arrival_timed {
                now - t.started.mono
            } else {
                // The sender's clock, bounded by the server's uptime: the start came from the
                // server's own history, so it is no older than the server (a hook host whose
                // clock is years off must not claim a tool open for years); a start dated in
                // the future is not timed at all.
                let sent = t.sent.iter().map(|(_, at)| *at).min()?;
                let age = super::time::seconds_between(sent, state.now.wall);
                let uptime = state.server.uptime.unwrap_or(age);
                (age >= 0.0).then_some(age.min(uptime))?
            };
            Some((t.tool.clone(), id.clone(), age))
        })
        .collect();
    let a = &state.alerts;
    Moment {
        now,
        other_clients: other_clients(state),
        last_event: a.last_event.unwrap_or(state.watched_since),
        clients_since: a.clients_since,
        short_lived: state.clients.flaps.iter().copied().collect(),
        fds,
        rss,
        open_tools,
        hook_drift: hook_drift(state),
        emit_failures: a
            .emit_failures
            .iter()
            .copied()
            .filter(|(t, _)| now - t <= 60.0)
            .collect(),
        same_project: crate::probes::servers::same_project(&state.servers),
    }
}

/// Evaluates the rules when the clock has entered a second not evaluated yet.
pub fn each_second(state: &mut State) {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // seconds since start
    let second = state.now.mono.max(0.0) as u64;
    if state.alerts.evaluated.is_some_and(|done| done >= second) {
        return;
    }
    state.alerts.evaluated = Some(second);
    evaluate(state);
}

/// Evaluates every rule now; raises what newly holds and clears what no longer does. Alerts
/// speak only about a server that answers: a silent one is the Status pane's own news.
pub fn evaluate(state: &mut State) {
    let now = state.now;
    // Silence counts from when other clients came (a console alone is not waiting).
    match other_clients(state) {
        Some(n) if n > 0 => {
            state.alerts.clients_since.get_or_insert(now.mono);
        }
        _ => state.alerts.clients_since = None,
    }
    let firing = if state.server.kind.is_some() && state.replay.is_none() {
        alerts::evaluate(&moment(state), &state.alerts.thresholds)
    } else {
        Vec::new()
    };
    let cleared: Vec<Active> = state
        .alerts
        .active
        .iter()
        .filter(|a| !firing.iter().any(|f| f.kind == a.kind))
        .cloned()
        .collect();
    for gone in cleared {
        clear(state, &gone, now);
    }
    for fire in firing {
        if let Some(active) = state.alerts.active.iter_mut().find(|a| a.kind == fire.kind) {
            active.message = fire.message;
            continue;
        }
        raise(state, fire.kind, fire.message, now);
    }
    state.alerts.active.sort_by_key(|a| a.kind);
}

fn raise(state: &mut State, kind: AlertKind, message: String, now: Stamp) {
    let fix = kind.fix();
    let key = fix.key.map_or(String::new(), |k| format!(" (key {k})"));
    state.log(
        Level::Warn,
        Topic::Alert,
        format!(
            "alert raised: {}: {message}; fix: {}{key}",
            kind.name(),
            fix.command
        ),
    );
    state.alerts.history.push(Raised {
        kind,
        raised: now,
        cleared: None,
        message: message.clone(),
    });
    state.alerts.active.push(Active {
        kind,
        since: now,
        message,
    });
}

fn clear(state: &mut State, gone: &Active, now: Stamp) {
    state.alerts.active.retain(|a| a.kind != gone.kind);
    if let Some(h) = state
        .alerts
        .history
        .iter_mut()
        .rev()
        .find(|h| h.kind == gone.kind && h.cleared.is_none())
    {
        h.cleared = Some(now);
    }
    state.log(
        Level::Info,
        Topic::Alert,
        format!(
            "alert cleared: {} (raised {}, held {})",
            gone.kind.name(),
            gone.since.seconds_text(),
            crate::ui::format::age(now.mono - gone.since.mono)
        ),
    );
}

/// The history as the bundle shows it: for the server on screen and each one watched in the
/// background, one line per alert, oldest first, each naming its server.
#[must_use]
pub fn history_text(state: &State) -> String {
    let mut text = String::new();
    let watched = std::iter::once(state)
        .chain(state.parked.iter().map(AsRef::as_ref))
        .flat_map(|server| {
            let at = server.target.authority();
            server.alerts.history.iter().map(move |h| (at.clone(), h))
        });
    let let_go = state.alerts.let_go.iter().map(|(at, h)| (at.clone(), h));
    for (at, h) in let_go.chain(watched) {
        let cleared = h.cleared.map_or("still raised".to_owned(), |c| {
            format!("cleared {}", c.clock_text())
        });
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "{at}: {} raised {} ({cleared}): {}; fix: {}",
            h.kind.name(),
            h.raised.clock_text(),
            h.message,
            h.kind.fix().command
        );
    }
    if text.is_empty() {
        text = "no alert was raised while the console ran\n".into();
    }
    text
}

#[cfg(test)]
mod tests;
