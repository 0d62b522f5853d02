//! The guide's warning signs as rules over one moment of what the console knows: each rule
//! says whether its alert holds now, and why, with the fix (a command and a console key).
//! Pure: the console evaluates them every second (`app::alerts` raises and clears them), and
//! `doctor` runs the ones that need no history ([`fd_use`], [`hook_drift`]) through the same
//! functions; `mpm-top servers` and the console find projects served twice with
//! `probes::servers::same_project`.

use serde::{Deserialize, Serialize};

use super::{Fix, Status};
// The panes' own way of saying a duration (`42s`, `3m05s`), whole seconds not yet passed
// left out: an alert never claims a second that has not gone by.
use crate::config::alerts::Thresholds;
use crate::ui::format::age;

/// A client that lived less than this was flapping: the guide's "connects then immediately
/// disconnects".
pub const SHORT_LIVED_SECS: f64 = 5.0;

/// Memory growth is only projected from at least this much history (start-up is noisy).
pub const RSS_MIN_SPAN_SECS: f64 = crate::probes::process::MemoryTrend::MIN_SPAN_SECS;

/// The alerts, in the order the status pane lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Events stopped while clients are connected.
    Silence,
    /// Many clients lived under [`SHORT_LIVED_SECS`] in the last minute.
    ReconnectStorm,
    /// Open files near the limit.
    Fds,
    /// Memory heading for the `rss_mb` line within the hour.
    RssGrowth,
    /// A tool started and not stopped for too long.
    ToolOpen,
    /// Hooks post to another server than the one watched.
    HookDrift,
    /// The server failed to deliver events in the last minute.
    EmitFailures,
    /// Two servers started on one project.
    SameProject,
}

impl AlertKind {
    /// Every alert.
    pub const ALL: [AlertKind; 8] = [
        AlertKind::Silence,
        AlertKind::ReconnectStorm,
        AlertKind::Fds,
        AlertKind::RssGrowth,
        AlertKind::ToolOpen,
        AlertKind::HookDrift,
        AlertKind::EmitFailures,
        AlertKind::SameProject,
    ];

    /// Its short name, as the log and the bundle show it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Silence => "silence",
            AlertKind::ReconnectStorm => "reconnect storm",
            AlertKind::Fds => "file descriptors",
            AlertKind::RssGrowth => "memory growth",
            AlertKind::ToolOpen => "tool open",
            AlertKind::HookDrift => "hook drift",
            AlertKind::EmitFailures => "emit failures",
            AlertKind::SameProject => "same project",
        }
    }

    /// What to do about it: a command to paste and the console key that helps.
    #[must_use]
    pub fn fix(self) -> Fix {
        let (command, key) = match self {
            AlertKind::Silence => ("mpm-top doctor --checks hooks,health", 'd'),
            AlertKind::ReconnectStorm => (
                "mpm-top clients, then mpm-top doctor --checks cors,websocket",
                'C',
            ),
            AlertKind::Fds => ("raise the limit (ulimit -n), then mpm-top restart", 'r'),
            AlertKind::RssGrowth => ("mpm-top restart (and mpm-top --collect for a report)", 'r'),
            AlertKind::ToolOpen => (
                "mpm-top doctor --checks hooks (a lost tool_stop is a hook problem)",
                'd',
            ),
            AlertKind::HookDrift => (
                "point CLAUDE_MPM_SERVER_HOST/PORT at the server, or mpm-top config to see why",
                '5',
            ),
            AlertKind::EmitFailures => ("mpm-top clients (a client that cannot keep up)", 'C'),
            AlertKind::SameProject => ("mpm-top servers, then stop one of them", 'S'),
        };
        Fix::new(command, Some(key))
    }
}

/// An alert that holds now, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firing {
    /// Which.
    pub kind: AlertKind,
    /// Why, in one line, with the figures.
    pub message: String,
}

