//! The console's state machine: every input is an [`Action`]; [`update`] changes the [`State`]
//! and returns the [`Effect`]s to carry out. No I/O and no clock here: time arrives in
//! `Action::Tick`, so whole sequences are tested as data.

mod events;
pub mod state;

use serde_json::Value;

pub use events::long_running as events_long_running;
pub use state::{Dialog, EventRow, Origin, Pane, State};

use crate::checks::Status;
use crate::probes::logtail::LogLine;
use crate::probes::process::{ProcessInfo, ProcessStats};
use crate::probes::sockets::SocketRow;

/// A key press, as the console sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Char(char),
    /// Tab.
    Tab,
    /// Escape.
    Esc,
    /// Enter.
    Enter,
    /// Backspace.
    Backspace,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Ctrl-C.
    CtrlC,
}

/// Everything that can happen to the console.
#[derive(Clone, Debug)]
pub enum Action {
    /// Time passed: seconds since start.
    Tick(f64),
    /// A key was pressed.
    Key(Key),
    /// The terminal changed size: redraw now.
    Resize,
    /// The feed connected.
    Connected,
    /// The feed lost the server.
    Disconnected(String),
    /// An event from the feed.
    FeedEvent {
        /// Event name.
        name: String,
        /// Its data.
        data: Value,
    },
    /// A ping round trip, ms.
    Latency(f64),
    /// A line from the log tailer.
    LogLine(LogLine),
    /// A health probe result.
    Health(Result<crate::probes::http::Health, String>),
    /// Handshake and websocket results.
    Transport {
        /// Polling handshake works.
        handshake: bool,
        /// Websocket upgrade works.
        websocket: bool,
    },
    /// Process and socket facts.
    Resources(Option<ProcessStats>, Vec<SocketRow>),
    /// Configuration rows.
    Config(Vec<[String; 5]>),
    /// The doctor's worst finding.
    Doctor(Status, String),
    /// An effect finished; what to tell the user.
    Done(String),
    /// An effect failed; why.
    Failed(String),
}

/// Work `update` asks the runtime to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Start the bundled server.
    StartServer,
    /// Restart (graceful).
    Restart,
    /// Kill exactly these processes.
    Kill(Vec<ProcessInfo>),
    /// Reset the socketio section of the config file.
    ResetConfig,
    /// Write `debug_info.txt`.
    Collect,
    /// Run the doctor.
    Doctor,
}

/// The key map, shown in the footer and the help overlay.
pub const KEYS: [(&str, &str); 15] = [
    ("s", "start server"),
    ("r", "restart"),
    ("K", "kill port holders"),
    ("R", "reset config"),
    ("c", "collect"),
    ("d", "doctor"),
    ("/", "filter"),
    ("p", "pause"),
    ("x", "clear"),
    ("Enter", "detail"),
    ("Tab 1-6", "focus"),
    ("z", "zoom"),
    ("+/-", "rate window"),
    ("?", "help"),
    ("q", "quit"),
];

/// Applies `action` to `state`; returns what the runtime must do.
pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Tick(now) => events::tick(state, now),
        Action::Key(key) => return keys(state, key),
        Action::Resize => {}
        Action::Connected => {
            state.connected = true;
            state.feed_status = "connected".into();
            state.note("feed connected");
        }
        Action::Disconnected(reason) => {
            if state.connected {
                state.note(format!("feed lost the server: {reason}; reconnecting"));
            }
            state.connected = false;
            state.feed_status = reason;
        }
        Action::FeedEvent { name, data } => events::from_feed(state, &name, data),
        Action::Latency(ms) => state.latency.push(ms),
        Action::LogLine(line) => events::from_log(state, &line),
        Action::Health(result) => events::health(state, result),
        Action::Transport {
            handshake,
            websocket,
        } => {
            state.server.handshake = Some(handshake);
            state.server.websocket = Some(websocket);
        }
        Action::Resources(process, sockets) => {
            if let Some(p) = &process {
                state.trend.push(state.now, p.rss_bytes);
            }
            state.resources = process;
            state.sockets = sockets;
        }
        Action::Config(rows) => state.config = rows,
        Action::Doctor(status, reason) => state.worst = Some((status, reason)),
        Action::Done(text) => state.note(text),
        Action::Failed(text) => state.note(format!("failed: {text}")),
    }
    Vec::new()
}

