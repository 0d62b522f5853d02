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
) -> anyhow::Result<FanoutReport> {
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
                if r.name == "hook:event"
                    && let Some(id) = r.data["data"]["bench_id"].as_u64()
                {
                    let _ = tx.send((id, r.at));
                }
            }
            session
        }));
    }
    drop(tx);
    let sender = connect(url, transport, Duration::from_secs(10)).await?;
    let gap = Duration::from_secs(1) / rate.max(1);
    let mut sent_at = Vec::with_capacity(events as usize);
    let send_start = Instant::now();
    for id in 0..events {
        tokio::time::sleep_until((send_start + gap * id).into()).await;
        sent_at.push(Instant::now());
        let event = json!({"type": "hook", "subtype": "bench", "source": "mpm-top bench", "data": {"bench_id": id}});
        sender.emit("claude_event", event).await?;
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
    let _ = sender.disconnect().await;
    for task in listening {
        task.abort();
    }
    let delivered = latencies.len();
    Ok(FanoutReport {
        url: url.to_owned(),
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

impl FanoutReport {
    /// Human-readable lines.
    #[must_use]
    pub fn text(&self) -> String {
        let l = &self.latency;
        let mark = if self.lost == 0 { "✓" } else { "✗" };
        format!(
            "Fan-out on {}: {} clients, {} events at {}/s\n✓ Connected {} clients in {:.0} ms\n{mark} Delivered {} of {} ({} lost)\n✓ Latency: mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n",
            self.url,
            self.clients,
            self.events,
            self.rate,
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
