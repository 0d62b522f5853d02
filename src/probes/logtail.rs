//! Following a log file the way `tail -F` does, natively: the guide's
//! `tail -f ~/.claude/logs/socketio_server.log | grep …` recipes as classified lines.
//!
//! [`LogTail`] reads whatever was appended since last time and copes with the file being
//! renamed away (rotation), truncated in place (copy-truncate), deleted and re-created.
//! [`follow`] drives it from `notify` events on the file's directory (a watch on the file
//! itself would be lost with the file), with a slow poll as a backstop.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use serde::{Deserialize, Serialize};

/// Longer lines are cut to this many bytes, so one runaway line cannot eat memory.
pub const MAX_LINE: usize = 8 * 1024;

/// What a log line is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A client connected.
    Connect,
    /// A client disconnected.
    Disconnect,
    /// The server emitted an event.
    Emit,
    /// The server received an event.
    Receive,
    /// A tool call began (`tool_start`, Claude MPM's `pre_tool`).
    ToolStart,
    /// A tool call ended (`tool_stop`, Claude MPM's `post_tool`).
    ToolStop,
    /// An error or warning.
    Error,
    /// Anything else.
    Other,
}

impl LineKind {
    /// Classifies a line by the words the guide's grep recipes look for, in the line's own
    /// words and level: never in a `key=value`'s value, which a sender chose (a subtype of
    /// "disconnect sid=X" had made a disconnect row of a hook event).
    #[must_use]
    pub fn of(line: &str) -> LineKind {
        let fields = super::logfields::parse(line);
        let lower = format!(" {}", super::logfields::words(&fields.message)).to_ascii_lowercase();
        let has = |w: &str| lower.contains(w);
        let warns = matches!(
            fields.level,
            Some(super::logfields::Level::Error | super::logfields::Level::Warn)
        );
        if has("tool_start") || has("pre_tool") {
            LineKind::ToolStart
        } else if has("tool_stop") || has("post_tool") {
            LineKind::ToolStop
        } else if warns
            || has(" error")
            || has("error:")
            || has("traceback")
            || has("exception")
            || has(" warn")
        {
            LineKind::Error
        } else if has("disconnect") {
            LineKind::Disconnect
        } else if has("connect") {
            LineKind::Connect
        } else if has("emit") {
            LineKind::Emit
        } else if has("receive") {
            LineKind::Receive
        } else {
            LineKind::Other
        }
    }
}

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The text (invalid UTF-8 replaced, cut at [`MAX_LINE`]).
    pub text: String,
    /// What it is about.
    pub kind: LineKind,
}

impl LogLine {
    /// A line with `text`, classified.
    #[must_use]
    pub fn from_text(text: &str) -> LogLine {
        LogLine::new(text.as_bytes(), 0)
    }

    fn new(bytes: &[u8], cut: usize) -> LogLine {
        let mut text = String::from_utf8_lossy(bytes)
            .trim_end_matches('\r')
            .to_owned();
        if cut > 0 {
            text = format!("{text} …[{cut} more bytes]");
        }
        let kind = LineKind::of(&text);
        LogLine { text, kind }
    }
}

/// Reads what is appended to a file, across rotation and truncation.
#[derive(Debug)]
pub struct LogTail {
    path: PathBuf,
    file: Option<File>,
    inode: Option<u64>,
    offset: u64,
    partial: Vec<u8>,
    /// Bytes dropped from the line being assembled (it was longer than [`MAX_LINE`]).
    cut: usize,
}

impl LogTail {
    /// Starts at the end of `path` (only new lines are reported); a missing file is fine.
    #[must_use]
    pub fn at_end(path: &Path) -> LogTail {
        let mut tail = LogTail {
            path: path.to_owned(),
            file: None,
            inode: None,
            offset: 0,
            partial: Vec::new(),
            cut: 0,
        };
        if tail.reopen() {
            tail.offset = tail
                .file
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map_or(0, |m| m.len());
        }
        tail
    }

    fn reopen(&mut self) -> bool {
        self.file = File::open(&self.path).ok();
        self.inode = self
            .file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map(|m| m.ino());
        self.offset = 0;
        self.partial.clear();
        self.cut = 0;
        self.file.is_some()
    }

