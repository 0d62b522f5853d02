//! `mpm-top test`: the guide's connection test. Connect, emit `test_event`, wait for
//! `test_response`, disconnect, with a ✓/✗ line per step.
//!
//! Claude MPM's own server does not answer `test_event` (only the guide's scripts use it), so
//! when no `test_response` comes the test asks `dashboard:ping` instead and says which answered.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::sio_client::{Transport, connect};

/// Runs the test against `url`, writing the steps to `out`. Returns whether it passed.
pub async fn run(url: &str, transport: Transport, timeout: Duration, out: &mut impl Write) -> bool {
    let mut say = |ok: bool, text: String| {
        let _ = writeln!(out, "{} {text}", if ok { "✓" } else { "✗" });
        ok
    };
    let mut session = match connect(url, transport, timeout).await {
        Ok(s) => s,
        Err(e) => {
            say(false, format!("Connection failed: {e:#}"));
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
    let sent = Instant::now();
    if let Err(e) = session
        .emit("test_event", json!({"message": "Hello Server"}))
        .await
    {
        say(false, format!("{e:#}"));
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
        let sent = Instant::now();
        let ping = session
            .emit("dashboard:ping", json!({"timestamp": 0}))
            .await;
        match (ping, session.wait_for("dashboard:pong", timeout).await) {
            (Ok(()), Some(r)) => say(
                true,
                format!(
                    "Received dashboard:pong in {:.1} ms: the server is a Claude MPM monitor",
                    ms(r.at - sent)
                ),
            ),
            _ => say(
                false,
                format!(
                    "No dashboard:pong within {timeout:?} either: the server accepts connections but answers no request"
                ),
            ),
        }
    };
    let closed = match session.disconnect().await {
        Ok(()) => say(true, "Disconnected cleanly".into()),
        Err(e) => say(false, format!("{e:#}")),
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
