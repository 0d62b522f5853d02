//! HTTPS/WSS: the certificate and key from the configuration, and a listener that hands axum
//! connections only after their TLS handshake.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_native_tls::{TlsAcceptor, TlsStream};
use tracing::debug;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a PEM certificate (chain) and PKCS#8 PEM key into an acceptor.
///
/// # Errors
/// When either file cannot be read or they do not form a usable identity; the message names
/// the file and the fix. There is never a fall-back to plain HTTP.
pub fn load_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path)
            .with_context(|| format!("cannot read the TLS {what} '{}'", path.display()))
    };
    let (cert_pem, key_pem) = (
        read(cert, "certificate (cert_path)")?,
        read(key, "key (key_path)")?,
    );
    let identity = native_tls::Identity::from_pkcs8(&cert_pem, &key_pem).with_context(|| {
        format!(
            "'{}' and '{}' are not a usable PEM certificate and PKCS#8 key (convert an RSA key with `openssl pkcs8 -topk8 -nocrypt`)",
            cert.display(),
            key.display()
        )
    })?;
    let acceptor = native_tls::TlsAcceptor::new(identity)
        .context("the TLS library refused the certificate")?;
    Ok(TlsAcceptor::from(acceptor))
}

/// Accepts TCP, shakes hands on a task of its own (one slow client must not hold up others),
/// and yields finished TLS streams.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener`.
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            let mut failing = super::listen::Throttled::default();
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        if let Some(n) = failing.hit() {
                            tracing::warn!(
                                "cannot accept connections: {e} ({n} time(s) since the last report)"
                            );
                        }
                        // Out of file descriptors, typically: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => debug!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        TlsListener { ready }
    }
}

impl super::listen::Accept for TlsListener {
    type Io = TlsStream<TcpStream>;

    async fn accept(&mut self) -> std::io::Result<Self::Io> {
        match self.ready.recv().await {
            Some((stream, _)) => Ok(stream),
            // The accept loop only ends once this listener is gone; nothing more will come.
            None => std::future::pending().await,
        }
    }
}
