//! Writing a recording. Redacting, serialising and compressing run on a thread of their own,
//! fed through a bounded queue, so a recording never holds up the console: when the queue is
//! full the entry is counted as lost (and the recording says so at its end), rather than the
//! console falling behind its feed.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::{Entry, Header, MAX_PAYLOAD, recordable, redact};
use crate::app::Action;
use crate::collect::Redactor;

/// The longest line written, well within the 1 MiB replay reads.
const MAX_LINE_WRITTEN: usize = 512 * 1024;

/// Entries waiting for the writer thread: at 20,000 events a second, most of a second.
const QUEUE: usize = 16_384;
/// How often the compressor is flushed: what a killed console can lose at most.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// What the console and the writer thread both see.
#[derive(Debug, Default)]
struct Shared {
    /// Compressed bytes in the file.
    bytes: AtomicU64,
    /// Entries dropped because the queue was full.
    lost: AtomicU64,
    /// Why the writer stopped on its own (the cap, a write error).
    stopped: Mutex<Option<String>>,
    /// It stopped at its cap: a whole recording, not a failure.
    capped: std::sync::atomic::AtomicBool,
}

/// A recording being written.
#[derive(Debug)]
pub struct Recorder {
    queue: Option<SyncSender<Entry>>,
    shared: Arc<Shared>,
    path: PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    /// Starts a new recording at `path` (which must not exist: a recording never replaces a
    /// file) with `header`, then `preamble` (what the console already knew), capped at
    /// `cap_bytes` compressed. Secrets are redacted as in the debug bundle, with `home` shown
    /// as `~`. Returns once the file is created.
    ///
    /// # Errors
    /// When the file exists or cannot be created or written.
    pub fn start(
        path: &Path,
        header: &Header,
        preamble: Vec<Entry>,
        cap_bytes: u64,
        home: Option<&Path>,
    ) -> io::Result<Recorder> {
        let (recorder, opened) = Recorder::spawn(path, header, preamble, cap_bytes, home)?;
        opened
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the recorder ended before it began")))?;
        Ok(recorder)
    }

    /// The same, returning at once: the file is created on the recorder's thread, so the
    /// console's task never waits on the disk. A failure shows as [`Recorder::stopped`].
    ///
    /// # Errors
    /// When the recorder's thread cannot be started.
    pub fn start_in_background(
        path: &Path,
        header: &Header,
        preamble: Vec<Entry>,
        cap_bytes: u64,
        home: Option<&Path>,
    ) -> io::Result<Recorder> {
        Recorder::spawn(path, header, preamble, cap_bytes, home).map(|(recorder, _)| recorder)
    }

    /// The recorder and its thread, which creates the file (saying how that went on the
    /// returned channel), writes the preamble, then the entries as they come.
    fn spawn(
        path: &Path,
        header: &Header,
        preamble: Vec<Entry>,
        cap_bytes: u64,
        home: Option<&Path>,
    ) -> io::Result<(Recorder, Receiver<io::Result<()>>)> {
        let shared = Arc::new(Shared::default());
        let (queue, entries) = mpsc::sync_channel(QUEUE);
        let (opened_tx, opened) = mpsc::channel();
        let thread = {
            let (shared, path, header) = (shared.clone(), path.to_owned(), header.clone());
            let mut redactor = Redactor::new(home);
            std::thread::Builder::new()
                .name("mpm-top recorder".into())
                .spawn(move || {
                    let shown = path.display().to_string();
                    let stop = |why: String| {
                        if let Ok(mut stopped) = shared.stopped.lock() {
                            *stopped = Some(why);
                        }
                    };
                    let mut out = match create(&path, &header, &shared) {
                        Ok(out) => {
                            let _ = opened_tx.send(Ok(()));
                            out
                        }
                        Err(e) => {
                            stop(e.to_string());
                            let _ = opened_tx.send(Err(e));
                            return;
                        }
                    };
                    // The preamble is redacted here, not on the console's task: a large past
                    // must not freeze the screen.
                    let start_t = preamble.last().map_or(header.started_mono, |e| e.t);
                    let result = preamble
                        .into_iter()
                        .try_for_each(|entry| write_entry(&mut out, entry, &mut redactor));
                    match result {
                        Ok(()) => write_all(
                            out,
                            &entries,
                            &mut redactor,
                            &shared,
                            cap_bytes,
                            &shown,
                            start_t,
                        ),
                        Err(e) => stop(format!("recording stopped: cannot write {shown}: {e}")),
                    }
                })?
        };
        let recorder = Recorder {
            queue: Some(queue),
            shared,
            path: path.to_owned(),
            thread: Some(thread),
        };
        Ok((recorder, opened))
    }

