//! `mpm-top replay FILE`: the console on a recording. The entries go through the same
//! `update` as live, so panes, pairings, rates and detail views are the live ones; a
//! [`Player`] decides which entries are applied by now. Every action is disabled.
//!
//! Seeking forward applies the entries in between; seeking back starts a fresh state from the
//! first entry (a state cannot be run backwards), keeping what is the viewer's: focus, zoom,
//! filter, selection. Either way at most [`BUDGET`] entries are applied per frame, so a long
//! seek shows its progress instead of freezing the screen.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{logging, producers};
use crate::app::state::LOG_CAPACITY;
use crate::app::{
    Action, Control, Effect, Key, LogEntry, ReplayView, State, replay_control, update,
};
use crate::record::{Entries, Entry, Recording};
use crate::ui::{self, Theme};

/// The speeds `[` and `]` step through.
const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// Where playback starts: ×1.
const NORMAL: usize = 2;
/// Entries applied per frame at most.
const BUDGET: usize = 20_000;
/// A frame while playing or seeking.
const FRAME: Duration = Duration::from_millis(50);

/// Which entries of a recording are applied, and how the position moves.
pub struct Player<'a> {
    recording: &'a Recording,
    entries: Entries,
    next: Option<Entry>,
    /// Entries up to here are applied (seconds on the recording's console clock), once
    /// `next` is past it.
    goal: f64,
    speed: usize,
    playing: bool,
    /// When the position last moved with the wall clock.
    moved: Instant,
    /// The end has been reached and said.
    ended: bool,
    /// mpm-top's log lines the entries wrote, not yet handed to the Log pane (the newest
    /// [`LOG_CAPACITY`] of them: a long seek writes more than the pane keeps).
    log: VecDeque<LogEntry>,
    /// The state started again from the first entry: the Log pane's lines go too.
    restarted: bool,
}

impl<'a> Player<'a> {
    /// A player at the recording's start, playing, and a state with its first instant applied.
    #[must_use]
    pub fn new(recording: &'a Recording) -> (Player<'a>, State) {
        let mut entries = recording.entries();
        let next = entries.next();
        let mut player = Player {
            recording,
            entries,
            next,
            goal: recording.first_t,
            speed: NORMAL,
            playing: true,
            moved: Instant::now(),
            ended: false,
            log: VecDeque::new(),
            restarted: false,
        };
        let header = &recording.header;
        let mut state = State::new(header.target.clone(), true);
        // The recording's clock from its first instant (not the state's default).
        state.now = crate::app::Stamp {
            mono: header.started_mono,
            wall: header.started,
        };
        player.apply(&mut state);
        state.note(format!(
            "replaying {}: {} entries over {} from {}, recorded by mpm-top {} watching {}",
            recording.shown,
            recording.entries,
            ui::format::age(recording.length()),
            header.started.format("%Y-%m-%d %H:%M:%S %:z"),
            header.mpm_top,
            header.target,
        ));
        player.keep_log(&mut state, Vec::new());
        state.replay = Some(player.view());
        (player, state)
    }

    /// Applies the entries due by the goal, at most [`BUDGET`] of them.
    fn apply(&mut self, state: &mut State) {
        for _ in 0..BUDGET {
            match self.next.take() {
                Some(entry) if entry.t <= self.goal => {
                    // Effects are never carried out here; log lines are shown.
                    let effects = update(state, entry.a);
                    self.keep_log(state, effects);
                    self.next = self.entries.next();
                }
                other => {
                    self.next = other;
                    return;
                }
            }
        }
    }

    /// Whether entries due by the goal are still waiting (a seek in progress).
    fn seeking(&self) -> bool {
        self.next.as_ref().is_some_and(|e| e.t <= self.goal)
    }

    /// Whether the player has reached the last entry.
    fn at_end(&self) -> bool {
        self.next.is_none()
    }

    /// Moves the position with the wall clock (when playing) and applies what is due.
    pub fn advance(&mut self, state: &mut State, now: Instant) {
        let elapsed = now.saturating_duration_since(self.moved).as_secs_f64();
        self.moved = now;
        if self.playing && !self.seeking() {
            self.goal = (self.goal + elapsed * SPEEDS[self.speed]).min(self.recording.last_t);
        }
        self.apply(state);
        if self.at_end() && !self.ended {
            self.ended = true;
            self.playing = false;
            let end = match &self.recording.damage {
                Some(damage) => {
                    format!("replay stopped: the file is {damage}; what came before is shown")
                }
                None => "end of the recording: space plays it again from the start".to_owned(),
            };
            state.note(end);
            self.keep_log(state, Vec::new());
        }
        state.replay = Some(self.view());
    }

    /// Keeps the log lines among `effects`, and those noted on `state` since.
    fn keep_log(&mut self, state: &mut State, effects: Vec<Effect>) {
        let noted = state.take_log().into_iter().map(Effect::Log);
        for effect in effects.into_iter().chain(noted) {
            if let Effect::Log(entry) = effect {
                if self.log.len() == LOG_CAPACITY {
                    self.log.pop_front();
                }
                self.log.push_back(entry);
            }
        }
    }

