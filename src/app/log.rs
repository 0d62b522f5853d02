//! mpm-top's own log, as data: `update` returns each line as an [`Effect::Log`](super::Effect)
//! and the runtime hands it to `tracing` (and so to tui-logger's Log pane). Keys for the zoomed
//! Log pane become [`LogKey`]s, which the runtime passes to tui-logger's widget state.

/// How much a line matters: the Log pane can show or hide each level per topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Level {
    /// Something failed.
    Error,
    /// Something the user should look at.
    Warn,
    /// What happened.
    Info,
}

/// What a line is about: tui-logger's target, so the zoomed Log pane filters by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Topic {
    /// The console itself: what it monitors, keys, recordings.
    Console,
    /// The Socket.IO feed: connects, losses, reconnects.
    Feed,
    /// Probes: health, discovery, the server coming and going.
    Probe,
    /// Actions the user started: start, restart, kill, reset, collect, doctor.
    Action,
    /// Lines read back from a recording.
    Replay,
    /// Alerts raised and cleared.
    Alert,
}

impl Topic {
    /// The `tracing` target lines on this topic are logged under.
    #[must_use]
    pub const fn target(self) -> &'static str {
        match self {
            Topic::Console => "console",
            Topic::Feed => "feed",
            Topic::Probe => "probe",
            Topic::Action => "action",
            Topic::Replay => "replay",
            Topic::Alert => "alert",
        }
    }
}

/// One line of mpm-top's log: stamped with the console's clock and sanitised already.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Its level.
    pub level: Level,
    /// Its topic.
    pub topic: Topic,
    /// The line, its local time first.
    pub line: String,
}

/// A key for tui-logger's widget in the zoomed Log pane (its own key map). `h`, which hides
/// the topic list, is the console's own: the layout is drawn from the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKey {
    /// `f`: show only the selected topic.
    Focus,
    /// Up: the previous topic.
    Up,
    /// Down: the next topic.
    Down,
    /// Left: show one level less of the selected topic.
    Less,
    /// Right: show one level more.
    More,
    /// `-`: capture one level less.
    CaptureLess,
    /// `+`: capture one level more.
    CaptureMore,
    /// Page up: scroll back (page mode).
    PageUp,
    /// Page down: scroll forward, in page mode.
    PageDown,
    /// Esc: leave page mode (and the zoom).
    Escape,
    /// Space: hide or show topics that are off.
    HideOff,
}

impl LogKey {
    /// The widget's key for `key`, if it has one.
    #[must_use]
    pub fn of(key: super::Key) -> Option<LogKey> {
        use super::Key;
        Some(match key {
            Key::Char('f') => LogKey::Focus,
            Key::Up => LogKey::Up,
            Key::Down => LogKey::Down,
            Key::Left => LogKey::Less,
            Key::Right => LogKey::More,
            Key::Char('-') => LogKey::CaptureLess,
            Key::Char('+') => LogKey::CaptureMore,
            Key::PageUp => LogKey::PageUp,
            Key::PageDown => LogKey::PageDown,
            Key::Esc => LogKey::Escape,
            Key::Char(' ') => LogKey::HideOff,
            _ => return None,
        })
    }
}

/// The zoomed Log pane's keys, for the help overlay and the footer.
pub const LOG_KEYS: [(&str, &str); 7] = [
    ("h", "hide / show the topic list"),
    ("f", "only the selected topic"),
    ("Up/Down", "select a topic"),
    ("Left/Right", "show a level less / more of it"),
    ("-/+", "capture a level less / more of it"),
    (
        "PgUp/PgDn",
        "scroll back / forward (PgDn to the end follows again)",
    ),
    ("space", "hide / show the topics that are off"),
];
