//! What the console keeps of what it received, beside its state: the recent past (for the
//! debug bundle's recording, and to begin a recording mid-session with what the panes already
//! show), and the recording being written, if any. Every action the live console applies goes
//! through [`Tape::apply`], so nothing reaches the state that a recording would miss.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::app::{Action, Clock, Effect, Level, RecordingView, State, Topic, update};
use crate::record::{self, Entry, Header, Recorder};

/// The most recent entries kept for the bundle: as many as the stream has rows. (4,000 and
/// 8 MiB cost 9 MiB of RSS under 20,000 events/s in `console_load`.)
const RECENT: usize = 2000;
/// And at most this many bytes of them (estimated), whatever their payloads.
const RECENT_BYTES: usize = 4 * 1024 * 1024;
/// Feed events and log lines the recent past keeps in any one second. Copying every one cost
/// 5% of a core at 20,000 events a second (`console_load`: 26% against 21% without), for a past
/// that at that rate spans a tenth of a second anyway. A recording being written gets them all.
const RECENT_EVENTS_PER_SECOND: u32 = 500;

/// The recent past and the recording.
#[derive(Debug)]
pub struct Tape {
    clock: Clock,
    /// Entries, each with its estimated size and how many events were not kept just before it.
    recent: VecDeque<(Entry, usize, u64)>,
    recent_bytes: usize,
    /// The second being counted against [`RECENT_EVENTS_PER_SECOND`], and its events so far.
    second: (u64, u32),
    /// Events not kept since the last one kept.
    not_kept: u64,
    /// Per kind of snapshot (health, resources, …), the newest one that fell out of `recent`:
    /// what the panes showed when the oldest recent entry arrived.
    before: BTreeMap<&'static str, Entry>,
    recorder: Option<Recorder>,
    cap_bytes: u64,
    home: Option<PathBuf>,
}

impl Tape {
    /// A tape on the console's clock; recordings capped at `cap_mib` MiB, with `home` shown as
    /// `~`.
    #[must_use]
    pub fn new(clock: Clock, cap_mib: u64, home: Option<&Path>) -> Tape {
        Tape {
            clock,
            recent: VecDeque::new(),
            recent_bytes: 0,
            second: (0, 0),
            not_kept: 0,
            before: BTreeMap::new(),
            recorder: None,
            cap_bytes: cap_mib.saturating_mul(1024 * 1024),
            home: home.map(Path::to_owned),
        }
    }

    /// Applies `action` to the state, keeping it (or, for a key, the log lines it wrote).
    pub fn apply(&mut self, state: &mut State, action: Action) -> Vec<Effect> {
        let t = self.clock.mono();
        let kept = record::recordable(&action);
        if kept {
            self.keep(t, &action);
        }
        let effects = update(state, action);
        if !kept {
            for effect in &effects {
                if let Effect::Log(entry) = effect {
                    self.keep(t, &Action::LoggedAs(entry.clone()));
                }
            }
        }
        effects
    }

    /// Writes a line to mpm-top's log, and keeps it.
    pub fn note(&mut self, state: &mut State, line: impl AsRef<str>) {
        self.log(state, Level::Info, Topic::Console, line);
    }

    /// Writes a line at `level` on `topic` to mpm-top's log, and keeps it.
    pub fn log(&mut self, state: &mut State, level: Level, topic: Topic, line: impl AsRef<str>) {
        state.log(level, topic, line);
        let t = self.clock.mono();
        for entry in state.take_log() {
            self.keep(t, &Action::LoggedAs(entry.clone()));
            super::logging::emit(&entry);
        }
    }

