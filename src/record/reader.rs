//! Reading a recording. A file from someone else is untrusted: it is read whole up to a size
//! limit, each line is bounded, and damage (a cut-off end, garbage after it, a line that is not
//! an entry) ends the entries where it starts, saying where, instead of failing the replay.

use std::io::{BufRead as _, BufReader, Cursor, Read as _};
use std::path::Path;
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use super::{Entry, FORMAT, Header, VERSION, recordable};
use crate::app::Action;

/// The largest file replay reads: above the largest cap a recording can be given.
const MAX_FILE: u64 = (super::MAX_CAP_MIB + 32) * 1024 * 1024;
/// The longest line: the writer cuts a payload at [`super::MAX_PAYLOAD`] first.
const MAX_LINE: u64 = 1024 * 1024;
/// The most lines read: a crafted file of tiny lines cannot keep replay busy for long.
const MAX_LINES: usize = 20_000_000;
/// The most bytes decompressed: JSON lines compress ten to twenty fold; room for more.
const MAX_DECOMPRESSED: u64 = 32 * MAX_FILE;
/// Entries a recording never holds (keys, dialog answers) skipped before the file counts as
/// damaged.
const MAX_SKIPPED: usize = 1000;

/// Where a recording stops being readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The line (1 is the header) where the damage starts.
    pub line: usize,
    /// Entries readable before it.
    pub entries: usize,
    /// What is wrong there.
    pub why: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "damaged at line {}, after {} entries: {}",
            self.line, self.entries, self.why
        )
    }
}

/// A recording, read and checked.
#[derive(Clone, Debug)]
pub struct Recording {
    /// Its header.
    pub header: Header,
    /// The file, as shown.
    pub shown: String,
    /// Entries readable (up to any damage).
    pub entries: usize,
    /// The first entry's time (console seconds), or the header's start.
    pub first_t: f64,
    /// The last readable entry's time.
    pub last_t: f64,
    /// Where it is damaged, if it is.
    pub damage: Option<Damage>,
    bytes: Arc<[u8]>,
}

