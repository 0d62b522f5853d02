//! Who is connected to the watched server, and who left. Both servers answer `client:list`
//! (the feed asks when `dashboard:client:count` changes, at most once a second); a sid that a
//! new answer no longer holds has left. mpm-top serve's log also says each connect and each
//! disconnect with its reason, so a client that came and went between two answers is still
//! seen, and a departure gets its reason. Claude MPM's log gives no reason.

use serde_json::Value;

use super::log::{Level, Topic};
use super::state::{Ring, State};
use super::time::Stamp;
use crate::checks::alerts::SHORT_LIVED_SECS;
use crate::text::{clean, truncate};

/// Departures kept for the Clients view.
pub const DEPARTURES: usize = 100;
/// Clients of one answer kept; a longer list is cut (the total still says how many).
pub const MAX_LISTED: usize = 1000;
/// Connects seen in the log and not yet in a list, kept for the lifetime of their departure.
const ARRIVALS: usize = 1000;
/// Flapping departures kept for the reconnect-storm alert (it counts the last minute).
const FLAPS: usize = 10_000;
/// The longest text kept of a client's fields.
const FIELD_CHARS: usize = 64;
/// The type mpm-top's own clients (consoles, `mpm-top clients`) register as: they are not the
/// clients the user is waiting on, and their short visits are not flapping.
pub const OWN_TYPE: &str = "mpm-top";

/// What mpm-top's clients send as `client:register`.
#[must_use]
pub fn registration(name: &str) -> Value {
    serde_json::json!({"name": name, "type": OWN_TYPE})
}

/// A connected client, as the last `client:list` answer described it.
#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    /// Its Socket.IO session id.
    pub sid: String,
    /// What it registered as (Claude MPM names an unregistered one `Client-<sid>`).
    pub name: String,
    /// Its type (`dashboard`, `unknown`, …).
    pub kind: String,
    /// Its transport now, where the server says (mpm-top serve does; Claude MPM does not).
    pub transport: String,
    /// When it connected, on the console's clock; None when the server's time cannot be read
    /// here (Claude MPM's is its own monotonic clock: only a server on this machine shares it).
    pub connected: Option<Stamp>,
    /// This console's own feed.
    pub own: bool,
}

/// A client that left.
#[derive(Clone, Debug, PartialEq)]
pub struct Departure {
    /// Its session id.
    pub sid: String,
    /// Its name, when a list had named it.
    pub name: String,
    /// When it left (the log's line, else the answer that no longer held it).
    pub left: Stamp,
    /// How long it lived, seconds, when its connect is known.
    pub lived: Option<f64>,
    /// `lived` is at most this: the departure was seen as a list that no longer held it, not
    /// as the server's line, so it left at some time between that list and the one before.
    pub lived_at_most: bool,
    /// Why, where the server's log says.
    pub reason: Option<String>,
    /// Its type, when a list or the log named it.
    pub kind: String,
}

impl Departure {
    /// It lived under [`SHORT_LIVED_SECS`] and was not one of mpm-top's own: the guide's
    /// "connects then immediately disconnects".
    #[must_use]
    pub fn flapped(&self) -> bool {
        self.lived.is_some_and(|l| l < SHORT_LIVED_SECS) && self.kind != OWN_TYPE
    }
}

/// A connect the server's log told of.
#[derive(Clone, Debug, PartialEq)]
struct Arrival {
    sid: String,
    read: Stamp,
    written: Option<Written>,
    kind: Option<String>,
}

/// When the server says it wrote a line.
type Written = chrono::DateTime<chrono::FixedOffset>;

/// The Clients view's facts.
#[derive(Clone, Debug)]
pub struct Clients {
    /// The last answer's clients (at most [`MAX_LISTED`]).
    pub list: Vec<Client>,
    /// When that answer came.
    pub listed: Option<Stamp>,
    /// How many clients the answer counted.
    pub total: u64,
    /// The last [`DEPARTURES`] departures, oldest first.
    pub departures: Ring<Departure>,
    /// When flapping clients left (console seconds), for the reconnect-storm alert.
    pub flaps: Ring<f64>,
    /// This console's sid on the server (from `dashboard:welcome`).
    pub own_sid: Option<String>,
    /// Connects the log told of: sid, when read, transport, and when the server wrote it.
    arrivals: Ring<Arrival>,
}

