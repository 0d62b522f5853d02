//! Engine.IO long-polling responses of at most [`MAX_PACKETS`] packets.
//!
//! python-engineio clients (Claude MPM's Python tooling, the guide's scripts) refuse a polling
//! response holding more than 16 packets, and socketioxide has no such cap: a burst of events
//! would get a polling Python client dropped. Shrinking `max_payload` would cap bursts too, but
//! would also refuse large client emits. Instead, an oversized response is cut at 16 packets
//! and the rest is kept, per session, for the client's next poll, which follows at once. Order
//! is kept: nothing newer reaches the client until the kept packets are gone.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// python-engineio's limit on packets in one polling payload.
pub const MAX_PACKETS: usize = 16;

/// Engine.IO v4 separates packets in a polling payload with the record separator.
const SEPARATOR: u8 = 0x1e;

/// Kept packets of a session that stopped polling are dropped after this long.
const KEEP_FOR: Duration = Duration::from_mins(2);

/// Largest polling body read back for splitting (the server's `max_payload` bounds it anyway).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Packets held back for one session, and since when.
type Kept = (Instant, VecDeque<Vec<u8>>);

/// Packets held back per Engine.IO session.
#[derive(Clone, Debug, Default)]
pub struct Overflow(Arc<Mutex<HashMap<String, Kept>>>);

impl Overflow {
    /// The next batch kept for `sid`, if any.
    fn take(&self, sid: &str) -> Option<Vec<u8>> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, queue) = map.get_mut(sid)?;
        let batch: Vec<Vec<u8>> = queue.drain(..queue.len().min(MAX_PACKETS)).collect();
        if queue.is_empty() {
            map.remove(sid);
        }
        Some(batch.join(&SEPARATOR))
    }

    fn keep(&self, sid: &str, packets: impl IntoIterator<Item = Vec<u8>>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, (since, _)| since.elapsed() < KEEP_FOR);
        map.entry(sid.to_owned())
            .or_insert_with(|| (Instant::now(), VecDeque::new()))
            .1
            .extend(packets);
    }
}

/// The session ID of an Engine.IO polling GET, if this is one.
fn polling_sid(request: &Request) -> Option<String> {
    if request.method() != Method::GET || !request.uri().path().starts_with("/socket.io") {
        return None;
    }
    let query = request.uri().query()?;
    let mut polling = false;
    let mut sid = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("transport", "polling")) => polling = true,
            Some(("sid", value)) => sid = Some(value.to_owned()),
            _ => {}
        }
    }
    sid.filter(|_| polling)
}

/// The middleware: serve kept packets first, and cut oversized responses.
pub async fn split(State(overflow): State<Overflow>, request: Request, next: Next) -> Response {
    let Some(sid) = polling_sid(&request) else {
        return next.run(request).await;
    };
    if let Some(batch) = overflow.take(&sid) {
        return ([(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], batch).into_response();
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "polling payload too large to relay",
        )
            .into_response();
    };
    let mut packets = bytes.split(|b| *b == SEPARATOR);
    let first: Vec<&[u8]> = packets.by_ref().take(MAX_PACKETS).collect();
    let rest: Vec<Vec<u8>> = packets.map(<[u8]>::to_vec).collect();
    if rest.is_empty() {
        return Response::from_parts(parts, Body::from(bytes));
    }
    overflow.keep(&sid, rest);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(first.join(&SEPARATOR)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_packets_come_back_sixteen_at_a_time_in_order() {
        let overflow = Overflow::default();
        overflow.keep("s", (0..20).map(|i| format!("4{i}").into_bytes()));
        let first = overflow.take("s").unwrap();
        assert_eq!(first.split(|b| *b == SEPARATOR).count(), MAX_PACKETS);
        assert!(first.starts_with(b"40\x1e41"));
        assert_eq!(overflow.take("s").unwrap(), b"416\x1e417\x1e418\x1e419");
        assert_eq!(overflow.take("s"), None);
    }

    #[test]
    fn only_polling_gets_with_a_session_are_touched() {
        let req = |method, uri: &str| {
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            polling_sid(&req(
                Method::GET,
                "/socket.io/?EIO=4&transport=polling&sid=abc&t=1"
            )),
            Some("abc".into())
        );
        assert_eq!(
            polling_sid(&req(Method::GET, "/socket.io/?EIO=4&transport=polling&t=1")),
            None
        );
        assert_eq!(
            polling_sid(&req(
                Method::POST,
                "/socket.io/?EIO=4&transport=polling&sid=abc"
            )),
            None
        );
        assert_eq!(
            polling_sid(&req(
                Method::GET,
                "/socket.io/?EIO=4&transport=websocket&sid=abc"
            )),
            None
        );
        assert_eq!(polling_sid(&req(Method::GET, "/health")), None);
    }
}
