//! The console's state machine: every input is an [`Action`]; [`update`] changes the [`State`]
//! and returns the [`Effect`]s to carry out. No I/O and no clock here: every happening carries
//! its own [`Stamp`], so whole sequences are tested as data.

pub mod alerts;
pub mod clients;
mod events;
mod keys;
pub mod log;
pub mod servers;
pub mod state;
pub mod time;
mod tools;

use serde_json::Value;

pub use events::long_running as events_long_running;
pub use keys::{Control, FOOTER_KEYS, HELP_KEYS, REPLAY_KEYS, replay_control};
pub use log::{Entry as LogEntry, LOG_KEYS, Level, LogKey, Topic};
pub use state::{Dialog, EventRow, Offer, Origin, Pane, RecordingView, ReplayView, State};
pub use time::{Clock, Stamp};

use crate::actions::holder::Holder;
use crate::actions::restart::Confirmed;
use crate::checks::Status;
use crate::config::ConfigRow;
use crate::probes::logtail::LogLine;
use crate::probes::process::{ProcessInfo, ProcessStats};
use crate::probes::sockets::SocketRow;
use crate::target::Target;

/// A key press, as the console sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Arrow up: an older event.
    Up,
    /// Arrow down: a newer event.
    Down,
    /// Page up: a page of older events.
    PageUp,
    /// Page down: a page of newer events.
    PageDown,
    /// Home: the oldest event.
    Home,
    /// End: back to following the newest.
    End,
    /// Arrow left (a replay seeks back).
    Left,
    /// Arrow right (a replay seeks forward).
    Right,
    /// Ctrl-U: clear the line being typed.
    CtrlU,
    /// Ctrl-C.
    CtrlC,
}

/// Everything that can happen to the console.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Action {
    /// What a target's producers report, tagged with that target's generation: the loop drops
    /// it when the console has switched to another target since.
    Watched(u64, Box<Action>),
    /// The clock moved.
    Tick(Stamp),
    /// A key was pressed.
    Key(Key),
    /// The terminal changed size: redraw now.
    Resize,
    /// The feed connected (the server acked).
    Connected,
    /// The feed lost the server.
    Disconnected(String),
    /// A `client:list:response` from the feed.
    ClientList {
        /// Its data.
        data: Value,
        /// When it arrived.
        at: Stamp,
        /// This machine's monotonic clock then, seconds (what Claude MPM's `connected_at`
        /// is measured on); None for a server on another machine.
        boot: Option<f64>,
    },
    /// mpm-top's alert thresholds (from its own configuration).
    Thresholds(crate::config::alerts::Thresholds),
    /// An event from the feed.
    FeedEvent {
        /// Event name.
        name: String,
        /// Its data.
        data: Value,
        /// When it arrived.
        at: Stamp,
    },
    /// A ping round trip, ms.
    Latency(f64),
    /// Feed events dropped so far because the console fell behind.
    FeedDropped(u64),
    /// A line from the log tailer, and when it was read.
    LogLine(LogLine, Stamp),
    /// A health probe result.
    Health(Result<crate::probes::http::Health, String>),
    /// Handshake and websocket results.
    Transport {
        /// Polling handshake works.
        handshake: bool,
        /// Websocket upgrade works.
        websocket: bool,
    },
    /// Process and socket facts, sampled at `at`.
    Resources {
        /// The process holding the target's listening socket.
        process: Option<ProcessStats>,
        /// Every socket on the port.
        sockets: Vec<SocketRow>,
        /// Those of its processes that hold the target's listening socket (or why none can).
        holders: Result<Vec<Holder>, String>,
        /// When they were sampled.
        at: Stamp,
    },
    /// Servers found on other ports while the target does not answer: (port, kind).
    Found(Vec<(u16, String)>),
    /// Every monitor server a scan of the host found, and when.
    Servers {
        /// One row per server.
        rows: Vec<crate::probes::servers::ServerRow>,
        /// When the scan was made.
        at: Stamp,
    },
    /// The console now monitors this target (after a switch).
    Retargeted(Target),
    /// The configuration, read again (after a reset).
    Config(Vec<ConfigRow>),
    /// What resetting the config file would change: exists, and the change; or why it cannot.
    ResetPlanned(Result<(bool, Vec<String>), String>),
    /// The doctor's worst finding.
    Doctor(Status, String),
    /// Something to tell the user, in mpm-top's log.
    Note(String),
    /// A line of mpm-top's log as it was written, stamp included: how a recording carries the
    /// lines that keys wrote (the keys themselves are not recorded).
    Logged(String),
    /// A line of mpm-top's log as it was written, with its level and topic (recordings made
    /// since the Log pane has topics; `Logged` is how older ones carry theirs).
    LoggedAs(LogEntry),
    /// An effect finished; what to tell the user.
    Done(String),
    /// An effect failed; why.
    Failed(String),
}

