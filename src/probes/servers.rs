//! Every monitor server on a host: the ports of Claude MPM's range (one per project), the
//! configured `port_range` and the target's port whose `/health` answers, each with the process
//! holding its listening socket, that process's project directory, and events per second
//! between two scans. `mpm-top servers` prints one; the console repeats it every 5 s, so on this
//! machine the socket table is read once and only the ports with a listener are asked.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use netstat2::{
    AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState,
    iterate_sockets_info_without_pids,
};
use serde::Serialize;
use serde_json::Value;

use super::http::{self, CLAUDE_MPM_PORTS, Health, ProbeError, ServerKind, plausible};
use super::owners::Owners;
use crate::config::PortRange;
use crate::target::Target;

/// How long one port's `/health` may take: a server on this machine answers in about a
/// millisecond, and a hung one must not hold the scan.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// At most this many probes at once when every port is asked (a host elsewhere): a
/// `port_range` of thousands of ports must not open thousands of connections together.
const CONCURRENT_PROBES: usize = 64;

/// Two samples closer than this give no rate: a division by almost nothing.
const MIN_RATE_WINDOW: Duration = Duration::from_millis(50);

/// The ports a scan looks at: Claude MPM's 8765–8785, the configured `port_range` and the
/// target's port (not 0, which names no server); ascending, without repeats.
#[must_use]
pub fn scan_ports(port_range: Option<PortRange>, target: &Target) -> Vec<u16> {
    let mut ports: Vec<u16> = CLAUDE_MPM_PORTS
        .chain(port_range.into_iter().flat_map(PortRange::ports))
        .chain(std::iter::once(target.port))
        .filter(|p| *p != 0)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// One server found by a scan (or, on this machine, a port held by a process whose `/health`
/// fails; elsewhere, the configured target when its `/health` fails). Every string in it has passed [`crate::text::clean`].
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ServerRow {
    /// The port.
    pub port: u16,
    /// Its base URL.
    pub url: String,
    /// Which server answered `/health` (`foreign` when it failed).
    pub kind: ServerKind,
    /// The kind for people: `mpm-top`, `Claude MPM`, `foreign (…)`, `not answering`.
    pub kind_label: String,
    /// The process this machine's socket table shows listening on the port (the lowest PID
    /// when several share the socket); None for a host elsewhere, or a process of another user.
    pub pid: Option<u32>,
    /// The PID `/health` claims: a hint to show, never a process to act on.
    pub reported_pid: Option<u32>,
    /// The listening process's working directory, `~` for home; None when unreadable.
    pub project: Option<String>,
    /// Whether `/health` answered.
    pub answered: bool,
    /// `/health`'s `status`, or why it failed.
    pub health: String,
    /// Connected clients, when the server says (and the figure is believable).
    pub clients: Option<u64>,
    /// Events per second between the last two scans, from the server's own counter
    /// (`events_total` of mpm-top, `total_events` of Claude MPM's older server). None after
    /// one scan, after a restart, and for Claude MPM's current server, which counts nothing.
    pub events_per_sec: Option<f64>,
    /// Seconds since the server started, when it says.
    pub uptime_secs: Option<f64>,
    /// Whether this is the configured target's port.
    pub configured: bool,
}

/// Project directories that more than one server runs in (distinct processes): each with its
/// servers' ports, ascending. Claude MPM's hooks post to one port, so the other server of the
/// same project shows nothing.
#[must_use]
pub fn same_project(rows: &[ServerRow]) -> Vec<(String, Vec<u16>)> {
    let mut by_project: BTreeMap<&str, Vec<&ServerRow>> = BTreeMap::new();
    // Monitor servers only: a hung socket or another program listening in the range, run from
    // the same folder, is not a second server for the project.
    let monitor = |r: &&ServerRow| r.answered && !matches!(r.kind, ServerKind::Foreign(_));
    for row in rows.iter().filter(monitor) {
        if let Some(project) = &row.project {
            by_project.entry(project).or_default().push(row);
        }
    }
    by_project
        .into_iter()
        .filter(|(_, rows)| {
            // One process listening on two ports is one server.
            let processes: BTreeSet<(Option<u32>, u16)> = rows
                .iter()
                .map(|r| (r.pid, if r.pid.is_some() { 0 } else { r.port }))
                .collect();
            processes.len() > 1
        })
        .map(|(project, rows)| {
            let mut ports: Vec<u16> = rows.iter().map(|r| r.port).collect();
            ports.sort_unstable();
            (project.to_owned(), ports)
        })
        .collect()
}

/// One reading of a server's total-events counter.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    total: u64,
    at: Instant,
    /// The PID `/health` gave: another one means another server (a restart), whose counter
    /// started again.
    reported_pid: Option<u32>,
}

