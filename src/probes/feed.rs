//! The live feed: a Socket.IO client that stays connected, reconnects with backoff, passes on
//! every event (including those a server sends before its connect ack, as Claude MPM's does),
//! and measures ping latency with `dashboard:ping`, which both Claude MPM's server and ours answer.
//!
//! Reconnection is driven here rather than by `rust_socketio`'s own, which only applies after a
//! first successful connect: a console started before its server must keep trying too. The
//! backoff stays at or under a second, so the feed attaches within a second of a server
//! starting; a refused connect costs almost nothing.
//!
//! It connects over websocket (one connection, no polling requests to keep up), and falls back
//! to polling with upgrade when a server refuses websocket. It pings only after the server's
//! connect ack.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::sio_client::{self, Received, Transport};

/// What the feed reports.
#[derive(Clone, Debug)]
pub enum FeedEvent {
    /// The server acked the connection.
    Connected,
    /// The connection failed or ended; the feed will try again after `retry_in`.
    Disconnected {
        /// Why, as well as it is known.
        reason: String,
        /// The wait before the next attempt.
        retry_in: Duration,
    },
    /// An event the server sent.
    Event {
        /// Its name.
        name: String,
        /// Its first argument.
        data: Value,
        /// When it arrived.
        at: Instant,
    },
    /// A `dashboard:ping` round trip.
    Latency(Duration),
}

/// Tuning for [`run`].
#[derive(Clone, Debug)]
pub struct FeedOptions {
    /// The server's base URL.
    pub url: String,
    /// Time between pings.
    pub ping_every: Duration,
    /// First wait before reconnecting; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest wait before reconnecting.
    pub max_backoff: Duration,
    /// Pings go out on this instant plus whole `ping_every`s (the console's tick, so that the
    /// round trip is drawn in the tick's frame); None: from the connect.
    pub ping_phase: Option<Instant>,
    /// Ask for `client:list` on connect and whenever `dashboard:client:count` comes, at most
    /// once per this long (None: never ask).
    pub list_clients: Option<Duration>,
    /// Sent as `client:register` on each connect, so the server's client list names this
    /// feed (None: sent nothing).
    pub register: Option<Value>,
}

impl FeedOptions {
    /// Defaults for `url`: a ping a second, backoff from 0.25 s to 1 s.
    #[must_use]
    pub fn new(url: &str) -> FeedOptions {
        FeedOptions {
            url: url.to_owned(),
            ping_every: Duration::from_secs(1),
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(1),
            ping_phase: None,
            list_clients: None,
            register: None,
        }
    }
}

/// Events dropped because the receiver was not keeping up (the channel is bounded so a slow
/// consumer costs events, counted, never memory).
#[derive(Clone, Debug, Default)]
pub struct Dropped(Arc<AtomicU64>);

