//! Recordings: what the console received, each with when it arrived, in a file someone else
//! can open in the same console (`mpm-top replay FILE`).
//!
//! The format, version [`VERSION`]: gzip-compressed JSON lines. The first line is a
//! [`Header`]; every other line is an [`Entry`]: `{"t": seconds, "a": action}`, where `t` is
//! the console's monotonic clock when the action was applied and the action is the very
//! [`Action`] the console's `update` took (feed events and log lines keep their own stamps).
//! Replaying the entries through `update` rebuilds the same state: the same rows, pairings,
//! rates and log.
//!
//! The writer flushes the compressor once a second, so a console that is killed leaves a file
//! that replays up to its last second; `zcat FILE | head` reads any recording.

mod reader;
mod writer;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

pub use reader::{Damage, Entries, Recording};
pub use writer::{Recorder, encode};

use crate::app::Action;
use crate::collect::Redactor;
use crate::target::Target;

/// What the header's `format` says.
pub const FORMAT: &str = "mpm-top recording";
/// The format version this program writes and reads.
pub const VERSION: u32 = 1;
/// The file name ending that says what the file is.
pub const EXTENSION: &str = "jsonl.gz";
/// The default size cap of a recording, compressed.
pub const DEFAULT_CAP_MIB: u64 = 32;
/// The largest cap a recording can be given.
pub const MAX_CAP_MIB: u64 = 128;
/// The largest payload recorded whole, as JSON: in a larger one long strings are cut (its
/// fields, ids and subtypes stay, so replay pairs it as live did), so every line of a
/// recording stays readable.
pub const MAX_PAYLOAD: usize = 256 * 1024;

/// A recording's first line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version, [`VERSION`] when written by this program.
    pub version: u32,
    /// The mpm-top that wrote it.
    pub mpm_top: String,
    /// The server the console watched when the recording began.
    pub target: Target,
    /// What that server was (`mpm-top`, `Claude MPM`, …), as far as the console knew.
    pub server_kind: String,
    /// The wall clock when the recording began.
    pub started: DateTime<FixedOffset>,
    /// The console's monotonic clock at that moment: entry times count from the same zero.
    pub started_mono: f64,
}

impl Header {
    /// A header for a recording beginning now-ish.
    #[must_use]
    pub fn new(
        target: &Target,
        server_kind: &str,
        started: DateTime<FixedOffset>,
        mono: f64,
    ) -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            mpm_top: env!("CARGO_PKG_VERSION").into(),
            target: target.clone(),
            server_kind: server_kind.into(),
            started,
            started_mono: mono,
        }
    }
}

/// One thing the console received.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// When it was applied: seconds on the console's monotonic clock.
    pub t: f64,
    /// What it was.
    pub a: Action,
}

/// Whether an action belongs in a recording: what the console received (producers, effects'
/// outcomes, the clock), not the keys of whoever watched it, nor a dialog's answer.
#[must_use]
pub fn recordable(action: &Action) -> bool {
    match action {
        Action::Key(_) | Action::Resize | Action::ResetPlanned(_) => false,
        Action::Watched(_, inner) => recordable(inner),
        _ => true,
    }
}

/// The action with secrets hidden, as the debug bundle hides them: every text from outside
/// (payloads, log lines, process command lines, notes) through the same rules.
#[must_use]
pub fn redact(action: Action, r: &mut Redactor) -> Action {
    let mut text = |s: String| r.text(&s);
    match action {
        Action::Watched(g, inner) => Action::Watched(g, Box::new(redact(*inner, r))),
        Action::FeedEvent { name, mut data, at } => {
            let name = r.text(&name);
            r.json(&mut data);
            Action::FeedEvent { name, data, at }
        }
        Action::LogLine(mut line, at) => {
            line.text = r.text(&line.text);
            Action::LogLine(line, at)
        }
        Action::Health(Ok(mut health)) => {
            health.status = r.text(&health.status);
            // A foreign server names itself.
            if let crate::probes::http::ServerKind::Foreign(Some(name)) = &mut health.kind {
                *name = r.text(name);
            }
            r.json(&mut health.raw);
            Action::Health(Ok(health))
        }
        Action::Health(Err(why)) => Action::Health(Err(text(why))),
        // The process's own figures are numbers; its command line is in the socket owners.
        Action::Resources {
            mut process,
            mut sockets,
            holders,
            at,
        } => {
            if let Some(p) = process.as_mut().filter(|p| !p.cpu_percent.is_finite()) {
                p.cpu_percent = 0.0;
            }
            for socket in &mut sockets {
                for owner in &mut socket.owners {
                    redact_process(owner, r);
                }
            }
            let holders = holders
                .map(|hs| {
                    hs.into_iter()
                        .map(|mut h| {
                            redact_process(&mut h.process, r);
                            h
                        })
                        .collect()
                })
                .map_err(|why| r.text(&why));
            Action::Resources {
                process,
                sockets,
                holders,
                at,
            }
        }
        Action::ClientList { mut data, at, boot } => {
            r.json(&mut data);
            Action::ClientList { data, at, boot }
        }
        // Projects are paths (the home directory shows as `~`); health texts come from servers.
        Action::Servers { rows, at } => Action::Servers {
            rows: rows
                .into_iter()
                .map(|mut row| {
                    row.project = row.project.map(|p| r.text(&p));
                    row.health = r.text(&row.health);
                    row.kind_label = r.text(&row.kind_label);
                    if let crate::probes::http::ServerKind::Foreign(Some(name)) = &mut row.kind {
                        *name = r.text(name);
                    }
                    row
                })
                .collect(),
            at,
        },
        Action::Found(found) => Action::Found(
            found
                .into_iter()
                .map(|(port, kind)| (port, r.text(&kind)))
                .collect(),
        ),
        Action::Config(rows) => Action::Config(
            rows.into_iter()
                .map(|mut row| {
                    row.value = r.text(&row.value);
                    row.shadowed = r.text(&row.shadowed);
                    row.finding = row.finding.map(|f| r.text(&f));
                    row
                })
                .collect(),
        ),
        Action::Disconnected(why) => Action::Disconnected(text(why)),
        // JSON has no NaN: one would be written as null and end the replay there.
        Action::Latency(ms) if !ms.is_finite() => Action::Latency(0.0),
        Action::Doctor(status, why) => Action::Doctor(status, text(why)),
        Action::Note(line) => Action::Note(text(line)),
        Action::Logged(line) => Action::Logged(text(line)),
        Action::LoggedAs(mut entry) => {
            entry.line = text(entry.line);
            Action::LoggedAs(entry)
        }
        Action::Done(line) => Action::Done(text(line)),
        Action::Failed(line) => Action::Failed(text(line)),
        other => other,
    }
}

fn redact_process(p: &mut crate::probes::process::ProcessInfo, r: &mut Redactor) {
    p.name = r.text(&p.name);
    p.cmdline = r.text(&p.cmdline);
}

#[cfg(test)]
mod tests;
