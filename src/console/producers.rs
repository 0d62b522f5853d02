//! The tasks that feed the console's channel: feed, probes, log tail. Each stops when the
//! channel closes; blocking probes run on blocking threads, never on the UI task.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::app::Action;
use crate::config::{Resolved, to_json};
use crate::probes::feed::{self, Dropped, FeedEvent, FeedOptions};
use crate::probes::{http, logtail, process, sockets};

/// Forwards the feed's events as actions.
pub async fn feed(url: String, tx: mpsc::Sender<Action>, stop: watch::Receiver<bool>) {
    let (feed_tx, mut events) = mpsc::channel(4096);
    tokio::spawn(feed::run(
        FeedOptions::new(&url),
        feed_tx,
        Dropped::default(),
        stop,
    ));
    while let Some(event) = events.recv().await {
        let action = match event {
            FeedEvent::Connected => Action::Connected,
            FeedEvent::Disconnected { reason, retry_in } => Action::Disconnected(format!(
                "{reason} (retry in {:.1}s)",
                retry_in.as_secs_f64()
            )),
            FeedEvent::Event { name, data, .. } => Action::FeedEvent { name, data },
            FeedEvent::Latency(d) => Action::Latency(d.as_secs_f64() * 1000.0),
        };
        if tx.send(action).await.is_err() {
            return;
        }
    }
}

/// Health every second; handshake, websocket, process and sockets every 5 s (the socket table
/// scans /proc, the costliest probe the console runs).
pub async fn probes(url: String, port: u16, tx: mpsc::Sender<Action>) {
    let timeout = Duration::from_secs(1);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    for round in 0u64.. {
        ticker.tick().await;
        let health = http::health(&url, timeout).await;
        let pid = health.as_ref().ok().and_then(|h| h.pid);
        if tx
            .send(Action::Health(health.map_err(|e| e.to_string())))
            .await
            .is_err()
        {
            return;
        }
        if round % 5 == 0 {
            let (handshake, websocket) = tokio::join!(
                http::handshake(&url, timeout),
                http::websocket_upgrade(&url, timeout)
            );
            let _ = tx
                .send(Action::Transport {
                    handshake: handshake.is_ok(),
                    websocket: websocket.is_ok(),
                })
                .await;
            let facts = tokio::task::spawn_blocking(move || {
                let rows = sockets::port_table(port).unwrap_or_default();
                let pid = pid.or_else(|| {
                    rows.iter()
                        .find(|r| r.is_listener())
                        .and_then(|r| r.owners.first().map(|p| p.pid))
                });
                (
                    pid.and_then(|p| process::stats(p, Duration::from_millis(200))),
                    rows,
                )
            })
            .await;
            if let Ok((stats, rows)) = facts {
                let _ = tx.send(Action::Resources(stats, rows)).await;
            }
        }
    }
}

/// The configuration rows for the inspector.
#[must_use]
pub fn config_rows(resolved: &Resolved) -> Vec<[String; 5]> {
    let doc = to_json(resolved);
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "(unset)".into(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    doc["settings"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let shadowed: Vec<String> = r["shadowed"]
                        .as_array()
                        .map(|s| {
                            s.iter()
                                .map(|x| format!("{} ({})", text(&x["value"]), text(&x["source"])))
                                .collect()
                        })
                        .unwrap_or_default();
                    let finding = r["findings"][0]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    [
                        text(&r["key"]),
                        text(&r["value"]),
                        text(&r["source"]),
                        shadowed.join(", "),
                        finding,
                    ]
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Follows the server log on a thread of its own (the tailer blocks), forwarding lines.
pub fn log_tail(path: std::path::PathBuf, tx: mpsc::Sender<Action>) {
    std::thread::spawn(move || {
        let (lines_tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || logtail::follow(&path, &lines_tx, Duration::from_secs(1)));
        for line in lines {
            if tx.blocking_send(Action::LogLine(line)).is_err() {
                return; // the console has gone; the follower ends at its next line
            }
        }
    });
}