impl Dropped {
    /// How many so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn send(tx: &mpsc::Sender<FeedEvent>, dropped: &Dropped, event: FeedEvent) {
    if tx.try_send(event).is_err() {
        dropped.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// How long one connection attempt may take, ack included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the feed until `stop` turns true or the receiver is dropped.
pub async fn run(
    options: FeedOptions,
    tx: mpsc::Sender<FeedEvent>,
    dropped: Dropped,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = options.min_backoff;
    let mut transport = Transport::Websocket;
    while !*stop.borrow() && !tx.is_closed() {
        let (closed_tx, mut closed) = mpsc::channel::<String>(4);
        let (pong_tx, mut pongs) = mpsc::channel::<u64>(16);
        // One pending change is all the list needs to know: a full queue already says so.
        let (count_tx, mut counts) = mpsc::channel::<()>(1);
        let (events, fallen) = (tx.clone(), dropped.clone());
        let on_event = move |event: Received| {
            if event.name == "dashboard:pong"
                && let Some(id) = event.data.get("timestamp").and_then(Value::as_u64)
            {
                let _ = pong_tx.try_send(id);
            }
            if event.name == "dashboard:client:count" {
                let _ = count_tx.try_send(());
            }
            send(
                &events,
                &fallen,
                FeedEvent::Event {
                    name: event.name,
                    data: event.data,
                    at: event.at,
                },
            );
        };
        let on_close = move |why: String| {
            let _ = closed_tx.try_send(why);
        };
        let attempt = tokio::select! {
            r = sio_client::open(&options.url, transport, CONNECT_TIMEOUT, on_event, on_close) => r,
            _ = stop.changed() => return,
        };
        let reason = match attempt {
            Ok((client, _)) => {
                backoff = options.min_backoff;
                send(&tx, &dropped, FeedEvent::Connected);
                let reason = stay_connected(
                    &client,
                    &options,
                    (&tx, &dropped),
                    &mut closed,
                    (&mut pongs, &mut counts),
                    &mut stop,
                )
                .await;
                let _ = client.disconnect().await;
                reason
            }
            Err(e) => {
                // A server that answers but refuses websocket: try polling (with upgrade) next.
                let refused = sio_client::describe(&e);
                if transport == Transport::Websocket && !refused.contains("Connection refused") {
                    transport = Transport::Upgrade;
                } else {
                    transport = Transport::Websocket;
                }
                refused
            }
        };
        if *stop.borrow() {
            return;
        }
        send(
            &tx,
            &dropped,
            FeedEvent::Disconnected {
                reason,
                retry_in: backoff,
            },
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(options.max_backoff);
    }
}

/// Pings until the connection ends or the feed is stopped, and asks for the client list when
/// the count changes; returns why it ended.
async fn stay_connected(
    client: &rust_socketio::asynchronous::Client,
    options: &FeedOptions,
    (tx, dropped): (&mpsc::Sender<FeedEvent>, &Dropped),
    closed: &mut mpsc::Receiver<String>,
    (pongs, counts): (&mut mpsc::Receiver<u64>, &mut mpsc::Receiver<()>),
    stop: &mut watch::Receiver<bool>,
) -> String {
    // The list is asked for at once, then after each count change, never twice within
    // `list_clients` (a connect storm changes the count hundreds of times a second).
    if let Some(me) = &options.register
        && client.emit("client:register", me.clone()).await.is_err()
    {
        return "cannot send".into();
    }
    let mut list_due = options.list_clients.is_some();
    let mut list_after = tokio::time::Instant::now();
    let mut ticker = match options.ping_phase {
        Some(phase) => tokio::time::interval_at(
            crate::app::time::last_beat(phase, options.ping_every).into(),
            options.ping_every.max(Duration::from_millis(1)),
        ),
        None => tokio::time::interval(options.ping_every),
    };
    let mut sent: Option<(u64, Instant)> = None;
    let mut next_id: u64 = 1;
    // A server that stops answering pings is as good as gone.
    let silent_for = options.ping_every * 5;
    let mut last_answer = Instant::now();
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if last_answer.elapsed() > silent_for && sent.is_some() {
                    return format!("no pong for {silent_for:?}");
                }
                // One ping at a time: a slower round trip is measured, not overwritten by the
                // next ping (which would leave every pong unmatched).
                if sent.is_some() {
                    continue;
                }
                if client.emit("dashboard:ping", json!({"timestamp": next_id})).await.is_err() {
                    return "cannot send".into();
                }
                sent = Some((next_id, Instant::now()));
                next_id += 1;
            }
            Some(id) = pongs.recv() => {
                if let Some((want, at)) = sent
                    && id == want {
                        last_answer = Instant::now();
                        send(tx, dropped, FeedEvent::Latency(at.elapsed()));
                        sent = None;
                    }
            }
            Some(()) = counts.recv() => list_due = options.list_clients.is_some(),
            () = tokio::time::sleep_until(list_after), if list_due => {
                if client.emit("client:list", json!({})).await.is_err() {
                    return "cannot send".into();
                }
                list_due = false;
                list_after = tokio::time::Instant::now() + options.list_clients.unwrap_or_default();
            }
            reason = closed.recv() => return reason.unwrap_or_else(|| "the connection closed".into()),
            _ = stop.changed() => return "stopped".into(),
        }
    }
}