impl Default for Clients {
    fn default() -> Clients {
        Clients {
            list: Vec::new(),
            listed: None,
            total: 0,
            departures: Ring::new(DEPARTURES),
            flaps: Ring::new(FLAPS),
            own_sid: None,
            arrivals: Ring::new(ARRIVALS),
        }
    }
}

impl Clients {
    /// Clients connected besides mpm-top's own (this console, other consoles, `mpm-top
    /// clients`), by the last answer.
    #[must_use]
    pub fn others(&self) -> usize {
        self.list
            .iter()
            .filter(|c| !c.own && c.kind != OWN_TYPE)
            .count()
    }

    /// Forgets the last answer (the feed lost the server: nobody is known to be connected).
    pub fn forget_list(&mut self) {
        self.list.clear();
        self.total = 0;
        self.listed = None;
    }

    /// The type `sid` registered as, by the list or the log.
    fn kind_of(&self, sid: &str) -> String {
        self.list
            .iter()
            .find(|c| c.sid == sid)
            .map(|c| c.kind.clone())
            .or_else(|| self.arrival(sid).and_then(|a| a.kind.clone()))
            .unwrap_or_default()
    }

    fn connected_at(&self, sid: &str) -> Option<Stamp> {
        self.list
            .iter()
            .find(|c| c.sid == sid)
            .and_then(|c| c.connected)
            .or_else(|| self.arrival(sid).map(|a| a.read))
    }

    fn arrival(&self, sid: &str) -> Option<&Arrival> {
        self.arrivals.iter().rev().find(|a| a.sid == sid)
    }
}

fn text(value: &Value) -> String {
    let raw = match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    truncate(&clean(&raw), FIELD_CHARS)
}

/// When a client connected, on the console's clock, from the server's `connected_at`:
/// seconds since the Unix epoch (mpm-top serve), or the server's monotonic clock (Claude
/// MPM: asyncio's loop time), which only a server on this machine shares with `boot`, this
/// machine's monotonic clock when the answer arrived.
fn connected_stamp(value: &Value, at: Stamp, boot: Option<f64>) -> Option<Stamp> {
    let v = value.as_f64().filter(|v| v.is_finite() && *v >= 0.0)?;
    // Epoch seconds are past 1e9 since 2001; a monotonic clock that high is 31 years of uptime.
    #[allow(clippy::cast_precision_loss)] // epoch milliseconds fit an f64 exactly
    let ago = if v > 1e9 {
        at.wall.timestamp_millis() as f64 / 1000.0 - v
    } else {
        boot? - v
    };
    // A clock a little ahead (another machine's epoch) is "just now"; one absurdly far off
    // (a lying server) is unknown.
    if !(-5.0..=10.0 * 365.0 * 86_400.0).contains(&ago) {
        return None;
    }
    let ago = ago.max(0.0);
    #[allow(clippy::cast_possible_truncation)] // bounded above
    let shift = chrono::Duration::microseconds((ago * 1e6) as i64);
    Some(Stamp {
        mono: at.mono - ago,
        wall: at.wall - shift,
    })
}

/// A `client:list:response` that arrived at `at`. `boot`: this machine's monotonic clock then,
/// when the server is on this machine.
pub fn listed(state: &mut State, data: &Value, at: Stamp, boot: Option<f64>) {
    let Some(items) = data.get("clients").and_then(Value::as_array) else {
        state.log(
            Level::Warn,
            Topic::Feed,
            "client:list answered without a clients list",
        );
        return;
    };
    let own = state.clients.own_sid.clone();
    let is_own =
        |c: &&Value| own.is_some() && c.get("session_id").or_else(|| c.get("sid")).map(text) == own;
    // This console's own row first, wherever the server listed it: a cut list still shows it.
    let list: Vec<Client> = items
        .iter()
        .filter(is_own)
        .take(1)
        .chain(items.iter().filter(|c| !is_own(c)))
        .take(MAX_LISTED)
        .filter_map(|c| {
            let sid = text(c.get("session_id").or_else(|| c.get("sid"))?);
            Some(Client {
                own: own.as_deref() == Some(sid.as_str()),
                name: text(c.get("name").unwrap_or(&Value::Null)),
                kind: text(c.get("type").unwrap_or(&Value::Null)),
                transport: text(c.get("transport").unwrap_or(&Value::Null)),
                connected: connected_stamp(c.get("connected_at").unwrap_or(&Value::Null), at, boot),
                sid,
            })
        })
        .collect();
    // A list cut at MAX_LISTED says nothing of who left: a client missing from it may only
    // have been listed past the cut (a server may list in any order).
    let whole = items.len() <= MAX_LISTED && state.clients.list.len() < MAX_LISTED;
    let gone: Vec<Client> = state
        .clients
        .list
        .iter()
        .filter(|old| whole && !list.iter().any(|c| c.sid == old.sid))
        .cloned()
        .collect();
    for client in gone {
        departed(
            state,
            &client.sid,
            (Some(client.name.clone()), None),
            None,
            at,
        );
    }
    let clients = &mut state.clients;
    clients.total = data
        .get("total")
        .and_then(Value::as_u64)
        .unwrap_or(list.len() as u64);
    clients.list = list;
    clients.listed = Some(at);
}