    /// Records `action`, applied at `t`, if it belongs in a recording.
    pub fn record(&self, t: f64, action: &Action) {
        if !recordable(action) {
            return;
        }
        let Some(queue) = &self.queue else { return };
        let entry = Entry {
            t,
            a: match action {
                Action::Watched(_, inner) => (**inner).clone(),
                other => other.clone(),
            },
        };
        if let Err(TrySendError::Full(_)) = queue.try_send(entry) {
            self.shared.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Compressed bytes written so far.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.shared.bytes.load(Ordering::Relaxed)
    }

    /// Why the recording stopped by itself, if it did (its size cap, a write error).
    #[must_use]
    pub fn stopped(&self) -> Option<String> {
        self.shared
            .stopped
            .lock()
            .map_or_else(|p| p.into_inner().clone(), |s| s.clone())
    }

    /// Ends the recording: the queue is written out and the file completed. Returns the
    /// compressed size.
    ///
    /// # Errors
    /// Why the recording stopped early or could not be completed.
    pub fn finish(mut self) -> Result<u64, String> {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        match self.stopped() {
            Some(why) if !self.shared.capped.load(Ordering::Relaxed) => Err(why),
            _ => Ok(self.bytes()),
        }
    }
}

impl Drop for Recorder {
    /// A console that leaves without `finish` still completes the file.
    fn drop(&mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Creates the file (never over another, never through a link) 0600, and writes the header.
fn create(path: &Path, header: &Header, shared: &Arc<Shared>) -> io::Result<GzEncoder<Counting>> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{} already exists: a recording never replaces a file; name another",
                        path.display()
                    ),
                )
            } else {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
            }
        })?;
    let mut out = GzEncoder::new(
        Counting {
            inner: BufWriter::new(file),
            shared: shared.clone(),
        },
        Compression::default(),
    );
    write_line(&mut out, header)?;
    out.flush()?;
    Ok(out)
}

/// A whole recording in memory (the debug bundle's): header and entries, redacted, gzip.
///
/// # Errors
/// Never in practice (writing to memory); a serialisation failure would be returned.
pub fn encode(header: &Header, entries: Vec<Entry>, home: Option<&Path>) -> io::Result<Vec<u8>> {
    let mut out = GzEncoder::new(Vec::new(), Compression::default());
    let mut redactor = Redactor::new(home);
    write_line(&mut out, header)?;
    for entry in entries {
        if recordable(&entry.a) {
            write_entry(&mut out, entry, &mut redactor)?;
        }
    }
    out.finish()
}

/// The writer thread: entries until the console drops the queue, the cap, or an error.
fn write_all(
    mut out: GzEncoder<Counting>,
    entries: &Receiver<Entry>,
    redactor: &mut Redactor,
    shared: &Shared,
    cap_bytes: u64,
    shown: &str,
    start_t: f64,
) {
    let mut flushed = Instant::now();
    let mut last_t = start_t;
    let stop = |why: String| {
        if let Ok(mut stopped) = shared.stopped.lock() {
            *stopped = Some(why);
        }
    };
    loop {
        let result = match entries.recv_timeout(FLUSH_EVERY) {
            Ok(entry) => {
                last_t = entry.t;
                write_entry(&mut out, entry, redactor)
            }
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let result = result.and_then(|()| {
            if flushed.elapsed() >= FLUSH_EVERY {
                flushed = Instant::now();
                out.flush()
            } else {
                Ok(())
            }
        });
        if let Err(e) = result {
            stop(format!("recording stopped: cannot write {shown}: {e}"));
            return;
        }
        if shared.bytes.load(Ordering::Relaxed) >= cap_bytes {
            let why = format!(
                "reached its size cap ({} MiB); the recording ends here (--record-max-mib sets the cap)",
                cap_bytes / (1024 * 1024)
            );
            let _ = write_entry(
                &mut out,
                Entry {
                    t: last_t,
                    a: Action::Note(format!("recording {why}")),
                },
                redactor,
            );
            shared.capped.store(true, Ordering::Relaxed);
            stop(why);
            break;
        }
    }
    let lost = shared.lost.load(Ordering::Relaxed);
    if lost > 0 {
        let _ = write_entry(
            &mut out,
            Entry {
                t: last_t,
                a: Action::Note(format!(
                    "recording: {lost} entries were not written (the console received more than the recorder could compress)"
                )),
            },
            redactor,
        );
    }
    if let Err(e) = out.finish().and_then(|mut c| c.inner.flush()) {
        stop(format!("recording stopped: cannot complete {shown}: {e}"));
    }
}

fn write_entry(out: &mut impl Write, entry: Entry, redactor: &mut Redactor) -> io::Result<()> {
    let a = match redact(entry.a, redactor) {
        // Cut after redacting (which can lengthen), so the line stays within what replay reads.
        Action::FeedEvent { name, data, at } => Action::FeedEvent {
            name: crate::text::truncate(&name, 1024),
            data: crate::bounded::json_keeping_shape(data, MAX_PAYLOAD),
            at,
        },
        other => other,
    };
    let t = entry.t;
    let mut line = serde_json::to_string(&Entry { t, a })?;
    if line.len() > MAX_LINE_WRITTEN {
        // Whatever made it this long (a foreign server's field, a sample with thousands of
        // sockets), the file stays readable: the entry is named and left out.
        let kind = line
            .split("\"a\":{\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("entry")
            .to_owned();
        let note = Action::Note(format!(
            "recording: a {kind} entry of {} KiB was left out (longer than a recording's line)",
            line.len() / 1024
        ));
        line = serde_json::to_string(&Entry { t, a: note })?;
    }
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")
}

fn write_line(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// The file, counting what reaches it.
#[derive(Debug)]
struct Counting {
    inner: BufWriter<File>,
    shared: Arc<Shared>,
}

impl Write for Counting {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.shared.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