impl Recording {
    /// Reads and checks the recording at `path`.
    ///
    /// # Errors
    /// A clear message when the file cannot be read or is not a recording this program reads.
    pub fn open(path: &Path) -> Result<Recording, String> {
        let shown = crate::text::clean(&path.display().to_string());
        // Before opening: a FIFO would block the open, a device never end.
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() => {
                return Err(format!(
                    "{shown} is not a regular file (a recording is a .{} file)",
                    super::EXTENSION
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("cannot open {shown}: {e}")),
        }
        let file = std::fs::File::open(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
        let size = file.metadata().map_or(0, |m| m.len());
        if size > MAX_FILE {
            return Err(format!(
                "{shown} is {} MiB; replay reads recordings up to {} MiB",
                size / (1024 * 1024),
                MAX_FILE / (1024 * 1024)
            ));
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {shown}: {e}"))?;
        Recording::from_bytes(bytes, shown)
    }

    /// Checks a recording held in memory; `shown` names it in messages.
    ///
    /// # Errors
    /// A clear message when it is not a recording this program reads.
    pub fn from_bytes(bytes: Vec<u8>, shown: String) -> Result<Recording, String> {
        // Messages quote the file; what they quote is shown, never obeyed.
        Recording::check(bytes, shown)
            .map_err(|why| crate::text::clean(&crate::text::truncate(&why, 1000)))
    }

    fn check(bytes: Vec<u8>, shown: String) -> Result<Recording, String> {
        let not_one = |why: &str| {
            format!(
                "{shown} is not an mpm-top recording: {why} (a recording is gzip-compressed JSON lines, written by mpm-top --record or the console's w key)"
            )
        };
        if !bytes.starts_with(&[0x1f, 0x8b]) {
            return Err(not_one("it is not gzip-compressed"));
        }
        let bytes: Arc<[u8]> = bytes.into();
        let mut lines = Lines::new(bytes.clone());
        let first = match lines.next_line() {
            Some(Ok(line)) => line,
            Some(Err(why)) => {
                return Err(not_one(&format!("its first line cannot be read: {why}")));
            }
            None => return Err(not_one("it is empty")),
        };
        let header = parse_header(&first, &shown).map_err(|why| match why {
            HeaderProblem::NotOne(why) => not_one(&why),
            HeaderProblem::Version(message) => message,
        })?;
        let mut recording = Recording {
            first_t: header.started_mono,
            last_t: header.started_mono,
            header,
            shown,
            entries: 0,
            damage: None,
            bytes,
        };
        let mut entries = recording.entries();
        let mut first = None;
        for entry in entries.by_ref() {
            first.get_or_insert(entry.t);
            recording.last_t = entry.t;
            recording.entries += 1;
        }
        recording.first_t = first.unwrap_or(recording.first_t).min(recording.last_t);
        recording.damage = entries.damage;
        Ok(recording)
    }

    /// The entries from the start, up to any damage (then [`Entries::damage`] says where).
    #[must_use]
    pub fn entries(&self) -> Entries {
        let mut lines = Lines::new(self.bytes.clone());
        // The header, checked when the recording was opened.
        let _ = lines.next_line();
        Entries {
            lines,
            count: 0,
            skipped: 0,
            last_t: f64::NEG_INFINITY,
            damage: None,
        }
    }

    /// Seconds from the first entry to the last.
    #[must_use]
    pub fn length(&self) -> f64 {
        (self.last_t - self.first_t).max(0.0)
    }
}

/// Why a first line is not a header this program reads.
enum HeaderProblem {
    /// The file is not a recording at all.
    NotOne(String),
    /// It is one, of another format version: the whole message.
    Version(String),
}

fn parse_header(line: &str, shown: &str) -> Result<Header, HeaderProblem> {
    use serde_json::Value;
    let not_one = |why: &str| HeaderProblem::NotOne(why.to_owned());
    let value: Value =
        serde_json::from_str(line).map_err(|_| not_one("its first line is not JSON"))?;
    if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(not_one(&format!(
            "its first line does not say \"format\": \"{FORMAT}\""
        )));
    }
    let version = value.get("version");
    if version.and_then(Value::as_u64) != Some(u64::from(VERSION)) {
        let by = value.get("mpm_top").and_then(Value::as_str).unwrap_or("?");
        return Err(HeaderProblem::Version(format!(
            "{shown} is a version {} recording (written by mpm-top {}); this mpm-top ({}) reads version {VERSION}",
            version.map_or("(none)".into(), |v| crate::text::truncate(
                &v.to_string(),
                40
            )),
            crate::text::clean(by),
            env!("CARGO_PKG_VERSION")
        )));
    }
    serde_json::from_value(value).map_err(|e| not_one(&format!("its header is incomplete ({e})")))
}

/// The entries of a recording, in order. Keys and dialog answers found in a file (which this
/// program never writes) are skipped: a recording cannot drive the console's controls.
#[derive(Debug)]
pub struct Entries {
    lines: Lines,
    count: usize,
    skipped: usize,
    last_t: f64,
    /// Where reading stopped because the file is damaged, once it has.
    pub damage: Option<Damage>,
}

impl Iterator for Entries {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if self.damage.is_some() {
            return None;
        }
        loop {
            let line = match self.lines.next_line()? {
                Ok(line) => line,
                Err(why) => return self.damaged(&why),
            };
            if self.lines.number > MAX_LINES {
                return self.damaged(&format!("more than {MAX_LINES} lines"));
            }
            let mut entry: Entry = match serde_json::from_str(&line) {
                Ok(entry) => entry,
                Err(e) => return self.damaged(&format!("not a recording entry ({e})")),
            };
            if !entry.t.is_finite() {
                return self.damaged("its time is not a number");
            }
            // Time never runs backwards in a replay.
            entry.t = entry.t.max(self.last_t);
            if let Action::Watched(_, inner) = entry.a {
                entry.a = *inner;
            }
            if !recordable(&entry.a) {
                self.skipped += 1;
                if self.skipped > MAX_SKIPPED {
                    return self.damaged(&format!(
                        "more than {MAX_SKIPPED} key presses or dialog answers, which mpm-top never records"
                    ));
                }
                continue;
            }
            self.last_t = entry.t;
            self.count += 1;
            return Some(entry);
        }
    }
}

impl Entries {
    fn damaged(&mut self, why: &str) -> Option<Entry> {
        // Parse errors quote the file.
        let why = crate::text::clean(&crate::text::truncate(why, 300));
        self.damage = Some(Damage {
            // Counted from the header, line 1, up to and including this one.
            line: self.lines.number,
            entries: self.count,
            why,
        });
        None
    }
}

/// The decompressed lines, each bounded.
struct Lines {
    reader: BufReader<MultiGzDecoder<Cursor<Arc<[u8]>>>>,
    /// Lines read so far (the header is line 1).
    number: usize,
    /// Bytes decompressed so far.
    decompressed: u64,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lines(at {})", self.number)
    }
}

impl Lines {
    fn new(bytes: Arc<[u8]>) -> Lines {
        Lines {
            reader: BufReader::new(MultiGzDecoder::new(Cursor::new(bytes))),
            number: 0,
            decompressed: 0,
        }
    }

    /// The next line; None at a clean end; why not, when the file is damaged here.
    fn next_line(&mut self) -> Option<Result<String, String>> {
        if self.decompressed > MAX_DECOMPRESSED {
            self.number += 1;
            return Some(Err(format!(
                "more than {} MiB decompressed",
                MAX_DECOMPRESSED / (1024 * 1024)
            )));
        }
        let mut buf = Vec::new();
        let read = (&mut self.reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf);
        self.number += 1;
        self.decompressed += buf.len() as u64;
        match read {
            Ok(0) => None,
            Err(e) => Some(Err(format!(
                "the compressed data is damaged or cut short ({e})"
            ))),
            Ok(_) if buf.last() != Some(&b'\n') && buf.len() as u64 > MAX_LINE => Some(Err(
                format!("the line is longer than {} KiB", MAX_LINE / 1024),
            )),
            Ok(_) if buf.last() != Some(&b'\n') => Some(Err("the last line is cut short".into())),
            Ok(_) => {
                buf.pop();
                Some(String::from_utf8(buf).map_err(|_| "the line is not UTF-8".to_owned()))
            }
        }
    }
}