/// The server's own count of every event it received, in any of the spellings: mpm-top's
/// `events_total`, the older Claude MPM server's `total_events`. The current Claude MPM
/// server has none.
fn events_total(raw: &Value) -> Option<u64> {
    ["events_total", "total_events"]
        .iter()
        .find_map(|k| raw.get(*k))
        .and_then(|v| {
            v.as_u64().or_else(|| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked
                v.as_f64()
                    .filter(|n| n.is_finite() && *n >= 0.0 && *n <= 9e15)
                    .map(|n| n as u64)
            })
        })
}

/// Events per second from `previous` to `current`; None without a previous sample, across a
/// restart (another PID, or a counter that went down), over too short a time, or when absurd.
fn rate(previous: Option<&Sample>, current: &Sample) -> Option<f64> {
    let previous = previous?;
    if previous.reported_pid != current.reported_pid || current.total < previous.total {
        return None;
    }
    let window = current.at.checked_duration_since(previous.at)?;
    if window < MIN_RATE_WINDOW {
        return None;
    }
    #[allow(clippy::cast_precision_loss)] // a rate for people
    let delta = (current.total - previous.total) as f64;
    plausible(delta / window.as_secs_f64())
}

/// What the socket table says about one port with a listener.
#[derive(Clone, Debug, Default)]
struct Listener {
    pid: Option<u32>,
    project: Option<String>,
}

/// The scan that remembers: each server's last counter sample (for events per second) and
/// which processes held the listening sockets (so an unchanged machine costs a few processes'
/// descriptors, not every process's).
#[derive(Debug)]
pub struct Scanner {
    configured_port: u16,
    configured_scheme: &'static str,
    home: Option<PathBuf>,
    samples: BTreeMap<u16, Sample>,
    owners: Owners,
    /// Listening sockets no readable process holds (another user's): not looked for again,
    /// or each scan would read every process. An inode names one socket while it lives.
    unowned: BTreeSet<u32>,
}

impl Scanner {
    /// A scanner for `configured` (the target the user named or the default: its port is
    /// marked, and listed even when its `/health` fails), showing paths under `home` with `~`.
    #[must_use]
    pub fn new(configured: &Target, home: Option<PathBuf>) -> Scanner {
        Scanner {
            configured_port: configured.port,
            configured_scheme: configured.scheme,
            home,
            samples: BTreeMap::new(),
            owners: Owners::default(),
            unowned: BTreeSet::new(),
        }
    }

    /// The servers on `ports` of `host`, ascending by port. On this machine, the socket table
    /// is read once and only the ports with a listener are asked for `/health`; elsewhere every
    /// port is, concurrently. Each probe takes at most [`PROBE_TIMEOUT`].
    pub async fn scan(&mut self, host: &str, ports: &[u16]) -> Vec<ServerRow> {
        let listeners = self.local_listeners(host, ports).await;
        let to_probe: Vec<u16> = match &listeners {
            Some(found) => found.keys().copied().collect(),
            None => ports.to_vec(),
        };
        let answers: Vec<(u16, Result<Health, ProbeError>, Instant)> =
            futures_util::stream::iter(to_probe)
                .map(|port| {
                    let base = self.url(host, port);
                    async move {
                        let answer = http::health(&base, PROBE_TIMEOUT).await;
                        (port, answer, Instant::now())
                    }
                })
                .buffer_unordered(CONCURRENT_PROBES)
                .collect()
                .await;
        let mut rows = Vec::new();
        let mut samples = BTreeMap::new();
        for (port, answer, at) in answers {
            let listener = listeners
                .as_ref()
                .and_then(|l| l.get(&port))
                .cloned()
                .unwrap_or_default();
            let configured = port == self.configured_port;
            let row = match answer {
                Ok(health) => {
                    let sample = events_total(&health.raw).map(|total| Sample {
                        total,
                        at,
                        reported_pid: health.pid,
                    });
                    let events_per_sec = sample
                        .as_ref()
                        .and_then(|s| rate(self.samples.get(&port), s));
                    if let Some(sample) = sample {
                        samples.insert(port, sample);
                    }
                    self.row_of(host, port, listener, Ok(&health), events_per_sec)
                }
                // Nothing there (it closed since the table was read, or elsewhere, nothing
                // listens): not a server.
                Err(ProbeError::Refused) => continue,
                // Something holds the port and does not answer as a server: on this machine
                // (where the socket table shows the holder) a hung or broken monitor is what the
                // user came to find, so it is listed with why; elsewhere only the target is.
                Err(e) if configured || listeners.is_some() => {
                    self.row_of(host, port, listener, Err(&e), None)
                }
                Err(_) => continue,
            };
            rows.push(row);
        }
        self.samples = samples;
        rows.sort_by_key(|r| r.port);
        rows
    }

