//! What the console shows, held in bounded buffers. Time enters as data: every happening
//! carries its own [`Stamp`], and `Tick` only moves [`State::now`].

use std::collections::BTreeMap;

use serde_json::Value;

use crate::actions::holder::Holder;
use crate::bounded::Counts;
pub use crate::bounded::Ring;
use crate::checks::Status;
use crate::config::ConfigRow;
use crate::probes::process::{MemoryTrend, ProcessStats};
use crate::probes::sockets::SocketRow;
use crate::target::Target;

use super::log::{Entry, Level, Topic};
use super::time::Stamp;

/// Events kept for the stream pane.
pub const EVENT_CAPACITY: usize = 2000;
/// Seconds of per-type rates kept (the widest window, 1 h).
pub const RATE_HISTORY: usize = 3600;
/// Seconds of latency and availability history (the guide's 60-second health loop).
pub const STRIP: usize = 60;
/// Lines of mpm-top's own log kept (by tui-logger, for the Log pane).
pub const LOG_CAPACITY: usize = 500;
/// The longest line of mpm-top's own log, in characters.
pub const LOG_LINE_CHARS: usize = 2000;
/// The rate windows `+`/`-` step through, seconds.
pub const RATE_WINDOWS: [u64; 5] = [30, 60, 300, 900, 3600];
/// Event types given a rate row of their own; the rest share [`OTHER`]. Servers choose event
/// names, so without a cap a server inventing names would grow the console without bound.
pub const MAX_TYPES: usize = 48;
/// Tools held open at once; past this the oldest is forgotten (and counted).
pub const MAX_OPEN_TOOLS: usize = 1000;
/// Stopped tool calls remembered for late copies of their ends.
pub const CLOSED_TOOLS: usize = 256;

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
    /// Both: one happening, seen on the feed and in the log.
    Both,
}

impl Origin {
    /// The `src` column.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Origin::Feed => "sio",
            Origin::Log => "log",
            Origin::Both => "sio+log",
        }
    }
}

/// One row of the event stream. Every text field is already sanitised.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    /// Unique and increasing: what the selection and pause hold on to.
    pub id: u64,
    /// When it arrived (the first of its copies, when seen on the feed and in the log).
    pub at: Stamp,
    /// Feed, log, or both.
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
    /// What identifies the same happening on the feed and in the log (`tool_start c-1`,
    /// `connect <sid>`).
    pub key: Option<String>,
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
    /// The PID the server reports for itself: shown, never acted on.
    pub pid: Option<u32>,
    /// Uptime, seconds, as `/health` said.
    pub uptime: Option<f64>,
    /// Connected clients, from `/health` or the latest `dashboard:client:count`.
    pub clients: Option<u64>,
    /// Polling handshake works.
    pub handshake: Option<bool>,
    /// Websocket upgrade works.
    pub websocket: Option<bool>,
}

/// A server that discovery found while the target does not answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// Its port (same host as the target).
    pub port: u16,
    /// What it is.
    pub kind: String,
}

/// A tool call between its `tool_start` and `tool_stop`.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenTool {
    /// Tool name.
    pub tool: String,
    /// When its start arrived.
    pub started: Stamp,
    /// Whether that arrival is when it started (not a start replayed from history).
    pub arrival_timed: bool,
    /// The clocks of its start's copies: each sender and the time it wrote.
    pub sent: Vec<super::tools::Sent>,
}

/// A tool call that stopped, kept a while for copies of its ends that come later (and for a
/// stop that overtook its start).
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedTool {
    /// Its correlation id.
    pub correlation: String,
    /// Its start; None while a stop that came first waits for it.
    pub open: Option<OpenTool>,
    /// When its stop arrived (None when it was replayed from history).
    pub stopped: Option<Stamp>,
    /// The clocks of its stop's copies.
    pub sent: Vec<super::tools::Sent>,
    /// The stop's row.
    pub row: u64,
}

/// A confirm dialog, holding exactly what will be affected, captured when it opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dialog {
    /// Kill these port holders.
    Kill(Vec<Holder>),
    /// Reset the socketio section of this file (create it, when it does not exist).
    ResetConfig {
        /// The file, as shown.
        file: String,
        /// Whether it exists.
        exists: bool,
        /// The change, as `mpm-top reset-config` shows it.
        diff: Vec<String>,
    },
    /// Restart, replacing this server that is not mpm-top's.
    Restart(Vec<Holder>),
}

/// A recording being written, as the status pane shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingView {
    /// The file, as shown.
    pub file: String,
    /// Compressed bytes written so far.
    pub bytes: u64,
}

/// A replay's position and controls, as the status pane shows them.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayView {
    /// The recording, as shown.
    pub file: String,
    /// The recording's wall clock at the position.
    pub at: chrono::DateTime<chrono::FixedOffset>,
    /// Seconds from the recording's start to the position.
    pub elapsed: f64,
    /// Seconds from its start to its last entry.
    pub length: f64,
    /// Playback speed (1 is as recorded).
    pub speed: f64,
    /// Playing, rather than paused.
    pub playing: bool,
    /// Catching up after a seek (many entries to apply).
    pub seeking: bool,
    /// Where the file is damaged, when it is: the replay stops there.
    pub damage: Option<String>,
}

