//! Every server on the host, and switching between them without losing any: the scan's rows
//! (the Servers view, `S`), the switch itself, and the servers switched away from, which keep
//! being watched (parked) so their events and rates are there when the user comes back.

use super::Effect;
use super::state::{MAX_PARKED, State};
use super::time::Stamp;
use crate::probes::servers::ServerRow;
use crate::target::{Chosen, Target};
use crate::text::clean;

/// A scan's rows, made at `at`. A recording is a file from anyone: its text is cleaned again.
pub fn listed(state: &mut State, rows: Vec<ServerRow>, at: Stamp) {
    let rows: Vec<ServerRow> = rows
        .into_iter()
        .map(|mut r| {
            for text in [&mut r.url, &mut r.kind_label, &mut r.health] {
                *text = clean(text);
            }
            r.project = r.project.map(|p| clean(&p));
            r
        })
        .collect();
    // The selection stays on its server, not on its row: a server appearing above it must not
    // move Enter onto another.
    let selected = state.servers.get(state.server_selected).map(|r| r.port);
    state.server_selected = selected
        .and_then(|port| rows.iter().position(|r| r.port == port))
        .unwrap_or(state.server_selected)
        .min(rows.len().saturating_sub(1));
    state.servers = rows;
    state.servers_at = Some(at);
}

/// Servers the last scan found besides the one watched.
#[must_use]
pub fn others(state: &State) -> usize {
    state
        .servers
        .iter()
        .filter(|r| r.answered && r.port != state.target.port)
        .count()
}

/// Whether the server on `port` is kept watched in the background.
#[must_use]
pub fn is_parked(state: &State, port: u16) -> bool {
    state.parked.iter().any(|p| p.target.port == port)
}

/// A key while the Servers view is open: Up/Down select, Enter monitors the selected server.
pub fn key(state: &mut State, key: super::Key) -> Vec<Effect> {
    use super::Key;
    let last = state.servers.len().saturating_sub(1);
    match key {
        Key::Up => state.server_selected = state.server_selected.saturating_sub(1),
        Key::Down => state.server_selected = (state.server_selected + 1).min(last),
        Key::Home => state.server_selected = 0,
        Key::End => state.server_selected = last,
        Key::Enter => return switch_to_selected(state),
        _ => {}
    }
    Vec::new()
}

fn switch_to_selected(state: &mut State) -> Vec<Effect> {
    let Some(row) = state.servers.get(state.server_selected) else {
        return Vec::new();
    };
    state.view = None;
    if row.port == state.target.port {
        return Vec::new();
    }
    if state.replay.is_some() {
        state.note("replay: Enter in the Servers view is disabled: a recording reaches no server");
        return Vec::new();
    }
    let from = state.target.authority();
    let mut to = state.target.on_port(row.port, Chosen::Switched { from });
    to.scheme = if row.url.starts_with("https://") {
        "https"
    } else {
        "http"
    };
    vec![Effect::Switch(to)]
}

/// An action from the producers of generation `g`: the target on screen's, a parked
/// server's (kept, its log lines dropped: the Log pane speaks of the server on screen), or a
/// server let go (dropped).
pub fn routed(state: &mut State, g: u64, inner: super::Action) -> Vec<Effect> {
    if g == state.generation {
        return super::apply(state, inner);
    }
    if let Some(parked) = state.parked.iter_mut().find(|p| p.generation == g) {
        let _ = super::apply(parked, inner);
        parked.take_log();
    }
    Vec::new()
}

/// The console now monitors `target`: a server watched before comes back with all it kept;
/// a new one starts empty, with producers of a new generation. The one left is parked.
pub fn retarget(state: &mut State, target: Target) {
    let said = format!("now monitoring {target}");
    let kept = state
        .parked
        .iter()
        .position(|p| p.target.authority() == target.authority());
    let next = if let Some(i) = kept {
        let mut back = *state.parked.remove(i);
        back.target = target;
        back
    } else {
        let mut fresh = State::new(target, state.read_only);
        fresh.generation = state.next_generation;
        fresh.watched_since = state.now.mono;
        fresh
    };
    let restored = kept.is_some();
    let mut old = std::mem::replace(state, next);
    // What is the user's, not the server's, stays: the view (focus, zoom, filter, help), the
    // configuration and thresholds, the scan, an action still running. (The log is
    // tui-logger's.)
    state.keep_view(&old);
    state.recording = old.recording.take();
    state.replay = old.replay.take();
    state.config = std::mem::take(&mut old.config);
    state.config_file = std::mem::take(&mut old.config_file);
    state.alerts.thresholds = old.alerts.thresholds;
    state.alerts.let_go = std::mem::replace(&mut old.alerts.let_go, super::state::Ring::new(0));
    state.servers = std::mem::take(&mut old.servers);
    state.servers_at = old.servers_at;
    state.server_selected = old.server_selected;
    state.now = old.now;
    state.busy = old.busy.take();
    state.next_generation = old.next_generation + u64::from(!restored);
    state.parked = std::mem::take(&mut old.parked);
    old.view = None;
    old.take_log();
    state.parked.push(Box::new(old));
    if state.parked.len() > MAX_PARKED {
        let let_go = state.parked.remove(0);
        let at = let_go.target.authority();
        for raised in let_go.alerts.history.iter() {
            state.alerts.let_go.push((at.clone(), raised.clone()));
        }
        state.note(format!(
            "no longer watching {} in the background (at most {MAX_PARKED} are kept)",
            let_go.target.authority()
        ));
    }
    if restored {
        state.note(format!("{said}, with what was kept since leaving it"));
    } else {
        state.note(said);
    }
}

/// Moves every parked server's clock, so its rates roll as the one on screen does.
pub fn tick_parked(state: &mut State, now: Stamp) {
    for parked in &mut state.parked {
        super::events::tick(parked, now);
    }
}

#[cfg(test)]
mod tests;
