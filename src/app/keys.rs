//! What each key does. The footer and the help overlay are drawn from the tables here, so
//! what is shown is what is bound.

use super::state::{Dialog, Pane, RATE_WINDOWS, State};
use super::{Effect, Key, LogKey};
use crate::actions::restart::{Confirmed, is_ours};
use crate::target::Chosen;

/// Keys for the footer, most important first: the footer shows as many as fit, and always the
/// last two (help and quit).
pub const FOOTER_KEYS: [(&str, &str); 17] = [
    ("/", "filter"),
    ("p", "pause"),
    ("Enter", "detail"),
    ("d", "doctor"),
    ("C", "clients"),
    ("S", "servers"),
    ("s", "start"),
    ("r", "restart"),
    ("K", "kill"),
    ("c", "collect"),
    ("R", "reset cfg"),
    ("w", "record"),
    ("Tab", "focus"),
    ("z", "zoom"),
    ("x", "clear"),
    ("?", "help"),
    ("q", "quit"),
];

/// Every key, for the help overlay.
pub const HELP_KEYS: [(&str, &str); 25] = [
    ("s", "start the bundled server on the target's port"),
    ("r", "restart the target's server (graceful)"),
    ("K", "kill the processes holding the target's port"),
    ("R", "reset the socketio: section of the config file"),
    ("c", "write debug_info.txt"),
    ("C", "clients: who is connected, who left and why"),
    (
        "S",
        "servers on this host: Enter monitors one (each keeps its events)",
    ),
    ("d", "run doctor"),
    (
        "w",
        "start or stop recording (mpm-top replay FILE opens it)",
    ),
    ("g", "switch to the server found elsewhere (when offered)"),
    ("/", "filter the stream (Enter keeps it, Esc ends typing)"),
    ("p", "pause or resume the stream"),
    ("x", "clear the stream"),
    ("Up/Down", "select an older / newer event"),
    ("PgUp/PgDn", "a page older / newer"),
    ("Home/End", "the oldest event / follow the newest"),
    ("Enter", "show the selected event's payload"),
    ("Tab", "focus the next pane"),
    ("1-6", "focus a pane"),
    ("z", "zoom the focused pane"),
    ("+/-", "widen / narrow the rate window"),
    (
        "Esc",
        "close the detail or dialog, unzoom, follow the newest",
    ),
    ("?", "this help (any key closes it)"),
    ("q", "quit"),
    ("Ctrl-C", "quit"),
];

/// A replay's controls: the footer and the help show these while replaying.
pub const REPLAY_KEYS: [(&str, &str); 5] = [
    ("space", "play or pause the replay"),
    ("Left/Right", "seek 10 s back / forward"),
    ("Home/End", "the recording's start / end"),
    ("[ ]", "slower / faster (×0.25 to ×16)"),
    (
        "actions",
        "s r K R c d g w are off: a recording reaches no server",
    ),
];

/// What a key asks of a replay's player.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Control {
    /// Play or pause.
    PlayPause,
    /// Move the position by this many seconds of the recording.
    Seek(f64),
    /// To the recording's start.
    Start,
    /// To its end.
    End,
    /// Half as fast.
    Slower,
    /// Twice as fast.
    Faster,
}

/// The replay control `key` is, when the console replays and nothing else takes the key (a
/// filter being typed, the help, an event's detail).
#[must_use]
pub fn replay_control(state: &State, key: Key) -> Option<Control> {
    if state.replay.is_none() || state.editing_filter || state.help || state.detail {
        return None;
    }
    if log_zoomed(state) && (LogKey::of(key).is_some() || key == Key::Char('h')) {
        return None;
    }
    Some(match key {
        Key::Char(' ') => Control::PlayPause,
        Key::Left => Control::Seek(-10.0),
        Key::Right => Control::Seek(10.0),
        Key::Home => Control::Start,
        Key::End => Control::End,
        Key::Char('[') => Control::Slower,
        Key::Char(']') => Control::Faster,
        _ => return None,
    })
}

