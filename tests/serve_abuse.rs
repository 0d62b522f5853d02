//! `mpm-top serve` as a process under abuse: big events, clients that stall or leave, SIGTERM
//! with posts in flight, half-open connections, the connection cap, IPv6, --daemon's log, CORS
//! and forged log lines. Every server here is started by its test on loopback, port 0.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ServeProcess, mpm_top_command, post_event};
use mpm_top::sio_client::{Transport, connect};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn health(url: &str) -> Value {
    reqwest::blocking::get(format!("{url}/health"))
        .unwrap()
        .json()
        .unwrap()
}

/// `/health`, with how long it took (reported, not asserted: timing lives in benchmarks).
fn timed_health(url: &str) -> (Value, Duration) {
    let started = Instant::now();
    let h = health(url);
    (h, started.elapsed())
}

fn hook(subtype: &str, correlation: &str, tool: &str) -> Value {
    json!({"namespace": "", "event": "claude_event", "data": {"type": "hook",
        "subtype": subtype, "session_id": "s-1", "correlation_id": correlation,
        "data": {"tool_name": tool}}})
}

fn log_text(home: &Path) -> String {
    std::fs::read_to_string(home.join(".claude/logs/socketio_server.log")).unwrap_or_default()
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn megabyte_events_stay_within_the_history_bytes_and_a_late_client_gets_a_bounded_replay() {
    let home = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(home.path(), &[], &[]);
    let pad = "x".repeat(1_000_000);
    for i in 0..60 {
        let mut body = hook("pre_tool", &format!("c-{i}"), "Bash");
        body["data"]["data"]["pad"] = json!(pad);
        post_event(&serve.url, &body);
    }
    let (h, took) = timed_health(&serve.url);
    eprintln!(
        "after 60 x 1 MB: /health in {took:?}, rss {} MB, history {}",
        h["rss_bytes"].as_u64().unwrap_or(0) / 1_000_000,
        h["history"]
    );
    let held = h["history"]["bytes"].as_u64().unwrap();
    assert!(held <= 16 * 1024 * 1024, "history holds {held} bytes");
    assert_eq!(h["history"]["total"], 60);
    assert!(h["history"]["size"].as_u64().unwrap() <= 16);
    let history = runtime().block_on(async {
        let mut late = connect(&serve.url, Transport::Websocket, WAIT)
            .await
            .unwrap();
        late.wait_for("event_history", WAIT).await.unwrap().data
    });
    assert_eq!(history["count"], 1, "one ~1 MB event fits a 1 MiB replay");
    assert_eq!(history["events"][0]["correlation_id"], "c-59");
    let (after, took) = timed_health(&serve.url);
    eprintln!(
        "after the late client: /health in {took:?}, rss {} MB",
        after["rss_bytes"].as_u64().unwrap_or(0) / 1_000_000
    );
}

#[test]
fn leaving_clients_are_no_loss_and_a_stalled_one_is_named_counted_and_evicted() {
    let home = tempfile::tempdir().unwrap();
    let env = [("SOCKETIO_TIMEOUT", "1"), ("SOCKETIO_BUFFER_SIZE", "128")];
    let serve = ServeProcess::start(home.path(), &[], &env);
    let url = serve.url.clone();
    // 100 clients come and go while events flow: nothing they miss while leaving is a loss.
    let flowing = Arc::new(AtomicBool::new(true));
    let poster = {
        let (url, flowing) = (url.clone(), Arc::clone(&flowing));
        std::thread::spawn(move || {
            let mut i = 0;
            while flowing.load(Ordering::Relaxed) {
                post_event(&url, &hook("pre_tool", &format!("f-{i}"), "Read"));
                i += 1;
            }
            i
        })
    };
    runtime().block_on(async {
        for _ in 0..10 {
            let mut sessions = Vec::new();
            for _ in 0..10 {
                match connect(&url, Transport::Websocket, WAIT).await {
                    Ok(session) => sessions.push(session),
                    Err(e) => panic!("{e:#}\nlog:\n{}", log_text(home.path())),
                }
            }
            for s in &sessions {
                s.disconnect().await.unwrap();
            }
        }
    });
    flowing.store(false, Ordering::Relaxed);
    let sent = poster.join().unwrap();
    let h = health(&url);
    eprintln!("{sent} events posted while 100 clients came and went");
    assert_eq!(h["emit_failures"], 0, "{h}");
    assert_eq!(h["evicted_clients"], 0);

    // A polling session that connects and never polls again.
    let http = reqwest::blocking::Client::new();
    let open = http
        .get(format!("{url}/socket.io/?EIO=4&transport=polling"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let sid = common::engine_sid(&open);
    let connect_packet = http
        .post(format!(
            "{url}/socket.io/?EIO=4&transport=polling&sid={sid}"
        ))
        .body("40")
        .send()
        .unwrap();
    assert_eq!(connect_packet.status(), 200);
    for i in 0..600 {
        post_event(&url, &hook("pre_tool", &format!("s-{i}"), "Read"));
    }
    let h = health(&url);
    let failures = h["emit_failures"].as_u64().unwrap();
    assert!((300..=600).contains(&failures), "{h}");
    wait_until(
        "the stalled client is evicted",
        Duration::from_mins(1),
        || health(&url)["evicted_clients"] == 1,
    );
    let h = health(&url);
    assert_eq!(h["backlogged_clients"], 0, "{h}");
    let log = log_text(home.path());
    let warns: Vec<&str> = log.lines().filter(|l| l.contains("missed")).collect();
    // 600 refused events, one line per client per 10 s, each with its count.
    assert!(!warns.is_empty() && warns.len() <= 7, "{warns:#?}");
    assert!(
        warns
            .iter()
            .any(|l| l.contains(" missed ") && l.contains("event(s)")),
        "{warns:#?}"
    );
    assert!(log.contains("evicted sid="), "{log}");
}

#[test]
fn sigterm_with_posts_in_flight_delivers_every_acknowledged_event_and_exits_0() {
    let home = tempfile::tempdir().unwrap();
    let mut serve = ServeProcess::start(home.path(), &[], &[]);
    let url = serve.url.clone();
    let rt = runtime();
    let received = Arc::new(Mutex::new(BTreeSet::new()));
    let listener = {
        let (url, received) = (url.clone(), Arc::clone(&received));
        rt.spawn(async move {
            let mut polling = connect(&url, Transport::Polling, WAIT).await.unwrap();
            while let Some(event) = polling.wait_for("tool_event", WAIT).await {
                if let Some(id) = event.data["correlation_id"].as_str() {
                    received.lock().unwrap().insert(id.to_owned());
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    // A request that never finishes sending, held open across the stop.
    let mut half = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    half.write_all(b"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let posters: Vec<_> = (0..4)
        .map(|p| {
            let (url, acked) = (url.clone(), Arc::clone(&acked));
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                for i in 0.. {
                    let id = format!("p{p}-{i}");
                    let sent = http
                        .post(format!("{url}/api/events"))
                        .json(&hook("pre_tool", &id, "Bash"))
                        .send();
                    match sent {
                        Ok(r) if r.status() == 204 => {
                            acked.lock().unwrap().insert(id);
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    wait_until("posts flow", WAIT, || acked.lock().unwrap().len() > 200);
    let (took, code) = serve.terminate();
    for p in posters {
        p.join().unwrap();
    }
    let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), listener).await });
    let stderr = serve.stderr.lock().unwrap().clone();
    eprintln!("stopped in {took:?} with a half-sent request open");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let acked = acked.lock().unwrap();
    let received = received.lock().unwrap();
    let lost: Vec<_> = acked.difference(&received).collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered 204 never arrived: {lost:?}",
        lost.len(),
        acked.len()
    );
}

#[test]
fn half_open_connections_and_trickled_bodies_are_closed_after_10_s() {
    let home = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(home.path(), &[], &[]);
    let addr = serve.url.trim_start_matches("http://").to_owned();
    let mut silent = TcpStream::connect(&addr).unwrap();
    let mut trickle = TcpStream::connect(&addr).unwrap();
    trickle
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    // Whole headers, then a body that never comes.
    let mut slow_body = TcpStream::connect(&addr).unwrap();
    slow_body
        .write_all(b"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    // A body that keeps coming, a byte every 300 ms: never idle, never done.
    let mut dripping = TcpStream::connect(&addr).unwrap();
    dripping
        .write_all(b"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{")
        .unwrap();
    let mut drip = dripping.try_clone().unwrap();
    let dripper = std::thread::spawn(move || {
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(300));
            if drip.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    for stream in [&mut silent, &mut trickle, &mut slow_body, &mut dripping] {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut buf = [0u8; 512];
        // Closed by the server: EOF (or an error response, then EOF).
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    let took = started.elapsed();
    eprintln!("half-open connections and dripping bodies closed after {took:?}");
    assert!(took < Duration::from_secs(30), "never closed");
    dripper.join().unwrap();
    assert_eq!(health(&serve.url)["status"], "running");
}

#[test]
fn the_connection_cap_holds_new_connections_with_one_log_line() {
    if std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    // 200 open files: a cap of 72 connections.
    let (mut child, port, _) = common::spawn_serve(
        std::process::Command::new("prlimit")
            .args(["--nofile=200:200", "--"])
            .arg(env!("CARGO_BIN_EXE_mpm-top"))
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default()),
    );
    let url = format!("http://127.0.0.1:{port}");
    let held: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    wait_until("the cap is logged", WAIT, || {
        log_text(home.path()).contains("connection limit reached: 72 open")
    });
    // Waiting in the backlog, /health is answered once the silent ones time out.
    let (h, took) = timed_health(&url);
    eprintln!("/health answered after {took:?} behind 80 silent connections");
    assert_eq!(h["status"], "running");
    drop(held);
    let lines = log_text(home.path())
        .matches("connection limit reached")
        .count();
    assert!(lines <= 2, "{lines} cap lines");
    common::stop_cleanly(&mut child);
}

/// Whether this machine lacks `::1` (then the test says it skips).
fn no_ipv6_loopback() -> bool {
    let missing = std::net::TcpListener::bind("[::1]:0").is_err();
    if missing {
        eprintln!("skipped: this machine has no IPv6 loopback");
    }
    missing
}

#[test]
fn ipv6_hosts_bind_in_every_spelling_and_urls_are_bracketed() {
    if no_ipv6_loopback() {
        return;
    }
    for host in ["::1", "[::1]"] {
        let home = tempfile::tempdir().unwrap();
        let (mut child, port, line) = common::spawn_serve(
            mpm_top_command(home.path(), &[]).args(["serve", "--host", host, "--port", "0"]),
        );
        assert!(line.contains(&format!("http://[::1]:{port}")), "{line}");
        assert_eq!(health(&format!("http://[::1]:{port}"))["status"], "running");
        common::stop_cleanly(&mut child);
    }
}

#[test]
fn daemon_on_ipv6_logs_each_line_once_and_follows_a_rotated_log() {
    if no_ipv6_loopback() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = mpm_top_command(home.path(), &[])
        .args(["serve", "--host", "::1", "--port", "0", "--daemon"])
        .output()
        .unwrap();
    let (pid, url) = common::daemon_started(&out);
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let log_path = home.path().join(".claude/logs/socketio_server.log");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.matches("listening on").count(), 1, "{log}");
    std::fs::rename(&log_path, home.path().join("rotated.log")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    post_event(&url, &hook("pre_tool", "after-rotation", "Bash"));
    wait_until("the new log has the event", WAIT, || {
        log_text(home.path()).contains("after-rotation")
    });
    let old = std::fs::read_to_string(home.path().join("rotated.log")).unwrap();
    assert!(!old.contains("after-rotation"), "{old}");
    assert_eq!(log_text(home.path()).matches("after-rotation").count(), 1);
    common::signal(pid, nix::sys::signal::Signal::SIGTERM);
    wait_until("the daemon exits", Duration::from_secs(15), || {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
            None,
        )
        .is_err()
    });
}

#[test]
fn cors_lets_loopback_pages_and_the_server_itself_in_and_keeps_others_out() {
    let home = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(home.path(), &[], &[]);
    let port = serve.port;
    let http = reqwest::blocking::Client::new();
    let ask = |origin: &str, host: Option<&str>| {
        let mut request = http
            .get(format!("{}/health", serve.url))
            .header("Origin", origin);
        if let Some(host) = host {
            request = request.header("Host", host);
        }
        let response = request.send().unwrap();
        (
            response.status().as_u16(),
            response
                .headers()
                .get("access-control-allow-origin")
                .is_some(),
        )
    };
    for origin in [
        "http://localhost:5173".to_owned(),
        "http://localhost:3000".to_owned(),
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
        "http://[::1]:8080".to_owned(),
    ] {
        assert_eq!(ask(&origin, None), (200, true), "{origin}");
    }
    let own = format!("127.0.0.1:{port}");
    assert_eq!(
        ask(&format!("http://{own}"), Some(&own)),
        (200, true),
        "same origin"
    );
    // A page whose domain was re-pointed here (DNS rebinding) names itself in both headers.
    let rebound = format!("rebound.example:{port}");
    assert_eq!(
        ask(&format!("http://{rebound}"), Some(&rebound)).0,
        403,
        "rebinding"
    );
    // Its same-origin GETs carry no Origin at all: the Host alone must keep it out.
    let same_origin_get = http
        .get(format!("{}/health", serve.url))
        .header("Host", &rebound)
        .send()
        .unwrap();
    assert_eq!(same_origin_get.status(), 403, "rebinding without Origin");
    for origin in [
        "http://evil.example",
        "http://localhost.evil.example:3000",
        "null",
    ] {
        assert_eq!(ask(origin, None).0, 403, "{origin}");
    }
    let refused = http
        .post(format!("{}/api/events", serve.url))
        .header("Origin", "http://evil.example")
        .json(&hook("pre_tool", "x", "Bash"))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 403);
    // '*' is honoured only when configured, and then it is a finding.
    let out = mpm_top_command(
        home.path(),
        &[("SOCKETIO_CORS", "*"), ("SOCKETIO_HOST", "0.0.0.0")],
    )
    .args(["config"])
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cors_origins allows '*'"), "{text}");
    assert!(
        text.contains("host 0.0.0.0 is not a loopback address"),
        "{text}"
    );
}

#[test]
fn a_forged_log_line_stays_one_escaped_field() {
    let home = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(home.path(), &[], &[]);
    let forged = "x\n2026-11-26T00:00:00.000000Z ERROR serve failed: FORGED\r\u{1b}[2J";
    post_event(&serve.url, &hook("pre_tool", "c-f", forged));
    wait_until("the event is logged", WAIT, || {
        log_text(home.path()).contains("c-f")
    });
    let log = log_text(home.path());
    assert!(
        !log.lines().any(|l| l.starts_with("2026-11-26T00:00:00")),
        "{log}"
    );
    assert!(!log.contains('\u{1b}'), "{log}");
    assert!(
        log.contains("\\n2026-11-26T00:00:00.000000Z ERROR serve failed: FORGED\\r\\e[2J"),
        "{log}"
    );
    let mode = std::fs::metadata(home.path().join(".claude/logs/socketio_server.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // A 100,000-character tool name is a 200-character field, not a 100 KB line.
    post_event(
        &serve.url,
        &hook("pre_tool", "c-long", &"N".repeat(100_000)),
    );
    wait_until("the long event is logged", WAIT, || {
        log_text(home.path()).contains("c-long")
    });
    let longest = log_text(home.path())
        .lines()
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest < 600, "the longest log line has {longest} bytes");
}

#[test]
fn a_connect_storm_sends_few_client_counts_and_the_last_is_true() {
    let home = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(home.path(), &[], &[]);
    let url = serve.url.clone();
    let rt = runtime();
    let (counts, sessions) = rt.block_on(async {
        let mut watcher = connect(&url, Transport::Websocket, WAIT).await.unwrap();
        let started = Instant::now();
        let storm: Vec<_> = futures_util::future::join_all(
            (0..200).map(|_| connect(&url, Transport::Websocket, WAIT)),
        )
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
        let took = started.elapsed();
        let mut counts = Vec::new();
        while let Some(count) = watcher
            .wait_for("dashboard:client:count", Duration::from_secs(1))
            .await
        {
            counts.push(count.data["count"].as_u64().unwrap());
        }
        eprintln!(
            "200 connects in {took:?}; the watcher got {} counts",
            counts.len()
        );
        (counts, (watcher, storm))
    });
    // One send per 100 ms at most, where each connect used to send one to everyone.
    assert!(counts.len() < 100, "{counts:?}");
    assert_eq!(counts.last(), Some(&201), "{counts:?}");
    assert_eq!(health(&serve.url)["clients"], 201);
    drop(sessions);
}

#[test]
fn a_websocket_client_that_stops_reading_is_cut_off_and_counted() {
    use futures_util::SinkExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let home = tempfile::tempdir().unwrap();
    // A 5 s ping timeout, which is also how long a write may wait for a client taking nothing.
    let env = [("SOCKETIO_TIMEOUT", "5"), ("SOCKETIO_BUFFER_SIZE", "128")];
    let serve = ServeProcess::start(home.path(), &[], &env);
    let url = serve.url.clone();
    let rt = runtime();
    // Connects, joins the namespace, and never reads again (nor answers a ping).
    let stalled = rt.block_on(async {
        let ws_url = format!(
            "{}/socket.io/?EIO=4&transport=websocket",
            url.replace("http://", "ws://")
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
        ws.send(Message::Text("40".into())).await.unwrap();
        ws
    });
    wait_until("the client joins", WAIT, || health(&url)["clients"] == 1);
    // 240 events of 300 KB at once: the kernel's buffers fill, the server's write to it waits
    // and its 128-packet queue fills, before the heartbeat gives up on it. Closing it then used
    // to wait behind that write for good.
    let posters: Vec<_> = (0..4)
        .map(|p| {
            let url = url.clone();
            std::thread::spawn(move || {
                let pad = "p".repeat(300_000);
                for i in 0..60 {
                    let mut body = hook("pre_tool", &format!("w-{p}-{i}"), "Read");
                    body["data"]["data"]["pad"] = json!(pad);
                    post_event(&url, &body);
                }
            })
        })
        .collect();
    for p in posters {
        p.join().unwrap();
    }
    let started = Instant::now();
    let mut last = Value::Null;
    let deadline = Instant::now() + Duration::from_mins(1);
    while Instant::now() < deadline {
        last = health(&url);
        if last["clients"] == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = log_text(home.path());
    let disconnects: Vec<&str> = log.lines().filter(|l| l.contains("disconnect")).collect();
    eprintln!(
        "cut off {:?} after the last post: {last}\n{disconnects:#?}",
        started.elapsed()
    );
    assert_eq!(last["clients"], 0, "still connected after a minute: {last}");
    // Its queue filled (events it did not get), so it was evicted, and counted.
    assert!(last["emit_failures"].as_u64().unwrap() > 0, "{last}");
    assert_eq!(last["evicted_clients"], 1, "{last}");
    drop(stalled);
}

#[test]
fn history_answers_are_one_per_client_per_second() {
    let home = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(home.path(), &[], &[]);
    post_event(&serve.url, &hook("pre_tool", "h-1", "Read"));
    let answers = runtime().block_on(async {
        let mut client = connect(&serve.url, Transport::Websocket, WAIT)
            .await
            .unwrap();
        for _ in 0..20 {
            client
                .emit("hook:history:get", json!({"limit": 10}))
                .await
                .unwrap();
        }
        let mut answers = Vec::new();
        for _ in 0..20 {
            answers.push(
                client
                    .wait_for("hook:history:response", WAIT)
                    .await
                    .unwrap()
                    .data,
            );
        }
        answers
    });
    let full = answers.iter().filter(|a| a["total"] == 1).count();
    let refused = answers.iter().filter(|a| a["error"].is_string()).count();
    assert_eq!((full, refused), (1, 19), "{answers:#?}");
}

#[test]
fn a_stderr_nobody_reads_does_not_stop_the_server() {
    let home = tempfile::tempdir().unwrap();
    // stderr is a pipe this test holds and never reads: it fills at 64 KiB.
    let mut child = mpm_top_command(home.path(), &[])
        .args(["serve", "--host", "127.0.0.1", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (line, port) = common::first_line_port(&mut child);
    let url = format!(
        "http://127.0.0.1:{}",
        port.unwrap_or_else(|| panic!("{line}"))
    );
    // ~3,000 log lines, several times what the pipe holds.
    for i in 0..3000 {
        post_event(&url, &hook("pre_tool", &format!("e-{i}"), "Read"));
    }
    let h = health(&url);
    assert_eq!(h["events"]["tool_event"], 3000);
    // Every line still reached the log file, which nothing blocks.
    wait_until("the log has every event", WAIT, || {
        log_text(home.path()).matches("tool_start").count() == 3000
    });
    common::stop_cleanly(&mut child);
}

#[test]
fn each_kind_of_refused_post_is_logged_on_its_own_line() {
    let home = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(home.path(), &[], &[]);
    let http = reqwest::blocking::Client::new();
    let post = |body: Vec<u8>| {
        http.post(format!("{}/api/events", serve.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post(b"{not json".to_vec()), 400);
    assert_eq!(post(b"[1, 2]".to_vec()), 422);
    assert_eq!(post(vec![b' '; 2 * 1024 * 1024]), 413);
    wait_until("three refusal lines", WAIT, || {
        log_text(home.path())
            .matches("POST /api/events refused")
            .count()
            == 3
    });
    let log = log_text(home.path());
    for kind in ["malformed JSON", "got an array", "limit"] {
        assert!(
            log.lines()
                .any(|l| l.contains("POST /api/events refused") && l.contains(kind)),
            "{kind}:\n{log}"
        );
    }
}

#[test]
fn a_clients_event_name_stays_one_escaped_field_in_the_debug_log() {
    let home = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(home.path(), &[], &[("SOCKETIO_LOG_LEVEL", "DEBUG")]);
    runtime().block_on(async {
        let client = connect(&serve.url, Transport::Websocket, WAIT)
            .await
            .unwrap();
        client
            .emit("x sid=FORGED\u{2028}y", json!({}))
            .await
            .unwrap();
        client.emit("dashboard:ping", json!({})).await.unwrap();
    });
    wait_until("the name is logged", WAIT, || {
        log_text(home.path()).contains("FORGED")
    });
    let log = log_text(home.path());
    let line = log.lines().find(|l| l.contains("FORGED")).unwrap();
    assert!(
        line.contains("receive event=\"x sid=FORGED\\u{2028}y\" sid="),
        "{line}"
    );
    assert!(!log.contains('\u{2028}'), "{log}");
}
