//! Who holds a TCP port, from the kernel's socket tables (netstat2), not from lsof.

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState, get_sockets_info};

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
    fn finds_this_process_listening_on_its_own_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listening_pids(port).unwrap(), [std::process::id()]);
        drop(listener);
        assert_eq!(listening_pids(port).unwrap(), Vec::<u32>::new());
    }
}
