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
    feed.until("Connected again", |e| matches!(e, FeedEvent::Connected))
        .await;
    feed.until(
        "dashboard:welcome from the new server",
        named("dashboard:welcome"),
    )
    .await;
    let _ = feed.stop.send(true);
    drop(second);
}
