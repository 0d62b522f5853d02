//! `mpm-top test`: the guide's connection test. Connect, emit `test_event`, wait for
//! `test_response`, disconnect, with a ✓/✗ line per step.
//!
//! Claude MPM's own server does not answer `test_event` (only the guide's scripts use it): the
//! test reads `/health` first and, for a Claude MPM server, goes straight to `dashboard:ping`.
//! For any other server that sends no `test_response`, it tries `dashboard:ping` too.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::probes::http::{self, ServerKind};
use crate::sio_client::{Session, Transport, connect};

/// Runs the test against `url`, writing the steps to `out`. Returns whether it passed.
pub async fn run(url: &str, transport: Transport, timeout: Duration, out: &mut impl Write) -> bool {
    let kind = match http::health(url, timeout.min(Duration::from_secs(2))).await {
        Ok(h) => {
            let _ = writeln!(out, "✓ /health answers: a {} server", h.kind.label());
            Some(h.kind)
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "! /health does not answer ({e}); testing Socket.IO anyway"
            );
            None
        }
    };
    // Every line carries what the server sent (its answers, its errors): shown, not obeyed.
    let mut say = |ok: bool, text: String| {
        let text = crate::text::sanitize(&text);
        let _ = writeln!(out, "{} {text}", if ok { "✓" } else { "✗" });
        ok
    };
    let mut session = match connect(url, transport, timeout).await {
        Ok(s) => s,
        Err(e) => {
            say(
                false,
                format!("Connection failed: {}", crate::sio_client::describe(&e)),
            );
            return say(false, "Connection test failed".into());
        }
    };
    say(
        true,
        format!(
            "Connected to {url} ({transport:?}) in {:.1} ms",
            ms(session.connect_time)
        ),
    );
    let claude_mpm = matches!(
        kind,
        Some(ServerKind::ClaudeMpm | ServerKind::ClaudeMpmLegacy)
    );
    let sent = Instant::now();
    if claude_mpm {
        let answered = ping(&mut session, timeout, &mut say).await;
        return finish(&session, answered, &mut say).await;
    }
    if let Err(e) = session
        .emit("test_event", json!({"message": "Hello Server"}))
        .await
    {
        say(false, crate::sio_client::describe(&e));
        return say(false, "Connection test failed".into());
    }
    let answered = if let Some(r) = session.wait_for("test_response", timeout).await {
        say(
            true,
            format!(
                "Received test_response in {:.1} ms: {}",
                ms(r.at - sent),
                r.data
            ),
        )
    } else {
        say(
            false,
            format!(
                "No test_response within {timeout:?}; trying dashboard:ping (Claude MPM's server answers that instead)"
            ),
        );
        ping(&mut session, timeout, &mut say).await
    };
    finish(&session, answered, &mut say).await
}

/// `dashboard:ping`, which Claude MPM's server and ours both answer.
async fn ping(
    session: &mut Session,
    timeout: Duration,
    say: &mut impl FnMut(bool, String) -> bool,
) -> bool {
    let sent = Instant::now();
    let ping = session
        .emit("dashboard:ping", json!({"timestamp": 0}))
        .await;
    match (ping, session.wait_for("dashboard:pong", timeout).await) {
        (Ok(()), Some(r)) => say(
            true,
            format!("Received dashboard:pong in {:.1} ms", ms(r.at - sent)),
        ),
        _ => say(
            false,
            format!(
                "No dashboard:pong within {timeout:?}: the server accepts connections but answers no request"
            ),
        ),
    }
}

async fn finish(
    session: &Session,
    answered: bool,
    say: &mut impl FnMut(bool, String) -> bool,
) -> bool {
    let closed = match session.disconnect().await {
        Ok(()) => say(true, "Disconnected cleanly".into()),
        Err(e) => say(false, crate::sio_client::describe(&e)),
    };
    let passed = answered && closed;
    say(
        passed,
        format!(
            "Connection test {}",
            if passed { "passed" } else { "failed" }
        ),
    )
}

/// Milliseconds with a fraction, for display.
#[must_use]
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