    fn keep(&mut self, t: f64, action: &Action) {
        let action = match action {
            Action::Watched(_, inner) => inner.as_ref(),
            other => other,
        };
        if let Some(recorder) = &self.recorder {
            recorder.record(t, action);
        }
        if matches!(action, Action::FeedEvent { .. } | Action::LogLine(..)) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // whole seconds
            let second = t as u64;
            if second != self.second.0 {
                self.second = (second, 0);
            }
            self.second.1 += 1;
            if self.second.1 > RECENT_EVENTS_PER_SECOND {
                self.not_kept += 1;
                return;
            }
        }
        // What was known of another server is not what the panes show of this one.
        if matches!(action, Action::Retargeted(_)) {
            self.before.clear();
        }
        let size = estimate(action);
        self.recent.push_back((
            Entry {
                t,
                a: action.clone(),
            },
            size,
            std::mem::take(&mut self.not_kept),
        ));
        self.recent_bytes += size;
        while self.recent.len() > RECENT || self.recent_bytes > RECENT_BYTES {
            let Some((old, size, _)) = self.recent.pop_front() else {
                break;
            };
            self.recent_bytes -= size;
            if let Some(kind) = snapshot_kind(&old.a) {
                self.before.insert(kind, old);
            }
        }
    }

    /// The header for a recording of `state` starting at `mono` on the console's clock (its
    /// wall-clock time worked out from the state's latest instant).
    fn header(state: &State, mono: f64) -> Header {
        let offset = (mono - state.now.mono) * 1e6;
        #[allow(clippy::cast_possible_truncation)] // microseconds within a session
        let started = state
            .now
            .wall
            .checked_add_signed(chrono::Duration::microseconds(offset as i64))
            .unwrap_or(state.now.wall);
        Header::new(
            &state.target,
            // Before the first /health answer nobody knows yet.
            state.server.kind.as_deref().unwrap_or("unknown"),
            started,
            mono,
        )
    }

    /// What the console holds, as a recording: the snapshots older than the recent past, then
    /// the recent past. The debug bundle's `c`.
    #[must_use]
    pub fn held(&self, state: &State) -> (Header, Vec<Entry>) {
        let first = self.recent.front().map_or(self.clock.mono(), |(e, ..)| e.t);
        let header = Tape::header(state, first);
        // The snapshots in the order they arrived, each as of the recording's start.
        let mut before: Vec<&Entry> = self.before.values().collect();
        before.sort_by(|a, b| a.t.total_cmp(&b.t));
        let mut entries: Vec<Entry> = before
            .into_iter()
            .map(|e| Entry {
                t: first,
                a: e.a.clone(),
            })
            .chain(self.recent.iter().map(|(e, ..)| e.clone()))
            .collect();
        // Those not kept before the oldest entry were before this recording, too.
        let missing: u64 = self.recent.iter().skip(1).map(|(.., n)| n).sum::<u64>() + self.not_kept;
        if missing > 0 {
            entries.push(Entry {
                t: entries.last().map_or(first, |e| e.t),
                a: Action::Note(format!(
                    "the console's recent past keeps at most {RECENT_EVENTS_PER_SECOND} events a second: {missing} more arrived in the time it covers and are not recorded"
                )),
            });
        }
        (header, entries)
    }

    /// Starts recording to `path`, beginning with what the console holds: the panes as they
    /// are, from the recent past that made them. `Wait::ForFile` returns once the file is
    /// created (`--record`, before the loop runs); `Wait::No` leaves that to the recorder's
    /// thread (`w`, from the loop), and a failure shows in [`Tape::view`].
    ///
    /// # Errors
    /// Why the file cannot be written.
    pub fn start(&mut self, state: &State, path: &Path, wait: Wait) -> Result<(), String> {
        let (header, preamble) = self.held(state);
        let start = match wait {
            Wait::ForFile => Recorder::start,
            Wait::No => Recorder::start_in_background,
        };
        let recorder = start(
            path,
            &header,
            preamble,
            self.cap_bytes,
            self.home.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        self.recorder = Some(recorder);
        Ok(())
    }

    /// Stops recording, handing over the recorder to be finished (its queue written out).
    pub fn stop(&mut self) -> Option<Recorder> {
        self.recorder.take()
    }

    /// What the status pane shows of the recording; a recording that stopped by itself (its
    /// cap, a full disk) is ended here and its reason returned for the log.
    pub fn view(&mut self) -> (Option<RecordingView>, Option<String>) {
        let Some(recorder) = &self.recorder else {
            return (None, None);
        };
        if let Some(why) = recorder.stopped() {
            let shown = recorder.path().display().to_string();
            self.recorder = None;
            return (None, Some(format!("recording {shown}: {why}")));
        }
        (
            Some(RecordingView {
                file: recorder.path().display().to_string(),
                bytes: recorder.bytes(),
            }),
            None,
        )
    }
}

/// Whether starting a recording waits for its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Until the file is created.
    ForFile,
    /// Not at all.
    No,
}

