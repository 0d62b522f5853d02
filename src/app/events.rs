//! Turning feed events, log lines and probe results into state: the stream, tool pairing,
//! rates and availability.

use serde_json::Value;

use super::state::{EventRow, Origin, RATE_HISTORY, Ring, State};
use crate::probes::http::Health;
use crate::probes::logtail::{LineKind, LogLine};

/// A tool open longer than this is a finding in the status pane.
pub const LONG_TOOL_SECS: f64 = 120.0;

/// A second passed (or part of one): roll the rate buckets, record availability.
pub fn tick(state: &mut State, now: f64) {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // seconds since start
    let (before, after) = (state.now as u64, now as u64);
    state.now = now;
    for _ in before..after.min(before + RATE_HISTORY as u64) {
        for ring in state.rates.values_mut() {
            ring.push(0);
        }
    }
}

fn count(state: &mut State, kind: &str) {
    *state.totals.entry(kind.to_owned()).or_default() += 1;
    let ring = state.rates.entry(kind.to_owned()).or_insert_with(|| {
        let mut r = Ring::new(RATE_HISTORY);
        r.push(0);
        r
    });
    if let Some(now) = ring.last_mut() {
        *now += 1;
    }
}

fn push(state: &mut State, row: EventRow) {
    if state.paused {
        state.paused_new += 1;
    }
    state.events.push(row);
}

/// An event from the Socket.IO feed.
pub fn from_feed(state: &mut State, name: &str, data: Value) {
    if name == "dashboard:pong" {
        return; // the console's own pings: shown as latency, not as traffic
    }
    let subtype = data
        .get("subtype")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let session = data
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let correlation = data
        .get("correlation_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let tool = data["data"]["tool_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Claude MPM's pre_tool/post_tool are the guide's tool_start/tool_stop.
    let shown = match subtype.as_str() {
        "pre_tool" => "tool_start",
        "post_tool" => "tool_stop",
        _ => name,
    }
    .to_owned();
    let mut duration = None;
    let summary = match shown.as_str() {
        "tool_start" => {
            state
                .running
                .insert(correlation.clone(), (tool.clone(), state.now));
            tool
        }
        "tool_stop" => {
            duration = state
                .running
                .remove(&correlation)
                .map(|(_, started)| state.now - started);
            let status = data["data"]["status"].as_str().unwrap_or_default();
            format!("{tool} {status}")
        }
        "dashboard:client:count" => format!("{} client(s)", data["count"]),
        _ => data
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or(&subtype)
            .to_owned(),
    };
    count(state, &shown);
    let row = EventRow {
        at: state.now,
        origin: Origin::Feed,
        name: shown,
        subtype,
        session,
        summary,
        duration,
        payload: data,
    };
    push(state, row);
}

/// A line from the server log: connections and tool calls become stream rows.
pub fn from_log(state: &mut State, line: &LogLine) {
    let name = match line.kind {
        LineKind::Connect => "connect",
        LineKind::Disconnect => "disconnect",
        LineKind::ToolStart => "tool_start",
        LineKind::ToolStop => "tool_stop",
        LineKind::Error => "error",
        LineKind::Emit | LineKind::Receive | LineKind::Other => return,
    };
    let row = EventRow {
        at: state.now,
        origin: Origin::Log,
        name: name.to_owned(),
        subtype: String::new(),
        session: String::new(),
        summary: line.text.chars().take(200).collect(),
        duration: None,
        payload: Value::String(line.text.clone()),
    };
    push(state, row);
}

/// A `/health` result.
pub fn health(state: &mut State, result: Result<Health, String>) {
    state.availability.push(result.is_ok());
    match result {
        Ok(h) => {
            if state.server.kind.as_deref() != Some(&h.kind.label()) {
                state.note(format!("server on {}: {}", state.target, h.kind.label()));
            }
            state.server.kind = Some(h.kind.label());
            state.server.health = h.status;
            state.server.pid = h.pid;
            state.server.uptime = h.uptime_secs;
            state.server.clients = h.clients;
        }
        Err(why) => {
            if state.server.kind.is_some() {
                state.note(format!("server went away: {why}"));
            }
            state.server = super::state::ServerView {
                health: why,
                ..Default::default()
            };
        }
    }
}

/// Tools open longer than [`LONG_TOOL_SECS`], oldest first: (tool, seconds open).
#[must_use]
pub fn long_running(state: &State) -> Vec<(String, f64)> {
    let mut open: Vec<(String, f64)> = state
        .running
        .values()
        .map(|(tool, at)| (tool.clone(), state.now - at))
        .filter(|(_, age)| *age >= LONG_TOOL_SECS)
        .collect();
    open.sort_by(|a, b| b.1.total_cmp(&a.1));
    open
}
