//! Which processes hold which sockets, found by reading `/proc/PID/fd`, and remembered between
//! samples so that the console does not read every process's descriptors every 5 s.
//!
//! A whole scan (every process, every descriptor) was the costliest thing an idle console did:
//! about 1,100 `getdents64` and 750 `readlink` calls per sample on a quiet desktop. Here the
//! processes that held the port's sockets last time, and this one, are read first; the whole
//! scan runs only when a socket is still unaccounted for (a new client, a new server).
//! Actions never rely on this: a kill proves its target again from a whole table.

use std::collections::{BTreeMap, BTreeSet};

/// Owners of the port's sockets at the last sample: inode to PIDs.
#[derive(Debug, Default)]
pub struct Owners {
    by_inode: BTreeMap<u32, Vec<u32>>,
    whole_scans: u64,
}

impl Owners {
    /// The owners of each of `inodes` (0, a socket no process holds, is skipped).
    pub fn of(&mut self, inodes: &[u32]) -> BTreeMap<u32, Vec<u32>> {
        let wanted: BTreeSet<u32> = inodes.iter().copied().filter(|i| *i != 0).collect();
        let mut likely: BTreeSet<u32> = self.by_inode.values().flatten().copied().collect();
        likely.insert(std::process::id());
        let mut found = scan(likely.into_iter(), &wanted);
        if wanted.iter().any(|inode| !found.contains_key(inode)) {
            self.whole_scans += 1;
            found = scan(every_pid(), &wanted);
        }
        self.by_inode.clone_from(&found);
        found
    }

    /// How many times every process had to be read (what the tests check).
    #[cfg(test)]
    #[must_use]
    pub fn whole_scans(&self) -> u64 {
        self.whole_scans
    }
}

/// Every PID in `/proc` (none when it cannot be read).
fn every_pid() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|d| d.ok()?.file_name().to_str()?.parse::<u32>().ok())
}

/// Whether `pid` holds the socket `inode` now.
#[must_use]
pub fn holds(pid: u32, inode: u32) -> bool {
    scan(std::iter::once(pid), &BTreeSet::from([inode])).contains_key(&inode)
}

/// Which of `pids` hold which of the `wanted` socket inodes.
fn scan(pids: impl Iterator<Item = u32>, wanted: &BTreeSet<u32>) -> BTreeMap<u32, Vec<u32>> {
    let mut found: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    if wanted.is_empty() {
        return found;
    }
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let inode = link
                .to_str()
                .and_then(|l| l.strip_prefix("socket:["))
                .and_then(|l| l.strip_suffix(']'))
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(inode) = inode.filter(|i| wanted.contains(i)) {
                let pids = found.entry(inode).or_default();
                if !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_of_this_process_is_found_without_a_whole_scan_and_a_closed_one_is_gone() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let inode = |port| {
            crate::probes::sockets::port_table(port)
                .expect("table")
                .into_iter()
                .find(crate::probes::sockets::SocketRow::is_listener)
                .map(|r| r.inode)
                .expect("the listener")
        };
        let ours = inode(port);
        let mut owners = Owners::default();
        let found = owners.of(&[ours, 0]);
        assert_eq!(found.get(&ours), Some(&vec![std::process::id()]));
        assert_eq!(owners.whole_scans(), 0, "this process is read first");
        drop(listener);
        let found = owners.of(&[ours]);
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(
            owners.whole_scans(),
            1,
            "an inode nobody known holds: every process"
        );
    }
}
