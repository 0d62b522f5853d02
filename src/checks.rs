//! Facts to doctor findings. Pure: the same facts give the same findings, so `doctor`, the
//! console and `--collect` agree, and every rule is tested without a server.

use std::time::Duration;

use serde::Serialize;

use crate::config::{Finding, Settings};
use crate::probes::http::{Cors, Handshake, Health, ProbeError, ServerKind};
use crate::probes::pidfiles::PidFileState;
use crate::probes::process::{ProcessInfo, ProcessStats};

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but something is off.
    Warn,
    /// Broken.
    Fail,
}

/// How to fix a finding: the command to run, and the console key that does the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// A command line to paste.
    pub command: String,
    /// The console key, when one applies.
    pub key: Option<char>,
}

impl Fix {
    /// A fix: a command and, optionally, the console key that does the same.
    #[must_use]
    pub fn new(command: &str, key: Option<char>) -> Fix {
        Fix {
            command: command.to_owned(),
            key,
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Its name, for `--checks`.
    pub name: &'static str,
    /// The verdict.
    pub status: Status,
    /// One line saying why.
    pub reason: String,
    /// Time the probes behind it took.
    pub duration_ms: f64,
    /// What to do, when something is wrong.
    pub fix: Option<Fix>,
}

/// Every check, in the order doctor runs them.
pub const NAMES: [&str; 15] = [
    "process",
    "port",
    "health",
    "handshake",
    "websocket",
    "cors",
    "fds",
    "memory",
    "log",
    "pidfile",
    "config",
    "hooks",
    "tls",
    "mixed-content",
    "servers",
];

/// What the log file looks like.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LogFacts {
    /// Path as shown (with `~`).
    pub shown: String,
    /// Whether it exists.
    pub exists: bool,
    /// Whether it (or, if missing, its directory) can be written.
    pub writable: bool,
    /// Seconds since it was last written.
    pub idle_secs: Option<u64>,
}

/// A probe's outcome and how long it took.
#[derive(Clone, Debug, Serialize)]
pub struct Timed<T> {
    /// The outcome.
    pub value: T,
    /// The time it took.
    pub duration: Duration,
}

/// Everything the checks look at, gathered by `doctor` (I/O) beforehand.
#[derive(Clone, Debug)]
pub struct Facts {
    /// The resolved configuration.
    pub settings: Settings,
    /// The server checked.
    pub target: crate::target::Target,
    /// Its findings.
    pub config_findings: Vec<Finding>,
    /// Processes listening on the port.
    pub holders: Timed<Vec<ProcessInfo>>,
    /// `/health`.
    pub health: Timed<Result<Health, ProbeError>>,
    /// The polling handshake.
    pub handshake: Timed<Result<Handshake, ProbeError>>,
    /// The websocket upgrade.
    pub websocket: Timed<Result<Duration, ProbeError>>,
    /// CORS preflight from the dashboard origin.
    pub cors: Timed<Result<Cors, ProbeError>>,
    /// The server process's resource use.
    pub process: Timed<Option<ProcessStats>>,
    /// The log file.
    pub log: LogFacts,
    /// PID files, ours and Claude MPM's.
    pub pid_files: Vec<PidFileState>,
    /// Socket.IO servers found on other ports of the Claude MPM range.
    pub elsewhere: Vec<(u16, ServerKind)>,
    /// mpm-top's alert thresholds (the rules `doctor` shares with the console's alerts).
    pub thresholds: crate::config::alerts::Thresholds,
    /// Every monitor server on the target's host (one scan).
    pub servers: Vec<crate::probes::servers::ServerRow>,
}

/// Runs every check, or those named in `only`.
#[must_use]
pub fn evaluate(facts: &Facts, only: &[String]) -> Vec<Check> {
    NAMES
        .iter()
        .filter(|n| only.is_empty() || only.iter().any(|o| o == *n))
        .map(|name| rules::run(name, facts))
        .collect()
}

/// Worst status of all checks; what doctor's exit code follows (0 ok, 1 warn, 2 fail).
#[must_use]
pub fn worst(checks: &[Check]) -> Status {
    checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok)
}

pub mod alerts;
mod rules;
#[cfg(test)]
mod tests;
