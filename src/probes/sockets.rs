//! Who holds a TCP port, from the kernel's socket tables (netstat2), not from lsof.

use netstat2::{
    AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, SocketInfo, TcpState, get_sockets_info,
    iterate_sockets_info_without_pids,
};

use super::owners::Owners;
use super::process::{ProcessInfo, describe};

/// PIDs of the processes listening on TCP `port` (IPv4 or IPv6), ascending, without repeats.
///
/// # Errors
/// When the socket tables cannot be read.
pub fn listening_pids(port: u16) -> Result<Vec<u32>, netstat2::error::Error> {
    let sockets = get_sockets_info(
        AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6,
        ProtocolFlags::TCP,
    )?;
    let mut pids: Vec<u32> = sockets
        .into_iter()
        .filter(|s| matches!(&s.protocol_socket_info, ProtocolSocketInfo::Tcp(t) if t.local_port == port && t.state == TcpState::Listen))
        .flat_map(|s| s.associated_pids)
        .collect();
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// The processes listening on `port`, described; empty when none (or the tables are unreadable).
#[must_use]
pub fn holders(port: u16) -> Vec<ProcessInfo> {
    listening_pids(port)
        .unwrap_or_default()
        .into_iter()
        .filter_map(describe)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_named_as_netstat_names_them() {
        assert_eq!(state_name(TcpState::TimeWait), "TIME_WAIT");
        assert_eq!(state_name(TcpState::Listen), "LISTEN");
        assert_eq!(state_name(TcpState::FinWait1), "FIN_WAIT1");
        assert_eq!(state_name(TcpState::Established), "ESTABLISHED");
    }

    #[test]
    fn finds_this_process_listening_on_its_own_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listening_pids(port).unwrap(), [std::process::id()]);
        drop(listener);
        assert_eq!(listening_pids(port).unwrap(), Vec::<u32>::new());
    }
}

/// One TCP socket on the port: the guide's `netstat -an | grep 8765` and `lsof -i :8765`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SocketRow {
    /// TCP state (`LISTEN`, `ESTABLISHED`, ...).
    pub state: String,
    /// Local address and port.
    pub local: String,
    /// Remote address and port.
    pub remote: String,
    /// Owning processes, described.
    pub owners: Vec<ProcessInfo>,
    /// The socket's inode: with a PID and its start time, what proves a process holds it.
    pub inode: u32,
}

impl SocketRow {
    /// Whether this socket is a listener (holds the port).
    #[must_use]
    pub fn is_listener(&self) -> bool {
        self.state == "LISTEN"
    }
}

/// A TCP state as netstat and the guide write it: `TIME_WAIT`, `FIN_WAIT1`, `LISTEN`.
fn state_name(state: TcpState) -> String {
    let mut name = String::new();
    for (i, c) in format!("{state:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// Every TCP socket whose local or remote port is `port`, listeners first, with every process
/// that holds it (from a whole scan of `/proc`).
///
/// # Errors
/// When the socket tables cannot be read.
pub fn port_table(port: u16) -> Result<Vec<SocketRow>, netstat2::error::Error> {
    let sockets = get_sockets_info(
        AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6,
        ProtocolFlags::TCP,
    )?;
    Ok(rows_of(sockets.into_iter(), port, |s| {
        s.associated_pids.clone()
    }))
}

/// [`port_table`], with the owners found through `owners` (which reads the processes that held
/// the port's sockets last time before it reads every process): the console's sample.
///
/// # Errors
/// When the socket tables cannot be read.
pub fn port_table_with(
    port: u16,
    owners: &mut Owners,
) -> Result<Vec<SocketRow>, netstat2::error::Error> {
    let sockets: Vec<SocketInfo> = iterate_sockets_info_without_pids(
        AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6,
        ProtocolFlags::TCP,
    )?
    .filter_map(Result::ok)
    .filter(|s| on_port(s, port))
    .collect();
    let inodes: Vec<u32> = sockets.iter().map(|s| s.inode).collect();
    let found = owners.of(&inodes);
    Ok(rows_of(sockets.into_iter(), port, |s| {
        found.get(&s.inode).cloned().unwrap_or_default()
    }))
}

fn on_port(s: &SocketInfo, port: u16) -> bool {
    matches!(&s.protocol_socket_info, ProtocolSocketInfo::Tcp(t) if t.local_port == port || t.remote_port == port)
}

/// The rows for the sockets on `port`, each with the PIDs `pids` gives, described.
fn rows_of(
    sockets: impl Iterator<Item = SocketInfo>,
    port: u16,
    pids: impl Fn(&SocketInfo) -> Vec<u32>,
) -> Vec<SocketRow> {
    let mut rows: Vec<SocketRow> = sockets
        .filter(|s| on_port(s, port))
        .filter_map(|s| match &s.protocol_socket_info {
            ProtocolSocketInfo::Tcp(t) => Some(SocketRow {
                state: state_name(t.state),
                local: std::net::SocketAddr::new(t.local_addr, t.local_port).to_string(),
                remote: std::net::SocketAddr::new(t.remote_addr, t.remote_port).to_string(),
                owners: pids(&s).into_iter().filter_map(describe).collect(),
                inode: s.inode,
            }),
            ProtocolSocketInfo::Udp(_) => None,
        })
        .collect();
    rows.sort_by_key(|r| (!r.is_listener(), r.local.clone(), r.remote.clone()));
    rows
}