/// The most processes a dialog lists (each on a line of its own).
const MAX_SHOWN: usize = 12;

/// Rows a page key moves.
const PAGE: isize = 10;

/// A key while a view (Clients, Servers) is open, or the key that opens one; None when the
/// key is not the view's.
fn view_key(state: &mut State, key: Key) -> Option<Vec<Effect>> {
    use super::state::View;
    match (state.view, key) {
        (None | Some(View::Servers), Key::Char('C')) => state.view = Some(View::Clients),
        (None | Some(View::Clients), Key::Char('S')) => {
            // The selection starts on the server watched.
            state.server_selected = state
                .servers
                .iter()
                .position(|r| r.port == state.target.port)
                .unwrap_or(0);
            state.view = Some(View::Servers);
        }
        (Some(View::Clients), Key::Char('C') | Key::Esc)
        | (Some(View::Servers), Key::Char('S') | Key::Esc) => state.view = None,
        (Some(View::Servers), _) if !matches!(key, Key::Char('q' | '?')) => {
            return Some(super::servers::key(state, key));
        }
        // The keys below the view (quit, help, actions) still work; navigation would move
        // what the view hides.
        (Some(_), Key::Char('q' | '?' | 's' | 'r' | 'K' | 'R' | 'c' | 'd' | 'w' | 'g')) => {
            return None;
        }
        (Some(_), _) => {}
        (None, _) => return None,
    }
    Some(Vec::new())
}

/// Applies a key press.
pub fn press(state: &mut State, key: Key) -> Vec<Effect> {
    if key == Key::CtrlC {
        state.quit = true;
        return Vec::new();
    }
    if let Some(dialog) = state.dialog.take() {
        return answer(state, dialog, key);
    }
    if state.editing_filter {
        match key {
            Key::Enter | Key::Esc => state.editing_filter = false,
            Key::Backspace => {
                state.filter.pop();
            }
            Key::CtrlU => state.filter.clear(),
            Key::Char(c) if !c.is_control() => state.filter.push(c),
            _ => {}
        }
        return Vec::new();
    }
    if state.help {
        state.help = false;
        return Vec::new();
    }
    if state.detail {
        return detail_key(state, key);
    }
    if let Some(effects) = view_key(state, key) {
        return effects;
    }
    if let Some(effects) = log_key(state, key) {
        return effects;
    }
    // Selecting and opening events needs the stream on screen.
    let stream_hidden = state.zoom && state.focus != Pane::Events;
    if stream_hidden
        && matches!(
            key,
            Key::Up | Key::Down | Key::PageUp | Key::PageDown | Key::Home | Key::End | Key::Enter
        )
    {
        return Vec::new();
    }
    match key {
        Key::Char('q') => state.quit = true,
        Key::Char('?') => state.help = true,
        Key::Tab => {
            let i = Pane::ALL
                .iter()
                .position(|p| *p == state.focus)
                .unwrap_or(0);
            state.focus = Pane::ALL[(i + 1) % Pane::ALL.len()];
        }
        Key::Char(c @ '1'..='6') => state.focus = Pane::ALL[c as usize - '1' as usize],
        Key::Char('z') => state.zoom = !state.zoom,
        Key::Char('/') => {
            state.editing_filter = true;
            state.focus = Pane::Events;
        }
        Key::Char('p') => pause_or_resume(state),
        Key::Char('x') => {
            state.events.clear();
            state.selected = None;
            state.detail = false;
        }
        Key::Char('+') => {
            state.rate_window = (state.rate_window + 1).min(RATE_WINDOWS.len() - 1);
        }
        Key::Char('-') => state.rate_window = state.rate_window.saturating_sub(1),
        Key::Up => select_by(state, -1),
        Key::PageUp => select_by(state, -PAGE),
        Key::Down => select_by(state, 1),
        Key::PageDown => select_by(state, PAGE),
        Key::Home => {
            let oldest = state.visible_events().next().map(|e| e.id);
            state.selected = oldest;
        }
        // One step back at a time: unzoom first, then stop holding a selection.
        Key::Esc if state.zoom => state.zoom = false,
        Key::End | Key::Esc => state.selected = None,
        Key::Enter => {
            state.detail = true;
            state.detail_scroll = 0;
            if state.selected.is_none() {
                // The detail holds on to the event it opened on, not to whatever comes next.
                state.selected = state.selected_event().map(|e| e.id);
            }
        }
        Key::Char(c @ ('g' | 'w' | 's' | 'r' | 'K' | 'R' | 'c' | 'd'))
            if state.replay.is_some() =>
        {
            state.note(format!(
                "replay: '{c}' is disabled: this is a recording, and nothing in it reaches a server or a file"
            ));
        }
        Key::Char('g') => return switch(state),
        Key::Char('w') => return vec![Effect::Record],
        Key::Char(c @ ('s' | 'r' | 'K' | 'R' | 'c' | 'd')) => return action_key(state, c),
        _ => {}
    }
    Vec::new()
}