/// The whole console state.
#[derive(Clone, Debug)]
#[allow(clippy::struct_excessive_bools)] // independent UI toggles, not an encoded state machine
pub struct State {
    /// The server being monitored; every action acts on it.
    pub target: Target,
    /// Another server found while the target does not answer, offered by the switch key.
    pub offer: Option<Offer>,
    /// The latest instant known (ticks, and every batch of actions).
    pub now: Stamp,
    /// When the console began watching this target (rates divide by no more than this).
    pub watched_since: f64,
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
    /// The id the next row gets.
    pub next_id: u64,
    /// Tools started and not yet stopped: correlation id → the tool.
    pub running: BTreeMap<String, OpenTool>,
    /// Feed events dropped because the console fell behind (each one is missing from the
    /// stream and the rates).
    pub feed_dropped: u64,
    /// Open tools forgotten because more than [`MAX_OPEN_TOOLS`] were open.
    pub running_dropped: u64,
    /// The last stopped calls, for late copies.
    pub closed: Ring<ClosedTool>,
    /// Per type, events in each of the last seconds (newest last); at most [`MAX_TYPES`] types.
    pub rates: BTreeMap<String, Ring<u32>>,
    /// Per type, all events seen.
    pub totals: Counts,
    /// Index into [`RATE_WINDOWS`].
    pub rate_window: usize,
    /// The server process (found from the port's listening socket).
    pub resources: Option<ProcessStats>,
    /// When it was sampled (seconds on the console's clock).
    pub resources_at: f64,
    /// Its memory over time.
    pub trend: MemoryTrend,
    /// Sockets on the port.
    pub sockets: Vec<SocketRow>,
    /// The processes holding the target's listening socket, proven by the socket table; or why
    /// there can be none (the target is not this machine).
    pub holders: Result<Vec<Holder>, String>,
    /// The configuration inspector's rows.
    pub config: Vec<ConfigRow>,
    /// The configuration file, as shown (`~/.claude/config.yaml`).
    pub config_file: String,
    /// Why the feed failed since it was last connected, each said once.
    pub feed_causes: Vec<String>,
    /// mpm-top's log lines written since `update` last handed them out as effects.
    outbox: Vec<Entry>,
    /// The doctor's worst finding.
    pub worst: Option<(Status, String)>,
    /// Focused pane.
    pub focus: Pane,
    /// Focused pane fills the screen.
    pub zoom: bool,
    /// The zoomed Log pane hides its topic list (`h`).
    pub log_topics_hidden: bool,
    /// Paused: the id of the newest row when the stream was paused. Rows after it are held
    /// back until resume.
    pub paused: Option<u64>,
    /// Filter text (matches type, subtype, session, summary).
    pub filter: String,
    /// Typing into the filter.
    pub editing_filter: bool,
    /// The selected row's id; None follows the newest.
    pub selected: Option<u64>,
    /// Showing the selected event's payload.
    pub detail: bool,
    /// Lines the detail is scrolled down by.
    pub detail_scroll: usize,
    /// Help overlay.
    pub help: bool,
    /// Open confirm dialog.
    pub dialog: Option<Dialog>,
    /// The action running now, if any: one at a time.
    pub busy: Option<String>,
    /// Actions disabled.
    pub read_only: bool,
    /// The recording being written, if any (kept up to date by the runtime).
    pub recording: Option<RecordingView>,
    /// When this console replays a recording: where it is (kept up to date by the runtime).
    pub replay: Option<ReplayView>,
    /// Connected clients and recent departures (the Clients view).
    pub clients: super::clients::Clients,
    /// Alerts raised and cleared.
    pub alerts: super::alerts::Alerts,
    /// An overlay view open over the panes (Clients, Servers).
    pub view: Option<View>,
    /// Every monitor server the last scan found on the target's host.
    pub servers: Vec<crate::probes::servers::ServerRow>,
    /// When that scan was made.
    pub servers_at: Option<Stamp>,
    /// The row selected in the Servers view.
    pub server_selected: usize,
    /// The generation of the producers watching this target: what they send is tagged with
    /// it (`Action::Watched`).
    pub generation: u64,
    /// The generation the next new target's producers get.
    pub next_generation: u64,
    /// Servers watched before and switched away from: each keeps its events and rates, fed by
    /// its own producers, so switching back loses nothing. At most [`MAX_PARKED`].
    pub parked: Vec<Box<State>>,
    /// Set when the user quits.
    pub quit: bool,
}

/// A full-screen view over the panes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// `C`: the monitored server's clients and recent departures.
    Clients,
    /// `S`: every server found, and switching between them.
    Servers,
}

/// Servers kept watched in the background after a switch (the oldest is let go past this).
pub const MAX_PARKED: usize = 4;

