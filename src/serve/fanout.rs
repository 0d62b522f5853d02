//! Broadcasting to every client, and counting exactly what a live client did not get.
//!
//! socketioxide's broadcast encodes an event once and shares it among the clients' queues, but
//! its errors do not say which client refused. So the server keeps a list of *backlogged*
//! clients (a queue known to be full): events go to everyone else by one shared broadcast, and
//! to each backlogged client one by one, so its refusals are its own. After a shared broadcast
//! that some unknown client refused, the next event is sent one by one to find who.
//!
//! A closing or closed socket is not a failure: the client is leaving. A backlogged client is
//! evicted by engineioxide itself: the ping it cannot queue ends the session with a heartbeat
//! timeout (`disconnect()` cannot, as it must queue a packet too); it is counted then.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError, SocketIo};
use tracing::{debug, warn};

/// At most one WARN line per client (or for unattributed refusals) per this long.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// The room backlogged clients are put in, so the shared broadcast skips them.
const BACKLOGGED: &str = "mpm-top:backlogged";

/// Events above this size are never sent one by one to find a full client: that would copy them
/// once per client. The next smaller event (a heartbeat at the latest) finds them instead.
const ATTRIBUTE_MAX_BYTES: usize = 64 * 1024;

/// A client whose queue was found full.
#[derive(Debug)]
struct Backlog {
    since: Instant,
    missed: u64,
    warn: Aggregate,
}

/// Counts that a WARN line reports at most once per [`WARN_EVERY`].
#[derive(Debug, Default)]
struct Aggregate {
    last: Option<Instant>,
    pending: u64,
}

impl Aggregate {
    /// Adds `n`; returns the count to report when a line is due.
    fn add(&mut self, n: u64, now: Instant) -> Option<u64> {
        self.pending += n;
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= WARN_EVERY);
        if due && self.pending > 0 {
            self.last = Some(now);
            Some(std::mem::take(&mut self.pending))
        } else {
            None
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    backlog: HashMap<Sid, Backlog>,
    /// Each client's turn for replies waiting for room.
    waiting: HashMap<Sid, std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// A shared broadcast was refused by a client not yet known: find it on the next event.
    find_refusers: bool,
    unattributed: Aggregate,
}

/// Delivery bookkeeping shared by every handler.
#[derive(Debug, Default)]
pub struct Fanout {
    inner: Mutex<Inner>,
    emit_failures: AtomicU64,
    evicted: AtomicU64,
}

/// What one emit to one client came to.
#[derive(Clone, Copy)]
enum Outcome {
    Delivered,
    Refused,
    Leaving,
}

fn outcome(result: Result<(), SendError>) -> Outcome {
    match result {
        Ok(()) => Outcome::Delivered,
        Err(SendError::Socket(SocketError::InternalChannelFull)) => Outcome::Refused,
        Err(SendError::Socket(SocketError::Closed)) => Outcome::Leaving,
        // An event that cannot be serialised reaches nobody; say so, but it is no client's loss.
        Err(SendError::Serialize(e)) => {
            warn!("an event could not be encoded: {e}");
            Outcome::Leaving
        }
    }
}

impl Fanout {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Events a live client did not get.
    #[must_use]
    pub fn emit_failures(&self) -> u64 {
        self.emit_failures.load(Ordering::Relaxed)
    }

    /// Clients cut off because their queue stayed full.
    #[must_use]
    pub fn evicted_clients(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Whether `sid`'s queue is known to be full.
    #[must_use]
    pub fn is_backlogged(&self, sid: Sid) -> bool {
        self.lock().backlog.contains_key(&sid)
    }

    /// The turn a client's waiting replies take one at a time: only the holder polls for room,
    /// the others sleep on the lock, so a client that asks faster than it reads costs parked
    /// tasks, not wake-ups.
    pub fn reply_turn(&self, sid: Sid) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        std::sync::Arc::clone(self.lock().waiting.entry(sid).or_default())
    }

    /// Clients whose queue is known to be full now.
    #[must_use]
    pub fn backlogged_clients(&self) -> usize {
        self.lock().backlog.len()
    }