    /// Lines appended since the last call (complete lines only).
    pub fn poll(&mut self) -> Vec<LogLine> {
        let on_disk = std::fs::metadata(&self.path).ok();
        let mut lines = Vec::new();
        // Renamed or deleted: finish the old file first, then start the new one from its top.
        if on_disk.as_ref().map(MetadataExt::ino) != self.inode {
            if self.file.is_some() {
                self.read_into(&mut lines);
            }
            self.reopen();
        } else if on_disk.as_ref().is_some_and(|m| m.len() < self.offset) {
            self.offset = 0; // truncated in place
            self.partial.clear();
        }
        self.read_into(&mut lines);
        lines
    }

    fn read_into(&mut self, lines: &mut Vec<LogLine>) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut chunk = vec![0; 64 * 1024];
        loop {
            let n = match file.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            self.offset += n as u64;
            for &byte in &chunk[..n] {
                if byte == b'\n' {
                    lines.push(LogLine::new(&self.partial, self.cut));
                    self.partial.clear();
                    self.cut = 0;
                } else if self.partial.len() < MAX_LINE {
                    self.partial.push(byte);
                } else {
                    self.cut += 1;
                }
            }
        }
    }
}

/// The last `n` lines of `path` (reading at most its last 4 MiB).
///
/// # Errors
/// When the file cannot be read.
pub fn last_lines(path: &Path, n: usize) -> std::io::Result<Vec<LogLine>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(4 * 1024 * 1024);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let mut parts: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if parts.last().is_some_and(|l| l.is_empty()) {
        parts.pop();
    }
    if start > 0 && !parts.is_empty() {
        parts.remove(0); // the first line was cut by the window
    }
    let skip = parts.len().saturating_sub(n);
    Ok(parts[skip..]
        .iter()
        .map(|l| {
            LogLine::new(
                &l[..l.len().min(MAX_LINE)],
                l.len().saturating_sub(MAX_LINE),
            )
        })
        .collect())
}

/// Follows `path` on the calling thread, sending each new line, until the receiver is dropped.
/// Directory events wake it at once; without them it still polls every `backstop`.
pub fn follow(path: &Path, lines: &mpsc::Sender<LogLine>, backstop: Duration) {
    follow_until(
        path,
        &|line| lines.send(line).is_ok(),
        backstop,
        &AtomicBool::new(false),
    );
}

