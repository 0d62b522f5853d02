//! Who may be signalled for a target: only a process that this machine's socket table shows
//! holding the listening socket on the target's address and port. A PID a server reports about
//! itself (in `/health`) is a hint to display, never a target: anything can claim any PID.
//!
//! A [`Holder`] is identified by its PID, its start time in clock ticks and the listening
//! socket's inode. [`check`] proves all three again right before a signal, and the signal goes
//! through a pidfd opened before that check, so a PID recycled in between cannot be hit.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};

use crate::probes::owners::Owners;
use crate::probes::process::{ProcessInfo, describe, start_ticks};
use crate::probes::sockets::SocketRow;
use crate::target::Target;

/// A process holding a target's listening socket, as listed (and shown) before asking.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    /// The process, with its start time in ticks.
    pub process: ProcessInfo,
    /// The listening socket's inode.
    pub inode: u32,
    /// The address it listens on.
    pub local: String,
    /// Whether it runs this very mpm-top program (the same executable file): what makes a
    /// server mpm-top's own, where a name or a `/health` answer is only what a process says.
    pub is_mpm_top: bool,
}

impl Holder {
    /// `PID 123 (python3 -m …) on 127.0.0.1:8765`, for dialogs and audit lines.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "PID {} ({}) on {}",
            self.process.pid,
            self.process.program_and_args(),
            self.local
        )
    }
}

/// The addresses `target`'s host means on this machine; an error saying so when it is not
/// this machine (nothing here may be signalled for a server elsewhere).
///
/// # Errors
/// When the host resolves to no address of this machine.
pub fn local_addresses(target: &Target) -> Result<Vec<IpAddr>, String> {
    if target.port == 0 {
        return Err(
            "port 0 names no server (it asks for any free port): give the server's port".into(),
        );
    }
    let local = this_machine(&target.host, target.port);
    if local.is_empty() {
        return Err(format!(
            "{} is not this machine: no process here is a target for it, so nothing is stopped",
            target.authority()
        ));
    }
    Ok(local)
}

/// The addresses `host` means on this machine (the wildcard address as loopback); empty when
/// it names another machine. Blocking: a host name is resolved (`port` only completes the
/// lookup).
#[must_use]
pub fn this_machine(host: &str, port: u16) -> Vec<IpAddr> {
    let host = host.trim_matches(['[', ']']);
    let resolved: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => (host, port)
            .to_socket_addrs()
            .map(|addrs| addrs.map(|a| a.ip()).collect())
            .unwrap_or_default(),
    };
    let mine = interface_addresses();
    // A client connecting to 0.0.0.0 (or ::) reaches this machine's loopback.
    resolved
        .into_iter()
        .map(|ip| match ip {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            other => other.to_canonical(),
        })
        .filter(|ip| ip.is_loopback() || mine.contains(ip))
        .collect()
}