    /// Sends `name` to every connected client.
    pub async fn broadcast(&self, io: &SocketIo, name: &str, payload: &Value, size: usize) {
        // Once shutdown has begun socketioxide removes the namespace, and `io.emit` would panic
        // (a heartbeat or a post in flight may still broadcast): nobody is left to tell.
        let Some(everyone) = io.of("/") else {
            debug!("emit event={name} to=all skipped: the server is shutting down");
            return;
        };
        debug!("emit event={name} to=all");
        let (one_by_one, backlogged) = {
            let mut inner = self.lock();
            let find = inner.find_refusers && size <= ATTRIBUTE_MAX_BYTES;
            if find {
                inner.find_refusers = false;
            }
            (find, inner.backlog.keys().copied().collect::<Vec<_>>())
        };
        if one_by_one {
            for socket in everyone.sockets() {
                self.note(&socket, name, outcome(socket.emit(name, payload)));
            }
            return;
        }
        // The shared broadcast first: a backlogged client that takes its copy below leaves the
        // room, and would be counted in a broadcast that came after.
        let shared = if backlogged.is_empty() {
            everyone.clone().emit(name, payload).await
        } else {
            everyone
                .clone()
                .except(BACKLOGGED)
                .emit(name, payload)
                .await
        };
        for sid in &backlogged {
            match everyone.get_socket(*sid) {
                Some(socket) => self.note(&socket, name, outcome(socket.emit(name, payload))),
                // Gone without its disconnect handler having run: nothing left to track.
                None => {
                    self.lock().backlog.remove(sid);
                }
            }
        }
        if let Err(socketioxide::BroadcastError::Socket(errors)) = shared {
            let refused = errors
                .iter()
                .filter(|e| matches!(e, SocketError::InternalChannelFull))
                .count() as u64;
            if refused > 0 {
                self.emit_failures.fetch_add(refused, Ordering::Relaxed);
                let mut inner = self.lock();
                inner.find_refusers = true;
                if let Some(n) = inner.unattributed.add(refused, Instant::now()) {
                    warn!("{n} event(s) not delivered: a client's queue is full (finding which)");
                }
            }
        } else if let Err(e) = shared {
            warn!("emit event={name} to=all failed: {e}");
        }
    }

    /// Books one emit to one client: a refusal is a loss and marks the client backlogged, a
    /// delivery clears it.
    fn note(&self, socket: &socketioxide::extract::SocketRef, name: &str, result: Outcome) {
        let now = Instant::now();
        match result {
            Outcome::Delivered => {
                if self.lock().backlog.remove(&socket.id).is_some() {
                    socket.leave(BACKLOGGED);
                    debug!("sid={} is reading again", socket.id);
                }
            }
            Outcome::Leaving => {}
            Outcome::Refused => {
                self.emit_failures.fetch_add(1, Ordering::Relaxed);
                let mut inner = self.lock();
                let entry = inner.backlog.entry(socket.id).or_insert_with(|| {
                    socket.join(BACKLOGGED);
                    Backlog {
                        since: now,
                        missed: 0,
                        warn: Aggregate::default(),
                    }
                });
                entry.missed += 1;
                if let Some(n) = entry.warn.add(1, now) {
                    warn!(
                        "sid={} missed {n} event(s) (last: {name}): its queue has been full for {} ms; it is cut off at its next ping",
                        socket.id,
                        now.duration_since(entry.since).as_millis()
                    );
                }
            }
        }
    }

    /// Books a direct reply's result.
    pub fn note_reply(
        &self,
        socket: &socketioxide::extract::SocketRef,
        name: &str,
        result: Result<(), SendError>,
    ) {
        self.note(socket, name, outcome(result));
    }

    /// A client left: when its queue was full, the heartbeat it could not answer evicted it.
    /// Returns how many events it missed when it was evicted.
    pub fn forget(&self, sid: Sid, heartbeat_timeout: bool) -> Option<u64> {
        let gone = {
            let mut inner = self.lock();
            inner.waiting.remove(&sid);
            inner.backlog.remove(&sid)?
        };
        if heartbeat_timeout {
            self.evicted.fetch_add(1, Ordering::Relaxed);
            warn!(
                "evicted sid={sid}: its queue stayed full for {} ms and it missed {} event(s)",
                gone.since.elapsed().as_millis(),
                gone.missed
            );
            Some(gone.missed)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_aggregated_per_window_with_their_count() {
        let mut a = Aggregate::default();
        let t0 = Instant::now();
        assert_eq!(a.add(1, t0), Some(1));
        assert_eq!(a.add(1, t0 + Duration::from_secs(1)), None);
        assert_eq!(a.add(5, t0 + Duration::from_secs(9)), None);
        assert_eq!(a.add(1, t0 + Duration::from_secs(10)), Some(7));
        assert_eq!(a.add(0, t0 + Duration::from_secs(30)), None);
    }
}
