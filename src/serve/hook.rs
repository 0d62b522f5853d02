//! Hook events as Claude MPM's monitor handles them: the category an event is re-emitted under,
//! and the payload shape its dashboard expects (see the protocol notes, "Event ingestion").

use serde_json::{Map, Value, json};

/// The event name a subtype is broadcast under, as the real server maps it.
#[must_use]
pub fn category(subtype: &str) -> &'static str {
    match subtype {
        "pre_tool" | "post_tool" | "tool.start" | "tool.end" | "tool_use" | "tool_result" => {
            "tool_event"
        }
        "subagent_start" | "subagent_stop" | "todo_updated" => "hook_event",
        "session.started"
        | "session.ended"
        | "session_start"
        | "session_end"
        | "token_usage_updated" => "session_event",
        "response.start" | "response.end" | "response_started" | "response_ended" => {
            "response_event"
        }
        "agent.delegated" | "agent.returned" | "agent_start" | "agent_end" => "agent_event",
        "file.read" | "file.write" | "file.edit" | "file_read" | "file_write" => "file_event",
        "system_ready" | "system_shutdown" => "system_event",
        _ => "claude_event",
    }
}

/// A hook event ready to broadcast: its event name and payload.
#[derive(Clone, Debug, PartialEq)]
pub struct HookEvent {
    /// The category event name (`tool_event`, ...).
    pub name: &'static str,
    /// `{"type","subtype","data","timestamp","session_id","source","correlation_id"?,"cwd"?}`.
    pub payload: Value,
}

impl HookEvent {
    /// The subtype (`pre_tool`, ...).
    #[must_use]
    pub fn subtype(&self) -> &str {
        self.payload["subtype"].as_str().unwrap_or_default()
    }

    /// A field of the payload as text, when present and a string.
    #[must_use]
    pub fn text(&self, field: &str) -> Option<&str> {
        self.payload[field].as_str()
    }

    /// The tool name of a tool event.
    #[must_use]
    pub fn tool_name(&self) -> Option<&str> {
        self.payload["data"]["tool_name"].as_str()
    }
}

/// Why a posted body is not a hook event.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The body is JSON but not an object.
    #[error("expected a JSON object with an event (the hook wrapper), got {0}")]
    NotAnObject(&'static str),
}

/// Normalizes what a hook posts (the `{"namespace","event","data":{…}}` wrapper, or the inner
/// event alone) into the payload the real server broadcasts. `now` fills a missing timestamp.
///
/// # Errors
/// When the body is not a JSON object.
pub fn normalize(body: &Value, now: &str) -> Result<HookEvent, HookError> {
    let outer = body.as_object().ok_or(HookError::NotAnObject(kind(body)))?;
    // The wrapper carries the event in `data`; a bare event is its own inner object.
    let inner = match outer.get("data") {
        Some(Value::Object(d)) if is_wrapper(outer, d) => d,
        _ => outer,
    };
    let data = match inner.get("data") {
        Some(Value::Object(d)) => d.clone(),
        _ => Map::new(),
    };
    let field = |name: &str| pick(inner, &data, name);
    let subtype = ["subtype", "type", "event"]
        .iter()
        .find_map(|k| inner.get(*k).and_then(Value::as_str))
        .unwrap_or("unknown")
        .to_owned();
    let name = category(&subtype);
    let mut payload = json!({
        "type": name,
        "subtype": subtype,
        "data": data,
        "timestamp": field("timestamp").unwrap_or_else(|| Value::String(now.to_owned())),
        "session_id": field("session_id").unwrap_or(Value::Null),
        "source": field("source").unwrap_or_else(|| Value::String("hook".into())),
    });
    for optional in ["correlation_id", "cwd"] {
        if let Some(v) = field(optional) {
            payload[optional] = v;
        }
    }
    Ok(HookEvent { name, payload })
}

/// A `claude_event` a client emitted, as Claude MPM's server re-broadcasts it
/// (`_process_claude_event`): the sender's fields kept, defaults only for missing ones, and the
/// original under `original_event`. `now` is the server's time in seconds.
#[must_use]
pub fn pass_through(data: &Value, now: f64) -> Value {
    let get = |key: &str| data.get(key).cloned();
    let or = |key: &str, default: Value| get(key).unwrap_or(default);
    json!({
        "type": or("type", json!("hook")),
        "subtype": or("subtype", json!("unknown")),
        "timestamp": or("timestamp", json!(now)),
        "session_id": or("session_id", Value::Null),
        "source": or("source", json!("claude_hooks")),
        "data": or("data", json!({})),
        "metadata": or("metadata", json!({})),
        "processed_at": now,
        "correlation_id": or("correlation_id", Value::Null),
        "cwd": or("cwd", Value::Null),
        "event": or("event", Value::Null),
        "original_event": data.clone(),
    })
}

