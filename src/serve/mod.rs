//! The bundled Socket.IO server: a stand-in for Claude MPM's Python monitor.
//!
//! [`spawn`] takes a bound listener (tests bind port 0) and the resolved settings and returns a
//! [`Running`] server; `command` wraps it for `mpm-top serve` (port choice, PID file, log file,
//! signals, daemon mode).

pub mod command;
pub mod hook;
pub mod http;
mod logfile;
mod pidfile;
pub mod poll_split;
pub mod socket;
pub mod state;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use crate::config::Settings;
pub use tls::load_acceptor;

/// How long a stop waits for connections to drain before it gives up on them; the guide allows
/// 10 s between SIGTERM and SIGKILL, and this leaves room for the rest of the shutdown.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Engine.IO maximum payload, as Claude MPM's server sets it (its client emits can be large).
const MAX_PAYLOAD: u64 = 1_000_000;

/// A server running on the tokio runtime.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its counters and history.
    pub state: socket::Shared,
    /// Its Socket.IO handle, to emit from outside (the demo workload does).
    pub io: SocketIo,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Disconnects every client, stops accepting, and waits up to [`DRAIN_TIMEOUT`] for open
    /// requests to finish.
    ///
    /// # Errors
    /// When the server had failed, or did not drain in time.
    pub async fn stop(self) -> anyhow::Result<()> {
        // Long-polling requests would otherwise hold the drain open for a whole ping interval.
        self.io.close().await;
        let _ = self.shutdown.send(true);
        match tokio::time::timeout(DRAIN_TIMEOUT, self.task).await {
            Ok(Ok(result)) => result.context("the server failed"),
            Ok(Err(join)) => Err(anyhow::anyhow!("the server task failed: {join}")),
            Err(_) => Err(anyhow::anyhow!(
                "connections did not drain within {DRAIN_TIMEOUT:?}"
            )),
        }
    }
}

/// Starts serving on `listener` with `settings`; `tls` turns HTTP into HTTPS (and WS into WSS).
///
/// # Errors
/// When the listener has no local address.
pub fn spawn(
    listener: TcpListener,
    settings: &Settings,
    tls: Option<tokio_native_tls::TlsAcceptor>,
) -> anyhow::Result<Running> {
    let addr = listener
        .local_addr()
        .context("the listener has no local address")?;
    let queue = usize::try_from(settings.max_buffer_size).unwrap_or(usize::MAX);
    let state = Arc::new(state::State::new(addr.port(), queue));
    let (layer, io) = SocketIo::builder()
        // Each client's queue holds as many packets as the history, so a client that connects
        // into a full history, or reads slowly through a burst, is not cut short at 128.
        .max_buffer_size(queue.max(128))
        .ping_timeout(Duration::from_secs(settings.timeout_secs.into()))
        .max_payload(MAX_PAYLOAD)
        .with_state(Arc::clone(&state))
        .build_layer();
    socket::register(&io);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let own = [
        format!("{scheme}://{addr}"),
        format!("{scheme}://{}:{}", settings.host, addr.port()),
    ];
    let origins = http::Origins::new(&settings.cors_origins, &own);
    let app = http::router(Arc::clone(&state), io.clone(), layer, origins).layer(
        axum::middleware::from_fn_with_state(poll_split::Overflow::default(), poll_split::split),
    );
    let (shutdown, mut stopped) = watch::channel(false);
    let heartbeat = Duration::from_secs(settings.heartbeat_interval_secs.into());
    tokio::spawn(heartbeats(
        io.clone(),
        Arc::clone(&state),
        heartbeat,
        shutdown.subscribe(),
    ));
    let until_stopped = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let task = match tls {
        None => tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(until_stopped)
                .await
        }),
        Some(acceptor) => {
            let listener = tls::TlsListener::new(listener, acceptor);
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(until_stopped)
                    .await
            })
        }
    };
    info!("listening on {scheme}://{addr}");
    Ok(Running {
        addr,
        state,
        io,
        shutdown,
        task,
    })
}

/// The `heartbeat` event Claude MPM's dashboard listens for (its own server never sends one).
async fn heartbeats(
    io: SocketIo,
    state: socket::Shared,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await; // the first tick is immediate; the first heartbeat comes after `every`
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let beat = json!({
            "timestamp": socket::now_rfc3339(), "service": socket::SERVICE,
            "uptime": state.uptime_secs(), "clients": socket::client_count(&io),
        });
        socket::broadcast(&io, &state, "heartbeat", &beat).await;
    }
}
