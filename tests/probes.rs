//! The HTTP probes against real servers on 127.0.0.1:0: they leave no Engine.IO session
//! behind, and a server that never stops sending cannot make them read without bound.
#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use mpm_top::config::Settings;
use mpm_top::probes::http::{self, MAX_BODY, ProbeError};

#[tokio::test]
async fn the_handshake_probe_closes_the_session_it_opens() {
    let mut settings = Settings::defaults(Path::new("/nonexistent-home"));
    settings.host = "127.0.0.1".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = mpm_top::serve::spawn(listener, &settings, None).unwrap();
    let url = format!("http://{}", server.addr);
    let open = http::handshake(&url, Duration::from_secs(2)).await.unwrap();
    // A poll on a session the server still holds would wait for packets (200); on a closed
    // one the server answers at once that it does not know the sid.
    let poll = reqwest::Client::new()
        .get(format!(
            "{url}/socket.io/?EIO=4&transport=polling&sid={}",
            open.sid
        ))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert!(
        poll.status().is_client_error(),
        "the session {} is still open: HTTP {}",
        open.sid,
        poll.status()
    );
    server.stop().await.unwrap();
}

/// A server whose `/health` answer starts and never ends; it counts what it managed to send.
fn endless_health() -> (u16, std::sync::mpsc::Receiver<usize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sent_tx, sent) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        let chunk = format!("{:x}\r\n{}\r\n", 4096, "x".repeat(4096));
        let mut total = 0;
        // Bounded by the client: it stops reading, the socket closes, writing fails.
        while total < 512 * 1024 * 1024 && stream.write_all(chunk.as_bytes()).is_ok() {
            total += 4096;
        }
        let _ = sent_tx.send(total);
    });
    (port, sent)
}

#[tokio::test]
async fn a_health_answer_that_never_ends_is_cut_at_the_body_limit() {
    let (port, sent) = endless_health();
    let answer = http::health(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5)).await;
    let Err(ProbeError::Unexpected(why)) = answer else {
        panic!("{answer:?}");
    };
    assert!(why.contains("more than 64 KiB"), "{why}");
    let total = tokio::task::spawn_blocking(move || sent.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .unwrap();
    // What the server got into the socket before it closed: the limit plus what the kernel's
    // buffers can hold (the receiver's and the sender's largest, read from this machine's
    // sysctls: loopback autotuning grew one past 4 MiB once under a loaded CI run), not the
    // half gigabyte it would have sent.
    let largest = |file: &str| -> usize {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{file}"))
            .ok()
            .and_then(|s| s.split_whitespace().last()?.parse().ok())
            .unwrap_or(8 * 1024 * 1024)
    };
    let buffers = largest("tcp_rmem") + largest("tcp_wmem");
    assert!(
        total < 16 * MAX_BODY + buffers,
        "{total} bytes were taken (kernel buffers up to {buffers})"
    );
}

#[tokio::test]
async fn a_port_nobody_listens_on_is_said_to_refuse() {
    // A port that was free a moment ago: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let answer = http::health(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2)).await;
    assert!(matches!(answer, Err(ProbeError::Refused)), "{answer:?}");
    assert_eq!(
        ProbeError::Refused.to_string(),
        "connection refused: nothing is listening"
    );
}