/// What the rules read: one moment of the console's state, reduced to figures. Times are
/// seconds on the console's monotonic clock.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Moment {
    /// Now.
    pub now: f64,
    /// Clients connected besides this console (None while unknown).
    pub other_clients: Option<u64>,
    /// The last event's arrival, or when watching began if none came.
    pub last_event: f64,
    /// When clients (besides this console) were first seen connected, in this stretch: silence
    /// is counted from the later of this and the last event.
    pub clients_since: Option<f64>,
    /// Arrivals of clients that lived under [`SHORT_LIVED_SECS`] (their disconnects).
    pub short_lived: Vec<f64>,
    /// Open files and the limit, of the server process.
    pub fds: Option<(usize, usize)>,
    /// Resident bytes, growth in bytes per minute, and seconds of samples behind it.
    pub rss: Option<(u64, Option<f64>, f64)>,
    /// Tools open now: name, correlation id, seconds open (only those whose start was seen
    /// arrive, so the age is real).
    pub open_tools: Vec<(String, String, f64)>,
    /// Why hooks post elsewhere, if they do.
    pub hook_drift: Option<String>,
    /// The server's emit-failure counter: (when sampled, value), oldest first, the last minute.
    pub emit_failures: Vec<(f64, u64)>,
    /// Projects with more than one server: the project and the ports.
    pub same_project: Vec<(String, Vec<u16>)>,
}

/// Every alert that holds at `m` under `t`, in [`AlertKind::ALL`] order.
#[must_use]
pub fn evaluate(m: &Moment, t: &Thresholds) -> Vec<Firing> {
    let rules: [(AlertKind, Option<String>); 8] = [
        (AlertKind::Silence, silence(m, t)),
        (AlertKind::ReconnectStorm, storm(m, t)),
        (
            AlertKind::Fds,
            m.fds
                .and_then(|(open, limit)| fd_use(open, limit, t.fd_percent))
                .filter(|(status, _)| *status != Status::Ok)
                .map(|(_, why)| why),
        ),
        (AlertKind::RssGrowth, rss_growth(m, t)),
        (AlertKind::ToolOpen, tool_open(m, t)),
        (
            AlertKind::HookDrift,
            m.hook_drift
                .as_ref()
                .map(|d| format!("{d}: its hook events go elsewhere")),
        ),
        (AlertKind::EmitFailures, emit_failures(m)),
        (
            AlertKind::SameProject,
            (!m.same_project.is_empty()).then(|| same_project_text(&m.same_project)),
        ),
    ];
    rules
        .into_iter()
        .filter_map(|(kind, message)| {
            Some(Firing {
                kind,
                message: message?,
            })
        })
        .collect()
}

fn silence(m: &Moment, t: &Thresholds) -> Option<String> {
    let clients = m.other_clients.filter(|n| *n > 0)?;
    let since = m.last_event.max(m.clients_since?);
    let quiet = m.now - since;
    #[allow(clippy::cast_precision_loss)] // thresholds are at most a day
    let limit = t.silence_secs as f64;
    (quiet >= limit).then(|| {
        format!(
            "no events for {} while {clients} client{} {} connected: are hooks posting here?",
            age(quiet),
            if clients == 1 { "" } else { "s" },
            if clients == 1 { "is" } else { "are" },
        )
    })
}

fn storm(m: &Moment, t: &Thresholds) -> Option<String> {
    let recent = m
        .short_lived
        .iter()
        .filter(|at| m.now - **at <= 60.0)
        .count();
    (recent as u64 >= t.reconnects_per_min).then(|| {
        let clients = if recent == 1 { "client" } else { "clients" };
        format!(
            "{recent} {clients} lived under {SHORT_LIVED_SECS:.0} s in the last minute: clients connect then drop"
        )
    })
}

/// Open files against the limit: the `fds` alert's rule and `doctor`'s `fds` check. Warn at
/// `percent`, fail at 95% (or at `percent`, when that is higher).
#[must_use]
pub fn fd_use(open: usize, limit: usize, percent: u64) -> Option<(Status, String)> {
    if limit == 0 {
        return None;
    }
    let used = open.saturating_mul(100) / limit;
    let used = u64::try_from(used).unwrap_or(u64::MAX);
    let status = if used >= percent.max(95) {
        Status::Fail
    } else if used >= percent {
        Status::Warn
    } else {
        Status::Ok
    };
    Some((
        status,
        format!("{open} of {limit} file descriptors open ({used}%; the line is {percent}%)"),
    ))
}