fn keys(state: &mut State, key: Key) -> Vec<Effect> {
    if key == Key::CtrlC {
        state.quit = true;
        return Vec::new();
    }
    if let Some(dialog) = state.dialog.take() {
        return match key {
            Key::Char('y') => {
                state.note("confirmed");
                vec![match dialog {
                    Dialog::Kill(targets) => Effect::Kill(targets),
                    Dialog::ResetConfig(_) => Effect::ResetConfig,
                    Dialog::Restart(_) => Effect::Restart,
                }]
            }
            Key::Char('n') | Key::Esc => {
                state.note("cancelled: nothing was changed");
                Vec::new()
            }
            _ => {
                state.dialog = Some(dialog);
                Vec::new()
            }
        };
    }
    if state.editing_filter {
        match key {
            Key::Enter | Key::Esc => state.editing_filter = false,
            Key::Backspace => {
                state.filter.pop();
            }
            Key::Char(c) => state.filter.push(c),
            _ => {}
        }
        state.selected = 0;
        return Vec::new();
    }
    if state.help {
        state.help = false;
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
        Key::Char('p') => {
            state.paused = !state.paused;
            if !state.paused {
                state.note(format!(
                    "resumed; {} event(s) arrived while paused",
                    state.paused_new
                ));
                state.paused_new = 0;
            }
        }
        Key::Char('x') => {
            state.events.clear();
            state.selected = 0;
        }
        Key::Char('+') => {
            state.rate_window = (state.rate_window + 1).min(state::RATE_WINDOWS.len() - 1);
        }
        Key::Char('-') => state.rate_window = state.rate_window.saturating_sub(1),
        Key::Up => state.selected += 1,
        Key::Down => state.selected = state.selected.saturating_sub(1),
        Key::Enter => state.detail = !state.detail,
        Key::Esc => {
            state.detail = false;
            state.zoom = false;
        }
        Key::Char(c @ ('s' | 'r' | 'K' | 'R' | 'c' | 'd')) => return action_key(state, c),
        _ => {}
    }
    Vec::new()
}

/// The keys that change things (all but `c` and `d`), each refused in read-only mode.
fn action_key(state: &mut State, key: char) -> Vec<Effect> {
    let changes_things = matches!(key, 's' | 'r' | 'K' | 'R');
    if state.read_only && changes_things {
        state.note(format!(
            "read-only: '{key}' is disabled (started with --read-only)"
        ));
        return Vec::new();
    }
    let holders: Vec<ProcessInfo> = state
        .sockets
        .iter()
        .filter(|s| s.is_listener())
        .flat_map(|s| s.owners.clone())
        .filter(|p| p.pid != state.own_pid)
        .collect();
    match key {
        's' => vec![Effect::StartServer],
        'r' if state.server.kind.as_deref().is_some_and(|k| k != "mpm-top") => {
            state.dialog = Some(Dialog::Restart(holders));
            Vec::new()
        }
        'r' => vec![Effect::Restart],
        'K' if holders.is_empty() => {
            state.note("nothing but mpm-top itself holds the port: nothing to kill");
            Vec::new()
        }
        'K' => {
            state.dialog = Some(Dialog::Kill(holders));
            Vec::new()
        }
        'R' => {
            state.dialog = Some(Dialog::ResetConfig(state.config_file.clone()));
            Vec::new()
        }
        'c' => vec![Effect::Collect],
        _ => vec![Effect::Doctor],
    }
}

#[cfg(test)]
mod tests;