impl State {
    /// A fresh state monitoring `target`.
    #[must_use]
    pub fn new(target: Target, read_only: bool) -> State {
        State {
            target,
            offer: None,
            now: Stamp::default(),
            watched_since: 0.0,
            server: ServerView::default(),
            connected: false,
            feed_status: "connecting".into(),
            latency: Ring::new(STRIP),
            availability: Ring::new(STRIP),
            events: Ring::new(EVENT_CAPACITY),
            next_id: 1,
            running: BTreeMap::new(),
            running_dropped: 0,
            feed_dropped: 0,
            closed: Ring::new(CLOSED_TOOLS),
            rates: BTreeMap::new(),
            totals: Counts::new(MAX_TYPES),
            rate_window: 0,
            resources: None,
            resources_at: 0.0,
            trend: MemoryTrend::default(),
            sockets: Vec::new(),
            holders: Ok(Vec::new()),
            config: Vec::new(),
            config_file: "~/.claude/config.yaml".into(),
            feed_causes: Vec::new(),
            outbox: Vec::new(),
            worst: None,
            focus: Pane::Events,
            zoom: false,
            log_topics_hidden: false,
            paused: None,
            filter: String::new(),
            editing_filter: false,
            selected: None,
            detail: false,
            detail_scroll: 0,
            help: false,
            dialog: None,
            busy: None,
            read_only,
            recording: None,
            replay: None,
            clients: super::clients::Clients::default(),
            alerts: super::alerts::Alerts::default(),
            view: None,
            servers: Vec::new(),
            servers_at: None,
            server_selected: 0,
            generation: 0,
            next_generation: 1,
            parked: Vec::new(),
            quit: false,
        }
    }

    /// Whether `row` passes the filter: every word of it is in the row's name, subtype,
    /// session or summary (case does not matter).
    #[must_use]
    pub fn matches(&self, row: &EventRow) -> bool {
        // No filter: every row, without building its text (2,000 rows a frame under load).
        if self.filter.trim().is_empty() {
            return true;
        }
        let text = format!(
            "{} {} {} {}",
            row.name, row.subtype, row.session, row.summary
        )
        .to_lowercase();
        self.filter
            .to_lowercase()
            .split_whitespace()
            .all(|word| text.contains(word))
    }

    /// The rows on screen, oldest first: those the filter lets through, and while paused only
    /// those that were there when the pause began.
    #[must_use = "iterators are lazy"]
    pub fn visible_events(&self) -> impl DoubleEndedIterator<Item = &EventRow> {
        let until = self.paused.unwrap_or(u64::MAX);
        self.events
            .iter()
            .filter(move |e| e.id <= until && self.matches(e))
    }

    /// Rows held back by the pause that the filter lets through.
    #[must_use]
    pub fn held_back(&self) -> usize {
        self.paused.map_or(0, |until| {
            self.events
                .iter()
                .rev()
                .take_while(|e| e.id > until)
                .filter(|e| self.matches(e))
                .count()
        })
    }

    /// The selected event: the one the selection holds, else the newest visible.
    #[must_use]
    pub fn selected_event(&self) -> Option<&EventRow> {
        match self.selected {
            Some(id) => self.events.iter().rev().find(|e| e.id == id),
            None => self.visible_events().next_back(),
        }
    }

    /// The current rate window, seconds.
    #[must_use]
    pub fn window(&self) -> u64 {
        RATE_WINDOWS[self.rate_window.min(RATE_WINDOWS.len() - 1)]
    }

    /// Takes over from `old` what belongs to whoever is watching rather than to the server:
    /// focus, zoom, the filter (and typing it), the rate window, the help.
    pub fn keep_view(&mut self, old: &State) {
        self.focus = old.focus;
        self.zoom = old.zoom;
        self.log_topics_hidden = old.log_topics_hidden;
        self.filter.clone_from(&old.filter);
        self.editing_filter = old.editing_filter;
        self.rate_window = old.rate_window;
        self.help = old.help;
    }

    /// Adds a line to mpm-top's own log, stamped with the console's clock (local time).
    pub fn note(&mut self, line: impl AsRef<str>) {
        self.log(Level::Info, Topic::Console, line);
    }

    /// Adds a line at `level` on `topic`, stamped with the console's clock (local time).
    pub fn log(&mut self, level: Level, topic: Topic, line: impl AsRef<str>) {
        let line = format!(
            "{} {}",
            self.now.seconds_text(),
            crate::text::sanitize(&crate::text::truncate(line.as_ref(), LOG_LINE_CHARS))
        );
        self.log_line(level, topic, line);
    }

    /// Adds a line, already stamped and sanitised, to mpm-top's own log (at most
    /// [`LOG_LINE_CHARS`] characters of it).
    pub fn log_line(&mut self, level: Level, topic: Topic, line: String) {
        let line = if line.len() > LOG_LINE_CHARS {
            crate::text::truncate(&line, LOG_LINE_CHARS)
        } else {
            line
        };
        self.outbox.push(Entry { level, topic, line });
    }

    /// The log lines written since the last call, oldest first.
    pub fn take_log(&mut self) -> Vec<Entry> {
        std::mem::take(&mut self.outbox)
    }
}
