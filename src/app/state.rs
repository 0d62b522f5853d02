//! What the console shows, held in bounded buffers. Time enters only through `Action::Tick`.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

use crate::checks::Status;
use crate::probes::process::{MemoryTrend, ProcessInfo, ProcessStats};
use crate::probes::sockets::SocketRow;

/// Events kept for the stream pane.
pub const EVENT_CAPACITY: usize = 2000;
/// Seconds of per-type rates kept (the widest window, 1 h).
pub const RATE_HISTORY: usize = 3600;
/// Seconds of latency and availability history (the guide's 60-second health loop).
pub const STRIP: usize = 60;
/// Lines of mpm-top's own log kept.
pub const LOG_CAPACITY: usize = 500;
/// The rate windows `+`/`-` step through, seconds.
pub const RATE_WINDOWS: [u64; 5] = [30, 60, 300, 900, 3600];

/// A bounded ring: pushing past capacity drops the oldest.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> Ring<T> {
    /// An empty ring holding at most `capacity`.
    #[must_use]
    pub fn new(capacity: usize) -> Ring<T> {
        Ring {
            items: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
        }
    }

    /// Adds one, dropping the oldest when full.
    pub fn push(&mut self, item: T) {
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    /// Oldest first.
    #[must_use = "iterators are lazy"]
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    /// How many are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none are held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// The newest, if any.
    #[must_use]
    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }

    /// The newest, to change in place (the current second's count).
    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.items.back_mut()
    }
}

/// The panes, in `Tab` and `1`–`6` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    /// Server status and health.
    Status,
    /// The live event stream.
    Events,
    /// Per-type event rates.
    Rates,
    /// Process resources and the port's sockets.
    Resources,
    /// The configuration inspector.
    Config,
    /// mpm-top's own log.
    Log,
}

impl Pane {
    /// All panes in order.
    pub const ALL: [Pane; 6] = [
        Pane::Status,
        Pane::Events,
        Pane::Rates,
        Pane::Resources,
        Pane::Config,
        Pane::Log,
    ];

    /// Title shown on the pane.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Pane::Status => "1 Status",
            Pane::Events => "2 Events",
            Pane::Rates => "3 Rates",
            Pane::Resources => "4 Resources",
            Pane::Config => "5 Config",
            Pane::Log => "6 Log",
        }
    }
}

/// Where an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The Socket.IO feed.
    Feed,
    /// The log tailer.
    Log,
}

/// One row of the event stream.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    /// Seconds since the console started.
    pub at: f64,
    /// Feed or log.
    pub origin: Origin,
    /// Display name: `tool_start`, `tool_stop`, `connect`, or the event name.
    pub name: String,
    /// Subtype, when the event has one.
    pub subtype: String,
    /// Session, when known.
    pub session: String,
    /// A one-line summary (tool name, status, text).
    pub summary: String,
    /// For a `tool_stop`: how long since its `tool_start`, seconds.
    pub duration: Option<f64>,
    /// The payload, for the detail view.
    pub payload: Value,
}

/// What the status pane shows about the server.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerView {
    /// `mpm-top`, `Claude MPM`, ...; None when nothing answers.
    pub kind: Option<String>,
    /// `/health` status, or why it failed.
    pub health: String,
    /// Server PID.
    pub pid: Option<u32>,
    /// Uptime, seconds.
    pub uptime: Option<f64>,
    /// Connected clients.
    pub clients: Option<u64>,
    /// Polling handshake works.
    pub handshake: Option<bool>,
    /// Websocket upgrade works.
    pub websocket: Option<bool>,
}

/// A confirm dialog, holding exactly what will be affected, captured when it opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dialog {
    /// Kill these port holders.
    Kill(Vec<ProcessInfo>),
    /// Reset the socketio section of this file.
    ResetConfig(String),
    /// Restart, replacing this server that is not mpm-top's.
    Restart(Vec<ProcessInfo>),
}

