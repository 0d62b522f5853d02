//! Turning feed events, log lines and probe results into state: the stream, tool pairing,
//! rates and availability. Every happening arrives with its own [`Stamp`].

use serde_json::Value;

use super::state::{EventRow, Origin, RATE_HISTORY, Ring, State};
use super::time::{Stamp, sender_time};
use super::tools::{self, LOG, Sent};
use crate::probes::http::Health;
use crate::probes::logfields::{self, EngineIo, Level};
use crate::probes::logtail::{LineKind, LogLine};
use crate::text::{clean, truncate};

/// A tool open longer than this is a finding in the status pane.
pub const LONG_TOOL_SECS: f64 = 120.0;
/// How far back a copy of the same happening is looked for (the feed and the log deliver
/// within milliseconds of each other; this is generous).
const SAME_HAPPENING_ROWS: usize = 256;
/// Longest summary kept.
const SUMMARY_CHARS: usize = 200;

/// The clock moved: roll the per-second rate buckets.
pub fn tick(state: &mut State, now: Stamp) {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // seconds since start
    let (before, after) = (state.now.mono as u64, now.mono as u64);
    if now.mono < state.now.mono {
        return; // a stamp older than the clock (a slow producer) does not move it back
    }
    state.now = now;
    if after.saturating_sub(before) >= RATE_HISTORY as u64 {
        // A whole history of silence (a suspended laptop, a recording's jump): the same as
        // pushing that many zeros, at the cost of one.
        for ring in state.rates.values_mut() {
            ring.clear();
            ring.push(0);
        }
        return;
    }
    for _ in before..after {
        for ring in state.rates.values_mut() {
            ring.push(0);
        }
    }
}

fn count(state: &mut State, kind: &str) {
    let key = state.totals.key_for(kind).to_owned();
    state.totals.bump(kind);
    let ring = state.rates.entry(key).or_insert_with(|| {
        let mut r = Ring::new(RATE_HISTORY);
        r.push(0);
        r
    });
    if let Some(now) = ring.last_mut() {
        *now += 1;
    }
}

/// A row as the feed or the log tailer made it, before it is merged or pushed.
struct Happening {
    at: Stamp,
    origin: Origin,
    name: String,
    subtype: String,
    session: String,
    summary: String,
    key: Option<String>,
    payload: Value,
    /// For tool rows: correlation id, tool, and the sender's own time.
    tool: Option<ToolCall>,
    /// One of several lines a log writes for one happening (one per client it sent it to).
    per_client_copy: bool,
    /// Replayed from the server's history: arrived now, happened earlier, so its arrival
    /// instant times nothing.
    replayed: bool,
}

struct ToolCall {
    correlation: String,
    tool: String,
    sent: Option<Sent>,
}

/// How far apart two copies of one happening may arrive.
const COPY_WINDOW_SECS: f64 = 5.0;

/// Whether `row` is another copy of `h`: the same key, close in time, and from the other
/// source, or (for a log with a line per client) another line of the same log.
fn is_copy(row: &EventRow, h: &Happening) -> bool {
    row.key.is_some()
        && row.key == h.key
        && (h.at.mono - row.at.mono).abs() <= COPY_WINDOW_SECS
        && (h.per_client_copy || (row.origin != h.origin && row.origin != Origin::Both))
}

/// Merges into a recent copy, or pushes a new row.
fn record(state: &mut State, h: Happening) {
    tick(state, h.at); // so the event counts in the second it arrived in
    let last = state.alerts.last_event.get_or_insert(h.at.mono);
    *last = last.max(h.at.mono);
    let copy = state
        .events
        .iter_mut()
        .rev()
        .take(SAME_HAPPENING_ROWS)
        .find(|row| is_copy(row, &h));
    if let Some(row) = copy {
        if row.origin != h.origin {
            row.origin = Origin::Both;
        }
        if h.origin == Origin::Feed && row.payload.is_string() {
            // The feed's copy carries the whole payload; a log's only a line.
            row.payload = h.payload;
            row.summary = h.summary;
        }
        if let Some(call) = h.tool {
            let stopping = h.name == "tool_stop";
            if let Some((id, took)) = tools::copy(state, stopping, &call.correlation, call.sent) {
                set_duration(state, id, took);
            }
        }
        return;
    }
    if !h.replayed {
        count(state, &h.name); // a replayed event happened earlier: not this second's rate
    }
    let id = state.next_id;
    state.next_id += 1;
    let duration = match (&h.tool, h.name.as_str()) {
        (Some(call), "tool_start") => {
            if let Some((stop, took)) = tools::start(
                state,
                &call.correlation,
                &call.tool,
                h.at,
                call.sent.clone(),
                h.replayed,
            ) {
                set_duration(state, stop, took);
            }
            None
        }
        (Some(call), "tool_stop") => {
            let arrived = (!h.replayed).then_some(h.at);
            tools::stop(state, &call.correlation, arrived, call.sent.clone(), id)
        }
        _ => None,
    };
    state.events.push(EventRow {
        id,
        at: h.at,
        origin: h.origin,
        name: h.name,
        subtype: h.subtype,
        session: h.session,
        summary: h.summary,
        duration,
        key: h.key,
        payload: h.payload,
    });
}

