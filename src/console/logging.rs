//! mpm-top's own log: the lines `update` returns as [`Effect::Log`](crate::app::Effect) go
//! through `tracing`, into tui-logger through its tracing bridge, and the Log pane draws
//! tui-logger's widget.
//!
//! tui-logger's `init_logger` would start a thread that wakes every 10 ms to move lines from
//! its hot buffer into the widget's. The console does not call it: it moves them itself, with
//! [`flush`], before each draw, so an idle console has no thread of tui-logger's waking up.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use crate::app::state::LOG_CAPACITY;
use crate::app::{Level, LogEntry, LogKey, Topic};
use crate::serve::command::LogLayer;

/// Every topic: the targets the Log pane shows (nothing else reaches it).
const TOPICS: [Topic; 6] = [
    Topic::Console,
    Topic::Feed,
    Topic::Probe,
    Topic::Action,
    Topic::Replay,
    Topic::Alert,
];

/// Lines logged between two draws before tui-logger counts the oldest as lost: at most a
/// replay's seek writes this many at once.
const HOT_LINES: usize = LOG_CAPACITY;

/// Installs the process's `tracing` subscriber: tui-logger's layer for mpm-top's own topics,
/// and `beside` (the `--demo` server's log file) as well. The first call wins.
pub fn init(beside: Option<LogLayer>) {
    tui_logger::set_hot_buffer_depth(HOT_LINES);
    tui_logger::set_buffer_depth(LOG_CAPACITY);
    tui_logger::set_default_level(tui_logger::LevelFilter::Info);
    let topics = TOPICS.iter().fold(Targets::new(), |t, topic| {
        t.with_target(topic.target(), LevelFilter::INFO)
    });
    let _ = tracing_subscriber::registry()
        .with(beside)
        .with(tui_logger::TuiTracingSubscriberLayer.with_filter(topics))
        .try_init();
}

/// Logs `entry` through `tracing`. (A target must be a constant there, hence the table.)
pub fn emit(entry: &LogEntry) {
    macro_rules! at {
        ($level:ident, $line:expr) => {
            match entry.topic {
                Topic::Console => tracing::$level!(target: "console", "{}", $line),
                Topic::Feed => tracing::$level!(target: "feed", "{}", $line),
                Topic::Probe => tracing::$level!(target: "probe", "{}", $line),
                Topic::Action => tracing::$level!(target: "action", "{}", $line),
                Topic::Replay => tracing::$level!(target: "replay", "{}", $line),
                Topic::Alert => tracing::$level!(target: "alert", "{}", $line),
            }
        };
    }
    match entry.level {
        Level::Error => at!(error, entry.line),
        Level::Warn => at!(warn, entry.line),
        Level::Info => at!(info, entry.line),
    }
}

/// Moves the lines logged since the last call to where the widget draws them from: called
/// before each draw.
pub fn flush() {
    tui_logger::move_events();
}

/// Forgets every line (a replay going back to its start writes them again).
pub fn clear() {
    tui_logger::move_events();
    tui_logger::set_buffer_depth(LOG_CAPACITY);
}

/// Passes a zoomed Log pane's key to tui-logger's widget state.
pub fn press(view: &crate::ui::LogView, key: LogKey) {
    use tui_logger::TuiWidgetEvent as W;
    view.transition(match key {
        LogKey::Focus => W::FocusKey,
        LogKey::Up => W::UpKey,
        LogKey::Down => W::DownKey,
        LogKey::Less => W::LeftKey,
        LogKey::More => W::RightKey,
        LogKey::CaptureLess => W::MinusKey,
        LogKey::CaptureMore => W::PlusKey,
        LogKey::PageUp => W::PrevPageKey,
        LogKey::PageDown => W::NextPageKey,
        LogKey::Escape => W::EscapeKey,
        LogKey::HideOff => W::SpaceKey,
    });
}

/// A fresh widget state: every level of every topic shown.
#[must_use]
pub fn view() -> crate::ui::LogView {
    crate::ui::LogView::new().set_default_display_level(tui_logger::LevelFilter::Trace)
}
