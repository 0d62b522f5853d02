//! serve's event history: the newest hook events, bounded by count *and* by bytes, so a burst of
//! 1 MB events cannot hold a gigabyte, and a late client is replayed a bounded slice of it.

use std::collections::VecDeque;

use serde_json::{Value, json};

/// Bytes of JSON the history keeps at most, whatever `max_buffer_size` allows by count.
pub const HISTORY_BYTES: usize = 16 * 1024 * 1024;

/// Bytes of history one reply carries at most (`event_history` to a late client, or
/// `hook:history:get`): every such reply is a copy, and a connect storm makes one per client.
pub const REPLY_BYTES: usize = 1024 * 1024;

/// The newest events, oldest first, each with its event name under `event` and its size.
#[derive(Debug)]
pub struct History {
    events: VecDeque<(Value, usize)>,
    bytes: usize,
    max_events: usize,
    max_bytes: usize,
    /// Events ever recorded.
    pub total: u64,
}

impl History {
    /// A history keeping at most `max_events` events and `max_bytes` bytes of JSON.
    #[must_use]
    pub fn new(max_events: usize, max_bytes: usize) -> History {
        History {
            events: VecDeque::new(),
            bytes: 0,
            max_events,
            max_bytes,
            total: 0,
        }
    }

    /// Keeps `payload` under `name`, dropping the oldest past either bound. An event larger than
    /// the whole byte bound is counted but not kept.
    pub fn push(&mut self, name: &str, payload: &Value) {
        self.total += 1;
        if self.max_events == 0 {
            return;
        }
        let mut entry = payload.clone();
        if let Value::Object(map) = &mut entry {
            map.insert("event".into(), Value::String(name.to_owned()));
        }
        let size = json_size(&entry);
        if size > self.max_bytes {
            return;
        }
        while self.events.len() >= self.max_events || self.bytes + size > self.max_bytes {
            match self.events.pop_front() {
                Some((_, dropped)) => self.bytes -= dropped,
                None => break,
            }
        }
        self.bytes += size;
        self.events.push_back((entry, size));
    }

    /// The newest events that fit in `limit` events and `max_bytes` bytes, oldest first, as
    /// `{"events","count","total_available"}`.
    #[must_use]
    pub fn newest(&self, limit: usize, max_bytes: usize) -> Value {
        let mut budget = max_bytes;
        let kept: Vec<&Value> = self
            .events
            .iter()
            .rev()
            // An event too large for what is left is skipped, not the end: one big newest
            // event must not leave a late client with nothing.
            .filter(|(_, size)| {
                let fits = *size <= budget;
                if fits {
                    budget -= *size;
                }
                fits
            })
            .take(limit)
            .map(|(event, _)| event)
            .collect();
        let events: Vec<&Value> = kept.into_iter().rev().collect();
        json!({"events": events, "count": events.len(), "total_available": self.events.len()})
    }

    /// Events held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether none are held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Bytes of JSON held.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// `{"size","capacity","bytes","max_bytes","total"}` for `/health`.
    #[must_use]
    pub fn summary(&self) -> Value {
        json!({"size": self.events.len(), "capacity": self.max_events, "bytes": self.bytes,
            "max_bytes": self.max_bytes, "total": self.total})
    }
}

/// The length of `value` as compact JSON, measured without building the text.
#[must_use]
pub fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(bytes: usize) -> Value {
        json!({"pad": "x".repeat(bytes)})
    }

    #[test]
    fn bounded_by_count_and_each_event_named() {
        let mut h = History::new(3, HISTORY_BYTES);
        for i in 0..5 {
            h.push("tool_event", &json!({"i": i}));
        }
        let newest = h.newest(10, REPLY_BYTES);
        assert_eq!(newest["count"], 3);
        assert_eq!(newest["events"][0], json!({"i": 2, "event": "tool_event"}));
        assert_eq!(
            h.newest(1, REPLY_BYTES)["events"],
            json!([{"i": 4, "event": "tool_event"}])
        );
        assert_eq!(h.total, 5);
    }

    #[test]
    fn bounded_by_bytes_dropping_the_oldest() {
        let mut h = History::new(1000, 10_000);
        for _ in 0..100 {
            h.push("tool_event", &sized(1000));
        }
        assert!(h.bytes() <= 10_000, "{} bytes held", h.bytes());
        assert_eq!(h.len(), 9, "each event is ~1,030 bytes of JSON");
        assert_eq!(h.total, 100);
        assert_eq!(
            h.bytes(),
            h.events.iter().map(|(e, _)| json_size(e)).sum::<usize>()
        );
    }

    #[test]
    fn an_event_larger_than_the_bound_is_counted_not_kept() {
        let mut h = History::new(10, 1000);
        h.push("tool_event", &sized(10));
        h.push("tool_event", &sized(5000));
        assert_eq!(h.len(), 1);
        assert_eq!(h.total, 2);
    }

    #[test]
    fn a_reply_carries_the_newest_events_that_fit_its_budget() {
        let mut h = History::new(100, HISTORY_BYTES);
        for i in 0..10 {
            h.push("tool_event", &json!({"i": i, "pad": "y".repeat(100)}));
        }
        let one = json_size(&h.events[0].0);
        let reply = h.newest(100, one * 3 + 1);
        assert_eq!(reply["count"], 3);
        assert_eq!(reply["events"][0]["i"], 7);
        assert_eq!(reply["events"][2]["i"], 9);
        assert_eq!(reply["total_available"], 10);
    }

    #[test]
    fn an_event_too_big_for_the_reply_is_skipped_for_older_ones_that_fit() {
        let mut h = History::new(100, HISTORY_BYTES);
        h.push("tool_event", &json!({"i": 0}));
        h.push("tool_event", &json!({"i": 1, "pad": "z".repeat(5000)}));
        let reply = h.newest(100, 1000);
        assert_eq!(reply["count"], 1);
        assert_eq!(reply["events"][0]["i"], 0);
    }

    #[test]
    fn json_size_is_the_compact_text_length() {
        let v = json!({"a": [1, "two", null], "b": {"c": "d\n"}});
        assert_eq!(json_size(&v), serde_json::to_string(&v).unwrap().len());
    }
}
