//! Socket.IO handlers: what Claude MPM's dashboard and hooks, and the guide's scripts, expect.

use crate::text::sanitize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use socketioxide::extract::{AckSender, Event, SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;
use socketioxide::{SendError, SocketError, SocketIo, TransportType};
use tracing::{debug, info};

use super::history::REPLY_BYTES;
use super::hook::{HookEvent, pass_through};
use super::state::State as ServerState;

/// The name `/health` and `dashboard:welcome` give this server, so discovery can tell it apart
/// from Claude MPM's `claude-mpm-monitor`.
pub const SERVICE: &str = "mpm-top";

/// Shared handle the handlers extract.
pub type Shared = Arc<ServerState>;

/// RFC 3339 UTC time, the shape Claude MPM's events carry.
#[must_use]
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

/// Installs the handlers on the default namespace (the only one Claude MPM uses).
pub fn register(io: &SocketIo) {
    io.ns("/", on_connect);
}

async fn on_connect(
    socket: SocketRef,
    io: SocketIo,
    transport: TransportType,
    State(state): State<Shared>,
) {
    let clients = client_count(&io);
    state.client_connected(&socket.id.to_string(), now_epoch_secs());
    // Each line a console attributes to a server names its port: two servers may share one
    // log file, and a console reading it keeps only its server's lines.
    info!(
        "connect sid={} transport={transport:?} clients={clients} port={}",
        socket.id, state.port
    );
    // Handlers first: a client that leaves (or is evicted) while the replies below wait for
    // room must still run its disconnect handler.
    socket.on("dashboard:status", on_status);
    socket.on("dashboard:ping", on_ping);
    socket.on("client:register", on_register);
    socket.on("client:list", on_list);
    socket.on("claude_event", on_claude_event);
    socket.on("hook:history:get", on_history_get);
    socket.on("test_event", on_test_event);
    socket.on("benchmark_event", on_benchmark_event);
    socket.on_fallback(on_other);
    socket.on_disconnect(on_disconnect);
    let welcome = json!({
        "message": "Connected to mpm-top monitor server",
        "session_id": socket.id.to_string(),
        "server_info": {"service": SERVICE, "version": env!("CARGO_PKG_VERSION")},
    });
    emit_to(&socket, &state, "dashboard:welcome", &welcome).await;
    // Unlike the real server, late clients get what they missed: the newest events that fit
    // one reply, so a connect storm into a full history copies a bounded amount per client.
    if state.history_len() > 0 {
        let history = state.history(usize::MAX, REPLY_BYTES);
        emit_to(&socket, &state, "event_history", &history).await;
    }
    count_changed(&io, &state);
}

async fn on_other(socket: SocketRef, Event(name): Event, State(state): State<Shared>) {
    received(&state, &name, &socket);
}

async fn on_disconnect(
    socket: SocketRef,
    io: SocketIo,
    reason: DisconnectReason,
    State(state): State<Shared>,
) {
    state.forget_client(&socket.id.to_string());
    // A full client is cut off by the heartbeat it cannot answer, or by the write it never
    // takes (`listen.rs`); a client that closed or left is not evicted.
    let cut_off = matches!(
        reason,
        DisconnectReason::HeartbeatTimeout | DisconnectReason::TransportError
    );
    state.fanout.forget(socket.id, cut_off);
    // The leaving socket is already marked closed, so the one shared count leaves it out.
    let clients = client_count(&io);
    info!(
        "disconnect sid={} reason=\"{reason}\" clients={clients} port={}",
        socket.id, state.port
    );
    count_changed(&io, &state);
}

/// `dashboard:client:count` is sent at most once per this long: every connect and disconnect
/// changes it, and a storm of 1,000 connects sent to everyone would cost ~500,000 emits.
pub const COUNT_EVERY: Duration = Duration::from_millis(100);

/// Schedules a `dashboard:client:count` broadcast, unless one is already due. The send reads the
/// count when it happens, so the last one sent is always the true value.
fn count_changed(io: &SocketIo, state: &Shared) {
    use std::sync::atomic::Ordering;
    if state.count_due.swap(true, Ordering::AcqRel) {
        return;
    }
    let (io, state) = (io.clone(), Arc::clone(state));
    tokio::spawn(async move {
        let last = *state
            .count_sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(last) = last {
            tokio::time::sleep_until((last + COUNT_EVERY).into()).await;
        }
        // Let the handler that asked finish first: a leaving socket is still listed until then.
        tokio::task::yield_now().await;
        // Cleared before the count is read: a change after this read schedules another send.
        state.count_due.store(false, Ordering::Release);
        let count = client_count(&io);
        *state
            .count_sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        broadcast(
            &io,
            &state,
            "dashboard:client:count",
            &json!({"count": count}),
        )
        .await;
    });
}

/// The event's data, or null when it had none (`42["dashboard:status"]`).
fn data_of(data: TryData<Value>) -> Value {
    data.0.unwrap_or(Value::Null)
}

fn received(state: &ServerState, name: &str, socket: &SocketRef) {
    state.record_received(name);
    // The name is the client's: escaped and quoted like every logged field (a name such as
    // `x sid=FORGED` or one holding U+2028 must stay one field on one line).
    debug!("receive event={} sid={}", logged(name), socket.id);
}

/// Answers with an emit, and with an ack too when the client asked for one.
async fn reply(
    socket: &SocketRef,
    state: &ServerState,
    ack: AckSender,
    name: &str,
    payload: &Value,
) {
    emit_to(socket, state, name, payload).await;
    // Not booked as a delivery: `send` is Ok when no ack was asked for, and an ack is not an
    // event a client could miss.
    if let Err(e) = ack.send(payload) {
        debug!("ack for {name} sid={} not sent: {e}", socket.id);
    }
}

async fn on_status(socket: SocketRef, io: SocketIo, State(state): State<Shared>) {
    received(&state, "dashboard:status", &socket);
    let status = json!({
        "service": SERVICE, "status": "running", "clients_connected": client_count(&io),
        "uptime": state.uptime_secs(),
        // A dict of flags, as Claude MPM's server sends (its dashboard reads it as one).
        "features": {"event_history": true, "heartbeat": true, "test_event": true,
            "benchmark_event": true, "dashboard": state.dashboard},
    });
    emit_to(&socket, &state, "dashboard:status:response", &status).await;
}

async fn on_ping(
    socket: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(state): State<Shared>,
) {
    received(&state, "dashboard:ping", &socket);
    let timestamp = data_of(data)
        .get("timestamp")
        .cloned()
        .unwrap_or(Value::Null);
    // A number, as Claude MPM's server sends (seconds; here since the Unix epoch).
    let pong = json!({"timestamp": timestamp, "server_time": now_epoch_secs()});
    reply(&socket, &state, ack, "dashboard:pong", &pong).await;
}

async fn on_register(socket: SocketRef, data: TryData<Value>, State(state): State<Shared>) {
    received(&state, "client:register", &socket);
    let data = data_of(data);
    let sid = socket.id.to_string();
    // Names and types are the client's text: kept short, as every field the server repeats.
    let field = |key: &str| match data.get(key) {
        Some(Value::String(s)) => Value::String(s.chars().take(LOGGED_CHARS).collect()),
        Some(other) if !other.is_null() => {
            Value::String(other.to_string().chars().take(LOGGED_CHARS).collect())
        }
        _ => Value::Null,
    };
    // What Claude MPM's server answers, defaults included.
    let short: String = sid.chars().take(8).collect();
    let or = |value: Value, default: String| {
        if value.is_null() {
            Value::String(default)
        } else {
            value
        }
    };
    let info = json!({
        "name": or(field("name"), format!("Client-{short}")),
        "type": or(field("type"), "dashboard".into()),
        "session_id": sid,
    });
    info!(
        "client registered sid={sid} name={} type={} port={}",
        logged(&info["name"].to_string()),
        logged(&info["type"].to_string()),
        state.port
    );
    state.register_client(&sid, info.clone());
    emit_to(&socket, &state, "client:registered", &info).await;
}

async fn on_list(socket: SocketRef, io: SocketIo, State(state): State<Shared>) {
    received(&state, "client:list", &socket);
    let sockets = io
        .of("/")
        .map(socketioxide::operators::BroadcastOperators::sockets)
        .unwrap_or_default();
    // Claude MPM's fields (session_id, name, type, connected_at, registered), and the
    // transport each socket uses now. `connected_at` is seconds since the Unix epoch here;
    // Claude MPM's server sends its event loop's monotonic clock.
    let clients: Vec<Value> = sockets
        .iter()
        .map(|s| {
            let sid = s.id.to_string();
            let mut info = state
                .client_info(&sid)
                .unwrap_or_else(|| json!({"session_id": sid}));
            info["transport"] = json!(format!("{:?}", s.transport_type()).to_lowercase());
            info
        })
        .collect();
    let total = clients.len();
    emit_to(
        &socket,
        &state,
        "client:list:response",
        &json!({"clients": clients, "total": total}),
    )
    .await;
}

async fn on_claude_event(
    socket: SocketRef,
    io: SocketIo,
    data: TryData<Value>,
    State(state): State<Shared>,
) {
    received(&state, "claude_event", &socket);
    // As Claude MPM's server does: passed through (its own fields kept, defaults only for what
    // is missing), kept in the history, and sent to all as `hook:event` and `claude_event`.
    let event = pass_through(&data_of(data), now_epoch_secs());
    state.record_event("claude_event", &event);
    broadcast(&io, &state, "hook:event", &event).await;
    broadcast(&io, &state, "claude_event", &event).await;
}

async fn on_history_get(socket: SocketRef, data: TryData<Value>, State(state): State<Shared>) {
    received(&state, "hook:history:get", &socket);
    let limit = data_of(data)
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(100);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    // Each answer is a copy of up to 1 MiB in this client's queue: a client asking in a loop
    // while reading nothing would hold gigabytes. One full answer per second; in between, an
    // empty one that says why.
    if !state.fanout.history_turn(socket.id) {
        let response = json!({"events": [], "total": 0, "filters": {"limit": limit},
            "error": format!("one history answer per client per {HISTORY_EVERY:?}: ask again later")});
        return emit_to(&socket, &state, "hook:history:response", &response).await;
    }
    let mut history = state.history(limit, REPLY_BYTES);
    let events = history["events"].take();
    let response =
        json!({"events": events, "total": history["count"], "filters": {"limit": limit}});
    emit_to(&socket, &state, "hook:history:response", &response).await;
}

async fn on_test_event(
    socket: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(state): State<Shared>,
) {
    received(&state, "test_event", &socket);
    let response =
        json!({"received": data_of(data), "server_time": now_rfc3339(), "service": SERVICE});
    reply(&socket, &state, ack, "test_response", &response).await;
}

/// The guide's benchmark computes latency from the echoed `timestamp`, so the payload goes back
/// exactly as it came.
async fn on_benchmark_event(
    socket: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(state): State<Shared>,
) {
    received(&state, "benchmark_event", &socket);
    reply(&socket, &state, ack, "benchmark_response", &data_of(data)).await;
}

/// Logs, records and broadcasts one hook event (from HTTP or a socket).
pub async fn ingest(io: &SocketIo, state: &ServerState, event: &HookEvent) {
    // Every field is the poster's text: a newline in a tool name would forge a log line, an
    // escape sequence would drive the terminal of whoever reads the log, a space and `=` a
    // field of its own (`tool=x correlation_id=y`).
    let field = |name| logged(event.text(name).unwrap_or("-"));
    let tool = logged(event.tool_name().unwrap_or("-"));
    let status = logged(event.payload["data"]["status"].as_str().unwrap_or("-"));
    match event.subtype() {
        "pre_tool" => info!(
            "tool_start tool={tool} correlation_id={} session={} (pre_tool) port={}",
            field("correlation_id"),
            field("session_id"),
            state.port
        ),
        "post_tool" => info!(
            "tool_stop tool={tool} correlation_id={} session={} status={status} (post_tool) port={}",
            field("correlation_id"),
            field("session_id"),
            state.port
        ),
        other => info!(
            "hook event={} subtype={} session={} port={}",
            event.name,
            logged(other),
            field("session_id"),
            state.port
        ),
    }
    state.record_event(event.name, &event.payload);
    broadcast(io, state, event.name, &event.payload).await;
}

/// The longest value a log line carries, in characters: a poster's 100,000-character subtype
/// had written a 100 KB line, and with posts of up to 1 MiB the log (never truncated) was a
/// way to fill the disk.
pub const LOGGED_CHARS: usize = 200;

/// A value for a `key=value` log field: cut to [`LOGGED_CHARS`], sanitised, and in double
/// quotes (with any `"` inside made `'`) when it holds a space, `=` or a quote, so it stays
/// one field.
#[must_use]
pub fn logged(value: &str) -> String {
    let cut = crate::text::truncate(value, LOGGED_CHARS);
    let clean = sanitize(&cut);
    if clean.contains([' ', '=', '"']) || clean.is_empty() {
        format!("\"{}\"", clean.replace('"', "'"))
    } else {
        clean.into_owned()
    }
}

/// Connected clients, not counting those already closing; 0 once the server is shutting down
/// (`io.sockets()` would panic then). `/health`, heartbeats and `dashboard:client:count` all
/// use this one count.
#[must_use]
pub fn client_count(io: &SocketIo) -> usize {
    io.of("/").map_or(0, |ns| {
        ns.sockets().iter().filter(|s| s.connected()).count()
    })
}

/// Emits to every client; what a live client did not get is counted (see [`super::fanout`]).
pub async fn broadcast(io: &SocketIo, state: &ServerState, name: &str, payload: &Value) {
    state.fanout.broadcast(io, name, payload).await;
}

/// Seconds since the Unix epoch, with fractions: the number Claude MPM's server sends as
/// `server_time`.
#[must_use]
pub fn now_epoch_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A client gets at most one full `hook:history:response` per this long.
pub const HISTORY_EVERY: Duration = Duration::from_secs(1);

/// How long a direct reply waits for room in a client's full queue before it is given up.
const REPLY_PATIENCE: Duration = Duration::from_secs(1);

/// Emits to one client. A full queue means the client is reading slower than it asks: the
/// reply waits for room (only this client's handler waits) instead of being dropped, and is
/// given up, counted, only after [`REPLY_PATIENCE`]. A client's waiting replies take turns
/// (only one polls for room, with back-off), and a client already known to be full gets no
/// wait at all: one that floods requests while reading nothing must not busy the server. A
/// client that is leaving loses nothing.
pub async fn emit_to(socket: &SocketRef, state: &ServerState, name: &str, payload: &Value) {
    debug!("emit event={name} sid={}", socket.id);
    let first = socket.emit(name, payload);
    let full = matches!(
        first,
        Err(SendError::Socket(SocketError::InternalChannelFull))
    );
    if !full || state.fanout.is_backlogged(socket.id) {
        return state.fanout.note_reply(socket, name, first);
    }
    let deadline = tokio::time::Instant::now() + REPLY_PATIENCE;
    let turn = state.fanout.reply_turn(socket.id);
    let Ok(_turn) = tokio::time::timeout_at(deadline, turn.lock()).await else {
        return state.fanout.note_reply(socket, name, first);
    };
    let mut pause = Duration::from_millis(1);
    let result = loop {
        match socket.emit(name, payload) {
            Err(SendError::Socket(SocketError::InternalChannelFull))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            result => break result,
        }
    };
    state.fanout.note_reply(socket, name, result);
}

#[cfg(test)]
mod tests {
    use super::logged;

    #[test]
    fn a_logged_value_stays_one_field_on_one_line() {
        assert_eq!(logged("Bash"), "Bash");
        assert_eq!(logged("x correlation_id=y"), "\"x correlation_id=y\"");
        assert_eq!(logged("a\nb \"q\""), "\"a\\nb 'q'\"");
        assert_eq!(logged(""), "\"\"");
        let long = logged(&"x".repeat(100_000));
        assert_eq!(
            long.chars().count(),
            super::LOGGED_CHARS + 1,
            "cut, with its …"
        );
    }
}