    /// Hands the log lines written since the last call to the Log pane (forgetting what it
    /// held first, when the state started again).
    fn write_log(&mut self) {
        if std::mem::take(&mut self.restarted) {
            logging::clear();
        }
        for entry in self.log.drain(..) {
            logging::emit(&entry);
        }
        logging::flush();
    }

    /// Carries out a replay control.
    pub fn control(&mut self, control: Control, state: &mut State) {
        let first = self.recording.first_t;
        let last = self.recording.last_t;
        match control {
            Control::PlayPause => {
                if self.at_end() && !self.playing {
                    self.seek_to(first, state);
                }
                self.playing = !self.playing;
            }
            Control::Seek(by) => self.seek_to((self.goal + by).clamp(first, last), state),
            Control::Start => self.seek_to(first, state),
            Control::End => self.seek_to(last, state),
            Control::Slower => self.speed = self.speed.saturating_sub(1),
            Control::Faster => self.speed = (self.speed + 1).min(SPEEDS.len() - 1),
        }
        self.moved = Instant::now();
        state.replay = Some(self.view());
    }

    fn seek_to(&mut self, to: f64, state: &mut State) {
        // Back of what is applied (not of where a seek still running is going): from the start.
        if to < self.position() {
            // Back: from the start again, keeping what is the viewer's.
            let (fresh, mut from_start) = Player::new(self.recording);
            keep_viewer(state, &mut from_start);
            *state = from_start;
            self.entries = fresh.entries;
            self.next = fresh.next;
            self.ended = false;
            self.log = fresh.log;
            self.restarted = true;
        }
        self.goal = to;
        self.apply(state);
    }

    /// What the status pane shows.
    #[must_use]
    pub fn view(&self) -> ReplayView {
        let header = &self.recording.header;
        let at_secs = self.position() - header.started_mono;
        // A crafted file can put its entries millennia from its start: shown as the start,
        // never an overflow.
        #[allow(clippy::cast_possible_truncation)] // saturates, and then the check fails
        let at = header
            .started
            .checked_add_signed(chrono::Duration::microseconds((at_secs * 1e6) as i64))
            .unwrap_or(header.started);
        ReplayView {
            file: self.recording.shown.clone(),
            at,
            elapsed: self.position() - self.recording.first_t,
            length: self.recording.length(),
            speed: SPEEDS[self.speed],
            playing: self.playing,
            seeking: self.seeking(),
            // Said once the replay has reached it.
            damage: self
                .recording
                .damage
                .as_ref()
                .filter(|_| self.at_end())
                .map(ToString::to_string),
        }
    }

    /// Where the state is: the goal, or, mid-seek, the next entry still to apply.
    fn position(&self) -> f64 {
        match &self.next {
            Some(e) if e.t <= self.goal => e.t,
            _ => self.goal,
        }
    }
}

/// What belongs to whoever watches, not to the recording: it survives a seek back.
/// A replay's rows get the same ids again from the start, so the selection, an open detail
/// and a stream pause survive too (a live switch to another server drops those).
fn keep_viewer(old: &State, new: &mut State) {
    new.keep_view(old);
    new.selected = old.selected;
    new.detail = old.detail;
    new.detail_scroll = old.detail_scroll;
    new.paused = old.paused;
}

/// Opens the recording and replays it in the console. Returns the exit status.
#[must_use]
pub fn run(path: &Path) -> u8 {
    let recording = match Recording::open(path) {
        Ok(r) => r,
        Err(why) => {
            eprintln!("mpm-top replay: {why}");
            return 1;
        }
    };
    if let Some(why) = super::no_terminal() {
        eprintln!(
            "mpm-top replay: the console needs a terminal, and {why}.\n\
             For the events as JSON lines, use: mpm-top replay {} --json",
            crate::text::clean(&path.display().to_string())
        );
        return 2;
    }
    let Some(runtime) = super::runtime("mpm-top replay") else {
        return 1;
    };
    let mut terminal = ratatui::init();
    super::restore_on_any_panic();
    let outcome = runtime.block_on(replay_loop(&mut terminal, &recording));
    ratatui::restore();
    match outcome {
        // A damaged file replays as far as it can, and says so with the exit status too, as
        // `--json` does.
        Ok(()) => match &recording.damage {
            Some(damage) => {
                eprintln!("mpm-top replay: {}: {damage}", recording.shown);
                1
            }
            None => 0,
        },
        Err(e) => {
            eprintln!("mpm-top replay: {e:#}");
            1
        }
    }
}