/// The kinds of action that replace what a pane shows (rather than add to it).
fn snapshot_kind(action: &Action) -> Option<&'static str> {
    Some(match action {
        Action::Connected | Action::Disconnected(_) => "feed",
        Action::Health(_) => "health",
        Action::Transport { .. } => "transport",
        Action::Resources { .. } => "resources",
        Action::Config(_) => "config",
        Action::Thresholds(_) => "thresholds",
        Action::Servers { .. } => "servers",
        Action::Found(_) => "found",
        Action::Doctor(..) => "doctor",
        Action::FeedDropped(_) => "dropped",
        _ => return None,
    })
}

/// About how many bytes an action holds: enough to bound the recent past by size.
fn estimate(action: &Action) -> usize {
    fn value(v: &Value) -> usize {
        match v {
            Value::String(s) => 24 + s.len(),
            Value::Array(items) => 24 + items.iter().map(value).sum::<usize>(),
            Value::Object(map) => {
                24 + map
                    .iter()
                    .map(|(k, v)| 24 + k.len() + value(v))
                    .sum::<usize>()
            }
            _ => 16,
        }
    }
    128 + match action {
        Action::FeedEvent { name, data, .. } => name.len() + value(data),
        Action::ClientList { data, .. } => value(data),
        Action::Servers { rows, .. } => rows.len() * 256,
        Action::LogLine(line, _) => line.text.len(),
        Action::Health(Ok(h)) => value(&h.raw),
        Action::Resources { sockets, .. } => sockets.len() * 256,
        Action::Config(rows) => rows.len() * 256,
        Action::Disconnected(s)
        | Action::Note(s)
        | Action::Logged(s)
        | Action::LoggedAs(crate::app::LogEntry { line: s, .. })
        | Action::Done(s)
        | Action::Failed(s) => s.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Stamp;
    use crate::target::{Chosen, Target};

    #[test]
    fn the_recent_past_keeps_a_bounded_number_of_events_a_second_and_says_how_many_it_missed() {
        let target = Target {
            scheme: "http",
            host: "127.0.0.1".into(),
            port: 1,
            chosen: Chosen::Default,
        };
        let mut state = State::new(target, true);
        let mut tape = Tape::new(Clock::start(), 1, None);
        for i in 0..2000 {
            tape.apply(
                &mut state,
                Action::FeedEvent {
                    name: "claude_event".into(),
                    data: serde_json::json!({"i": i}),
                    at: Stamp::fixed(0.0),
                },
            );
        }
        let (_, entries) = tape.held(&state);
        let kept = entries
            .iter()
            .filter(|e| matches!(e.a, Action::FeedEvent { .. }))
            .count();
        let Some(Action::Note(note)) = entries.last().map(|e| e.a.clone()) else {
            panic!("no note about the events not kept");
        };
        // The applies can straddle a second: two seconds' worth at most.
        assert!(kept <= 2 * RECENT_EVENTS_PER_SECOND as usize, "{kept}");
        assert!(
            note.contains(&format!("{} more arrived", 2000 - kept)),
            "{note}"
        );
    }

    #[test]
    fn a_recording_begun_from_the_loop_creates_its_file_off_the_loop_and_says_when_it_cannot() {
        let dir = tempfile::tempdir().unwrap();
        let taken = dir.path().join("taken.jsonl.gz");
        std::fs::write(&taken, "mine").unwrap();
        let target = Target {
            scheme: "http",
            host: "127.0.0.1".into(),
            port: 1,
            chosen: Chosen::Default,
        };
        let state = State::new(target, true);
        let mut tape = Tape::new(Clock::start(), 1, None);
        assert_eq!(tape.start(&state, &taken, Wait::No), Ok(()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let why = loop {
            if let (None, Some(why)) = tape.view() {
                break why;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the failure was never said"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert!(why.contains("already exists"), "{why}");
        assert_eq!(std::fs::read_to_string(&taken).unwrap(), "mine");
        let fresh = dir.path().join("fresh.jsonl.gz");
        assert_eq!(tape.start(&state, &fresh, Wait::ForFile), Ok(()));
        assert!(fresh.exists());
        let written = tape.stop().unwrap().finish().unwrap();
        assert!(written > 0);
    }
}
