//! A deadline for a whole request body. tower-http's body timeout is per chunk: a body sent a
//! byte a second never trips it, and holds a connection (and its place under the cap) for good.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// A request body must have arrived, all of it, within this long of its headers.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Middleware: gives the request's body [`BODY_DEADLINE`].
pub async fn body_deadline(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = Body::new(Deadline {
        inner: body,
        expires: Box::pin(tokio::time::sleep(BODY_DEADLINE)),
    });
    next.run(Request::from_parts(parts, body)).await
}

/// A body that fails once its deadline has passed.
struct Deadline {
    inner: Body,
    expires: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.expires.as_mut().poll(cx).is_ready() {
            let late = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the request body did not arrive within {BODY_DEADLINE:?}"),
            );
            return Poll::Ready(Some(Err(axum::Error::new(late))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