fn is_wrapper(outer: &Map<String, Value>, data: &Map<String, Value>) -> bool {
    outer.contains_key("namespace")
        || outer.get("event").and_then(Value::as_str) == Some("claude_event")
        || data.contains_key("subtype")
}

/// A field from the event, else from its innermost `data`; nulls count as absent.
fn pick(inner: &Map<String, Value>, data: &Map<String, Value>, name: &str) -> Option<Value> {
    [inner.get(name), data.get(name)]
        .into_iter()
        .flatten()
        .find(|v| !v.is_null())
        .cloned()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-25T00:00:00Z";

    #[test]
    fn the_hook_wrapper_becomes_a_tool_event_with_correlation() {
        let body = json!({"namespace": "", "event": "claude_event", "data": {
            "event": "mpm_event", "source": "hook", "type": "hook", "subtype": "pre_tool",
            "timestamp": "2026-11-25T19:10:00+00:00", "session_id": "s-1", "correlation_id": "c-1",
            "cwd": "/home/me/proj", "data": {"tool_name": "Bash", "tool_parameters": {"command": "ls"}}}});
        let e = normalize(&body, NOW).unwrap();
        assert_eq!(e.name, "tool_event");
        assert_eq!(
            e.payload,
            json!({"type": "tool_event", "subtype": "pre_tool",
                "data": {"tool_name": "Bash", "tool_parameters": {"command": "ls"}},
                "timestamp": "2026-11-25T19:10:00+00:00", "session_id": "s-1", "source": "hook",
                "correlation_id": "c-1", "cwd": "/home/me/proj"})
        );
        assert_eq!(e.tool_name(), Some("Bash"));
    }

    #[test]
    fn fields_fall_back_to_the_inner_data_and_gaps_are_tolerated() {
        let body = json!({"event": "claude_event", "data": {"subtype": "subagent_start",
            "data": {"session_id": "s-2", "timestamp": 1.5, "agent_type": "engineer"}}});
        let e = normalize(&body, NOW).unwrap();
        assert_eq!(e.name, "hook_event");
        assert_eq!(e.payload["session_id"], "s-2");
        assert_eq!(e.payload["timestamp"], 1.5);
        assert_eq!(e.payload["source"], "hook");
        let bare = normalize(&json!({"subtype": "user_prompt"}), NOW).unwrap();
        assert_eq!(bare.name, "claude_event");
        assert_eq!(bare.payload["session_id"], Value::Null);
        assert_eq!(bare.payload["timestamp"], NOW);
        assert_eq!(bare.payload["data"], json!({}));
    }

    #[test]
    fn every_category_of_the_protocol_table() {
        for (subtype, name) in [
            ("tool_result", "tool_event"),
            ("todo_updated", "hook_event"),
            ("token_usage_updated", "session_event"),
            ("response_ended", "response_event"),
            ("agent.returned", "agent_event"),
            ("file.edit", "file_event"),
            ("system_shutdown", "system_event"),
            ("hook_execution", "claude_event"),
            ("never-heard-of-it", "claude_event"),
        ] {
            assert_eq!(category(subtype), name, "{subtype}");
        }
    }

    #[test]
    fn a_socket_claude_event_passes_through_as_claude_mpm_does() {
        let sent = json!({"type": "custom", "subtype": "pre_tool", "timestamp": "t-1",
            "source": "me", "data": {"tool_name": "Bash"}, "extra": 1});
        let out = pass_through(&sent, 5.5);
        assert_eq!(out["type"], "custom");
        assert_eq!(out["source"], "me");
        assert_eq!(out["timestamp"], "t-1");
        assert_eq!(out["data"], json!({"tool_name": "Bash"}));
        assert_eq!(out["original_event"], sent);
        assert_eq!(out["processed_at"], 5.5);
        let bare = pass_through(&json!({}), 7.0);
        assert_eq!(
            (
                &bare["type"],
                &bare["source"],
                &bare["timestamp"],
                &bare["subtype"]
            ),
            (
                &json!("hook"),
                &json!("claude_hooks"),
                &json!(7.0),
                &json!("unknown")
            )
        );
    }

    #[test]
    fn non_objects_are_refused_with_a_reason() {
        let err = normalize(&json!([1, 2]), NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a JSON object with an event (the hook wrapper), got an array"
        );
    }
}