fn interface_addresses() -> Vec<IpAddr> {
    nix::ifaddrs::getifaddrs()
        .map(|addrs| {
            addrs
                .filter_map(|a| a.address)
                .filter_map(|a| {
                    a.as_sockaddr_in()
                        .map(|v4| IpAddr::V4(v4.ip()))
                        .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a listener on `local` serves connections to `port` on any of `addresses`: the same
/// port, and the same address (an IPv4-mapped IPv6 address counts as its IPv4 one) or a
/// wildcard listener of a matching family (:: takes IPv4 too, as Linux binds it by default).
fn serves(local: &str, port: u16, addresses: &[IpAddr]) -> bool {
    local
        .parse::<SocketAddr>()
        .is_ok_and(|local| serves_addr(local, port, addresses))
}

/// [`serves`] for an address already parsed: what the server scan matches listeners with.
pub(crate) fn serves_addr(local: SocketAddr, port: u16, addresses: &[IpAddr]) -> bool {
    if local.port() != port {
        return false;
    }
    let ip = local.ip().to_canonical();
    addresses
        .iter()
        .any(|a| *a == ip || (ip.is_unspecified() && (ip.is_ipv6() || a.is_ipv4())))
}

/// What the Resources pane shows about the target's port, sampled once (blocking): the process
/// serving it, every socket on the port, and the holders actions are offered.
pub struct PortFacts {
    /// The serving process's figures (this console's own, for `--demo`).
    pub stats: Option<crate::probes::process::ProcessStats>,
    /// Its PID.
    pub pid: Option<u32>,
    /// Every socket on the port.
    pub rows: Vec<SocketRow>,
    /// The holders, or why there can be none.
    pub holders: Result<Vec<Holder>, String>,
}

/// Samples the target's port (the debug bundle's recording), reading every process.
#[must_use]
pub fn port_facts(target: &Target) -> PortFacts {
    let rows = crate::probes::sockets::port_table(target.port).unwrap_or_default();
    facts_of(rows, target)
}

/// Samples the target's port for the console: `owners` remembers which processes held its
/// sockets, so an unchanged port costs a few processes' descriptors, not every process's.
#[must_use]
pub fn port_facts_with(target: &Target, owners: &mut Owners) -> PortFacts {
    let rows = crate::probes::sockets::port_table_with(target.port, owners).unwrap_or_default();
    facts_of(rows, target)
}

fn facts_of(rows: Vec<SocketRow>, target: &Target) -> PortFacts {
    // The process is the one holding the target's listening socket, never the PID /health
    // names; the same holders every action is offered.
    let holders = from_rows(&rows, target);
    let pid = match &holders {
        Ok(hs) if !hs.is_empty() => Some(hs[0].process.pid),
        // The --demo console holds its own port and is never a holder to act on; its
        // resources are still worth showing.
        Ok(_) => rows
            .iter()
            .find(|r| r.is_listener() && r.owners.iter().any(|p| p.pid == std::process::id()))
            .map(|_| std::process::id()),
        Err(_) => None, // not this machine: no process here is the server
    };
    let stats =
        pid.and_then(|p| crate::probes::process::stats(p, std::time::Duration::from_millis(200)));
    PortFacts {
        stats,
        pid,
        rows,
        holders,
    }
}

/// The holders among `rows` (the port's socket table) for `target`: listeners on its address,
/// each owning process once. Never this process (the `--demo` console holds its own port).
///
/// # Errors
/// When the target is not on this machine.
pub fn from_rows(rows: &[SocketRow], target: &Target) -> Result<Vec<Holder>, String> {
    let addresses = local_addresses(target)?;
    let mut holders: Vec<Holder> = rows
        .iter()
        .filter(|r| r.is_listener() && serves(&r.local, target.port, &addresses))
        .flat_map(|r| {
            r.owners.iter().map(|p| Holder {
                process: p.clone(),
                inode: r.inode,
                local: r.local.clone(),
                is_mpm_top: runs_this_program(p.pid),
            })
        })
        .filter(|h| h.process.pid != std::process::id())
        .collect();
    holders.sort_by_key(|h| (h.process.pid, h.inode));
    holders.dedup_by_key(|h| h.process.pid);
    Ok(holders)
}

/// Whether `pid` runs the same executable file as this process (device and inode of its
/// `/proc/PID/exe`).
fn runs_this_program(pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let id = |m: std::fs::Metadata| (m.dev(), m.ino());
    let theirs = std::fs::metadata(format!("/proc/{pid}/exe")).map(id);
    let ours = std::env::current_exe().and_then(std::fs::metadata).map(id);
    matches!((theirs, ours), (Ok(a), Ok(b)) if a == b)
}

/// The holders of `target` now, from the socket table; blocking.
///
/// # Errors
/// When the target is not on this machine, or the socket table cannot be read.
pub fn current(target: &Target) -> Result<Vec<Holder>, String> {
    let rows = crate::probes::sockets::port_table(target.port)
        .map_err(|e| format!("cannot read the socket table: {e}"))?;
    from_rows(&rows, target)
}

/// Why a holder must not be signalled now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotNow {
    /// It has exited: nothing to do.
    Gone,
    /// It must not be touched, and why.
    Refused(String),
}

/// Why `holder` must not be signalled now, if it must not: it is gone or is another process
/// under the same PID, it no longer holds the socket, or it lives in another PID namespace or
/// belongs to another user (those two only with `force`).
///
/// # Errors
/// [`NotNow`], with the reason for the user.
pub fn check(holder: &Holder, force: bool) -> Result<(), NotNow> {
    let pid = holder.process.pid;
    let refuse = |why: String| Err(NotNow::Refused(why));
    if pid <= 1 {
        return refuse("PID 1 is never signalled".into());
    }
    if pid == std::process::id() {
        return refuse("that is this mpm-top itself".into());
    }
    match start_ticks(pid) {
        None => return Err(NotNow::Gone),
        Some(t) if t != holder.process.start_time => {
            let now = describe(pid).map_or_else(String::new, |p| format!(" ({})", p.command()));
            return refuse(format!(
                "PID {pid} is now a different process{now}: it was not touched"
            ));
        }
        Some(_) => {}
    }
    if !crate::probes::owners::holds(pid, holder.inode) {
        return refuse(format!(
            "PID {pid} no longer holds the listening socket on {}: it was not touched",
            holder.local
        ));
    }
    if !force {
        if namespace(pid) != namespace(std::process::id()) {
            return refuse(format!(
                "PID {pid} lives in another PID namespace (a container): its number means something else there; --force to stop it anyway"
            ));
        }
        let mine = nix::unistd::geteuid().as_raw().to_string();
        if holder.process.uid.as_deref().is_some_and(|uid| uid != mine) {
            return refuse(format!(
                "PID {pid} belongs to another user (uid {}); --force to stop it anyway",
                holder.process.uid.as_deref().unwrap_or("?")
            ));
        }
    }
    Ok(())
}

/// Whether `pid` has the socket with `inode` among its open files.
fn namespace(pid: u32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Chosen;

    fn target(host: &str, port: u16) -> Target {
        Target {
            scheme: "http",
            host: host.into(),
            port,
            chosen: Chosen::Default,
        }
    }

    #[test]
    fn listeners_serve_their_address_and_port_or_any_address() {
        let v4 = ["127.0.0.1".parse().unwrap()];
        assert!(serves("127.0.0.1:80", 80, &v4));
        assert!(
            !serves("127.0.0.1:81", 80, &v4),
            "another port is another server"
        );
        assert!(serves("0.0.0.0:80", 80, &v4));
        assert!(serves("[::]:80", 80, &v4), ":: takes IPv4 too");
        assert!(
            serves("[::ffff:127.0.0.1]:80", 80, &v4),
            "an IPv4-mapped listener"
        );
        assert!(!serves("127.0.0.2:80", 80, &v4));
        assert!(!serves("[::1]:80", 80, &v4));
    }

    #[test]
    fn port_0_and_the_wildcard_address() {
        let why = local_addresses(&target("127.0.0.1", 0)).unwrap_err();
        assert!(why.contains("port 0 names no server"), "{why}");
        assert_eq!(
            local_addresses(&target("0.0.0.0", 9)).unwrap(),
            ["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn a_host_elsewhere_is_no_target_here() {
        let why = local_addresses(&target("192.0.2.7", 8765)).unwrap_err();
        assert!(why.contains("is not this machine"), "{why}");
        assert!(local_addresses(&target("localhost", 8765)).is_ok());
        assert!(local_addresses(&target("::1", 8765)).is_ok());
    }

    #[test]
    fn this_processes_listener_is_proven_and_then_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let rows = crate::probes::sockets::port_table(port).unwrap();
        let row = rows.iter().find(|r| r.is_listener()).unwrap();
        let me = Holder {
            process: describe(std::process::id()).unwrap(),
            inode: row.inode,
            local: row.local.clone(),
            is_mpm_top: runs_this_program(std::process::id()),
        };
        assert!(me.is_mpm_top, "this process runs its own executable");
        assert!(!runs_this_program(1), "PID 1 does not");
        assert!(crate::probes::owners::holds(me.process.pid, me.inode));
        // Never itself. Another test of this binary that starts a process forks it holding every
        // descriptor until its exec closes them (CLOEXEC): a fresh table taken a moment later
        // no longer shows that child.
        let others = |rows: &[_]| from_rows(rows, &target("127.0.0.1", port)).unwrap();
        let settled = (0..20).any(|_| {
            let fresh = crate::probes::sockets::port_table(port).unwrap();
            others(&fresh).is_empty() || {
                std::thread::sleep(std::time::Duration::from_millis(10));
                false
            }
        });
        assert!(settled, "never itself: {:?}", others(&rows));
        drop(listener);
        assert!(!crate::probes::owners::holds(me.process.pid, me.inode));
    }
}
