//! `mpm-top bench`: round-trip throughput and latency, or fan-out to many clients.
//!
//! Round trips use the guide's `benchmark_event` → `benchmark_response` echo; against Claude
//! MPM's own server, which does not echo it, they use `dashboard:ping` → `dashboard:pong`.
//! Latency is measured with this process's monotonic clock, matched by event id.

mod fanout;
mod stats;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;
use serde_json::{Value, json};

pub use fanout::{FanoutReport, Send, fanout};
pub use stats::Latency;

use crate::sio_client::{Session, Transport, connect};

/// What one round-trip run measured.
#[derive(Clone, Debug, Serialize)]
pub struct RoundTripReport {
    /// The server.
    pub url: String,
    /// The request event used (`benchmark_event` or `dashboard:ping`).
    pub event: String,
    /// Events sent.
    pub sent: usize,
    /// Answers received.
    pub received: usize,
    /// Target send rate, if paced.
    pub rate: Option<u32>,
    /// From the first send to the last answer.
    pub duration_ms: f64,
    /// Answers per second over that time.
    pub throughput_per_s: f64,
    /// Send-to-answer latency.
    pub latency: Latency,
}

/// The request/answer pair a server understands, found by asking once.
async fn pick_echo(session: &mut Session) -> anyhow::Result<(&'static str, &'static str)> {
    session
        .emit("benchmark_event", json!({"id": "probe", "timestamp": 0}))
        .await?;
    if session
        .wait_for("benchmark_response", Duration::from_secs(2))
        .await
        .is_some()
    {
        return Ok(("benchmark_event", "benchmark_response"));
    }
    session
        .emit("dashboard:ping", json!({"timestamp": "probe"}))
        .await?;
    if session
        .wait_for("dashboard:pong", Duration::from_secs(2))
        .await
        .is_some()
    {
        return Ok(("dashboard:ping", "dashboard:pong"));
    }
    bail!("the server answers neither benchmark_event nor dashboard:ping; nothing to time")
}

/// The id an answer carries back (`benchmark_response` echoes the payload, `dashboard:pong`
/// echoes `timestamp`).
fn answer_id(data: &Value) -> Option<u64> {
    data.get("id")
        .and_then(Value::as_u64)
        .or_else(|| data.get("timestamp").and_then(Value::as_u64))
}

/// Sends `count` requests (at `rate` per second, or as fast as possible) and times each answer.
///
/// # Errors
/// When the connection fails or the server answers nothing benchmarkable.
pub async fn round_trips(
    url: &str,
    transport: Transport,
    count: u32,
    rate: Option<u32>,
) -> anyhow::Result<RoundTripReport> {
    let mut session = connect(url, transport, Duration::from_secs(10)).await?;
    let (request, answer) = pick_echo(&mut session).await?;
    let mut sent_at: HashMap<u64, Instant> = HashMap::with_capacity(count as usize);
    let gap = rate.filter(|r| *r > 0).map(|r| Duration::from_secs(1) / r);
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(count as usize);
    let mut last_answer = start;
    for id in 0..u64::from(count) {
        if let Some(gap) = gap {
            // Paced: send on schedule, not after the previous answer, so queueing shows up.
            tokio::time::sleep_until((start + gap * u32::try_from(id).unwrap_or(u32::MAX)).into())
                .await;
        }
        sent_at.insert(id, Instant::now());
        let payload = match request {
            "benchmark_event" => json!({"id": id, "timestamp": 0}),
            _ => json!({"timestamp": id}),
        };
        session.emit(request, payload).await?;
        drain(
            &mut session,
            answer,
            &mut sent_at,
            &mut latencies,
            &mut last_answer,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sent_at.is_empty() && Instant::now() < deadline {
        if let Some(r) = session.wait_for(answer, deadline - Instant::now()).await {
            record(&r, &mut sent_at, &mut latencies, &mut last_answer);
        }
    }
    let _ = session.disconnect().await;
    let duration = last_answer - start;
    #[allow(clippy::cast_precision_loss)]
    let throughput_per_s = if duration.is_zero() {
        0.0
    } else {
        latencies.len() as f64 / duration.as_secs_f64()
    };
    Ok(RoundTripReport {
        url: url.to_owned(),
        event: request.to_owned(),
        sent: count as usize,
        received: latencies.len(),
        rate,
        duration_ms: duration.as_secs_f64() * 1000.0,
        throughput_per_s,
        latency: Latency::of(latencies),
    })
}

/// Takes every answer already here without waiting.
fn drain(
    session: &mut Session,
    answer: &str,
    sent_at: &mut HashMap<u64, Instant>,
    latencies: &mut Vec<f64>,
    last: &mut Instant,
) {
    while let Ok(r) = session.events.try_recv() {
        if r.name == answer {
            record(&r, sent_at, latencies, last);
        }
    }
}

fn record(
    r: &crate::sio_client::Received,
    sent_at: &mut HashMap<u64, Instant>,
    latencies: &mut Vec<f64>,
    last: &mut Instant,
) {
    if let Some(sent) = answer_id(&r.data).and_then(|id| sent_at.remove(&id)) {
        latencies.push((r.at - sent).as_secs_f64() * 1000.0);
        *last = (*last).max(r.at);
    }
}

impl RoundTripReport {
    /// Human-readable lines, the guide's benchmark output and more.
    #[must_use]
    pub fn text(&self) -> String {
        let l = &self.latency;
        let pace = self
            .rate
            .map_or("as fast as possible".to_owned(), |r| format!("at {r}/s"));
        format!(
            "Round trips to {} with {} ({}):\n✓ Sent {}, answered {} ({} lost)\n✓ Throughput: {:.0} events/second\n✓ Latency: mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n",
            self.url,
            self.event,
            pace,
            self.sent,
            self.received,
            self.sent - self.received,
            self.throughput_per_s,
            l.mean_ms,
            l.p50_ms,
            l.p99_ms,
            l.max_ms
        )
    }
}
