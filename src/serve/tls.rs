//! HTTPS/WSS: the certificate and key from the configuration. The handshake itself runs in
//! each connection's task (`listen.rs`), under the connection cap.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio_native_tls::TlsAcceptor;

/// A client that has not finished its handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
