//! What one server log line says: its own timestamp, its level, its message, and the
//! `key=value` fields in it. Two formats are read:
//!
//! - mpm-top serve (tracing): `2026-11-26T03:09:33.123456Z  INFO connect sid=X transport=Websocket clients=2`
//! - Python logging, as Claude MPM writes it: `2026-11-26 03:09:33,123 - name - INFO - message`
//!
//! Anything else still gives its text as the message.
//!
//! Claude MPM's daemon log holds neither: its own loggers are silenced in a real install, and
//! what the file gets is python-engineio's and python-socketio's packet log, bare lines with
//! no time and no level (`<eio sid>: Sending packet MESSAGE data 2["tool_event",{…}]`).
//! [`engineio`] reads those.

use chrono::{DateTime, FixedOffset};

use crate::app::time::sender_time;

/// A line's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// DEBUG or TRACE.
    Debug,
    /// INFO.
    Info,
    /// WARN or WARNING.
    Warn,
    /// ERROR or CRITICAL.
    Error,
}

/// A parsed line.
#[derive(Clone, Debug, PartialEq)]
pub struct Fields {
    /// The time the server wrote in the line.
    pub time: Option<DateTime<FixedOffset>>,
    /// Its level, when it has one.
    pub level: Option<Level>,
    /// The text after the time, level and logger name.
    pub message: String,
    /// `key=value` and `key="quoted value"` pairs of the message, in order.
    pub pairs: Vec<(String, String)>,
}

impl Fields {
    /// The value of `key`, if the message has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn level_of(word: &str) -> Option<Level> {
    match word {
        "TRACE" | "DEBUG" => Some(Level::Debug),
        "INFO" => Some(Level::Info),
        "WARN" | "WARNING" => Some(Level::Warn),
        "ERROR" | "CRITICAL" | "FATAL" => Some(Level::Error),
        _ => None,
    }
}

/// Reads one line.
#[must_use]
pub fn parse(line: &str) -> Fields {
    let line = line.trim_end();
    let (time, rest) = leading_time(line);
    let (level, message) = level_and_message(rest);
    Fields {
        time,
        level,
        pairs: pairs(message),
        message: message.to_owned(),
    }
}

/// `2026-11-26T03:09:33.1Z rest` or `2026-11-26 03:09:33,123 rest`.
fn leading_time(line: &str) -> (Option<DateTime<FixedOffset>>, &str) {
    let mut words = line.splitn(3, ' ');
    let first = words.next().unwrap_or_default();
    if let Some(t) = sender_time(&serde_json::Value::String(first.to_owned())) {
        return (Some(t), line[first.len()..].trim_start());
    }
    if let Some(second) = words.next() {
        let both = format!("{first} {second}");
        if let Some(t) = sender_time(&serde_json::Value::String(both.clone())) {
            return (Some(t), line[both.len()..].trim_start());
        }
    }
    (None, line)
}

/// `INFO message`, or Python's `- name - INFO - message`.
fn level_and_message(rest: &str) -> (Option<Level>, &str) {
    let rest = rest.trim_start_matches(['-', ' ']);
    // tracing: the level is the first word.
    let first = rest.split_whitespace().next().unwrap_or_default();
    if let Some(level) = level_of(first) {
        return (Some(level), rest[first.len()..].trim_start());
    }
    // Python logging: "name - LEVEL - message", or "[LEVEL] message".
    let parts: Vec<&str> = rest.splitn(3, " - ").collect();
    for (i, part) in parts.iter().enumerate().take(2) {
        if let Some(level) = level_of(part.trim().trim_matches(['[', ']'])) {
            let message = parts[i + 1..].join(" - ");
            let start = rest.len() - message.len();
            return (Some(level), rest[start..].trim_start());
        }
    }
    (None, rest)
}

/// `key=value` pairs; a value in double quotes may hold spaces.
fn pairs(message: &str) -> Vec<(String, String)> {
    split(message).0
}

/// The message's own words: the text with every pair's value taken out. Values are what a
/// sender chose (a tool name, a subtype); what the line is about is said outside them.
#[must_use]
pub fn words(message: &str) -> String {
    split(message).1
}

/// The pairs of `message`, and the text outside their values. A quoted value ends at its next
/// `"`: serve writes none inside a value (`serve::socket::logged` makes them `'`).
fn split(message: &str) -> (Vec<(String, String)>, String) {
    let mut out = Vec::new();
    let mut words = String::new();
    let mut rest = message;
    while let Some(eq) = rest.find('=') {
        let key_start = rest[..eq]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let key = &rest[key_start..eq];
        let after = &rest[eq + 1..];
        words.push_str(&rest[..=eq]);
        let (value, used) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], (end + 2).min(after.len()))
        } else {
            let end = after
                .find(|c: char| c.is_whitespace() || c == ',')
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if !key.is_empty() {
            out.push((key.to_owned(), value.to_owned()));
        }
        rest = &after[used..];
    }
    words.push_str(rest);
    (out, words)
}

/// What a line of python-engineio's packet log says.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineIo {
    /// The server sent a Socket.IO event (one line per recipient).
    Event {
        /// Event name.
        name: String,
        /// Its first argument.
        data: serde_json::Value,
    },
    /// The server acked a Socket.IO connect: the client's Socket.IO sid.
    Connected {
        /// The Socket.IO sid (what `dashboard:welcome` names).
        sid: String,
    },
    /// The client sent a Socket.IO disconnect on this Engine.IO session.
    Disconnected {
        /// The Engine.IO session.
        eio: String,
    },
    /// The server gave up on a client that stopped answering pings.
    Gone {
        /// The Engine.IO session.
        eio: String,
    },
    /// A warning python-engineio logs.
    Warning(String),
}

