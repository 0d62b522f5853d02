//! Who the actions stop, against real processes this test starts: only the process the socket
//! table shows holding the listening socket, never a PID a server claims, never a client
//! connected to the port, never anything for a target on another machine.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{mpm_top_command, python_script, signal, wait_with_timeout};
use nix::sys::signal::Signal;

/// A Python HTTP server on 127.0.0.1:0 whose /health claims to be mpm-top's with `pid`.
fn liar(claimed_pid: u32) -> (Child, u16) {
    let script = format!(
        r#"import http.server, json, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{"service": "mpm-top", "status": "running", "pid": {claimed_pid}}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#
    );
    let (child, port) = python_script(&script);
    (child, port.unwrap())
}

/// A process holding an ESTABLISHED connection to `port`.
fn client_of(port: u16) -> Child {
    let script = format!(
        "import socket, time\ns = socket.create_connection(('127.0.0.1', {port}))\nprint('connected', flush=True)\ntime.sleep(120)\n"
    );
    python_script(&script).0
}

fn alive(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn restart_stops_the_socket_holder_never_the_claimed_pid_nor_a_client() {
    let home = tempfile::tempdir().unwrap();
    let mut decoy = Command::new("sleep").arg("120").spawn().unwrap();
    let (mut holder, port) = liar(decoy.id());
    let mut client = client_of(port);
    let args = [
        "restart",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ];

    // /health says mpm-top, but a python program holds the socket: restart asks, and with no
    // terminal to ask on, does nothing.
    let declined = mpm_top_command(home.path(), &[])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&declined.stderr);
    assert_eq!(declined.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("PID {}", holder.id())), "{said}");
    assert!(!said.contains(&format!("PID {} ", decoy.id())), "{said}");
    assert!(alive(&mut holder) && alive(&mut decoy) && alive(&mut client));

    let out = mpm_top_command(home.path(), &[])
        .args(args)
        .arg("--yes")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        wait_with_timeout(&mut holder, Duration::from_secs(5)).is_some(),
        "the socket's holder was stopped: {said}"
    );
    assert!(alive(&mut decoy), "the PID /health claimed was not touched");
    assert!(
        alive(&mut client),
        "a client connected to the port was not touched"
    );
    // Stop the server restart started, by the PID file it wrote.
    let pid: u32 = std::fs::read_to_string(home.path().join(".claude/socketio.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    signal(pid, Signal::SIGTERM);
    stop(decoy);
    stop(client);
}

#[test]
fn nothing_here_is_stopped_for_a_target_on_another_machine() {
    let home = tempfile::tempdir().unwrap();
    let (mut holder, port) = liar(1);
    // 192.0.2.7 is a documentation address: refused before anything is sent to it.
    for action in ["recover", "restart"] {
        let out = mpm_top_command(home.path(), &[])
            .args([
                action,
                "--yes",
                "--host",
                "192.0.2.7",
                "--port",
                &port.to_string(),
            ])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{action}: {said}");
        assert!(said.contains("is not this machine"), "{action}: {said}");
    }
    assert!(
        alive(&mut holder),
        "the local listener on the same port was left alone"
    );
    stop(holder);
}

#[test]
fn port_0_and_a_configuration_with_errors_stop_nothing() {
    let home = tempfile::tempdir().unwrap();
    let (mut holder, port) = liar(1);
    let out = mpm_top_command(home.path(), &[])
        .args(["recover", "--yes", "--host", "127.0.0.1", "--port", "0"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("port 0 names no server"), "{said}");
    // A port that does not parse would fall back to the default: refused before anything.
    let out = mpm_top_command(home.path(), &[("SOCKETIO_PORT", "70000")])
        .args(["restart", "--yes"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("refusing to act"), "{said}");
    assert!(alive(&mut holder), "nothing was touched on port {port}");
    stop(holder);
}
