//! Collections that cannot grow without bound, whatever a server sends: one [`Ring`] for every
//! "last N" buffer (the console's stream, rates and strips, the memory trend, serve's event
//! history), and [`Counts`] for maps keyed by names that come from outside.

use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};

/// A bounded ring: pushing past capacity drops the oldest.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> Ring<T> {
    /// An empty ring holding at most `capacity`. Memory is taken as items arrive, not up front.
    #[must_use]
    pub fn new(capacity: usize) -> Ring<T> {
        Ring {
            items: VecDeque::new(),
            capacity,
        }
    }

    /// Adds one, dropping (and returning) the oldest when full. A ring of capacity 0 keeps
    /// nothing.
    pub fn push(&mut self, item: T) -> Option<T> {
        if self.capacity == 0 {
            return Some(item);
        }
        let dropped = if self.items.len() == self.capacity {
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(item);
        dropped
    }

    /// Oldest first.
    #[must_use = "iterators are lazy"]
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    /// Oldest first, to change in place.
    #[must_use = "iterators are lazy"]
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> + ExactSizeIterator {
        self.items.iter_mut()
    }

    /// How many are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The most it holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether none are held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// The oldest, if any.
    #[must_use]
    pub fn first(&self) -> Option<&T> {
        self.items.front()
    }

    /// The newest, if any.
    #[must_use]
    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }

    /// The newest, to change in place (the current second's count).
    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.items.back_mut()
    }
}

/// Where counts of names beyond the cap go.
pub const OTHER: &str = "(other)";

/// Counts per name, for names that come from outside (event names, types): at most `cap`
/// distinct names are kept, every further one is counted under [`OTHER`].
#[derive(Clone, Debug)]
pub struct Counts {
    counts: BTreeMap<String, u64>,
    cap: usize,
}

impl Counts {
    /// An empty map keeping at most `cap` names besides [`OTHER`].
    #[must_use]
    pub fn new(cap: usize) -> Counts {
        Counts {
            counts: BTreeMap::new(),
            cap,
        }
    }

    /// The key `name` is counted under: itself while there is room, else [`OTHER`].
    #[must_use]
    pub fn key_for<'a>(&self, name: &'a str) -> &'a str {
        if self.counts.contains_key(name) || self.named() < self.cap {
            name
        } else {
            OTHER
        }
    }

    /// Adds one to `name` (or to [`OTHER`]); allocates a key only the first time.
    pub fn bump(&mut self, name: &str) {
        let key = self.key_for(name);
        match self.counts.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(key.to_owned(), 1);
            }
        }
    }

    /// The count of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }

    /// Every name and count, in name order.
    #[must_use]
    pub fn map(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    /// Names held, [`OTHER`] not counted.
    fn named(&self) -> usize {
        self.counts.len() - usize::from(self.counts.contains_key(OTHER))
    }
}

/// `payload` within `limit` bytes as JSON, keeping its shape: long strings are cut first (to
/// 1 KiB, then 64 bytes), so ids, names and subtypes survive; only a payload still too large
/// after that (a structure of millions of small items) becomes its start as text.
#[must_use]
pub fn json_keeping_shape(payload: Value, limit: usize) -> Value {
    if size_within(&payload, limit).is_some() {
        return payload;
    }
    for longest in [1024, 64] {
        let cut = cut_strings(payload.clone(), longest);
        if size_within(&cut, limit).is_some() {
            return cut;
        }
    }
    json(payload, limit)
}

/// Every string in `value` longer than `longest` bytes cut there, saying how long it was.
fn cut_strings(value: Value, longest: usize) -> Value {
    match value {
        Value::String(s) if s.len() > longest => {
            let mut cut = longest;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            Value::String(format!("{}… ({} bytes)", &s[..cut], s.len()))
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| cut_strings(v, longest)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, cut_strings(v, longest)))
                .collect(),
        ),
        other => other,
    }
}

/// `payload`, or, when it is larger than `limit` bytes as JSON, its start as text saying so.
#[must_use]
pub fn json(payload: Value, limit: usize) -> Value {
    if size_within(&payload, limit).is_some() {
        return payload;
    }
    let text = payload.to_string();
    let mut cut = limit.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Value::String(format!(
        "(a payload of {} bytes; its first {} KiB:) {}",
        text.len(),
        limit / 1024,
        &text[..cut]
    ))
}

/// Roughly how many bytes `value` takes as JSON, or None as soon as it passes `limit`:
/// walking stops there, so a huge payload costs no more than a small one.
fn size_within(value: &Value, limit: usize) -> Option<usize> {
    let size = match value {
        // As written: a control character takes six bytes (`\u0001`), a quote or backslash two.
        Value::String(s) => {
            s.len()
                + 2
                + 5 * s
                    .bytes()
                    .filter(|b| *b < 0x20 || *b == b'"' || *b == b'\\')
                    .count()
        }
        Value::Array(items) => {
            let mut total = 2;
            for item in items {
                total += size_within(item, limit.checked_sub(total)?)? + 1;
            }
            total
        }
        Value::Object(map) => {
            let mut total = 2;
            for (k, v) in map {
                total += k.len() + 4 + size_within(v, limit.checked_sub(total)?)?;
            }
            total
        }
        _ => 8,
    };
    (size <= limit).then_some(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_drops_the_oldest_and_says_which() {
        let mut ring = Ring::new(2);
        assert_eq!(ring.push(1), None);
        assert_eq!(ring.push(2), None);
        assert_eq!(ring.push(3), Some(1));
        assert_eq!(ring.iter().copied().collect::<Vec<_>>(), [2, 3]);
        assert_eq!((ring.first(), ring.last()), (Some(&2), Some(&3)));
        let mut none = Ring::new(0);
        assert_eq!(none.push(9), Some(9));
        assert!(none.is_empty());
    }

    #[test]
    fn names_past_the_cap_are_counted_as_other() {
        let mut counts = Counts::new(2);
        for name in ["a", "b", "c", "a", "d", "c"] {
            counts.bump(name);
        }
        assert_eq!(counts.get("a"), 2);
        assert_eq!(counts.get("b"), 1);
        assert_eq!(counts.get(OTHER), 3, "c, d, c");
        assert_eq!(counts.map().len(), 3);
        assert_eq!(counts.key_for("zzz"), OTHER);
    }
}
