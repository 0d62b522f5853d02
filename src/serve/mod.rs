//! The bundled Socket.IO server: a stand-in for Claude MPM's Python monitor.
//!
//! [`spawn`] takes a bound listener (tests bind port 0) and the resolved settings and returns a
//! [`Running`] server; `command` wraps it for `mpm-top serve` (port choice, PID file, log file,
//! signals, daemon mode).

pub mod command;
pub mod dashboard;
mod deadline;
pub mod fanout;
pub mod history;
pub mod hook;
pub mod http;
pub mod listen;
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
use tracing::{info, warn};

use crate::config::Settings;
pub use tls::load_acceptor;

/// How long a stop waits for connections to drain before it gives up on them; the guide allows
/// 10 s between SIGTERM and SIGKILL, and this leaves room for the rest of the shutdown.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long clients get to read what is queued for them before a stop closes them: a polling
/// client fetches at once what a broadcast queued, a websocket's writer sends it.
pub const FLUSH_GRACE: Duration = Duration::from_millis(250);

/// Each websocket's read buffer; a larger frame is read in more than one go.
const WS_READ_BUFFER: usize = 1024;

/// Engine.IO maximum payload, as Claude MPM's server sets it (its client emits can be large).
const MAX_PAYLOAD: u64 = 1_000_000;

/// Packets one client's queue holds at most, whatever `max_buffer_size` says: the payloads are
/// shared among clients (encoded once per broadcast), but a stalled client holds on to every one
/// in its queue until its next ping cuts it off.
pub const CLIENT_QUEUE_MAX: usize = 4096;

/// `max_buffer_size` above this only costs memory: the history is also bounded by
/// [`history::HISTORY_BYTES`], and each client's queue by [`CLIENT_QUEUE_MAX`].
pub const SANE_BUFFER_SIZE: u32 = 10_000;

/// Each client's queue: as many packets as the history (so a burst, or a late client's replay,
/// is not cut short at socketioxide's default of 128), within [128, [`CLIENT_QUEUE_MAX`]].
#[must_use]
pub fn client_queue_packets(max_buffer_size: u32) -> usize {
    usize::try_from(max_buffer_size)
        .unwrap_or(usize::MAX)
        .clamp(128, CLIENT_QUEUE_MAX)
}

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
    /// Stops in the order that keeps every promise made: hook posts are refused from now on,
    /// those in flight finish (each was or will be answered 204, so it is delivered), clients
    /// get [`FLUSH_GRACE`] to read what is queued, then they are closed and the listener stops.
    /// Whatever is still open at [`DRAIN_TIMEOUT`] (a half-sent request) is dropped.
    ///
    /// # Errors
    /// When the server had failed.
    pub async fn stop(self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        let mut in_flight = self.state.stop_posts();
        while in_flight > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
            in_flight = self.state.posts_in_flight();
        }
        if in_flight > 0 {
            warn!("{in_flight} hook post(s) still unfinished at the drain deadline");
        }
        if socket::client_count(&self.io) > 0 {
            tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + FLUSH_GRACE)).await;
        }
        // Long-polling requests would otherwise hold the drain open for a whole ping interval.
        if tokio::time::timeout_at(deadline, self.io.close())
            .await
            .is_err()
        {
            warn!("clients did not close by the drain deadline");
        }
        let _ = self.shutdown.send(true);
        let mut task = self.task;
        match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(Ok(result)) => result.context("the server failed"),
            Ok(Err(join)) => Err(anyhow::anyhow!("the server task failed: {join}")),
            Err(_) => {
                // In-process (the console's --demo) nothing else would end them.
                task.abort();
                warn!(
                    "connections still open after {DRAIN_TIMEOUT:?} (a request never finished sending) were dropped"
                );
                Ok(())
            }
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
    spawn_with(listener, settings, tls, None)
}

/// [`spawn`], also serving Claude MPM's web dashboard when one is given.
///
/// # Errors
/// When the listener has no local address.
pub fn spawn_with(
    listener: TcpListener,
    settings: &Settings,
    tls: Option<tokio_native_tls::TlsAcceptor>,
    dashboard: Option<&dashboard::Dashboard>,
) -> anyhow::Result<Running> {
    let addr = listener
        .local_addr()
        .context("the listener has no local address")?;
    let history = usize::try_from(settings.max_buffer_size).unwrap_or(usize::MAX);
    let mut state = state::State::new(addr.port(), history);
    state.dashboard = dashboard.is_some();
    let state = Arc::new(state);
    let (layer, io) = SocketIo::builder()
        .max_buffer_size(client_queue_packets(settings.max_buffer_size))
        // Clients send small frames (pongs, requests); the server is the one that writes.
        // engineioxide's default of 4 KiB per websocket was 4 MB of a 1,000-client storm.
        .ws_read_buffer_size(WS_READ_BUFFER)
        .ping_timeout(Duration::from_secs(settings.timeout_secs.into()))
        .max_payload(MAX_PAYLOAD)
        .with_state(Arc::clone(&state))
        .build_layer();
    socket::register(&io);
    let scheme = if tls.is_some() { "https" } else { "http" };
    // The machine's own name too, for a server other machines reach by it.
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let names = [
        settings.host.clone(),
        addr.ip().to_string(),
        hostname.trim().to_owned(),
    ];
    let origins = http::Origins::new(&settings.cors_origins, &names);
    let app = http::router(Arc::clone(&state), io.clone(), layer, origins, dashboard).layer(
        axum::middleware::from_fn_with_state(poll_split::Overflow::default(), poll_split::split),
    );
    let (shutdown, stopping) = watch::channel(false);
    let heartbeat = Duration::from_secs(settings.heartbeat_interval_secs.into());
    tokio::spawn(heartbeats(
        io.clone(),
        Arc::clone(&state),
        heartbeat,
        shutdown.subscribe(),
    ));
    let limits = listen::Limits {
        max_connections: listen::max_connections(),
        // A client that takes no bytes for a whole ping timeout cannot be answering pings.
        write_stall: Duration::from_secs(settings.timeout_secs.max(1).into()),
    };
    let task = tokio::spawn(listen::serve(listener, tls, app, limits, stopping));
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