/// Work `update` asks the runtime to do. Each carries exactly what it acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Start the bundled server on the target's port.
    StartServer(Target),
    /// Restart the target's server (graceful), as confirmed.
    Restart(Target, Confirmed),
    /// Kill exactly these processes, if they still hold the target's socket, each proven again
    /// first.
    Kill(Target, Vec<Holder>),
    /// Work out what resetting this config file would change, for the dialog.
    PlanReset(String),
    /// Reset the socketio section of this config file, if the change is still the one shown.
    ResetConfig {
        /// The file.
        file: String,
        /// The change the dialog showed.
        diff: Vec<String>,
    },
    /// Write `debug_info.txt` about the target.
    Collect(Target),
    /// Run the doctor on the target.
    Doctor(Target),
    /// Monitor another server from now on.
    Switch(Target),
    /// Start recording, or stop the recording being written.
    Record,
    /// Write a line to mpm-top's log (and so the Log pane).
    Log(LogEntry),
    /// A key for the zoomed Log pane's widget.
    LogView(LogKey),
}

impl Effect {
    /// What the user sees while it runs.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Effect::StartServer(_) => "start server",
            Effect::Restart(..) => "restart",
            Effect::Kill(..) => "kill port holders",
            Effect::PlanReset(_) => "reset config (reading the file)",
            Effect::ResetConfig { .. } => "reset config",
            Effect::Collect(_) => "collect",
            Effect::Doctor(_) => "doctor",
            Effect::Switch(_) => "switch",
            Effect::Record => "record",
            Effect::Log(_) => "log",
            Effect::LogView(_) => "log view",
        }
    }
}

/// A sample of the port: its process, sockets and holders.
fn resources(
    state: &mut State,
    process: Option<ProcessStats>,
    sockets: Vec<SocketRow>,
    holders: Result<Vec<Holder>, String>,
    at: Stamp,
) {
    // Described where they were read; again here, since a recording is a file
    // from anyone.
    let (mut sockets, mut holders) = (sockets, holders);
    for socket in &mut sockets {
        for text in [&mut socket.state, &mut socket.local, &mut socket.remote] {
            *text = crate::text::clean(text);
        }
        socket.owners.iter_mut().for_each(ProcessInfo::clean);
    }
    if let Ok(holders) = holders.as_mut() {
        for h in holders.iter_mut() {
            h.process.clean();
        }
    }
    state.holders = holders.map_err(|why| crate::text::clean(&why));
    match &process {
        Some(p) if state.resources.as_ref().is_some_and(|old| old.pid != p.pid) => {
            state.trend = crate::probes::process::MemoryTrend::default();
            state.trend.push(at.mono, p.rss_bytes);
        }
        Some(p) => state.trend.push(at.mono, p.rss_bytes),
        None => state.trend = crate::probes::process::MemoryTrend::default(),
    }
    state.resources = process;
    state.resources_at = at.mono;
    state.sockets = sockets;
}

/// A configuration row with its text shown, never obeyed (a recording is a file from anyone).
fn clean_row(row: ConfigRow) -> ConfigRow {
    ConfigRow {
        key: crate::text::clean(&row.key),
        value: crate::text::clean(&row.value),
        source: crate::text::clean(&row.source),
        shadowed: crate::text::clean(&row.shadowed),
        finding: row.finding.map(|f| crate::text::clean(&f)),
    }
}

/// The feed lost the server, or failed to reach it: said once per cause until it connects.
fn feed_lost(state: &mut State, reason: &str) {
    // The status pane has room for the start of it; the log gets it whole, once per
    // cause (not once per retry).
    let cause = |r: &str| r.split(" (retry in").next().unwrap_or_default().to_owned();
    // Who was connected is no longer known: the Clients view must not go on listing them as
    // connected (the departures stay; the list comes again when the feed is back).
    state.clients.forget_list();
    if state.connected {
        let line = format!("feed lost the server: {reason}; reconnecting");
        state.log(Level::Warn, Topic::Feed, line);
    } else if !state.feed_causes.contains(&cause(reason)) {
        // Once per cause until the feed connects again: a server that fails two ways
        // in turn had written two lines a second.
        if state.feed_causes.len() == FEED_CAUSES {
            state.feed_causes.remove(0);
        }
        state.feed_causes.push(cause(reason));
        state.log(Level::Warn, Topic::Feed, format!("feed: {reason}"));
    }
    state.connected = false;
    state.feed_status = crate::text::clean(reason);
}