/// A key the zoomed Log pane takes (tui-logger's widget has its own keys); None for the rest.
fn log_key(state: &mut State, key: Key) -> Option<Vec<Effect>> {
    if !log_zoomed(state) {
        return None;
    }
    if key == Key::Char('h') {
        state.log_topics_hidden = !state.log_topics_hidden;
        return Some(Vec::new());
    }
    let log_key = LogKey::of(key)?;
    if key == Key::Esc {
        state.zoom = false;
    }
    Some(vec![Effect::LogView(log_key)])
}

/// Whether the Log pane fills the screen (and so takes its own keys).
fn log_zoomed(state: &State) -> bool {
    state.zoom && state.focus == Pane::Log
}

/// Keys while an event's detail is open: scroll it, or close it (Enter, Esc, q).
fn detail_key(state: &mut State, key: Key) -> Vec<Effect> {
    let by = |n: isize| state.detail_scroll.saturating_add_signed(n);
    match key {
        Key::Enter | Key::Esc | Key::Char('q') => state.detail = false,
        Key::Up => state.detail_scroll = by(-1),
        Key::Down => state.detail_scroll = by(1),
        Key::PageUp => state.detail_scroll = by(-PAGE),
        Key::PageDown => state.detail_scroll = by(PAGE),
        Key::Home => state.detail_scroll = 0,
        _ => {}
    }
    Vec::new()
}

fn answer(state: &mut State, dialog: Dialog, key: Key) -> Vec<Effect> {
    match key {
        Key::Char('y') => {
            state.note("confirmed");
            let effect = match dialog {
                Dialog::Kill(targets) => Effect::Kill(state.target.clone(), targets),
                Dialog::ResetConfig { file, diff, .. } => Effect::ResetConfig { file, diff },
                Dialog::Restart(shown) => {
                    Effect::Restart(state.target.clone(), Confirmed::Shown(shown))
                }
            };
            start(state, effect)
        }
        Key::Char('n') | Key::Esc => {
            state.note("cancelled: nothing was changed");
            Vec::new()
        }
        _ => {
            state.dialog = Some(dialog);
            Vec::new()
        }
    }
}

fn pause_or_resume(state: &mut State) {
    if state.paused.is_some() {
        let held = state.held_back();
        state.paused = None;
        state.note(format!("resumed; {held} event(s) arrived while paused"));
    } else {
        state.paused = Some(state.next_id - 1);
    }
}

/// Moves the selection `delta` rows (negative: older). From "following", it starts at the
/// newest row; moving onto the newest again, when not paused, follows it again.
fn select_by(state: &mut State, delta: isize) {
    let ids: Vec<u64> = state.visible_events().map(|e| e.id).collect();
    let Some(newest) = ids.len().checked_sub(1) else {
        state.selected = None;
        return;
    };
    let at = state
        .selected
        .and_then(|id| ids.iter().position(|i| *i == id))
        .unwrap_or(newest);
    let to = at.saturating_add_signed(delta).min(newest);
    state.selected = if to == newest && delta > 0 && state.paused.is_none() {
        None
    } else {
        Some(ids[to])
    };
}