/// [`follow`], ending also within `backstop` of `stop` turning true (a quiet log sends nothing
/// that would notice a dropped receiver).
/// `send` hands a line on and says whether anyone still listens (it may wait for room).
pub fn follow_until(
    path: &Path,
    send: &dyn Fn(LogLine) -> bool,
    backstop: Duration,
    stop: &AtomicBool,
) {
    let (wake_tx, wake) = mpsc::channel();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let watcher = notify::recommended_watcher(move |_| {
        let _ = wake_tx.send(());
    })
    .and_then(|mut w| w.watch(&dir, RecursiveMode::NonRecursive).map(|()| w));
    let mut tail = LogTail::at_end(path);
    while !stop.load(Ordering::Relaxed) {
        for line in tail.poll() {
            if !send(line) {
                drop(watcher);
                return;
            }
        }
        match wake.recv_timeout(backstop) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(backstop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_a_sender_chose_do_not_decide_what_a_line_is() {
        let line = |rest: &str| format!("2026-11-26T11:40:04.773506Z  INFO {rest}");
        // What serve writes for posted hooks whose fields hold the guide's keywords.
        for forged in [
            r#"hook event=claude_event subtype="disconnect sid=FAKESID reason=forged clients=99""#,
            "hook event=claude_event subtype=connect",
            r#"hook event=claude_event subtype="a' connect sid=X tool_start""#,
            r#"hook event=claude_event subtype="ok" session="error: traceback""#,
        ] {
            assert_eq!(LineKind::of(&line(forged)), LineKind::Other, "{forged}");
        }
        assert_eq!(
            LineKind::of(&line(
                r#"tool_stop tool="Bash tool_start" correlation_id=k2"#
            )),
            LineKind::ToolStop
        );
        assert_eq!(
            LineKind::of(&line(
                "disconnect sid=AbC reason=\"transport close\" clients=0"
            )),
            LineKind::Disconnect
        );
        assert_eq!(
            LineKind::of(&line("connect sid=AbC transport=Websocket clients=2")),
            LineKind::Connect
        );
        assert_eq!(
            LineKind::of("2026-11-26T11:40:04Z  WARN emit failed sid=AbC"),
            LineKind::Error,
            "a warning by its level"
        );
        assert_eq!(
            LineKind::of(
                "2026-11-26 03:09:33,123 - claude_mpm.socketio - INFO - Client connected: abc"
            ),
            LineKind::Connect
        );
    }
    use std::io::Write as _;

    fn append(path: &Path, text: &[u8]) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
            .write_all(text)
            .unwrap();
    }

    fn texts(lines: Vec<LogLine>) -> Vec<String> {
        lines.into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn follows_through_rotation_truncation_deletion_and_recreation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        append(&path, b"old line\n");
        let mut tail = LogTail::at_end(&path);
        assert_eq!(
            texts(tail.poll()),
            Vec::<String>::new(),
            "starts at the end"
        );
        append(&path, b"one\ntw");
        assert_eq!(
            texts(tail.poll()),
            ["one"],
            "partial lines wait for their newline"
        );
        append(&path, b"o\n");
        assert_eq!(texts(tail.poll()), ["two"]);
        append(&path, b"last before rotation\n");
        std::fs::rename(&path, dir.path().join("server.log.1")).unwrap();
        append(&path, b"first after rotation\n");
        assert_eq!(
            texts(tail.poll()),
            ["last before rotation", "first after rotation"]
        );
        std::fs::write(&path, b"").unwrap();
        append(&path, b"after truncate\n");
        assert_eq!(texts(tail.poll()), ["after truncate"]);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            texts(tail.poll()),
            Vec::<String>::new(),
            "a missing file is not an error"
        );
        append(&path, b"recreated\n");
        assert_eq!(texts(tail.poll()), ["recreated"]);
    }

    #[test]
    fn binary_junk_and_huge_lines_are_survived() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        let mut tail = LogTail::at_end(&path);
        let mut junk = vec![0xff, 0xfe, b'x', 0x00];
        junk.extend(vec![b'a'; MAX_LINE + 100]);
        junk.push(b'\n');
        append(&path, &junk);
        let lines = tail.poll();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].text.starts_with("\u{fffd}\u{fffd}x\0"));
        assert!(
            lines[0].text.ends_with(" …[104 more bytes]"),
            "{}",
            &lines[0].text[lines[0].text.len() - 30..]
        );
    }

    #[test]
    fn lines_are_classified_as_the_guides_recipes_would() {
        for (line, kind) in [
            (
                "2026 INFO connect sid=abc transport=Websocket clients=1",
                LineKind::Connect,
            ),
            (
                "INFO disconnect sid=abc reason=\"client gracefully closed\"",
                LineKind::Disconnect,
            ),
            (
                "INFO tool_start tool=Bash correlation_id=c (pre_tool)",
                LineKind::ToolStart,
            ),
            (
                "INFO tool_stop tool=Bash correlation_id=c (post_tool)",
                LineKind::ToolStop,
            ),
            ("DEBUG emit event=tool_event to=all", LineKind::Emit),
            ("DEBUG receive event=claude_event sid=x", LineKind::Receive),
            ("ERROR: Traceback (most recent call last)", LineKind::Error),
            ("listening on http://127.0.0.1:8765", LineKind::Other),
        ] {
            assert_eq!(LineKind::of(line), kind, "{line}");
        }
    }

    #[test]
    fn last_lines_reads_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        for i in 0..1000 {
            append(&path, format!("line {i}\n").as_bytes());
        }
        let last = last_lines(&path, 500).unwrap();
        assert_eq!(last.len(), 500);
        assert_eq!(last[0].text, "line 500");
        assert_eq!(last[499].text, "line 999");
    }

    #[test]
    fn follow_delivers_lines_written_after_it_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        let (tx, rx) = mpsc::channel();
        let watched = path.clone();
        std::thread::spawn(move || follow(&watched, &tx, Duration::from_millis(200)));
        std::thread::sleep(Duration::from_millis(100));
        append(&path, b"INFO connect sid=1\n");
        let line = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(line.kind, LineKind::Connect);
    }
}