/// This console's own session on the server, from `dashboard:welcome`.
pub fn welcomed(state: &mut State, data: &Value) {
    if let Some(sid) = data.get("session_id").filter(|s| s.is_string()) {
        state.clients.own_sid = Some(text(sid));
    }
}

/// The sid in Claude MPM's log lines (`Dashboard client connected: <sid>`), which carry no
/// `sid=` field.
#[must_use]
pub fn sid_in_words(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("connected: ")?;
    let sid = rest.split_whitespace().next()?;
    Some(truncate(&clean(sid), FIELD_CHARS))
}

/// A connect the server's log told of: read at `at`, written at `written` by the server's
/// clock, when the line says.
pub fn log_connect(state: &mut State, sid: &str, at: Stamp, written: Option<Written>) {
    state.clients.arrivals.push(Arrival {
        sid: sid.to_owned(),
        read: at,
        written,
        kind: None,
    });
}

/// A registration the server's log told of (`client registered sid=… type=…`).
pub fn log_registered(state: &mut State, sid: &str, kind: &str) {
    let kind = truncate(
        &clean(kind.trim_matches(|c| c == '\'' || c == '"')),
        FIELD_CHARS,
    );
    if let Some(a) = state
        .clients
        .arrivals
        .iter_mut()
        .rev()
        .find(|a| a.sid == sid)
    {
        a.kind = Some(kind);
    }
}

/// A disconnect the server's log told of, with its reason. When both its line and its
/// connect's carry the server's time, the lifetime is measured on that clock: two lines read
/// in one go are milliseconds apart when written.
pub fn log_disconnect(
    state: &mut State,
    sid: &str,
    reason: &str,
    at: Stamp,
    written: Option<Written>,
) {
    let reason = (!reason.is_empty()).then(|| reason.to_owned());
    let lived = state
        .clients
        .arrival(sid)
        .and_then(|a| a.written)
        .zip(written)
        .map(|(connected, left)| super::time::seconds_between(connected, left).max(0.0));
    departed(state, sid, (None, lived), reason, at);
}

/// Books a departure once: a list that no longer holds a sid and the log's line about it are
/// the same departure (the log's time, lifetime and reason win, being the server's own word).
/// `(name, lived)`: its name when a list named it; its lifetime by the server's clock, when
/// the log gave both ends.
fn departed(
    state: &mut State,
    sid: &str,
    (name, written_lived): (Option<String>, Option<f64>),
    reason: Option<String>,
    at: Stamp,
) {
    let from_log = name.is_none();
    let connected = state.clients.connected_at(sid);
    let kind = state.clients.kind_of(sid);
    let clients = &mut state.clients;
    if let Some(known) = clients.departures.iter_mut().rev().find(|d| d.sid == sid) {
        if from_log {
            known.reason = reason.or(known.reason.take());
            if at.mono < known.left.mono {
                let earlier = known.left.mono - at.mono;
                known.lived = known.lived.map(|l| (l - earlier).max(0.0));
                known.left = at;
            }
            // The server's own line says when it left: no longer only a bound.
            known.lived = written_lived.or(known.lived);
            known.lived_at_most = false;
        }
        return;
    }
    let departure = Departure {
        sid: sid.to_owned(),
        name: name.unwrap_or_default(),
        left: at,
        lived: written_lived.or_else(|| connected.map(|c| (at.mono - c.mono).max(0.0))),
        lived_at_most: !from_log,
        reason,
        kind,
    };
    if departure.flapped() {
        clients.flaps.push(at.mono);
    }
    clients.departures.push(departure);
}

#[cfg(test)]
mod tests;
