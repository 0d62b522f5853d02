//! What the running server knows: counters for `/health`, the event history ring, registered
//! clients. Shared by the HTTP and Socket.IO handlers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde_json::{Value, json};

use crate::bounded::{Counts, Ring};

/// Distinct event names counted one by one; clients choose the names, so past this they are
/// counted together under `(other)`.
pub const MAX_NAMES: usize = 64;

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
    emit_failures: AtomicU64,
}

/// The last `capacity` hook events, oldest first, each with its event name under `event`.
#[derive(Debug)]
struct History {
    events: Ring<Value>,
    total: u64,
}

/// A poisoned lock only means another handler panicked mid-update of a counter; the data is
/// still usable, and a monitor that stops answering would be worse.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// A fresh state for a server on `port` keeping `history_capacity` events.
    #[must_use]
    pub fn new(port: u16, history_capacity: usize) -> State {
        State {
            started: Instant::now(),
            port,
            history: Mutex::new(History {
                events: Ring::new(history_capacity),
                total: 0,
            }),
            events_by_type: Mutex::new(Counts::new(MAX_NAMES)),
            received_by_name: Mutex::new(Counts::new(MAX_NAMES)),
            clients: Mutex::default(),
            emit_failures: AtomicU64::new(0),
        }
    }

    /// Seconds since start.
    #[must_use]
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Records a hook event broadcast under `name`, in the counters and the history.
    pub fn record_event(&self, name: &str, payload: &Value) {
        lock(&self.events_by_type).bump(name);
        let mut history = lock(&self.history);
        if history.events.capacity() == 0 {
            return;
        }
        let mut entry = payload.clone();
        if let Value::Object(map) = &mut entry {
            map.insert("event".into(), Value::String(name.to_owned()));
        }
        history.events.push(entry);
        history.total += 1;
    }

    /// Counts an event a client sent.
    pub fn record_received(&self, name: &str) {
        lock(&self.received_by_name).bump(name);
    }

    /// Counts emits that socketioxide refused (a client's queue was full or it had gone).
    pub fn record_emit_failures(&self, count: u64) {
        self.emit_failures.fetch_add(count, Ordering::Relaxed);
    }

    /// Emits refused so far.
    #[must_use]
    pub fn emit_failures(&self) -> u64 {
        self.emit_failures.load(Ordering::Relaxed)
    }

    /// `event_history` for a late client: the newest `limit` events, oldest first.
    #[must_use]
    pub fn history(&self, limit: usize) -> Value {
        let history = lock(&self.history);
        let skip = history.events.len().saturating_sub(limit);
        let events: Vec<&Value> = history.events.iter().skip(skip).collect();
        json!({"events": events, "count": events.len(), "total_available": history.events.len()})
    }

    /// Events currently held in the history.
    #[must_use]
    pub fn history_len(&self) -> usize {
        lock(&self.history).events.len()
    }

    /// Remembers what a client said about itself (`client:register`).
    pub fn register_client(&self, sid: &str, info: Value) {
        lock(&self.clients).insert(sid.to_owned(), info);
    }

    /// Forgets a client that left.
    pub fn forget_client(&self, sid: &str) {
        lock(&self.clients).remove(sid);
    }

    /// What `sid` registered as, if it did.
    #[must_use]
    pub fn client_info(&self, sid: &str) -> Option<Value> {
        lock(&self.clients).get(sid).cloned()
    }

    /// Counters for `/health`.
    #[must_use]
    pub fn counters(&self) -> Value {
        let events = lock(&self.events_by_type).map().clone();
        let total: u64 = events.values().sum();
        let history = lock(&self.history);
        json!({
            "events": events,
            "events_total": total,
            "received": lock(&self.received_by_name).map().clone(),
            "history": {"size": history.events.len(), "capacity": history.events.capacity(), "total": history.total},
            "emit_failures": self.emit_failures(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_a_bounded_ring_that_names_each_event() {
        let state = State::new(1, 3);
        for i in 0..5 {
            state.record_event("tool_event", &json!({"i": i}));
        }
        let h = state.history(10);
        assert_eq!(h["count"], 3);
        assert_eq!(h["events"][0], json!({"i": 2, "event": "tool_event"}));
        assert_eq!(
            state.history(1)["events"],
            json!([{"i": 4, "event": "tool_event"}])
        );
        assert_eq!(state.counters()["events"]["tool_event"], 5);
        assert_eq!(state.counters()["history"]["total"], 5);
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
