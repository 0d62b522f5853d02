//! Probes over HTTP and websocket: `/health`, the Engine.IO handshake, the websocket upgrade,
//! CORS, and discovery of servers on the Claude MPM port range. Each is bounded by a timeout and
//! returns data or a typed error.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Ports Claude MPM's monitor may take.
pub const CLAUDE_MPM_PORTS: std::ops::RangeInclusive<u16> = 8765..=8785;

/// Why a probe got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ProbeError {
    /// Nothing listens there.
    #[error("connection refused: nothing is listening")]
    Refused,
    /// No answer in time (a hung server looks like this).
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// An answer that is not what a Socket.IO server sends.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// Any other transport failure.
    #[error("{0}")]
    Failed(String),
}

impl ProbeError {
    fn from_reqwest(e: &reqwest::Error, timeout: Duration) -> ProbeError {
        if e.is_timeout() {
            ProbeError::Timeout(millis(timeout))
        } else if e.is_connect() && format!("{e:?}").contains("ConnectionRefused") {
            ProbeError::Refused
        } else {
            ProbeError::Failed(root_cause(e))
        }
    }
}

pub(crate) fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Which server answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// mpm-top's own (`service: mpm-top`).
    MpmTop,
    /// Claude MPM's monitor (`service: claude-mpm-monitor`).
    ClaudeMpm,
    /// Claude MPM's older server class (`service: claude-mpm-socketio`).
    ClaudeMpmLegacy,
    /// Something else answered `/health` (its `service`, if any).
    Foreign(Option<String>),
}

impl ServerKind {
    /// From a `/health` body.
    #[must_use]
    pub fn of(health: &Value) -> ServerKind {
        match health.get("service").and_then(Value::as_str) {
            Some("mpm-top") => ServerKind::MpmTop,
            Some("claude-mpm-monitor") => ServerKind::ClaudeMpm,
            Some("claude-mpm-socketio") => ServerKind::ClaudeMpmLegacy,
            other => ServerKind::Foreign(other.map(|s| crate::text::clean(&truncate(s, 60)))),
        }
    }

    /// A short name for people.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            ServerKind::MpmTop => "mpm-top".into(),
            ServerKind::ClaudeMpm => "Claude MPM".into(),
            ServerKind::ClaudeMpmLegacy => "Claude MPM (older server)".into(),
            ServerKind::Foreign(Some(s)) => format!("foreign ({s})"),
            ServerKind::Foreign(None) => "foreign".into(),
        }
    }
}

/// `/health`, in any of the three formats.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Health {
    /// Which server.
    pub kind: ServerKind,
    /// `status` (`running`, `healthy`, ...).
    pub status: String,
    /// The server's PID, if it says.
    pub pid: Option<u32>,
    /// Uptime in seconds (`uptime` or `uptime_seconds`).
    pub uptime_secs: Option<f64>,
    /// Connected clients (`clients` or `connected_clients`), if it says.
    pub clients: Option<u64>,
    /// Time to answer.
    pub latency_ms: f64,
    /// The body as sent.
    pub raw: Value,
}

impl Health {
    /// Reads the fields the three formats share or spell differently.
    #[must_use]
    pub fn parse(raw: Value, latency: Duration) -> Health {
        let number = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| raw.get(*k).and_then(Value::as_f64))
                .and_then(plausible)
        };
        Health {
            kind: ServerKind::of(&raw),
            status: crate::text::clean(&truncate(raw.get("status").and_then(Value::as_str).unwrap_or("?"), 60)),
            pid: raw.get("pid").and_then(Value::as_u64).and_then(|p| u32::try_from(p).ok()),
            uptime_secs: number(&["uptime", "uptime_seconds"]),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // client counts
            clients: number(&["clients", "connected_clients", "clients_connected"]).map(|c| c as u64),
            latency_ms: latency.as_secs_f64() * 1000.0,
            raw,
        }
    }
}

/// The largest figure (a count, seconds, a rate) believed from a server: past it, a number is
/// a lie or a bug, and shown as unknown rather than as `u64::MAX` or `inf`.
pub const MAX_PLAUSIBLE: f64 = 1e9;