/// The whole console state.
#[derive(Clone, Debug)]
#[allow(clippy::struct_excessive_bools)] // independent UI toggles, not an encoded state machine
pub struct State {
    /// The server's URL.
    pub target: String,
    /// Seconds since start, from the last tick.
    pub now: f64,
    /// What the server looks like.
    pub server: ServerView,
    /// The feed is connected.
    pub connected: bool,
    /// Why the feed is not connected.
    pub feed_status: String,
    /// Ping latencies, ms.
    pub latency: Ring<f64>,
    /// One entry a second: did `/health` answer.
    pub availability: Ring<bool>,
    /// The stream.
    pub events: Ring<EventRow>,
    /// Events that arrived while paused.
    pub paused_new: u64,
    /// Tools started and not yet stopped: correlation id → (tool, started at).
    pub running: BTreeMap<String, (String, f64)>,
    /// Per type, events in each of the last seconds (newest last).
    pub rates: BTreeMap<String, Ring<u32>>,
    /// Per type, all events seen.
    pub totals: BTreeMap<String, u64>,
    /// Index into [`RATE_WINDOWS`].
    pub rate_window: usize,
    /// The server process.
    pub resources: Option<ProcessStats>,
    /// Its memory over time.
    pub trend: MemoryTrend,
    /// Sockets on the port.
    pub sockets: Vec<SocketRow>,
    /// Config rows: key, value, source, shadowed, findings.
    pub config: Vec<[String; 5]>,
    /// The configuration file, as shown (`~/.claude/config.yaml`).
    pub config_file: String,
    /// mpm-top's own log.
    pub log: Ring<String>,
    /// The doctor's worst finding.
    pub worst: Option<(Status, String)>,
    /// Focused pane.
    pub focus: Pane,
    /// Focused pane fills the screen.
    pub zoom: bool,
    /// The stream is paused.
    pub paused: bool,
    /// Filter text (matches type, subtype, session, summary).
    pub filter: String,
    /// Typing into the filter.
    pub editing_filter: bool,
    /// Selected event, counted from the newest visible.
    pub selected: usize,
    /// Showing the selected event's payload.
    pub detail: bool,
    /// Help overlay.
    pub help: bool,
    /// Open confirm dialog.
    pub dialog: Option<Dialog>,
    /// Actions disabled.
    pub read_only: bool,
    /// The console's own PID: never offered as a kill target (with `--demo` it holds the port).
    pub own_pid: u32,
    /// Set when the user quits.
    pub quit: bool,
}

impl State {
    /// A fresh state for `target`.
    #[must_use]
    pub fn new(target: &str, read_only: bool) -> State {
        State {
            target: target.to_owned(),
            now: 0.0,
            server: ServerView::default(),
            connected: false,
            feed_status: "connecting".into(),
            latency: Ring::new(STRIP),
            availability: Ring::new(STRIP),
            events: Ring::new(EVENT_CAPACITY),
            paused_new: 0,
            running: BTreeMap::new(),
            rates: BTreeMap::new(),
            totals: BTreeMap::new(),
            rate_window: 0,
            resources: None,
            trend: MemoryTrend::default(),
            sockets: Vec::new(),
            config: Vec::new(),
            config_file: "~/.claude/config.yaml".into(),
            log: Ring::new(LOG_CAPACITY),
            worst: None,
            focus: Pane::Events,
            zoom: false,
            paused: false,
            filter: String::new(),
            editing_filter: false,
            selected: 0,
            detail: false,
            help: false,
            dialog: None,
            read_only,
            own_pid: 0,
            quit: false,
        }
    }

    /// The events the filter lets through, oldest first.
    #[must_use = "iterators are lazy"]
    pub fn visible_events(&self) -> impl DoubleEndedIterator<Item = &EventRow> {
        let needle = self.filter.to_ascii_lowercase();
        self.events.iter().filter(move |e| {
            needle.is_empty()
                || [&e.name, &e.subtype, &e.session, &e.summary]
                    .iter()
                    .any(|f| f.to_ascii_lowercase().contains(&needle))
        })
    }

    /// The selected event, if any.
    #[must_use]
    pub fn selected_event(&self) -> Option<&EventRow> {
        self.visible_events().rev().nth(self.selected)
    }

    /// The current rate window, seconds.
    #[must_use]
    pub fn window(&self) -> u64 {
        RATE_WINDOWS[self.rate_window.min(RATE_WINDOWS.len() - 1)]
    }

    /// Adds a line to mpm-top's own log, stamped with the console's clock.
    pub fn note(&mut self, line: impl Into<String>) {
        let line = format!("{:>7.1}s {}", self.now, line.into());
        self.log.push(line);
    }
}