fn rss_growth(m: &Moment, t: &Thresholds) -> Option<String> {
    let (rss, growth, span_secs) = m.rss?;
    let growth = growth.filter(|g| *g > 0.0)?;
    if span_secs < RSS_MIN_SPAN_SECS {
        return None;
    }
    let line = t.rss_mb.saturating_mul(1_000_000);
    #[allow(clippy::cast_precision_loss)] // byte counts far below 2^52
    let minutes = line.saturating_sub(rss) as f64 / growth;
    (minutes <= 60.0).then(|| {
        #[allow(clippy::cast_precision_loss)]
        let mb = rss as f64 / 1e6;
        format!(
            "memory {mb:.0} MB, growing {:.1} MB/min over {}: {} MB {}",
            growth / 1e6,
            age(span_secs),
            t.rss_mb,
            if minutes <= 0.0 {
                "already passed".to_owned()
            } else {
                format!("in about {} at this rate", age(minutes * 60.0))
            }
        )
    })
}

fn tool_open(m: &Moment, t: &Thresholds) -> Option<String> {
    #[allow(clippy::cast_precision_loss)]
    let limit = t.tool_open_secs as f64;
    let late: Vec<&(String, String, f64)> = m
        .open_tools
        .iter()
        .filter(|(.., open_for)| *open_for >= limit)
        .collect();
    let (tool, correlation, open_for) = late.iter().max_by(|a, b| a.2.total_cmp(&b.2))?;
    let more = match late.len() {
        1 => String::new(),
        n => format!("; {} more open past {}", n - 1, age(limit)),
    };
    Some(format!(
        "{tool} open for {} without a tool_stop (correlation {correlation}){more}",
        age(*open_for)
    ))
}

fn emit_failures(m: &Moment) -> Option<String> {
    let (&(t0, first), &(t1, last)) = (m.emit_failures.first()?, m.emit_failures.last()?);
    (last > first).then(|| {
        format!(
            "the server failed {} deliveries in the last {} ({last} in all): a client cannot keep up",
            last - first,
            age(t1 - t0)
        )
    })
}

/// Where hooks post when that is not the watched server: the `hook drift` alert and the
/// heart of `doctor`'s `hooks` check.
#[must_use]
pub fn hook_drift(
    hook_host: &str,
    hook_port: u16,
    server_host: &str,
    server_port: u16,
) -> Option<String> {
    (hook_port != server_port || !reaches(hook_host, server_host)).then(|| {
        format!(
            "hooks post to {}:{hook_port} but the server is at {}:{server_port}",
            crate::target::bracket(hook_host),
            crate::target::bracket(server_host)
        )
    })
}

/// The loopback families (IPv4, IPv6) a host name reaches as a client's destination; None for
/// a name that is not this machine's loopback.
fn dialed(host: &str) -> Option<(bool, bool)> {
    match crate::target::unbracket(host).to_ascii_lowercase().as_str() {
        // Resolvers give both; a client tries each.
        "localhost" => Some((true, true)),
        // Linux takes a connect to the unspecified address as one to the local host.
        "0.0.0.0" => Some((true, false)),
        "::1" | "::" => Some((false, true)),
        h if h.starts_with("127.") => Some((true, false)),
        _ => None,
    }
}

/// The loopback families a server bound to `host` accepts; None for another address.
fn bound(host: &str) -> Option<(bool, bool)> {
    match crate::target::unbracket(host).to_ascii_lowercase().as_str() {
        // `localhost` binds what it resolves to; `::` accepts IPv4 too, as Linux binds it.
        "localhost" | "::" => Some((true, true)),
        "0.0.0.0" => Some((true, false)),
        "::1" => Some((false, true)),
        h if h.starts_with("127.") => Some((true, false)),
        _ => None,
    }
}

/// Whether a client posting to `client` reaches a server bound to `server` (same port):
/// the same name, or loopback names of a family both share (`::1` does not reach a server on
/// 127.0.0.1).
#[must_use]
pub fn reaches(client: &str, server: &str) -> bool {
    if crate::target::unbracket(client).eq_ignore_ascii_case(crate::target::unbracket(server)) {
        return true;
    }
    match (dialed(client), bound(server)) {
        (Some((c4, c6)), Some((s4, s6))) => (c4 && s4) || (c6 && s6),
        _ => false,
    }
}

/// One line for the projects `probes::servers::same_project` found served twice.
#[must_use]
pub fn same_project_text(groups: &[(String, Vec<u16>)]) -> String {
    groups
        .iter()
        .map(|(project, ports)| {
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            format!(
                "{} servers run for {project} (ports {})",
                ports.len(),
                ports.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
