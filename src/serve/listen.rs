//! serve's connection loop: what `axum::serve` does, plus the limits a server facing abuse needs.
//!
//! - A request's headers must arrive within [`HEADER_TIMEOUT`] (hyper's timer), and a TLS
//!   handshake within its own timeout, so half-open connections and trickled headers cannot
//!   pile up. (Bodies are timed by the router.)
//! - At most `max_connections` are open at once, TLS handshakes and websockets included (the
//!   place is held by the connection's I/O, which a websocket upgrade keeps); past it, new
//!   connections wait in the kernel's backlog, and one log line says so per [`LOG_EVERY`].
//! - Accept errors that mean running out (descriptors above all) are logged at most once per
//!   [`LOG_EVERY`], with how many there were.
//! - A connection whose client takes no bytes at all for `write_stall` (the ping timeout) is
//!   ended. engineioxide's heartbeat closes such a websocket, but the close waits behind the
//!   write the client never takes, so without this it stayed, queue and all, until the client
//!   read again.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_native_tls::TlsAcceptor;
use tracing::{debug, warn};

/// A request's headers must be complete within this long of the connection being ready for them.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Repeated conditions (the connection cap reached, accept failing) are logged once per this.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Connections open at once, at most: the open-files limit less room for the server's own
/// files, within [64, 8192].
#[must_use]
pub fn max_connections() -> usize {
    use nix::sys::resource::{Resource, getrlimit};
    let soft = getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft);
    usize::try_from(soft.saturating_sub(128))
        .unwrap_or(usize::MAX)
        .clamp(64, 8192)
}

/// A condition worth one log line per [`LOG_EVERY`], with how often it happened meanwhile.
#[derive(Debug, Default)]
pub(crate) struct Throttled {
    last: Option<Instant>,
    since: u64,
}

impl Throttled {
    /// Counts one; returns how many to report when a line is due.
    pub(crate) fn hit(&mut self) -> Option<u64> {
        self.since += 1;
        let due = self.last.is_none_or(|l| l.elapsed() >= LOG_EVERY);
        due.then(|| {
            self.last = Some(Instant::now());
            std::mem::take(&mut self.since)
        })
    }
}

/// What one server's connections may cost.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a write may wait for a client that takes no bytes.
    pub write_stall: Duration,
}

/// Serves `app` on `listener` (TLS when `tls` is given) until `stop` turns true, then lets open
/// connections finish (the caller bounds how long it waits).
///
/// # Errors
/// Never at present; the result leaves room for a listener that can fail for good.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let Limits {
        max_connections,
        write_stall,
    } = limits;
    let permits = Arc::new(Semaphore::new(max_connections));
    // Every connection task holds a receiver: `closed()` on the sender is "all have ended".
    let (graceful, connections) = watch::channel(());
    let (mut at_cap, mut failing) = (Throttled::default(), Throttled::default());
    loop {
        let permit = if let Ok(permit) = Arc::clone(&permits).try_acquire_owned() {
            permit
        } else {
            if let Some(n) = at_cap.hit() {
                warn!(
                    "connection limit reached: {max_connections} open; new connections wait until one closes ({n} time(s) since the last report)"
                );
            }
            tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                _ = stop.wait_for(|s| *s) => break,
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // One connection that failed before it was accepted (reset, aborted): the next.
            Err(e) if !out_of_resources(&e) => {
                debug!("a connection failed as it was accepted: {e}");
                continue;
            }
            Err(e) => {
                if let Some(n) = failing.hit() {
                    warn!("cannot accept connections: {e} ({n} time(s) since the last report)");
                }
                // Out of descriptors: a connection must close before accepting can succeed.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Socket.IO sends many small frames; Nagle would hold each for up to 40 ms.
        let _ = stream.set_nodelay(true);
        let (app, tls, closing) = (app.clone(), tls.clone(), connections.clone());
        tokio::spawn(async move {
            match tls {
                None => {
                    let io = Counted::new(stream, permit, write_stall);
                    connection(io, app, closing).await;
                }
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        super::tls::HANDSHAKE_TIMEOUT,
                        acceptor.accept(stream),
                    );
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            let io = Counted::new(stream, permit, write_stall);
                            connection(io, app, closing).await;
                        }
                        Ok(Err(e)) => debug!("TLS handshake failed: {e}"),
                        Err(_) => debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    drop(connections);
    // Tells every connection to finish its request in progress and close.
    let _ = graceful.send(());
    graceful.closed().await;
    Ok(())
}

/// Serves one connection until it ends, or finishes its request and ends when `closing` says.
async fn connection<T>(io: Counted<T>, app: Router, mut closing: watch::Receiver<()>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let mut asked = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    debug!("connection ended: {e}");
                }
                return;
            }
            _ = closing.changed(), if !asked => {
                asked = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Whether an accept error is the process or system running out of something (descriptors,
/// memory, buffers), which retrying at once cannot fix, rather than one connection failing.
fn out_of_resources(e: &io::Error) -> bool {
    use nix::errno::Errno;
    e.raw_os_error().is_some_and(|code| {
        [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM]
            .iter()
            .any(|errno| *errno as i32 == code)
    })
}

/// A connection's stream holding its place under the cap until it is dropped, which for an
/// upgraded websocket is when the websocket ends; its writes fail once the client has taken
/// nothing for `stall`.
struct Counted<T> {
    io: T,
    _permit: OwnedSemaphorePermit,
    stall: Duration,
    /// Running while a write waits; reset by any progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> Counted<T> {
    fn new(io: T, permit: OwnedSemaphorePermit, stall: Duration) -> Counted<T> {
        Counted {
            io,
            _permit: permit,
            stall,
            stalled: None,
        }
    }

    /// What a write came to: progress resets the stall timer, waiting runs it, and a wait past
    /// `stall` is an error that ends the connection.
    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let stall = self.stall;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client took no data for {stall:?}"),
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_condition_is_reported_once_per_window_with_its_count() {
        let mut t = Throttled::default();
        assert_eq!(t.hit(), Some(1));
        assert_eq!(t.hit(), None);
        assert_eq!(t.hit(), None);
        t.last = Instant::now().checked_sub(LOG_EVERY);
        assert_eq!(t.hit(), Some(3));
    }
}
