//! The bundled server in-process on 127.0.0.1:0, driven by a real Socket.IO client
//! (`rust_socketio`) and real HTTP requests.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use mpm_top::config::Settings;
use mpm_top::serve::{Running, spawn};
use mpm_top::sio_client::{Session, Transport, connect};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(5);

async fn server(tweak: impl FnOnce(&mut Settings)) -> (Running, String) {
    let mut settings = Settings::defaults(Path::new("/nonexistent-home"));
    settings.host = "127.0.0.1".into();
    tweak(&mut settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = spawn(listener, &settings, None).unwrap();
    let url = format!("http://{}", running.addr);
    (running, url)
}

async fn client(url: &str) -> Session {
    connect(url, Transport::Websocket, WAIT).await.unwrap()
}

async fn next(session: &mut Session, name: &str) -> Value {
    session
        .wait_for(name, WAIT)
        .await
        .unwrap_or_else(|| panic!("no {name} within {WAIT:?}"))
        .data
}

fn hook(subtype: &str, correlation: &str) -> Value {
    json!({"namespace": "", "event": "claude_event", "data": {
        "event": "mpm_event", "source": "hook", "type": "hook", "subtype": subtype,
        "timestamp": "2026-11-25T19:10:00+00:00", "session_id": "s-1", "correlation_id": correlation,
        "data": {"tool_name": "Bash", "status": "success"}}})
}

/// One client for all posts: building one loads the system's root certificates (~45 ms).
/// No idle pool: each test has its own runtime, and a pooled connection must not outlive it.
fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    })
}

