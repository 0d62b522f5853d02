//! Pairing `tool_start` with `tool_stop` by correlation id, and timing the call.
//!
//! A duration is the difference of two clocks read by the same sender, best first:
//! 1. the event's own sender (Claude MPM's hook stamps both ends itself);
//! 2. the server's log (the time it wrote each line);
//! 3. the console's arrival instants.
//!
//! Copies of either end (the feed's and the log's) may come in any order, so each copy adds its
//! clock and the duration is worked out again. A stop may also arrive before its start (the
//! hook posts from a thread pool): it waits in the ring of closed calls for its start.

use chrono::{DateTime, FixedOffset};

use super::state::{ClosedTool, MAX_OPEN_TOOLS, OpenTool, State};
use super::time::{Stamp, seconds_between};

/// A sender's name and the time it wrote on one end of a call.
pub type Sent = (String, DateTime<FixedOffset>);

/// The sender name log lines are stamped with.
pub const LOG: &str = "log";

/// A sender's clock that says a call took less than nothing, or more than a day, is wrong (or
/// two clocks were mixed): the next clock is used instead.
const PLAUSIBLE_SECS: std::ops::RangeInclusive<f64> = 0.0..=86_400.0;

/// The best duration: the same sender on both ends (an event's own sender before the log),
/// else the arrival instants when both ends arrived here in order.
fn best(start: &[Sent], stop: &[Sent], arrival: Option<f64>) -> Option<f64> {
    let same = |log: bool| {
        start.iter().find_map(|(from, t0)| {
            (log == (from == LOG))
                .then(|| stop.iter().find(|(to, _)| to == from))
                .flatten()
                .map(|(_, t1)| seconds_between(*t0, *t1))
                .filter(|d| PLAUSIBLE_SECS.contains(d))
        })
    };
    same(false).or_else(|| same(true)).or(arrival)
}

/// Adds a sender's clock, once per sender (a log writes one line per client; the first says
/// when).
fn add(clocks: &mut Vec<Sent>, sent: Sent) {
    if !clocks.iter().any(|(from, _)| *from == sent.0) {
        clocks.push(sent);
    }
}

/// A `tool_start` for `correlation`. When its stop came first, returns that stop row's id and
/// the call's duration.
/// `replayed` is a start from the server's history: when it arrived times nothing.
pub fn start(
    state: &mut State,
    correlation: &str,
    tool: &str,
    at: Stamp,
    sent: Option<Sent>,
    replayed: bool,
) -> Option<(u64, f64)> {
    let open = OpenTool {
        tool: tool.to_owned(),
        started: at,
        arrival_timed: !replayed,
        sent: sent.into_iter().collect(),
    };
    if let Some(early) = state
        .closed
        .iter_mut()
        .rev()
        .find(|c| c.correlation == correlation && c.open.is_none())
    {
        // The stop overtook its start: arrival order says nothing, only the senders' clocks.
        let duration = best(&open.sent, &early.sent, None);
        early.open = Some(open);
        return duration.map(|t| (early.row, t));
    }
    if state.running.len() >= MAX_OPEN_TOOLS {
        let oldest = state
            .running
            .iter()
            .min_by(|a, b| a.1.started.mono.total_cmp(&b.1.started.mono))
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            state.running.remove(&k);
            state.running_dropped += 1;
        }
    }
    state.running.insert(correlation.to_owned(), open);
    None
}

/// A `tool_stop` for `correlation`, shown as row `row`: its duration, when its start is known.
/// `arrived` is None for a stop replayed from history: when it arrived times nothing.
pub fn stop(
    state: &mut State,
    correlation: &str,
    arrived: Option<Stamp>,
    sent: Option<Sent>,
    row: u64,
) -> Option<f64> {
    let open = state.running.remove(correlation);
    let sent: Vec<Sent> = sent.into_iter().collect();
    let by_arrival = |o: &OpenTool| {
        arrived
            .filter(|_| o.arrival_timed)
            .map(|at| at.mono - o.started.mono)
    };
    let took = open
        .as_ref()
        .and_then(|o| best(&o.sent, &sent, by_arrival(o).filter(|d| *d >= 0.0)));
    state.closed.push(ClosedTool {
        correlation: correlation.to_owned(),
        open,
        stopped: arrived,
        sent,
        row,
    });
    took
}

/// Another copy of a start or stop (from the other source, or another line of the same log):
/// its clock joins the call's. Returns the stop row's id and its better duration, if that
/// changed.
pub fn copy(
    state: &mut State,
    stopping: bool,
    correlation: &str,
    sent: Option<Sent>,
) -> Option<(u64, f64)> {
    let sent = sent?;
    if !stopping && let Some(open) = state.running.get_mut(correlation) {
        add(&mut open.sent, sent);
        return None;
    }
    let closed = state
        .closed
        .iter_mut()
        .rev()
        .find(|c| c.correlation == correlation)?;
    match (stopping, closed.open.as_mut()) {
        (true, _) => add(&mut closed.sent, sent),
        (false, Some(open)) => add(&mut open.sent, sent),
        (false, None) => return None,
    }
    let open = closed.open.as_ref()?;
    let arrival = closed
        .stopped
        .filter(|_| open.arrival_timed)
        .map(|at| at.mono - open.started.mono)
        .filter(|d| *d >= 0.0);
    best(&open.sent, &closed.sent, arrival).map(|t| (closed.row, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn the_events_own_sender_beats_the_log_which_beats_arrival() {
        let hook = |s| ("hook".to_owned(), at(s));
        let log = |s| (LOG.to_owned(), at(s));
        let start = [
            log("2026-01-01T00:00:00.010Z"),
            hook("2026-01-01T00:00:00.000Z"),
        ];
        let stop = [
            hook("2026-01-01T00:00:02.400Z"),
            log("2026-01-01T00:00:01.000Z"),
        ];
        assert_eq!(best(&start, &stop, Some(9.0)), Some(2.4));
        assert_eq!(best(&start[..1], &stop, Some(9.0)), Some(0.99));
        assert_eq!(best(&start[1..], &stop[1..], Some(9.0)), Some(9.0));
        assert_eq!(best(&[], &[], None), None);
        // A sender whose stop is before its start, or a year later: not believed.
        let back = [hook("2026-01-01T00:00:00.000Z")];
        let earlier = [hook("2025-12-31T23:00:00.000Z")];
        let year = [hook("2027-01-01T00:00:00.000Z")];
        assert_eq!(best(&back, &earlier, Some(1.5)), Some(1.5));
        assert_eq!(best(&back, &year, None), None);
    }
}
