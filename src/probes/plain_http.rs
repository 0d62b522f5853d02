//! The probes' HTTP client for `http://` targets: hyper's, with a pool of kept-alive
//! connections and no TLS.
//!
//! reqwest (built with native-tls) starts OpenSSL and reads the whole CA bundle when its client
//! is built, whatever the URL. For the console watching a plain `http://` server every second
//! that was about 3 MiB of its own memory (libcrypto's pages and the parsed certificates) used
//! for nothing. `https://` targets still go through reqwest.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::http::{MAX_BODY, ProbeError};

type Plain = Client<HttpConnector, Full<Bytes>>;

fn client() -> &'static Plain {
    static CLIENT: OnceLock<Plain> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Client::builder(TokioExecutor::new())
            // As reqwest's pool: one idle connection kept per server, so a probe a second
            // reuses it instead of leaving a TIME_WAIT socket behind each time.
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1)
            .build(connector)
    })
}

/// Sends `method url` (with `body` as text, when there is one) and reads at most
/// [`MAX_BODY`] of the answer. The caller bounds the time.
pub async fn exchange(
    method: Method,
    url: &str,
    body: Option<&'static str>,
) -> Result<(StatusCode, String), ProbeError> {
    let mut request = Request::builder().method(method).uri(url);
    if body.is_some() {
        request = request.header("Content-Type", "text/plain;charset=UTF-8");
    }
    let request = request
        .body(Full::new(Bytes::from_static(body.unwrap_or("").as_bytes())))
        .map_err(|e| ProbeError::Failed(e.to_string()))?;
    let response = client().request(request).await.map_err(|e| error_of(&e))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ProbeError::Unexpected(format!(
                    "HTTP {status}: a body of more than {} KiB (a probe reads no more)",
                    MAX_BODY / 1024
                ))
            } else {
                ProbeError::Failed(super::http::root_cause(e.as_ref()))
            }
        })?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn error_of(e: &hyper_util::client::legacy::Error) -> ProbeError {
    let refused = {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
        let mut refused = false;
        while let Some(c) = cause {
            if c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
            {
                refused = true;
            }
            cause = c.source();
        }
        refused
    };
    if e.is_connect() && refused {
        ProbeError::Refused
    } else {
        ProbeError::Failed(super::http::root_cause(e))
    }
}