fn set_duration(state: &mut State, id: u64, took: f64) {
    if let Some(row) = state.events.iter_mut().rev().find(|r| r.id == id) {
        row.duration = Some(took);
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => clean(s),
        Value::Null => String::new(),
        other => clean(&other.to_string()),
    }
}

/// A field at the top of the payload, else in its `data`.
fn field<'a>(data: &'a Value, name: &str) -> &'a Value {
    match data.get(name) {
        Some(v) if !v.is_null() => v,
        _ => data
            .get("data")
            .and_then(|d| d.get(name))
            .unwrap_or(&Value::Null),
    }
}

/// An event from the Socket.IO feed, stamped when it arrived.
pub fn from_feed(state: &mut State, name: &str, data: Value, at: Stamp) {
    // The console's own pings (shown as latency) and the answer to its own registration are
    // not the server's traffic.
    if name == "dashboard:pong" || name == "client:registered" {
        return;
    }
    if name == "event_history" {
        return history(state, data, at);
    }
    if name == "dashboard:welcome" {
        super::clients::welcomed(state, &data);
    }
    let h = happening(state, name, data, at, Origin::Feed);
    record(state, h);
}

/// `event_history`, which mpm-top's server sends a client that joins: one row saying so, then
/// each past event as a row of its own, shown at the time its sender wrote (when it did).
fn history(state: &mut State, data: Value, at: Stamp) {
    let entries = match data.get("events") {
        Some(Value::Array(events)) => events.clone(),
        _ => Vec::new(),
    };
    let mut h = happening(state, "event_history", data, at, Origin::Feed);
    h.summary = format!(
        "{} earlier event(s) follow, at their own times",
        entries.len()
    );
    record(state, h);
    let skip = entries
        .len()
        .saturating_sub(super::state::EVENT_CAPACITY - 1);
    for entry in entries.into_iter().skip(skip) {
        let name = entry
            .get("event")
            .or_else(|| entry.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("claude_event")
            .to_owned();
        let wall = sender_time(field(&entry, "timestamp"))
            .map_or(at.wall, |t| t.with_timezone(at.wall.offset()));
        let mut h = happening(
            state,
            &name,
            entry,
            Stamp {
                mono: at.mono,
                wall,
            },
            Origin::Feed,
        );
        h.replayed = true;
        record(state, h);
    }
}

/// A Socket.IO event as a row, from the feed or from a server log that records packets.
fn happening(state: &mut State, name: &str, data: Value, at: Stamp, origin: Origin) -> Happening {
    if name == "dashboard:client:count"
        && let Some(n) = data.get("count").and_then(Value::as_u64)
    {
        state.server.clients = Some(n);
    }
    let subtype = short(field(&data, "subtype"));
    let session = short(field(&data, "session_id"));
    let correlation = short(field(&data, "correlation_id"));
    let tool = short(&data["data"]["tool_name"]);
    // Claude MPM's pre_tool/post_tool are the guide's tool_start/tool_stop.
    let shown = match subtype.as_str() {
        "pre_tool" => "tool_start".to_owned(),
        "post_tool" => "tool_stop".to_owned(),
        _ if name == "dashboard:welcome" => "connect".to_owned(),
        _ => truncate(&clean(name), FIELD_CHARS),
    };
    let sender = text_of(field(&data, "source"));
    let sent = sender_time(field(&data, "timestamp")).map(|t| (sender, t));
    let mut key = None;
    let mut call = None;
    let summary = match shown.as_str() {
        "tool_start" | "tool_stop" => {
            key = tool_key(&shown, &correlation, &session, &tool);
            let status = text_of(&data["data"]["status"]);
            call = (!correlation.is_empty()).then(|| ToolCall {
                correlation,
                tool: tool.clone(),
                sent,
            });
            if shown == "tool_stop" && !status.is_empty() {
                format!("{tool} {status}")
            } else {
                tool
            }
        }
        "connect" => {
            // Our own connection: the welcome names our sid, as the server's log does.
            let sid = short(&data["session_id"]);
            key = (!sid.is_empty()).then(|| format!("connect {sid}"));
            format!("sid={sid} (this console)")
        }
        "dashboard:client:count" => format!("{} client(s)", text_of(&data["count"])),
        _ => {
            let message = text_of(field(&data, "message"));
            if message.is_empty() {
                subtype.clone()
            } else {
                message
            }
        }
    };
    Happening {
        at,
        origin,
        name: shown,
        subtype,
        session,
        summary: truncate(&summary, SUMMARY_CHARS),
        key,
        payload: crate::bounded::json(data, PAYLOAD_BYTES),
        tool: call,
        per_client_copy: false,
        replayed: false,
    }
}

/// The most of a field kept (a name, a session, a correlation id): a server may send a megabyte.
const FIELD_CHARS: usize = 200;
/// The most of a payload kept for the detail view; the stream holds 2,000 of them.
pub const PAYLOAD_BYTES: usize = 16 * 1024;

fn short(value: &Value) -> String {
    truncate(&text_of(value), FIELD_CHARS)
}

/// What identifies a tool call's start or stop: its correlation id; without one (a hook that
/// sent none), its session and tool, which with the copy window tells the feed's copy from
/// the log's.
fn tool_key(shown: &str, correlation: &str, session: &str, tool: &str) -> Option<String> {
    if !correlation.is_empty() {
        Some(format!("{shown} {correlation}"))
    } else if !tool.is_empty() {
        Some(format!("{shown} ~{session}~{tool}"))
    } else {
        None
    }
}

/// A line of Claude MPM's daemon log (python-engineio's packet log). Events the server sent
/// are one line per client: only those that identify a happening (tool calls) become rows,
/// the rest is the feed's to show.
fn from_engineio(state: &mut State, line: &LogLine, packet: EngineIo, at: Stamp) {
    let text = |name: &str, summary: String, key: Option<String>| Happening {
        at,
        origin: Origin::Log,
        name: name.to_owned(),
        subtype: String::new(),
        session: String::new(),
        summary: truncate(&summary, SUMMARY_CHARS),
        key,
        payload: Value::String(line.text.clone()),
        tool: None,
        per_client_copy: true,
        replayed: false,
    };
    let h = match packet {
        EngineIo::Event { name, data } => {
            let mut h = happening(state, &name, data, at, Origin::Log);
            if h.key.is_none() || h.name == "connect" {
                return;
            }
            h.payload = Value::String(line.text.clone());
            h.per_client_copy = true;
            h
        }
        EngineIo::Connected { sid } => {
            let sid = truncate(&clean(&sid), FIELD_CHARS);
            text(
                "connect",
                format!("sid={sid}"),
                Some(format!("connect {sid}")),
            )
        }
        EngineIo::Disconnected { eio } => {
            let eio = truncate(&clean(&eio), FIELD_CHARS);
            let key = Some(format!("disconnect {eio}"));
            text(
                "disconnect",
                format!("engine.io {eio}: the client disconnected"),
                key,
            )
        }
        EngineIo::Gone { eio } => {
            let eio = truncate(&clean(&eio), FIELD_CHARS);
            let key = Some(format!("gone {eio}"));
            text(
                "disconnect",
                format!("engine.io {eio}: no pong, client gone"),
                key,
            )
        }
        EngineIo::Warning(message) => text("warning", clean(&message), None),
    };
    record(state, h);
}

/// Whether a log line names another server's port (`port=`, as mpm-top serve writes on the
/// lines a console attributes): two servers may write one log file. A line without it (older
/// servers, Claude MPM's) is taken as the watched server's.
fn another_servers(state: &State, f: &logfields::Fields) -> bool {
    f.get("port")
        .is_some_and(|p| p.parse::<u16>().ok() != Some(state.target.port))
}

/// mpm-top serve's `client registered sid=… name=… type=…`: what a client said it is (mpm-top's
/// own clients are told apart by it).
fn registered(state: &mut State, f: &logfields::Fields) {
    if !logfields::words(&f.message).starts_with("client registered") {
        return;
    }
    if let (Some(sid), Some(kind)) = (f.get("sid"), f.get("type")) {
        super::clients::log_registered(state, sid, kind);
    }
}

/// A line from the server log: connections, tool calls, warnings and errors become rows.
pub fn from_log(state: &mut State, line: &LogLine, at: Stamp) {
    if let Some(packet) = logfields::engineio(&line.text) {
        return from_engineio(state, line, packet, at);
    }
    let name = match line.kind {
        LineKind::Connect => "connect",
        LineKind::Disconnect => "disconnect",
        LineKind::ToolStart => "tool_start",
        LineKind::ToolStop => "tool_stop",
        LineKind::Error => "error",
        LineKind::Other => "",
        LineKind::Emit | LineKind::Receive => return,
    };
    // Parsed once, and not for emits and receives (every event, at debug level): the port it
    // names, a registration, or the row's fields.
    let f = logfields::parse(&line.text);
    if another_servers(state, &f) {
        return;
    }
    if name.is_empty() {
        return registered(state, &f);
    }
    // serve writes `-` for a field the event did not have.
    let get = |k: &str| {
        f.get(k)
            .filter(|v| *v != "-")
            .map(|v| truncate(&clean(v), FIELD_CHARS))
            .unwrap_or_default()
    };
    // mpm-top serve writes `sid=…`; Claude MPM writes `Dashboard client connected: <sid>`.
    let sid = Some(get("sid"))
        .filter(|sid| !sid.is_empty() || !matches!(name, "connect" | "disconnect"))
        .or_else(|| super::clients::sid_in_words(&f.message))
        .unwrap_or_default();
    let correlation = get("correlation_id");
    let clients = get("clients");
    let counted = if clients.is_empty() {
        String::new()
    } else {
        format!(", {clients} client(s)")
    };
    let name = match (name, f.level) {
        ("error", Some(Level::Warn)) => "warning",
        (other, _) => other,
    };
    let mut call = None;
    let (summary, key) = match name {
        "connect" => {
            let transport = get("transport").to_lowercase();
            if !sid.is_empty() {
                super::clients::log_connect(state, &sid, at, f.time);
            }
            (
                format!("sid={sid} {transport}{counted}"),
                (!sid.is_empty()).then(|| format!("connect {sid}")),
            )
        }
        "disconnect" => {
            let reason = get("reason");
            if !sid.is_empty() {
                super::clients::log_disconnect(state, &sid, &reason, at, f.time);
            }
            (
                format!("sid={sid} {reason}{counted}"),
                (!sid.is_empty()).then(|| format!("disconnect {sid}")),
            )
        }
        "tool_start" | "tool_stop" => {
            let tool = get("tool");
            let status = get("status");
            let key = tool_key(name, &correlation, &get("session"), &tool);
            call = (!correlation.is_empty()).then(|| ToolCall {
                correlation,
                tool: tool.clone(),
                sent: f.time.map(|t| (LOG.to_owned(), t)),
            });
            let summary = if status.is_empty() {
                tool
            } else {
                format!("{tool} {status}")
            };
            (summary, key)
        }
        _ => (clean(&f.message), None),
    };
    if let Ok(n) = clients.parse::<u64>() {
        state.server.clients = Some(n);
    }
    record(
        state,
        Happening {
            at,
            origin: Origin::Log,
            name: name.to_owned(),
            subtype: String::new(),
            session: get("session"),
            summary: truncate(summary.trim(), SUMMARY_CHARS),
            key,
            payload: Value::String(line.text.clone()),
            tool: call,
            per_client_copy: false,
            replayed: false,
        },
    );
}

/// A `/health` result, stamped when it arrived.
pub fn health(state: &mut State, result: Result<Health, String>) {
    state.availability.push(result.is_ok());
    match result {
        Ok(h) => {
            let kind = clean(&h.kind.label());
            if state.server.kind.as_deref() != Some(&kind) {
                let line = format!("server on {}: {kind}", state.target);
                state.log(super::Level::Info, super::Topic::Probe, line);
                state.offer = None;
            }
            state.server.kind = Some(kind);
            state.server.health = clean(&truncate(&h.status, FIELD_CHARS));
            state.server.pid = h.pid;
            state.server.uptime = h.uptime_secs;
            // Claude MPM's /health has no client count: the feed's dashboard:client:count
            // then stays in force.
            if h.clients.is_some() {
                state.server.clients = h.clients;
            }
            // mpm-top serve counts the deliveries it failed: the `emit failures` alert watches
            // it rise.
            if let Some(failures) = h.raw.get("emit_failures").and_then(Value::as_u64) {
                state.alerts.emit_failures.push((state.now.mono, failures));
            }
        }
        Err(why) => {
            if state.server.kind.is_some() {
                let line = format!("server went away: {why}");
                state.log(super::Level::Warn, super::Topic::Probe, line);
            }
            state.server = super::state::ServerView {
                health: clean(&truncate(&why, 500)),
                ..Default::default()
            };
        }
    }
}

/// Tools open longer than [`LONG_TOOL_SECS`], oldest first: (tool, seconds open).
#[must_use]
pub fn long_running(state: &State) -> Vec<(String, f64)> {
    // A start replayed from history is as old as its sender says, not as its arrival.
    let age = |t: &super::state::OpenTool| {
        if t.arrival_timed {
            Some(state.now.mono - t.started.mono)
        } else {
            t.sent
                .first()
                .map(|(_, at)| super::time::seconds_between(*at, state.now.wall))
        }
    };
    let mut open: Vec<(String, f64)> = state
        .running
        .values()
        .filter_map(|t| Some((t.tool.clone(), age(t)?)))
        .filter(|(_, age)| *age >= LONG_TOOL_SECS)
        .collect();
    open.sort_by(|a, b| b.1.total_cmp(&a.1));
    open
}
