//! What the running server knows: counters for `/health`, the event history ring, registered
//! clients. Shared by the HTTP and Socket.IO handlers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde_json::{Value, json};

use super::fanout::Fanout;
use super::history::{HISTORY_BYTES, History};
use crate::bounded::Counts;

/// Distinct event names counted one by one; clients choose the names, so past this they are
/// counted together under `(other)`.
pub const MAX_NAMES: usize = 64;

/// Characters of a client's event name kept in the counters.
pub const MAX_NAME_CHARS: usize = 100;

/// Server state. Locks are held only to copy or push a value, never across an await.
#[derive(Debug)]
pub struct State {
    started: Instant,
    /// The port actually bound (after port-range selection or port 0).
    pub port: u16,
    history: Mutex<History>,
    events_by_type: Mutex<Counts>,
    received_by_name: Mutex<Counts>,
    clients: Mutex<HashMap<String, Value>>,
    /// Whether Claude MPM's web dashboard is served (`serve --dashboard`).
    pub dashboard: bool,
    /// Delivery to clients, and what they did not get.
    pub fanout: Fanout,
    /// When `dashboard:client:count` was last sent, and whether a send is already due.
    pub(crate) count_sent: Mutex<Option<Instant>>,
    pub(crate) count_due: AtomicBool,
    closing: AtomicBool,
    posts_in_flight: AtomicUsize,
}

/// A hook post being handled; dropping it ends it (see [`State::begin_post`]).
#[derive(Debug)]
pub struct Post<'a>(&'a AtomicUsize);

impl Drop for Post<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A poisoned lock only means another handler panicked mid-update of a counter; the data is
/// still usable, and a monitor that stops answering would be worse.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// A fresh state for a server on `port` keeping `history_capacity` events (and at most
    /// [`HISTORY_BYTES`] of them).
    #[must_use]
    pub fn new(port: u16, history_capacity: usize) -> State {
        State::with_history(port, History::new(history_capacity, HISTORY_BYTES))
    }

    /// A fresh state with the given history.
    #[must_use]
    pub fn with_history(port: u16, history: History) -> State {
        State {
            started: Instant::now(),
            port,
            history: Mutex::new(history),
            events_by_type: Mutex::new(Counts::new(MAX_NAMES)),
            received_by_name: Mutex::new(Counts::new(MAX_NAMES)),
            clients: Mutex::default(),
            dashboard: false,
            fanout: Fanout::default(),
            count_sent: Mutex::new(None),
            count_due: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            posts_in_flight: AtomicUsize::new(0),
        }
    }

    /// A hook post starts; `None` once the server is stopping (the post is refused, so what was
    /// answered 204 is exactly what gets delivered).
    #[must_use]
    pub fn begin_post(&self) -> Option<Post<'_>> {
        self.posts_in_flight.fetch_add(1, Ordering::SeqCst);
        let post = Post(&self.posts_in_flight);
        (!self.closing.load(Ordering::SeqCst)).then_some(post)
    }

    /// Stops taking hook posts; returns how many are still being handled.
    pub fn stop_posts(&self) -> usize {
        self.closing.store(true, Ordering::SeqCst);
        self.posts_in_flight()
    }

    /// Hook posts being handled now.
    #[must_use]
    pub fn posts_in_flight(&self) -> usize {
        self.posts_in_flight.load(Ordering::SeqCst)
    }

    /// Seconds since start.
    #[must_use]
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Records a hook event broadcast under `name`, in the counters and the history.
    pub fn record_event(&self, name: &str, payload: &Value) {
        lock(&self.events_by_type).bump(name);
        lock(&self.history).push(name, payload);
    }

    /// Counts an event a client sent.
    ///
    /// The name is the client's, so it is kept to [`MAX_NAME_CHARS`]: 64 names of 3,000
    /// characters had made `/health` ~190 KB, past what any prober reads, so the server looked
    /// dead to mpm-top's own console.
    pub fn record_received(&self, name: &str) {
        let name = crate::text::truncate(name, MAX_NAME_CHARS);
        lock(&self.received_by_name).bump(&name);
    }

    /// The newest `limit` events that fit in `max_bytes`, oldest first (see [`History::newest`]).
    #[must_use]
    pub fn history(&self, limit: usize, max_bytes: usize) -> Value {
        lock(&self.history).newest(limit, max_bytes)
    }

    /// Events currently held in the history.
    #[must_use]
    pub fn history_len(&self) -> usize {
        lock(&self.history).len()
    }

    /// Remembers a client that connected: when (seconds since the Unix epoch), and under the
    /// name and type Claude MPM's server gives a client that has not registered.
    pub fn client_connected(&self, sid: &str, at_epoch_secs: f64) {
        let short: String = sid.chars().take(8).collect();
        let info = serde_json::json!({"session_id": sid, "name": format!("Client-{short}"),
            "type": "unknown", "connected_at": at_epoch_secs, "registered": false});
        lock(&self.clients).insert(sid.to_owned(), info);
    }

    /// Remembers what a client said about itself (`client:register`): its fields over those
    /// it connected with.
    pub fn register_client(&self, sid: &str, info: Value) {
        let mut clients = lock(&self.clients);
        let known = clients.entry(sid.to_owned()).or_insert(Value::Null);
        match (known, info) {
            (Value::Object(known), Value::Object(info)) => {
                known.extend(info);
                known.insert("registered".into(), Value::Bool(true));
            }
            (known, info) => *known = info,
        }
    }

    /// Forgets a client that left.
    pub fn forget_client(&self, sid: &str) {
        lock(&self.clients).remove(sid);
    }

    /// What is known of `sid`: when it connected, and what it registered as.
    #[must_use]
    pub fn client_info(&self, sid: &str) -> Option<Value> {
        lock(&self.clients).get(sid).cloned()
    }

    /// Counters for `/health`.
    #[must_use]
    pub fn counters(&self) -> Value {
        let events = lock(&self.events_by_type).map().clone();
        let total: u64 = events.values().sum();
        json!({
            "events": events,
            "events_total": total,
            "received": lock(&self.received_by_name).map().clone(),
            "history": lock(&self.history).summary(),
            "emit_failures": self.fanout.emit_failures(),
            "evicted_clients": self.fanout.evicted_clients(),
            "backlogged_clients": self.fanout.backlogged_clients(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_is_counted_and_kept() {
        let state = State::new(1, 3);
        for i in 0..5 {
            state.record_event("tool_event", &json!({"i": i}));
        }
        assert_eq!(state.history_len(), 3);
        assert_eq!(state.counters()["events"]["tool_event"], 5);
        assert_eq!(state.counters()["history"]["total"], 5);
    }

    #[test]
    fn long_names_are_cut_so_health_stays_small() {
        let state = State::new(1, 0);
        for i in 0..(MAX_NAMES + 10) {
            state.record_received(&format!("name-{i}-{}", "x".repeat(3000)));
        }
        let size = crate::serve::history::json_size(&state.counters());
        assert!(size < 16 * 1024, "{size} bytes");
    }

    #[test]
    fn names_clients_invent_are_counted_under_other_past_the_cap() {
        let state = State::new(1, 0);
        for i in 0..(MAX_NAMES + 10) {
            state.record_received(&format!("made_up_{i}"));
        }
        let received = &state.counters()["received"];
        assert_eq!(received.as_object().unwrap().len(), MAX_NAMES + 1);
        assert_eq!(received[crate::bounded::OTHER], 10);
    }
}