/// `g`: monitor the server discovery offered.
fn switch(state: &mut State) -> Vec<Effect> {
    let Some(offer) = state.offer.take() else {
        state.note("g: no other server has been found to switch to");
        return Vec::new();
    };
    let from = state.target.authority();
    vec![Effect::Switch(state.target.on_port(
        offer.port,
        crate::target::Chosen::Switched { from },
    ))]
}

/// Marks the action as running and hands it over; refuses while another runs.
fn start(state: &mut State, effect: Effect) -> Vec<Effect> {
    if let Some(running) = &state.busy {
        state.note(format!(
            "'{running}' is still running: wait for it to finish before '{}'",
            effect.label()
        ));
        return Vec::new();
    }
    state.busy = Some(effect.label().to_owned());
    vec![effect]
}

/// The keys that act (all but `c` and `d` change things, and are refused in read-only mode).
fn action_key(state: &mut State, key: char) -> Vec<Effect> {
    let changes_things = matches!(key, 's' | 'r' | 'K' | 'R');
    if state.read_only && changes_things {
        state.note(format!(
            "read-only: '{key}' is disabled (started with --read-only)"
        ));
        return Vec::new();
    }
    if let Some(running) = &state.busy {
        state.note(format!(
            "'{running}' is still running: '{key}' waits until it is done"
        ));
        return Vec::new();
    }
    let target = state.target.clone();
    let holders = match &state.holders {
        // A dialog must show every process it would stop; this many do not fit on a screen.
        Ok(holders) if holders.len() > MAX_SHOWN && matches!(key, 'r' | 'K') => {
            state.note(format!(
                "{key}: {} processes hold {}: too many to show here; mpm-top recover lists them all and asks",
                holders.len(),
                state.target.authority()
            ));
            return Vec::new();
        }
        Ok(holders) => holders.clone(),
        Err(why) if matches!(key, 'r' | 'K') => {
            state.note(format!("{key}: {why}"));
            return Vec::new();
        }
        Err(_) => Vec::new(),
    };
    if target.chosen == Chosen::Demo && matches!(key, 's' | 'r') {
        state.note(format!(
            "'{key}': the demo's server runs inside this console; s and r act on real servers (quit, then mpm-top serve)"
        ));
        return Vec::new();
    }
    // `r` starts the bundled server with this console's configuration (its HOME, PID file,
    // log). A server switched to was started elsewhere, from its own: restarting it from here
    // stopped it, then failed on this console's PID file and left the port dead.
    if matches!(target.chosen, Chosen::Switched { .. }) && key == 'r' {
        state.note(format!(
            "r: {} was switched to; it was started with its own configuration, and a restart from here would start it with this console's: run mpm-top restart --port {} where it was started (K stops it from here)",
            target.authority(),
            target.port
        ));
        return Vec::new();
    }
    match key {
        's' if state.server.kind.is_some() => {
            state.note(format!(
                "s: a {} server already answers on {}: nothing to start (r restarts it)",
                state.server.kind.as_deref().unwrap_or("?"),
                target.authority()
            ));
            Vec::new()
        }
        's' => start(state, Effect::StartServer(target)),
        'r' if !holders.is_empty()
            && !is_ours(state.server.kind.as_deref() == Some("mpm-top"), &holders) =>
        {
            state.dialog = Some(Dialog::Restart(holders));
            Vec::new()
        }
        'r' => start(state, Effect::Restart(target, Confirmed::NotNeeded)),
        'K' if holders.is_empty() => {
            state.note(format!(
                "nothing but mpm-top itself holds {}: nothing to kill",
                target.authority()
            ));
            Vec::new()
        }
        'K' => {
            state.dialog = Some(Dialog::Kill(holders));
            Vec::new()
        }
        // The dialog shows the change itself, so the file is read first (not here: no I/O).
        'R' => start(state, Effect::PlanReset(state.config_file.clone())),
        'c' => start(state, Effect::Collect(target)),
        _ => start(state, Effect::Doctor(target)),
    }
}