async fn replay_loop(
    terminal: &mut ratatui::DefaultTerminal,
    recording: &Recording,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Action>(64);
    tokio::spawn(producers::keyboard(tx));
    let theme = Theme::new(std::env::var_os("NO_COLOR").is_some());
    logging::init(None);
    let log_view = logging::view();
    let (mut player, mut state) = Player::new(recording);
    loop {
        player.write_log();
        terminal.draw(|f| ui::render(f, &state, &theme, &log_view))?;
        let busy = player.playing || player.seeking();
        // Idle (paused, or at the end) waits for a key and nothing else.
        let wait = if busy { FRAME } else { Duration::from_hours(1) };
        if let Ok(action) = tokio::time::timeout(wait, rx.recv()).await {
            match action {
                Some(Action::Key(key)) => press(&mut player, &mut state, key, &log_view),
                Some(_) => {}
                None => return Ok(()),
            }
        }
        player.advance(&mut state, Instant::now());
        if state.quit {
            return Ok(());
        }
    }
}

/// A key: a replay control, or what it does in the console (actions refuse, saying why).
fn press(player: &mut Player, state: &mut State, key: Key, log_view: &ui::LogView) {
    if let Some(control) = replay_control(state, key) {
        player.control(control, state);
    } else {
        // Effects are never carried out here (the keys that would ask for one say why),
        // except the Log pane's own keys and lines.
        let effects = update(state, Action::Key(key));
        for effect in &effects {
            if let Effect::LogView(key) = effect {
                logging::press(log_view, *key);
            }
        }
        player.keep_log(state, effects);
    }
}

/// `mpm-top replay FILE --json`: the recording's events and log lines as JSON lines.
#[must_use]
pub fn print_json(path: &Path) -> u8 {
    let recording = match Recording::open(path) {
        Ok(r) => r,
        Err(why) => {
            eprintln!("mpm-top replay: {why}");
            return 1;
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for entry in recording.entries() {
        let line = match entry.a {
            // The console's own pings, as the console hides them.
            Action::FeedEvent { name, .. } if name == "dashboard:pong" => continue,
            Action::FeedEvent { name, data, at } => serde_json::json!({
                "at": at.wall.to_rfc3339(),
                "source": "sio",
                "event": name,
                "data": data,
            }),
            Action::LogLine(line, at) => serde_json::json!({
                "at": at.wall.to_rfc3339(),
                "source": "log",
                "kind": line.kind,
                "line": line.text,
            }),
            _ => continue,
        };
        if let Err(e) = writeln!(out, "{}", escape_invisible(&line.to_string())) {
            return write_failed(&e);
        }
    }
    if let Err(e) = out.flush() {
        return write_failed(&e);
    }
    match &recording.damage {
        Some(damage) => {
            eprintln!("mpm-top replay: {}: {damage}", recording.shown);
            1
        }
        None => 0,
    }
}

/// A closed pipe (`| head`) ends the output quietly and well; any other failure (a full disk)
/// is an error.
fn write_failed(e: &std::io::Error) -> u8 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        0
    } else {
        eprintln!("mpm-top replay: cannot write the output: {e}");
        1
    }
}

/// A JSON line with the characters `serde_json` leaves raw, but a terminal may act on or hide
/// (DEL, C1 controls, line separators, bidi marks), written as `\uXXXX` escapes: the same JSON
/// value, safe to print. (They only ever occur inside strings, where the escape is valid.)
fn escape_invisible(json: &str) -> String {
    json.chars()
        .fold(String::with_capacity(json.len()), |mut out, c| {
            if crate::text::is_control(c) {
                // A character outside the basic plane is written as its UTF-16 pair, as JSON asks.
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            } else {
                out.push(c);
            }
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Stamp;
    use crate::record::{Header, encode};

    #[test]
    fn entries_millennia_from_the_start_are_shown_not_a_panic() {
        let target = crate::target::Target {
            scheme: "http",
            host: "127.0.0.1".into(),
            port: 1,
            chosen: crate::target::Chosen::Default,
        };
        let mut header = Header::new(&target, "mpm-top", Stamp::fixed(0.0).wall, 0.0);
        header.started_mono = 1e15;
        let entries = [0.1, 2.0, 1e13]
            .into_iter()
            .map(|t| Entry {
                t,
                a: Action::Note(format!("at {t}")),
            })
            .collect();
        let bytes = encode(&header, entries, None).unwrap();
        let recording = Recording::from_bytes(bytes, "far.jsonl.gz".into()).unwrap();
        let (mut player, mut state) = Player::new(&recording);
        for control in [
            Control::End,
            Control::Start,
            Control::Seek(10.0),
            Control::End,
        ] {
            player.control(control, &mut state);
            player.advance(&mut state, Instant::now());
            let _ = player.view();
        }
        assert!(state.replay.is_some());
    }

    #[test]
    fn printed_json_escapes_what_a_terminal_would_act_on_and_stays_the_same_value() {
        let value = serde_json::json!({"name": "a\u{9b}31mb\u{202e}c\u{7f}\u{2028}d\u{1b}]0;x"});
        let line = super::escape_invisible(&value.to_string());
        assert!(line.is_ascii(), "{line}");
        assert!(
            line.contains("\\u009b") && line.contains("\\u202e"),
            "{line}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).unwrap(),
            value
        );
    }
}
