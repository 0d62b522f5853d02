//! `mpm-top serve` as a process: ports, PID file, signals, daemon mode, log file, TLS.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{ServeProcess, mpm_top_command, wait_with_timeout};

/// Runs `mpm-top ARGS` that must fail: exit status 1; its stderr.
fn serve_fails(home: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = mpm_top_command(home, env).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    err
}

fn free_port_pair() -> (TcpListener, u16) {
    // A held port and its free neighbour, found by trying; loopback only.
    for _ in 0..50 {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return (held, port);
        }
    }
    panic!("no two adjacent free ports");
}

#[test]
fn a_held_port_is_refused_naming_the_holder_and_the_fix() {
    let home = tempfile::tempdir().unwrap();
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let err = serve_fails(
        home.path(),
        &[],
        &["serve", "--host", "127.0.0.1", "--port", &port],
    );
    let me = format!("PID {} (", std::process::id());
    assert!(
        err.contains(&format!(
            "port {port} on 127.0.0.1 is already in use; port {port} is held by {me}"
        )),
        "{err}"
    );
    assert!(
        err.contains("Free it with `mpm-top recover`, or choose another port with --port"),
        "{err}"
    );
    // A server that never started writes nothing into the log file at its path: that file is
    // the running server's, and a console following it would show this failure as its error.
    let log = std::fs::read_to_string(home.path().join(".claude/logs/socketio_server.log"))
        .unwrap_or_default();
    assert!(!log.contains("serve failed"), "{log}");
    // --daemon's child has no stderr: it says why on the pipe its parent reads.
    let err = serve_fails(
        home.path(),
        &[],
        &["serve", "--daemon", "--host", "127.0.0.1", "--port", &port],
    );
    assert!(
        err.contains(&format!(
            "the server did not start: port {port} on 127.0.0.1 is already in use"
        )),
        "{err}"
    );
    assert!(!err.contains("see the log"), "{err}");
}

#[test]
fn the_first_free_port_of_the_range_is_taken_and_printed() {
    let home = tempfile::tempdir().unwrap();
    let (_held, port) = free_port_pair();
    let range = format!("{port}-{}", port + 1);
    let mut child = mpm_top_command(
        home.path(),
        &[
            ("SOCKETIO_PORT_RANGE", &range),
            ("SOCKETIO_HOST", "127.0.0.1"),
        ],
    )
    .arg("serve")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(
        line.contains(&format!("listening on http://127.0.0.1:{}", port + 1)),
        "{line}"
    );
    common::signal(child.id(), nix::sys::signal::Signal::SIGTERM);
    assert_eq!(
        wait_with_timeout(&mut child, Duration::from_secs(10)),
        Some(0)
    );
}

#[test]
fn sigterm_stops_within_ten_seconds_and_removes_the_pid_file() {
    let home = tempfile::tempdir().unwrap();
    let pid_file = home.path().join(".claude/socketio.pid");
    let mut server = ServeProcess::start(home.path(), &[], &[]);
    // A connected client must not hold the shutdown open.
    let _client = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        server.child.id().to_string()
    );
    let (took, code) = server.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(!pid_file.exists());
}

#[test]
fn a_second_server_refuses_to_share_a_live_pid_file() {
    let home = tempfile::tempdir().unwrap();
    let first = ServeProcess::start(home.path(), &[], &[]);
    let err = serve_fails(
        home.path(),
        &[],
        &["serve", "--host", "127.0.0.1", "--port", "0"],
    );
    assert!(
        err.contains(&format!(
            "another mpm-top server is running (PID {}",
            first.child.id()
        )),
        "{err}"
    );
    assert!(
        err.contains("per the PID file '~/.claude/socketio.pid'"),
        "{err}"
    );
}

#[test]
fn a_stale_pid_file_is_replaced() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".claude")).unwrap();
    std::fs::write(home.path().join(".claude/socketio.pid"), "999999999\n").unwrap();
    let server = ServeProcess::start(home.path(), &[], &[]);
    let written = std::fs::read_to_string(home.path().join(".claude/socketio.pid")).unwrap();
    assert_eq!(written.trim(), server.child.id().to_string());
}