    fn url(&self, host: &str, port: u16) -> String {
        // Claude MPM's servers speak plain HTTP; the configured one as configured.
        let scheme = if port == self.configured_port {
            self.configured_scheme
        } else {
            "http"
        };
        format!("{scheme}://{}:{port}", crate::target::bracket(host))
    }

    fn row_of(
        &self,
        host: &str,
        port: u16,
        listener: Listener,
        health: Result<&Health, &ProbeError>,
        events_per_sec: Option<f64>,
    ) -> ServerRow {
        let clean = |s: &str| crate::text::clean(&crate::text::truncate(s, 120));
        let (kind, kind_label) = match health {
            Ok(h) => (h.kind.clone(), h.kind.label()),
            Err(ProbeError::Unexpected(_)) => (ServerKind::Foreign(None), "foreign".to_owned()),
            Err(_) => (ServerKind::Foreign(None), "not answering".to_owned()),
        };
        ServerRow {
            port,
            url: clean(&self.url(host, port)),
            kind,
            kind_label: clean(&kind_label),
            pid: listener.pid,
            reported_pid: health.ok().and_then(|h| h.pid),
            project: listener.project,
            answered: health.is_ok(),
            health: clean(&health.map_or_else(ToString::to_string, |h| h.status.clone())),
            // Health::parse already took absurd figures for unknown.
            clients: health.ok().and_then(|h| h.clients),
            events_per_sec,
            uptime_secs: health.ok().and_then(|h| h.uptime_secs),
            configured: port == self.configured_port,
        }
    }

    /// The ports of `ports` with a listener serving `host`, each with its process and project;
    /// None when `host` is not this machine or the socket table cannot be read (then every
    /// port is asked).
    async fn local_listeners(
        &mut self,
        host: &str,
        ports: &[u16],
    ) -> Option<BTreeMap<u16, Listener>> {
        let host = host.to_owned();
        let ports: BTreeSet<u16> = ports.iter().copied().collect();
        let home = self.home.clone();
        let mut owners = std::mem::take(&mut self.owners);
        let mut unowned = std::mem::take(&mut self.unowned);
        // /proc and the socket table are blocking reads: off the async threads.
        let joined = tokio::task::spawn_blocking(move || {
            let found = listeners(&host, &ports, &mut owners, &mut unowned, home.as_deref());
            (found, owners, unowned)
        })
        .await;
        let (found, owners, unowned) = joined.ok()?;
        self.owners = owners;
        self.unowned = unowned;
        found
    }
}

/// [`Scanner::local_listeners`]'s blocking part.
fn listeners(
    host: &str,
    ports: &BTreeSet<u16>,
    owners: &mut Owners,
    unowned: &mut BTreeSet<u32>,
    home: Option<&Path>,
) -> Option<BTreeMap<u16, Listener>> {
    let first = *ports.first()?;
    let addresses: Vec<IpAddr> = crate::actions::holder::this_machine(host, first);
    if addresses.is_empty() {
        return None;
    }
    // One read of the kernel's tables, without owners: those come from `owners`, which reads
    // the processes that held them last time first.
    let sockets: Vec<(u16, u32)> = iterate_sockets_info_without_pids(
        AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6,
        ProtocolFlags::TCP,
    )
    .ok()?
    .filter_map(Result::ok)
    .filter_map(|s| match s.protocol_socket_info {
        ProtocolSocketInfo::Tcp(t)
            if t.state == TcpState::Listen
                && ports.contains(&t.local_port)
                && crate::actions::holder::serves_addr(
                    SocketAddr::new(t.local_addr, t.local_port),
                    t.local_port,
                    &addresses,
                ) =>
        {
            Some((t.local_port, s.inode))
        }
        _ => None,
    })
    .collect();
    unowned.retain(|inode| sockets.iter().any(|(_, i)| i == inode));
    let wanted: Vec<u32> = sockets
        .iter()
        .map(|(_, inode)| *inode)
        .filter(|inode| !unowned.contains(inode))
        .collect();
    let held = owners.of(&wanted);
    unowned.extend(wanted.iter().filter(|inode| !held.contains_key(inode)));
    let mut found: BTreeMap<u16, Listener> = BTreeMap::new();
    for (port, inode) in sockets {
        let pid = held.get(&inode).and_then(|pids| pids.iter().min().copied());
        let entry = found.entry(port).or_default();
        entry.pid = match (entry.pid, pid) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    for listener in found.values_mut() {
        listener.project = listener.pid.and_then(|pid| project_of(pid, home));
    }
    Some(found)
}

/// The working directory of `pid`, `~` for home, made safe to show; None when unreadable
/// (another user's process, or gone).
fn project_of(pid: u32, home: Option<&Path>) -> Option<String> {
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    Some(crate::text::clean(&crate::config::tilde(&cwd, home)))
}

#[cfg(test)]
#[path = "servers_tests.rs"]
mod tests;
