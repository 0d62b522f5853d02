//! Fan-out: K clients receive every event one sender emits; counts deliveries and their latency.
//!
//! The sender emits `claude_event`, which both mpm-top's server and Claude MPM's re-broadcast
//! to every client as `hook:event`, carrying the event's `data.bench_id`.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::{StreamExt as _, stream};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Latency;
use crate::sio_client::{Session, Transport, connect};

/// Clients connecting at once; more would only queue in the server's accept backlog.
const CONNECTS_IN_FLIGHT: usize = 50;

/// Once every event is sent, deliveries still missing after this long count as lost.
const SETTLE: Duration = Duration::from_secs(5);

/// What one fan-out run measured.
#[derive(Clone, Debug, Serialize)]
pub struct FanoutReport {
    /// The server.
    pub url: String,
    /// How the events were sent.
    pub send: Send,
    /// Receiving clients.
    pub clients: usize,
    /// Events sent.
    pub events: u32,
    /// Send rate per second.
    pub rate: u32,
    /// Time to connect every receiver.
    pub connect_ms: f64,
    /// clients × events.
    pub expected: usize,
    /// Deliveries seen.
    pub delivered: usize,
    /// expected − delivered.
    pub lost: usize,
    /// Send-to-delivery latency over all deliveries.
    pub latency: Latency,
}

/// Runs the fan-out benchmark.
///
/// # Errors
/// When a client cannot connect or the sender cannot emit.
pub async fn fanout(
    url: &str,
    transport: Transport,
    clients: u32,
    events: u32,
    rate: u32,
    send: Send,
) -> anyhow::Result<FanoutReport> {
    // A socket claude_event comes back as hook:event; a hook post of an unknown subtype as
    // claude_event (its category), from mpm-top serve, Claude MPM and the echo servers alike.
    let awaited = match send {
        Send::Emit => "hook:event",
        Send::Post => "claude_event",
    };
    let started = Instant::now();
    let receivers: Vec<anyhow::Result<Session>> = stream::iter(0..clients)
        .map(|_| connect(url, transport, Duration::from_secs(30)))
        .buffer_unordered(CONNECTS_IN_FLIGHT)
        .collect()
        .await;
    let receivers: Vec<Session> = receivers
        .into_iter()
        .collect::<anyhow::Result<_>>()
        .context("a receiving client failed to connect")?;
    let connect_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (tx, mut deliveries) = mpsc::unbounded_channel::<(u64, Instant)>();
    let mut listening = Vec::with_capacity(receivers.len());
    for mut session in receivers {
        let tx = tx.clone();
        listening.push(tokio::spawn(async move {
            while let Some(r) = session.events.recv().await {
                if r.name == awaited
                    && let Some(id) = r.data["data"]["bench_id"].as_u64()
                {
                    let _ = tx.send((id, r.at));
                }
            }
            session
        }));
    }
    drop(tx);
    let sender = Sender::open(url, transport, send).await?;
    let gap = Duration::from_secs(1) / rate.max(1);
    let mut sent_at = Vec::with_capacity(events as usize);
    let send_start = Instant::now();
    for id in 0..events {
        tokio::time::sleep_until((send_start + gap * id).into()).await;
        sent_at.push(Instant::now());
        let event = json!({"type": "hook", "subtype": "bench", "source": "mpm-top bench", "data": {"bench_id": id}});
        sender.send(event).await?;
    }
    let expected = clients as usize * events as usize;
    let mut latencies = Vec::with_capacity(expected);
    while latencies.len() < expected {
        match tokio::time::timeout(SETTLE, deliveries.recv()).await {
            Ok(Some((id, at))) => {
                if let Some(sent) = usize::try_from(id).ok().and_then(|i| sent_at.get(i)) {
                    latencies.push((at - *sent).as_secs_f64() * 1000.0);
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    sender.close().await;
    for task in listening {
        task.abort();
    }
    let delivered = latencies.len();
    Ok(FanoutReport {
        url: url.to_owned(),
        send,
        clients: clients as usize,
        events,
        rate,
        connect_ms,
        expected,
        delivered,
        lost: expected - delivered,
        latency: Latency::of(latencies),
    })
}

/// How the sender sends each event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Send {
    /// `claude_event` over a Socket.IO connection.
    Emit,
    /// The hook wrapper, posted to `/api/events` (what Claude MPM's hooks do).
    Post,
}

/// The sending end: a socket, or an HTTP client.
enum Sender {
    Socket(Session),
    Http(&'static reqwest::Client, String),
}

impl Sender {
    async fn open(url: &str, transport: Transport, send: Send) -> anyhow::Result<Sender> {
        Ok(match send {
            Send::Emit => Sender::Socket(connect(url, transport, Duration::from_secs(10)).await?),
            Send::Post => Sender::Http(crate::probes::http::client(), format!("{url}/api/events")),
        })
    }

    async fn send(&self, event: Value) -> anyhow::Result<()> {
        match self {
            Sender::Socket(session) => session.emit("claude_event", event).await,
            Sender::Http(client, endpoint) => {
                let body = json!({"namespace": "", "event": "claude_event", "data": event});
                let response = client
                    .post(endpoint)
                    .timeout(Duration::from_secs(10))
                    .json(&body)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "POST /api/events answered {}",
                    response.status()
                );
                Ok(())
            }
        }
    }

    async fn close(self) {
        if let Sender::Socket(session) = self {
            let _ = session.disconnect().await;
        }
    }
}

impl FanoutReport {
    /// Human-readable lines.
    #[must_use]
    pub fn text(&self) -> String {
        let l = &self.latency;
        let mark = if self.lost == 0 { "✓" } else { "✗" };
        format!(
            "Fan-out on {}: {} clients, {} events at {}/s, {}\n✓ Connected {} clients in {:.0} ms\n{mark} Delivered {} of {} ({} lost)\n✓ Latency: mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n",
            self.url,
            self.clients,
            self.events,
            self.rate,
            match self.send {
                Send::Emit => "emitted as claude_event over a socket",
                Send::Post => "posted to /api/events as hooks post",
            },
            self.clients,
            self.connect_ms,
            self.delivered,
            self.expected,
            self.lost,
            l.mean_ms,
            l.p50_ms,
            l.p99_ms,
            l.max_ms
        )
    }

    /// The report as JSON.
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}