/// Causes of feed failures remembered (each is logged once until the feed connects).
const FEED_CAUSES: usize = 8;

/// Applies `action` to `state`; returns what the runtime must do, mpm-top's log lines last.
pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    let mut effects = apply(state, action);
    effects.extend(state.take_log().into_iter().map(Effect::Log));
    effects
}

fn apply(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Watched(g, inner) => return servers::routed(state, g, *inner),
        Action::Tick(now) => {
            events::tick(state, now);
            servers::tick_parked(state, now);
            alerts::each_second(state);
        }
        Action::Servers { rows, at } => servers::listed(state, rows, at),
        Action::Key(key) => return keys::press(state, key),
        Action::Resize => {}
        Action::Connected => {
            state.connected = true;
            state.feed_status = "connected".into();
            state.feed_causes.clear();
            state.log(Level::Info, Topic::Feed, "feed connected");
        }
        Action::Disconnected(reason) => feed_lost(state, &reason),
        Action::FeedEvent { name, data, at } => events::from_feed(state, &name, data, at),
        Action::ClientList { data, at, boot } => clients::listed(state, &data, at, boot),
        Action::Thresholds(t) => state.alerts.thresholds = t,
        Action::FeedDropped(n) => state.feed_dropped = n,
        Action::Latency(ms) => {
            state.latency.push(ms);
        }
        Action::LogLine(line, at) => events::from_log(state, &line, at),
        Action::Logged(line) => {
            let line = crate::text::sanitize(&line).into_owned();
            state.log_line(Level::Info, Topic::Replay, line);
        }
        Action::LoggedAs(entry) => {
            let line = crate::text::sanitize(&entry.line).into_owned();
            state.log_line(entry.level, entry.topic, line);
        }
        Action::Health(result) => events::health(state, result),
        Action::Transport {
            handshake,
            websocket,
        } => {
            state.server.handshake = Some(handshake);
            state.server.websocket = Some(websocket);
        }
        Action::Resources {
            process,
            sockets,
            holders,
            at,
        } => resources(state, process, sockets, holders, at),
        Action::Found(found) => found_elsewhere(state, found),
        Action::Retargeted(target) => servers::retarget(state, target),
        Action::Config(rows) => state.config = rows.into_iter().map(clean_row).collect(),
        Action::ResetPlanned(plan) => {
            state.busy = None;
            match plan {
                Ok((_, diff)) if diff.is_empty() => state.note(format!(
                    "R: {} already holds the defaults: nothing to do",
                    state.config_file
                )),
                Ok((exists, diff)) => {
                    state.dialog = Some(Dialog::ResetConfig {
                        file: state.config_file.clone(),
                        exists,
                        diff,
                    });
                }
                Err(why) => state.note(format!("R: {why}")),
            }
        }
        Action::Doctor(status, reason) => {
            let reason = crate::text::clean(&reason);
            // The counts come as a Done line; what needs looking at gets a line at its level.
            let level = match status {
                Status::Fail => Some(Level::Error),
                Status::Warn => Some(Level::Warn),
                Status::Ok => None,
            };
            if let Some(level) = level {
                state.log(level, Topic::Action, format!("doctor: {reason}"));
            }
            state.worst = Some((status, reason));
        }
        Action::Note(text) => state.note(text),
        Action::Done(text) => {
            state.busy = None;
            state.log(Level::Info, Topic::Action, text);
        }
        Action::Failed(text) => {
            state.busy = None;
            state.log(Level::Error, Topic::Action, format!("failed: {text}"));
        }
    }
    Vec::new()
}

/// Discovery's answer while the target is silent: offer the first server found. A target the
/// user named is never replaced; one nobody named is (the console then says so).
fn found_elsewhere(state: &mut State, found: Vec<(u16, String)>) {
    if state.server.kind.is_some() {
        state.offer = None;
        return;
    }
    let first = found
        .into_iter()
        .find(|(port, _)| *port != state.target.port)
        .map(|(port, kind)| state::Offer {
            port,
            kind: crate::text::clean(&kind),
        });
    if first != state.offer {
        if let Some(o) = &first {
            let line = format!(
                "nothing answers on {}; a {} server answers on port {}: press g to switch",
                state.target.authority(),
                o.kind,
                o.port
            );
            state.log(Level::Info, Topic::Probe, line);
        }
        state.offer = first;
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_truth;