#[test]
fn daemon_mode_returns_once_healthy_and_prints_the_pid() {
    let home = tempfile::tempdir().unwrap();
    let out = mpm_top_command(home.path(), &[])
        .args(["serve", "--daemon", "--host", "127.0.0.1", "--port", "0"])
        .output()
        .unwrap();
    let (pid, url) = common::daemon_started(&out);
    let health: serde_json::Value = reqwest::blocking::get(format!("{url}/health"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["pid"], pid);
    common::signal(pid, nix::sys::signal::Signal::SIGTERM);
    let pid_file = home.path().join(".claude/socketio.pid");
    for _ in 0..200 {
        if !pid_file.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the daemon did not stop on SIGTERM");
}

#[test]
fn the_log_answers_the_guides_grep_recipes() {
    let home = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::start(home.path(), &[], &[]);
    for subtype in ["pre_tool", "post_tool"] {
        let body = serde_json::json!({"event": "claude_event", "data": {"subtype": subtype, "correlation_id": "c-9", "session_id": "s-9", "data": {"tool_name": "Read"}}});
        common::post_event(&server.url, &body);
    }
    let out = mpm_top_command(home.path(), &[])
        .args([
            "test",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The server notices the test client's close on its own schedule; a SIGTERM sent the
    // moment `mpm-top test` exits can arrive before the disconnect is logged.
    let log_path = home.path().join(".claude/logs/socketio_server.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline
        && !std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains(" INFO disconnect sid=")
    {
        std::thread::sleep(Duration::from_millis(25));
    }
    server.terminate();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let grep = |pattern: &[&str]| {
        log.lines()
            .filter(|l| pattern.iter().any(|p| l.contains(p)))
            .collect::<Vec<_>>()
    };
    let tools = grep(&["tool_start", "tool_stop"]);
    assert_eq!(tools.len(), 2, "{log}");
    assert!(
        tools[0].contains("tool_start tool=Read correlation_id=c-9 session=s-9 (pre_tool)"),
        "{log}"
    );
    assert!(
        tools[1].contains("tool_stop tool=Read correlation_id=c-9"),
        "{log}"
    );
    let connections = grep(&["connect", "disconnect"]);
    assert!(
        connections.iter().any(|l| l.contains(" INFO connect sid=")),
        "{log}"
    );
    assert!(
        connections
            .iter()
            .any(|l| l.contains(" INFO disconnect sid=") && l.contains("reason=")),
        "{log}"
    );
}

#[test]
fn tls_serves_https_and_a_missing_key_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(home.path());
    let env = [
        ("SOCKETIO_SSL", "true"),
        ("SOCKETIO_CERT_PATH", cert.as_str()),
        ("SOCKETIO_KEY_PATH", key.as_str()),
    ];
    let server = ServeProcess::start(home.path(), &[], &env);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let http = reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let health: serde_json::Value = http
        .get(format!("{}/health", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "running");
    assert!(
        reqwest::blocking::get(format!("http://127.0.0.1:{}/health", server.port)).is_err(),
        "no plain HTTP"
    );
    drop(server);

    let garbage = home.path().join("garbage.pem");
    std::fs::write(&garbage, "not a key").unwrap();
    let env = [
        ("SOCKETIO_SSL", "true"),
        ("SOCKETIO_CERT_PATH", cert.as_str()),
        ("SOCKETIO_KEY_PATH", garbage.to_str().unwrap()),
    ];
    let err = serve_fails(
        home.path(),
        &env,
        &["serve", "--host", "127.0.0.1", "--port", "0"],
    );
    assert!(
        err.contains("are not a usable PEM certificate and PKCS#8 key"),
        "{err}"
    );
    let env = [
        ("SOCKETIO_SSL", "true"),
        ("SOCKETIO_CERT_PATH", cert.as_str()),
    ];
    let out = mpm_top_command(home.path(), &env)
        .args(["serve", "--host", "127.0.0.1", "--port", "0"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("ssl is on but key_path is not set"));
}

/// A throwaway self-signed certificate for 127.0.0.1, as PEM files.
fn self_signed(dir: &std::path::Path) -> (String, String) {
    use openssl::{
        asn1::Asn1Time, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509::X509,
        x509::X509NameBuilder,
    };
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "127.0.0.1").unwrap();
    let name = name.build();
    let mut cert = X509::builder().unwrap();
    cert.set_version(2).unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.build().to_pem().unwrap()).unwrap();
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (
        cert_path.to_str().unwrap().to_owned(),
        key_path.to_str().unwrap().to_owned(),
    )
}