/// Reads a python-engineio packet-log line; None for every other line (pings, upgrades, …).
#[must_use]
pub fn engineio(line: &str) -> Option<EngineIo> {
    if line.starts_with("The client is using an unsupported version") {
        return Some(EngineIo::Warning(line.trim().to_owned()));
    }
    let (eio, rest) = line.split_once(": ")?;
    if eio.is_empty() || eio.contains(' ') {
        return None;
    }
    if let Some(packet) = rest.strip_prefix("Sending packet MESSAGE data ") {
        if let Some(event) = packet.strip_prefix('2') {
            let value: serde_json::Value = serde_json::from_str(event.trim()).ok()?;
            let name = value.get(0)?.as_str()?.to_owned();
            let data = value.get(1).cloned().unwrap_or_default();
            return Some(EngineIo::Event { name, data });
        }
        let ack: serde_json::Value = serde_json::from_str(packet.strip_prefix('0')?).ok()?;
        let sid = ack.get("sid")?.as_str()?.to_owned();
        return Some(EngineIo::Connected { sid });
    }
    let eio = eio.to_owned();
    match rest.trim_end() {
        "Received packet MESSAGE data 1" => Some(EngineIo::Disconnected { eio }),
        "Client is gone, closing socket" => Some(EngineIo::Gone { eio }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_servers_packet_log() {
        let event = engineio(
            r#"TTJvUspRCmvcPNIOAAAA: Sending packet MESSAGE data 2["tool_event",{"type":"tool_event","subtype":"pre_tool","correlation_id":"c-1"}]"#,
        );
        let Some(EngineIo::Event { name, data }) = event else {
            panic!("{event:?}");
        };
        assert_eq!(
            (name.as_str(), &data["correlation_id"]),
            ("tool_event", &serde_json::json!("c-1"))
        );
        assert_eq!(
            engineio(
                r#"TTJvUspRCmvcPNIOAAAA: Sending packet MESSAGE data 0{"sid":"ZmfUMfZPpQEfcHNlAAAB"}"#
            ),
            Some(EngineIo::Connected {
                sid: "ZmfUMfZPpQEfcHNlAAAB".into()
            })
        );
        assert_eq!(
            engineio("cFjWlZhvMc4qx8YMAAAC: Received packet MESSAGE data 1"),
            Some(EngineIo::Disconnected {
                eio: "cFjWlZhvMc4qx8YMAAAC".into()
            })
        );
        assert_eq!(
            engineio("ARkq_QMy0un4SsDMAAAC: Client is gone, closing socket"),
            Some(EngineIo::Gone {
                eio: "ARkq_QMy0un4SsDMAAAC".into()
            })
        );
        for other in [
            "Server initialized for aiohttp.",
            "emitting event \"tool_event\" to all [/]",
            "TTJvUspRCmvcPNIOAAAA: Sending packet PING data None",
            "TTJvUspRCmvcPNIOAAAA: Sending packet MESSAGE data 2[not json",
            "2026-11-26T03:09:33Z  INFO connect sid=AbC transport=Websocket clients=2",
        ] {
            assert_eq!(engineio(other), None, "{other}");
        }
    }

    #[test]
    fn a_serve_connect_line() {
        let f = parse(
            "2026-11-26T03:09:33.123456Z  INFO connect sid=AbC transport=Websocket clients=2",
        );
        assert!(f.time.is_some());
        assert_eq!(f.level, Some(Level::Info));
        assert_eq!(f.message, "connect sid=AbC transport=Websocket clients=2");
        assert_eq!(f.get("sid"), Some("AbC"));
        assert_eq!(f.get("transport"), Some("Websocket"));
        assert_eq!(f.get("clients"), Some("2"));
    }

    #[test]
    fn a_quoted_reason_keeps_its_spaces() {
        let f = parse(
            "2026-11-26T03:09:33Z  INFO disconnect sid=x reason=\"client namespace disconnect\" clients=0",
        );
        assert_eq!(f.get("reason"), Some("client namespace disconnect"));
        assert_eq!(f.get("clients"), Some("0"));
    }

    #[test]
    fn a_quoted_value_cannot_forge_a_field() {
        let f = parse(
            "2026-11-26T03:09:33Z  INFO tool_start tool=\"x correlation_id=fake\" correlation_id=real session=s",
        );
        assert_eq!(f.get("tool"), Some("x correlation_id=fake"));
        assert_eq!(f.get("correlation_id"), Some("real"));
    }

    #[test]
    fn a_python_logging_line() {
        let f = parse(
            "2026-11-26 03:09:33,123 - claude_mpm.services.monitor.server - WARNING - Client gone - again",
        );
        assert!(f.time.is_some());
        assert_eq!(f.level, Some(Level::Warn));
        assert_eq!(f.message, "Client gone - again");
    }

    #[test]
    fn junk_is_its_own_message() {
        let f = parse("\u{fffd}\u{fffd} binary junk");
        assert_eq!((f.time, f.level), (None, None));
        assert_eq!(f.message, "\u{fffd}\u{fffd} binary junk");
        assert!(parse("a=").pairs == [("a".to_owned(), String::new())]);
    }
}