async fn post(url: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    http()
        .post(format!("{url}/api/events"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn connect_gets_welcome_and_count_and_requests_are_answered() {
    let (server, url) = server(|_| {}).await;
    let mut c = client(&url).await;
    assert_eq!(
        next(&mut c, "dashboard:welcome").await["server_info"]["service"],
        "mpm-top"
    );
    assert_eq!(next(&mut c, "dashboard:client:count").await["count"], 1);

    c.emit("dashboard:ping", json!({"timestamp": 42}))
        .await
        .unwrap();
    assert_eq!(next(&mut c, "dashboard:pong").await["timestamp"], 42);
    c.emit("dashboard:status", json!({})).await.unwrap();
    assert_eq!(
        next(&mut c, "dashboard:status:response").await["clients_connected"],
        1
    );
    c.emit(
        "client:register",
        json!({"name": "tui", "type": "terminal"}),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut c, "client:registered").await["name"], "tui");
    c.emit("client:list", json!({})).await.unwrap();
    let list = next(&mut c, "client:list:response").await;
    assert_eq!(
        (list["total"].clone(), list["clients"][0]["type"].clone()),
        (json!(1), json!("terminal"))
    );
    // Claude MPM's fields, with the time as seconds since the epoch, and the transport.
    let me = &list["clients"][0];
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let connected_at = me["connected_at"].as_f64().unwrap();
    assert!((epoch - 30.0..=epoch).contains(&connected_at), "{me}");
    assert_eq!(
        (me["registered"].clone(), me["name"].clone()),
        (json!(true), json!("tui"))
    );
    assert!(
        matches!(me["transport"].as_str(), Some("websocket" | "polling")),
        "{me}"
    );
    c.emit("test_event", json!({"message": "Hello Server"}))
        .await
        .unwrap();
    assert_eq!(
        next(&mut c, "test_response").await["received"]["message"],
        "Hello Server"
    );
    c.emit("benchmark_event", json!({"id": 7, "timestamp": 1.5}))
        .await
        .unwrap();
    assert_eq!(
        next(&mut c, "benchmark_response").await,
        json!({"id": 7, "timestamp": 1.5})
    );

    let mut second = client(&url).await;
    assert_eq!(
        next(&mut second, "dashboard:client:count").await["count"],
        2
    );
    assert_eq!(next(&mut c, "dashboard:client:count").await["count"], 2);
    second.disconnect().await.unwrap();
    assert_eq!(next(&mut c, "dashboard:client:count").await["count"], 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn hook_posts_reach_clients_as_paired_tool_events_and_late_clients_get_history() {
    let (server, url) = server(|_| {}).await;
    let mut c = client(&url).await;
    assert_eq!(
        post(&url, hook("pre_tool", "c-1").to_string())
            .await
            .status(),
        204
    );
    assert_eq!(
        post(&url, hook("post_tool", "c-1").to_string())
            .await
            .status(),
        204
    );
    let pre = next(&mut c, "tool_event").await;
    let post_tool = next(&mut c, "tool_event").await;
    assert_eq!(
        (pre["subtype"].as_str(), post_tool["subtype"].as_str()),
        (Some("pre_tool"), Some("post_tool"))
    );
    assert_eq!(pre["correlation_id"], "c-1");
    assert_eq!(post_tool["correlation_id"], "c-1");
    assert_eq!(pre["type"], "tool_event");
    assert_eq!(pre["data"]["tool_name"], "Bash");

    let mut late = client(&url).await;
    let history = next(&mut late, "event_history").await;
    assert_eq!(history["count"], 2);
    assert_eq!(history["events"][1]["subtype"], "post_tool");
    assert_eq!(history["events"][1]["event"], "tool_event");

    late.emit(
        "claude_event",
        json!({"type": "hook", "subtype": "subagent_start", "data": {}}),
    )
    .await
    .unwrap();
    // Like the real server (`_process_claude_event`): passed through as `hook:event`, then as
    // `claude_event`, with the sender's fields and the original kept.
    let passed = next(&mut c, "hook:event").await;
    assert_eq!(passed["subtype"], "subagent_start");
    assert_eq!(passed["type"], "hook");
    assert_eq!(passed["source"], "claude_hooks");
    assert!(passed["timestamp"].is_f64(), "{passed}");
    assert_eq!(passed["original_event"]["type"], "hook");
    assert_eq!(next(&mut c, "claude_event").await, passed);
    late.emit("hook:history:get", json!({"limit": 2}))
        .await
        .unwrap();
    let response = next(&mut late, "hook:history:response").await;
    assert_eq!(response["events"].as_array().unwrap().len(), 2);
    assert_eq!(response["events"][1]["subtype"], "subagent_start");

    let health: Value = reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["events"]["tool_event"], 2);
    assert_eq!(health["events"]["claude_event"], 1);
    assert_eq!(health["clients"], 2);
    assert_eq!(health["emit_failures"], 0);
    assert_eq!(health["evicted_clients"], 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_posts_get_a_reason_and_the_server_keeps_running() {
    let (server, url) = server(|_| {}).await;
    let malformed = post(&url, "{not json").await;
    assert_eq!(malformed.status(), 400);
    assert!(
        malformed
            .text()
            .await
            .unwrap()
            .starts_with("malformed JSON")
    );
    let list = post(&url, "[1,2]").await;
    assert_eq!(list.status(), 422);
    let huge = format!("{{\"data\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let too_big = post(&url, huge).await;
    assert_eq!(too_big.status(), 413);
    assert!(
        too_big
            .text()
            .await
            .unwrap()
            .contains("limit 1048576 bytes")
    );
    let health: Value = reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "running");
    assert_eq!(health["service"], "mpm-top");
    assert_eq!(health["port"], server.addr.port());
    for field in [
        "version",
        "pid",
        "uptime",
        "rss_bytes",
        "events_total",
        "history",
    ] {
        assert!(!health[field].is_null(), "{field} in {health}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn cors_answers_allowed_origins_and_refuses_others() {
    let (server, url) = server(|_| {}).await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, format!("{url}/api/events"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let ok = preflight("http://localhost:3000").await.unwrap();
    assert!(ok.status().is_success());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let refused = preflight("http://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("origin 'http://evil.example' is not allowed")
    );
    let no_origin = http.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(no_origin.status(), 200, "hooks and scripts send no Origin");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn heartbeats_arrive_at_the_configured_interval() {
    let (server, url) = server(|s| s.heartbeat_interval_secs = 1).await;
    let mut c = client(&url).await;
    let beat = next(&mut c, "heartbeat").await;
    assert_eq!(beat["service"], "mpm-top");
    assert_eq!(beat["clients"], 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn history_keeps_only_max_buffer_size_events() {
    let (server, url) = server(|s| s.max_buffer_size = 3).await;
    for i in 0..5 {
        post(&url, hook("pre_tool", &format!("c-{i}")).to_string()).await;
    }
    let mut late = client(&url).await;
    let history = next(&mut late, "event_history").await;
    let ids: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["correlation_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c-2", "c-3", "c-4"]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_polling_client_gets_a_burst_and_stop_disconnects_it() {
    let (server, url) = server(|_| {}).await;
    let mut c = connect(&url, Transport::Polling, WAIT).await.unwrap();
    for i in 0..40 {
        post(&url, hook("pre_tool", &format!("c-{i}")).to_string()).await;
    }
    for i in 0..40 {
        assert_eq!(
            next(&mut c, "tool_event").await["correlation_id"],
            format!("c-{i}"),
            "in order"
        );
    }
    server.stop().await.unwrap();
}

/// A client that stops reading costs the server at most its queue; every emit its full queue
/// refuses is counted in `/health`, and clients that keep reading lose nothing.
#[tokio::test]
async fn a_stalled_client_has_its_refused_emits_counted_and_others_lose_nothing() {
    const EVENTS: usize = 500;
    let (server, url) = server(|s| s.max_buffer_size = 128).await;
    let http = reqwest::Client::new();
    // A polling session that connects and then never polls again.
    let open = http
        .get(format!("{url}/socket.io/?EIO=4&transport=polling"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sid = common::engine_sid(&open);
    let connect = http
        .post(format!(
            "{url}/socket.io/?EIO=4&transport=polling&sid={sid}"
        ))
        .body("40")
        .send()
        .await
        .unwrap();
    assert_eq!(connect.status(), 200);
    let mut healthy = client(&url).await;
    for i in 0..EVENTS {
        post(&url, hook("pre_tool", &format!("c-{i}")).to_string()).await;
    }
    for i in 0..EVENTS {
        assert_eq!(
            next(&mut healthy, "tool_event").await["correlation_id"],
            format!("c-{i}")
        );
    }
    let health: Value = reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let failures = health["emit_failures"].as_u64().unwrap();
    // A stalled client absorbs its Socket.IO queue (128) plus what Engine.IO buffers beneath
    // it (measured: 193 packets in all); everything past that is refused and counted.
    assert!(
        (EVENTS as u64 - 2 * 128..=EVENTS as u64).contains(&failures),
        "emit_failures {failures}"
    );
    server.stop().await.unwrap();
}

/// A client that asks faster than it reads is slowed down, not dropped: a raw websocket client
/// sends 2,000 padded requests and reads nothing for half a second, so the replies back up past
/// the kernel's socket buffers into the 128-packet queue; every one must still arrive.
#[tokio::test]
async fn a_client_that_stops_reading_for_a_moment_still_gets_every_reply() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    const REQUESTS: usize = 2000;
    let (server, url) = server(|s| s.max_buffer_size = 128).await;
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        url.replacen("http", "ws", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .unwrap();
    let open = ws.next().await.unwrap().unwrap().into_text().unwrap();
    assert!(open.starts_with("0{"), "{open}");
    ws.send(Message::text("40")).await.unwrap();
    // socketioxide closes a session that emits before its connect ack.
    while !ws
        .next()
        .await
        .unwrap()
        .unwrap()
        .into_text()
        .unwrap_or_default()
        .starts_with("40")
    {}
    let pad = "x".repeat(4096);
    for id in 0..REQUESTS {
        ws.send(Message::text(format!(
            "42[\"benchmark_event\",{{\"id\":{id},\"pad\":\"{pad}\"}}]"
        )))
        .await
        .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut answered = 0;
    let deadline = tokio::time::Instant::now() + WAIT * 4;
    while answered < REQUESTS {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("replies stopped coming")
            .unwrap()
            .unwrap();
        let text = frame.into_text().unwrap_or_default();
        if text == "2" {
            ws.send(Message::text("3")).await.unwrap(); // Engine.IO ping
        } else if text.starts_with("42[\"benchmark_response\"") {
            answered += 1;
        }
    }
    let health: Value = reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["emit_failures"], 0);
    server.stop().await.unwrap();
}