/// `n` when it is a figure a server can mean: finite, not negative, at most [`MAX_PLAUSIBLE`].
#[must_use]
pub fn plausible(n: f64) -> Option<f64> {
    (n.is_finite() && (0.0..=MAX_PLAUSIBLE).contains(&n)).then_some(n)
}

/// One client for every probe: building one loads the system's root certificates, which is
/// slow, synchronous work. Timeouts are set per request.
pub(crate) fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            // Local diagnostics of a server whose certificate is often self-signed.
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap_or_default()
    })
}

/// The most of a body any probe reads: `/health` is a few hundred bytes, and a server that
/// streams forever must not fill the console's memory.
pub const MAX_BODY: usize = 64 * 1024;

/// Sends `method url` (a POST with `body` as text) and reads at most [`MAX_BODY`] of the
/// answer, all within `timeout`: plain `http://` through hyper, anything else through reqwest
/// (see `plain_http` for why).
async fn fetch(
    method: reqwest::Method,
    url: &str,
    body: Option<&'static str>,
    timeout: Duration,
) -> Result<(reqwest::StatusCode, String), ProbeError> {
    let exchange = async {
        if url.starts_with("http://") {
            return super::plain_http::exchange(method, url, body).await;
        }
        let mut request = client().request(method, url).timeout(timeout);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "text/plain;charset=UTF-8")
                .body(body);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| ProbeError::from_reqwest(&e, timeout))?;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ProbeError::from_reqwest(&e, timeout))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(ProbeError::Unexpected(format!(
                    "HTTP {}: a body of more than {} KiB (a probe reads no more)",
                    response.status(),
                    MAX_BODY / 1024
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((
            response.status(),
            String::from_utf8_lossy(&body).into_owned(),
        ))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ProbeError::Timeout(millis(timeout)))?
}

/// `GET url`, bounded like every probe.
async fn get(url: &str, timeout: Duration) -> Result<(reqwest::StatusCode, String), ProbeError> {
    fetch(reqwest::Method::GET, url, None, timeout).await
}

/// `GET url` as JSON, bounded like every probe.
///
/// # Errors
/// When nothing answers in time, the status is not a success, or the body is not JSON.
pub async fn get_json(url: &str, timeout: Duration) -> Result<Value, ProbeError> {
    let (status, body) = get(url, timeout).await?;
    match serde_json::from_str::<Value>(&body) {
        Ok(v) if status.is_success() => Ok(v),
        _ => Err(ProbeError::Unexpected(format!(
            "HTTP {status}: {}",
            crate::text::clean(&truncate(&body, 80))
        ))),
    }
}

/// `GET /health`.
///
/// # Errors
/// When nothing answers in time, or the answer is not JSON.
pub async fn health(base: &str, timeout: Duration) -> Result<Health, ProbeError> {
    let started = Instant::now();
    let (status, body) = get(&format!("{base}/health"), timeout).await?;
    let latency = started.elapsed();
    match serde_json::from_str::<Value>(&body) {
        Ok(json) if status.is_success() => Ok(Health::parse(json, latency)),
        _ => Err(ProbeError::Unexpected(format!(
            "HTTP {status}: {}",
            crate::text::clean(&truncate(&body, 80))
        ))),
    }
}

use crate::text::truncate;

/// Polls `/health` until it answers, for at most `within`: a server just started.
///
/// # Errors
/// The last probe's error when nothing answered in time.
pub async fn wait_for_health(base: &str, within: Duration) -> Result<Health, ProbeError> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match health(base, left.min(Duration::from_secs(2))).await {
            Ok(h) => return Ok(h),
            Err(e) if Instant::now() + Duration::from_millis(100) >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The Engine.IO open packet (`0{…}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Handshake {
    /// Session ID.
    pub sid: String,
    /// Transports it offers to upgrade to.
    pub upgrades: Vec<String>,
    /// Ping interval, ms.
    pub ping_interval_ms: u64,
    /// Ping timeout, ms.
    pub ping_timeout_ms: u64,
    /// Largest payload accepted, bytes (sent as int or, by the older server, as a float).
    pub max_payload: u64,
}

/// Parses an open packet; `maxPayload` may be an integer or a float.
///
/// # Errors
/// When the text is not an Engine.IO v4 open packet.
pub fn parse_open_packet(text: &str) -> Result<Handshake, ProbeError> {
    let json = text.strip_prefix('0').ok_or_else(|| {
        ProbeError::Unexpected(format!(
            "not an open packet: {}",
            crate::text::clean(&truncate(text, 60))
        ))
    })?;
    let v: Value = serde_json::from_str(json)
        .map_err(|e| ProbeError::Unexpected(format!("open packet is not JSON: {e}")))?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // sizes and intervals
    let number = |k: &str| v.get(k).and_then(Value::as_f64).map(|n| n as u64);
    Ok(Handshake {
        // Sent back in the URL that closes the session: sanitised and short.
        sid: crate::text::clean(&truncate(
            v.get("sid")
                .and_then(Value::as_str)
                .ok_or_else(|| ProbeError::Unexpected("open packet has no sid".into()))?,
            64,
        )),
        upgrades: v
            .get("upgrades")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        ping_interval_ms: number("pingInterval").unwrap_or(0),
        ping_timeout_ms: number("pingTimeout").unwrap_or(0),
        max_payload: number("maxPayload").unwrap_or(0),
    })
}

/// The guide's `curl /socket.io/?transport=polling` check. The session the handshake opens is
/// closed again (an Engine.IO close packet), so probing leaves nothing on the server.
///
/// # Errors
/// When nothing answers, or the answer is not an open packet.
pub async fn handshake(base: &str, timeout: Duration) -> Result<Handshake, ProbeError> {
    let url = format!("{base}/socket.io/?EIO=4&transport=polling");
    let (_, body) = get(&url, timeout).await?;
    let open = parse_open_packet(&body)?;
    if open.sid.ends_with('…') {
        return Ok(open); // a sid cut for safety cannot name the session to close
    }
    let close = format!("{url}&sid={}", open.sid);
    let _ = fetch(reqwest::Method::POST, &close, Some("1"), timeout).await;
    Ok(open)
}

/// Opens a websocket straight to `/socket.io/` and waits for the open packet; the time taken.
///
/// # Errors
/// When the upgrade is refused or no open packet arrives in time.
pub async fn websocket_upgrade(base: &str, timeout: Duration) -> Result<Duration, ProbeError> {
    let started = Instant::now();
    let url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        base.replacen("http", "ws", 1)
    );
    let attempt = async {
        // The open packet is a few hundred bytes; a server sending a huge frame instead is
        // refused at the limit every probe reads, not buffered.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
            max_message_size: Some(MAX_BODY),
            max_frame_size: Some(MAX_BODY),
            ..Default::default()
        };
        let (mut stream, _) =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true)
                .await
                .map_err(|e| ProbeError::Failed(root_cause(&e)))?;
        let first = stream
            .next()
            .await
            .ok_or_else(|| ProbeError::Unexpected("closed before the open packet".into()))?;
        let text = first
            .map_err(|e| ProbeError::Failed(root_cause(&e)))?
            .into_text()
            .unwrap_or_default();
        parse_open_packet(&text)?;
        let _ = stream.close(None).await;
        Ok(started.elapsed())
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| ProbeError::Timeout(millis(timeout)))?
}

/// What a CORS preflight from `origin` got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cors {
    /// The origin asked about.
    pub origin: String,
    /// Whether a browser page from there may connect.
    pub allowed: bool,
    /// HTTP status of the preflight.
    pub status: u16,
    /// `Access-Control-Allow-Origin` as answered.
    pub allow_origin: Option<String>,
}

/// A browser's preflight for Socket.IO polling from `origin`.
///
/// # Errors
/// When nothing answers in time.
pub async fn cors(base: &str, origin: &str, timeout: Duration) -> Result<Cors, ProbeError> {
    let response = client()
        .request(
            reqwest::Method::OPTIONS,
            format!("{base}/socket.io/?EIO=4&transport=polling"),
        )
        .timeout(timeout)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .map_err(|e| ProbeError::from_reqwest(&e, timeout))?;
    let allow_origin = response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = response.status().is_success()
        && allow_origin
            .as_deref()
            .is_some_and(|a| a == "*" || a == origin);
    Ok(Cors {
        origin: origin.to_owned(),
        allowed,
        status: response.status().as_u16(),
        allow_origin,
    })
}

/// A server found on a port.
#[derive(Clone, Debug, Serialize)]
pub struct Found {
    /// The port.
    pub port: u16,
    /// Its `/health`.
    pub health: Health,
}

/// The ports discovery scans: Claude MPM's range and the configured `port_range`, without
/// `except` (the target's own port).
#[must_use]
pub fn discovery_ports(port_range: Option<crate::config::PortRange>, except: u16) -> Vec<u16> {
    let mut ports: Vec<u16> = CLAUDE_MPM_PORTS
        .chain(
            port_range
                .into_iter()
                .flat_map(crate::config::PortRange::ports),
        )
        .filter(|p| *p != except)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Every port of `ports` whose `/health` answers, probed concurrently, each within `timeout`.
pub async fn discover(
    host: &str,
    ports: impl IntoIterator<Item = u16>,
    timeout: Duration,
) -> Vec<Found> {
    let probes = ports.into_iter().map(|port| async move {
        let base = format!("http://{}:{port}", crate::target::bracket(host));
        health(&base, timeout)
            .await
            .ok()
            .map(|health| Found { port, health })
    });
    let mut found: Vec<Found> = futures_util::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect();
    found.sort_by_key(|f| f.port);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn open_packets_of_every_server_parse() {
        let real = parse_open_packet(r#"0{"sid":"5gz4","upgrades":[],"pingTimeout":60000,"pingInterval":30000,"maxPayload":1000000}"#).unwrap();
        assert_eq!(
            (
                real.ping_interval_ms,
                real.ping_timeout_ms,
                real.max_payload
            ),
            (30000, 60000, 1_000_000)
        );
        let legacy = parse_open_packet(r#"0{"sid":"q5Kv","upgrades":[],"pingTimeout":20000,"pingInterval":25000,"maxPayload":100000000.0}"#).unwrap();
        assert_eq!(legacy.max_payload, 100_000_000);
        assert!(matches!(
            parse_open_packet("<html>"),
            Err(ProbeError::Unexpected(_))
        ));
        assert!(
            matches!(parse_open_packet("0{}"), Err(ProbeError::Unexpected(m)) if m.contains("no sid"))
        );
    }

    #[test]
    fn health_formats_of_every_server_parse() {
        let real = Health::parse(
            json!({"status":"running","service":"claude-mpm-monitor","version":"1.0.0","port":8765,"pid":42,"uptime":12.5}),
            Duration::ZERO,
        );
        assert_eq!(
            (real.kind, real.pid, real.uptime_secs),
            (ServerKind::ClaudeMpm, Some(42), Some(12.5))
        );
        let legacy = Health::parse(
            json!({"status":"healthy","service":"claude-mpm-socketio","uptime_seconds":3,"connected_clients":2}),
            Duration::ZERO,
        );
        assert_eq!(
            (legacy.kind, legacy.clients, legacy.uptime_secs),
            (ServerKind::ClaudeMpmLegacy, Some(2), Some(3.0))
        );
        assert_eq!(
            ServerKind::of(&json!({"ok": true})),
            ServerKind::Foreign(None)
        );
    }

    #[test]
    fn absurd_figures_from_a_lying_health_are_unknown() {
        let liar = Health::parse(
            json!({"status":"running","clients":1e300,"uptime":-5,"connected_clients":3}),
            Duration::ZERO,
        );
        assert_eq!((liar.clients, liar.uptime_secs), (None, None));
        let huge = Health::parse(json!({"clients": 2e9, "uptime": 1e9}), Duration::ZERO);
        assert_eq!((huge.clients, huge.uptime_secs), (None, Some(1e9)));
        assert_eq!(plausible(f64::NAN), None);
        assert_eq!(plausible(f64::INFINITY), None);
        assert_eq!(plausible(0.0), Some(0.0));
    }
}
