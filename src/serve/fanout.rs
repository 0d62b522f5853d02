//! Broadcasting to every client, and counting exactly what a live client did not get.
//!
//! socketioxide's broadcast encodes an event once and shares it among the clients' queues, but
//! its errors do not say which client refused. So the server keeps a list of *backlogged*
//! clients (a queue known to be full): events go to everyone else by one shared broadcast, and
//! to each backlogged client one by one, so its refusals are its own. When a shared broadcast
//! is refused by a client not yet known, a small `heartbeat` (an event Claude MPM's dashboard
//! listens for anyway) goes to every client one by one at once: the full ones refuse it too,
//! and are known from then on. The event itself is never copied per client to find them.
//!
//! A closing or closed socket is not a failure: the client is leaving. A backlogged client is
//! cut off by its heartbeat (the ping it cannot queue, or the pong that never comes), or by the
//! write it never takes (`listen.rs`); `disconnect()` cannot, as it must queue a packet too.
//! It is counted as evicted then.

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
    /// When each client last got a full history answer.
    history_sent: HashMap<Sid, Instant>,
    /// Each client's turn for replies waiting for room.
    waiting: HashMap<Sid, std::sync::Arc<tokio::sync::Mutex<()>>>,
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

    /// Whether `sid` may have a full history answer now (at most one per
    /// [`super::socket::HISTORY_EVERY`]); taking it starts the next wait.
    pub fn history_turn(&self, sid: Sid) -> bool {
        let now = Instant::now();
        let mut inner = self.lock();
        let last = inner.history_sent.get(&sid).copied();
        let due = last.is_none_or(|t| now.duration_since(t) >= super::socket::HISTORY_EVERY);
        if due {
            inner.history_sent.insert(sid, now);
        }
        due
    }

    /// Clients whose queue is known to be full now.
    #[must_use]
    pub fn backlogged_clients(&self) -> usize {
        self.lock().backlog.len()
    }

    /// Sends `name` to every connected client.
    pub async fn broadcast(&self, io: &SocketIo, name: &str, payload: &Value) {
        // Once shutdown has begun socketioxide removes the namespace, and `io.emit` would panic
        // (a heartbeat or a post in flight may still broadcast): nobody is left to tell.
        let Some(everyone) = io.of("/") else {
            debug!("emit event={name} to=all skipped: the server is shutting down");
            return;
        };
        debug!("emit event={name} to=all");
        let backlogged: Vec<Sid> = self.lock().backlog.keys().copied().collect();
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
                if let Some(n) = self.lock().unattributed.add(refused, Instant::now()) {
                    warn!("{n} event(s) not delivered: a client's queue is full (finding which)");
                }
                self.find_full(&everyone);
            }
        } else if let Err(e) = shared {
            warn!("emit event={name} to=all failed: {e}");
        }
    }

    /// Sends a small `heartbeat` to each client not yet known to be full, one by one: those whose
    /// queue is full refuse it and become known.
    fn find_full(&self, everyone: &socketioxide::operators::BroadcastOperators) {
        let probe = serde_json::json!({
            "timestamp": super::socket::now_rfc3339(),
            "service": super::socket::SERVICE,
            "check": "delivery",
        });
        for socket in everyone.clone().sockets() {
            if !self.is_backlogged(socket.id) {
                self.note(
                    &socket,
                    "heartbeat",
                    outcome(socket.emit("heartbeat", &probe)),
                );
            }
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

    /// A client left: when its queue was full and it was cut off (the heartbeat it could not
    /// answer, or the write it never took), it was evicted.
    /// Returns how many events it missed when it was evicted.
    pub fn forget(&self, sid: Sid, cut_off: bool) -> Option<u64> {
        let gone = {
            let mut inner = self.lock();
            inner.waiting.remove(&sid);
            inner.history_sent.remove(&sid);
            inner.backlog.remove(&sid)?
        };
        if cut_off {
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
