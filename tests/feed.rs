//! The live feed against real servers: a python-socketio server that emits in its connect
//! handler (before its ack, as Claude MPM's does), and mpm-top serve killed and restarted.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::ServeProcess;
use mpm_top::probes::feed::{Dropped, FeedEvent, FeedOptions, run};
use tokio::sync::{mpsc, watch};

struct Feed {
    events: mpsc::Receiver<FeedEvent>,
    stop: watch::Sender<bool>,
}

fn start(url: &str) -> Feed {
    let (tx, events) = mpsc::channel(1024);
    let (stop, stopped) = watch::channel(false);
    let mut options = FeedOptions::new(url);
    options.ping_every = Duration::from_millis(200);
    options.min_backoff = Duration::from_millis(100);
    tokio::spawn(run(options, tx, Dropped::default(), stopped));
    Feed { events, stop }
}

impl Feed {
    /// The next event matching `want`, skipping others, within 15 s.
    async fn until(&mut self, what: &str, want: impl Fn(&FeedEvent) -> bool) -> FeedEvent {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) if want(&e) => return e,
                Ok(Some(_)) => {}
                _ => panic!("no {what} within 15 s"),
            }
        }
    }
}

fn named(name: &'static str) -> impl Fn(&FeedEvent) -> bool {
    move |e| matches!(e, FeedEvent::Event { name: n, .. } if n == name)
}

#[tokio::test]
async fn events_sent_before_the_connect_ack_arrive_and_latency_is_measured() {
    let (mut server, port) = common::python_server();
    let url = format!("http://127.0.0.1:{port}");
    let mut feed = start(&url);
    feed.until("dashboard:welcome", named("dashboard:welcome"))
        .await;
    feed.until("Connected", |e| matches!(e, FeedEvent::Connected))
        .await;
    feed.until("a latency sample", |e| matches!(e, FeedEvent::Latency(_)))
        .await;
    let _ = feed.stop.send(true);
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test]
async fn the_feed_reconnects_when_the_server_comes_back() {
    let home = tempfile::tempdir().unwrap();
    let mut first = ServeProcess::start(home.path(), &[], &[]);
    let port = first.port;
    let mut feed = start(&first.url);
    feed.until("Connected", |e| matches!(e, FeedEvent::Connected))
        .await;
    first.terminate();
    feed.until("Disconnected", |e| {
        matches!(e, FeedEvent::Disconnected { .. })
    })
    .await;
    let second = tokio::task::spawn_blocking({
        let home = home.path().to_owned();
        move || ServeProcess::start_on(&home, port, &[], &[])
    })
    .await
    .unwrap();
    // The welcome is sent before the connect ack, so it may come before or after Connected:
    // both must come, in either order.
    let (mut connected, mut welcomed) = (false, false);
    while !(connected && welcomed) {
        let e = feed
            .until("Connected again and the new server's welcome", |e| {
                matches!(e, FeedEvent::Connected) || named("dashboard:welcome")(e)
            })
            .await;
        connected |= matches!(e, FeedEvent::Connected);
        welcomed |= !matches!(e, FeedEvent::Connected);
    }
    let _ = feed.stop.send(true);
    drop(second);
}

/// A server that answers every request `404` with no body and closes (an HTTP/1.0 server that
/// is not Socket.IO), counting the requests.
fn bare_404_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = stream.write_all(b"HTTP/1.0 404 Not Found\r\n\r\n");
        }
    });
    (port, count)
}

#[tokio::test]
async fn a_server_that_is_not_socket_io_gets_a_request_or_two_per_retry_not_a_storm() {
    let (port, requests) = bare_404_server();
    let mut feed = start(&format!("http://127.0.0.1:{port}"));
    let mut attempts = 0;
    let watched = tokio::time::Instant::now() + Duration::from_secs(4);
    while let Ok(Some(event)) = tokio::time::timeout_at(watched, feed.events.recv()).await {
        attempts += usize::from(matches!(event, FeedEvent::Disconnected { .. }));
    }
    let _ = feed.stop.send(true);
    let requests = requests.load(std::sync::atomic::Ordering::Relaxed);
    // Each attempt is a websocket upgrade or one polling handshake: at most two requests.
    assert!(attempts >= 3, "{attempts} attempts");
    assert!(
        requests <= 2 * (attempts + 1),
        "{requests} requests for {attempts} attempts"
    );
}

/// A connect storm changes the client count dozens of times: the feed asks for the client list
/// at once, then at most once a second (the server counts what it received, in `/health`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_list_is_asked_for_at_most_once_a_second() {
    let home = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(home.path(), &[], &[]);
    let (tx, mut events) = mpsc::channel(4096);
    let (stop, stopped) = watch::channel(false);
    let mut options = FeedOptions::new(&server.url);
    options.list_clients = Some(Duration::from_secs(1));
    tokio::spawn(run(options, tx, Dropped::default(), stopped));
    let first = async {
        loop {
            match events.recv().await {
                Some(FeedEvent::Event { name, .. }) if name == "client:list:response" => return,
                Some(_) => {}
                None => panic!("the feed ended"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), first)
        .await
        .expect("no client:list:response on connect");
    // 40 clients come and go over about 2 s.
    let started = std::time::Instant::now();
    for _ in 0..40 {
        let c = mpm_top::sio_client::connect(
            &server.url,
            mpm_top::sio_client::Transport::Websocket,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        c.disconnect().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let window = started.elapsed().as_secs_f64();
    let health: serde_json::Value = reqwest::get(format!("{}/health", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let asked = health["received"]["client:list"].as_u64().unwrap();
    // One on connect, then at most one per second of the storm (and one after it).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let most = 2 + window.ceil() as u64;
    assert!(
        (2..=most).contains(&asked),
        "asked {asked} times in {window:.1} s: {health:#}"
    );
    let _ = stop.send(true);
}
