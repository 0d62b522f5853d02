//! A Socket.IO client session on `rust_socketio`, for `test`, `bench` and the console's feed.
//!
//! `rust_socketio`'s `connect()` returns before the server's connect ack, and socketioxide
//! closes a session that emits first, so [`connect`] returns only once `open` has fired. Every
//! event, including those a server sends before its ack, arrives on one channel with the instant
//! it was received.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::FutureExt as _;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// Which Engine.IO transport to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// Polling first, then upgrade to websocket (what browsers do).
    Upgrade,
    /// Websocket only.
    Websocket,
    /// Long-polling only.
    Polling,
}

/// One event received: name, first argument, and when it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    /// Event name.
    pub name: String,
    /// Its first argument (null when it had none).
    pub data: Value,
    /// Arrival time.
    pub at: Instant,
}

/// A connected client.
pub struct Session {
    client: Client,
    /// Events in arrival order.
    pub events: mpsc::UnboundedReceiver<Received>,
    /// Time from the start of the connect to the server's ack.
    pub connect_time: Duration,
}

/// An event's first argument, or null when it had none (or only binary data).
#[must_use]
pub fn first_argument(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.swap_remove(0),
        _ => Value::Null,
    }
}

/// An error and its causes on one line, each said once: `rust_socketio`'s errors repeat their
/// source's text, so `{e:#}` read "…protocol error: HTTP version must be 1.1 or higher:
/// WebSocket protocol error: HTTP version must be 1.1 or higher: HTTP version must be…".
#[must_use]
pub fn describe(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Connects to `url`, hands every event to `on_event` and the end of the connection (closed,
/// or an error) to `on_close`, and returns once the server has acked, with the time that took.
/// The one place a `rust_socketio` client is built: `test`, `bench` and the console's feed all
/// wait for the ack before they emit.
///
/// # Errors
/// When the server cannot be reached or does not ack within `timeout`.
pub async fn open(
    url: &str,
    transport: Transport,
    timeout: Duration,
    on_event: impl Fn(Received) + Send + Sync + 'static,
    on_close: impl Fn(String) + Send + Sync + 'static,
) -> anyhow::Result<(Client, Duration)> {
    let started = Instant::now();
    // rust_engineio's polling retries a failed handshake as fast as it can until our timeout
    // (940 requests a second against a server that answers 404 with no body). One handshake of
    // our own first: a server that will not open a polling session costs one request.
    if transport != Transport::Websocket {
        crate::probes::http::handshake(url, timeout)
            .await
            .with_context(|| format!("{url} refused a polling handshake"))?;
    }
    let (open_tx, open_rx) = oneshot::channel();
    let open_tx = std::sync::Mutex::new(Some(open_tx));
    // The first error before the ack ends the attempt at once: rust_socketio's polling would
    // otherwise retry a server that answers 404 as fast as it can until the timeout.
    let (failed_tx, failed_rx) = oneshot::channel::<String>();
    let failed_tx = std::sync::Mutex::new(Some(failed_tx));
    let on_close = std::sync::Arc::new(on_close);
    let on_error = on_close.clone();
    let builder = ClientBuilder::new(url)
        .transport_type(match transport {
            Transport::Upgrade => TransportType::Any,
            Transport::Websocket => TransportType::Websocket,
            Transport::Polling => TransportType::Polling,
        })
        .reconnect(false)
        .on(Event::Connect, move |_, _| {
            if let Some(tx) = open_tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(Instant::now());
            }
            async {}.boxed()
        })
        .on(Event::Close, move |_, _| {
            on_close("the connection closed".into());
            async {}.boxed()
        })
        .on(Event::Error, move |payload, _| {
            let why = format!("{payload:?}");
            if let Some(tx) = failed_tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(why.clone());
            }
            on_error(why);
            async {}.boxed()
        })
        .on_any(move |event, payload, _| {
            let at = Instant::now();
            on_event(Received {
                name: event.as_str().to_owned(),
                data: first_argument(payload),
                at,
            });
            async {}.boxed()
        });
    let client = tokio::time::timeout(timeout, builder.connect())
        .await
        .with_context(|| format!("no answer from {url} within {timeout:?}"))?
        .with_context(|| format!("cannot connect to {url}"))?;
    let remaining = timeout.saturating_sub(started.elapsed());
    let outcome = tokio::time::timeout(remaining, async {
        tokio::select! {
            at = open_rx => at.map_err(|_| "the client stopped".to_owned()),
            why = failed_rx => Err(why.unwrap_or_default()),
        }
    })
    .await;
    match outcome {
        Ok(Ok(at)) => Ok((client, at - started)),
        Ok(Err(why)) => {
            let _ = client.disconnect().await;
            bail!("{url} failed before its Socket.IO connect ack: {why}")
        }
        Err(_) => {
            let _ = client.disconnect().await;
            bail!(
                "{url} accepted the connection but sent no Socket.IO connect ack within {timeout:?}"
            )
        }
    }
}

/// Connects to `url` and waits up to `timeout` for the connect ack; events queue on
/// [`Session::events`].
///
/// # Errors
/// When the server cannot be reached or does not ack in time.
pub async fn connect(
    url: &str,
    transport: Transport,
    timeout: Duration,
) -> anyhow::Result<Session> {
    let (event_tx, events) = mpsc::unbounded_channel();
    let (client, connect_time) = open(
        url,
        transport,
        timeout,
        move |event| {
            let _ = event_tx.send(event);
        },
        |_| {},
    )
    .await?;
    Ok(Session {
        client,
        events,
        connect_time,
    })
}

impl Session {
    /// Emits `name` with `data`.
    ///
    /// # Errors
    /// When the connection is gone.
    pub async fn emit(&self, name: &str, data: Value) -> anyhow::Result<()> {
        self.client
            .emit(name, data)
            .await
            .with_context(|| format!("cannot emit '{name}'"))
    }

    /// Waits up to `timeout` for an event called `name`, skipping others.
    pub async fn wait_for(&mut self, name: &str, timeout: Duration) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) if event.name == name => return Some(event),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The underlying client.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Disconnects cleanly.
    ///
    /// # Errors
    /// When the disconnect packet cannot be sent.
    pub async fn disconnect(&self) -> anyhow::Result<()> {
        self.client
            .disconnect()
            .await
            .context("cannot disconnect cleanly")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_repeated_by_its_error_is_said_once() {
        let e = anyhow::anyhow!("HTTP version must be 1.1 or higher")
            .context("WebSocket protocol error: HTTP version must be 1.1 or higher")
            .context("cannot connect to http://127.0.0.1:9");
        assert_eq!(
            super::describe(&e),
            "cannot connect to http://127.0.0.1:9: WebSocket protocol error: HTTP version must be 1.1 or higher"
        );
    }
}
