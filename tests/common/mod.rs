//! Helpers shared by the integration tests: the real `mpm-top serve` process on 127.0.0.1:0,
//! and the pinned Python peers.
#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a different subset

pub mod pty;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// `mpm-top serve` started by a test; sent SIGTERM (then killed) when dropped.
pub struct ServeProcess {
    pub child: Child,
    pub url: String,
    pub port: u16,
    pub stdout_line: String,
    /// Everything it wrote on stderr so far. Read as it comes: a pipe nobody drains fills at
    /// 64 KiB and then blocks the server's every log line.
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ServeProcess {
    /// Starts `mpm-top serve --host 127.0.0.1 --port 0 ARGS` with HOME=`home` and only `env`.
    pub fn start(home: &Path, args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        ServeProcess::start_on(home, 0, args, env)
    }

    /// The same on a given port (one a test had taken with port 0 before).
    pub fn start_on(home: &Path, port: u16, args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        ServeProcess::start_with(mpm_top_command(home, env), port, args)
    }

    /// [`ServeProcess::start`] with `cwd` as its working directory (its project).
    pub fn start_in(home: &Path, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let mut command = mpm_top_command(home, env);
        command.current_dir(cwd);
        ServeProcess::start_with(command, 0, args)
    }

    fn start_with(mut command: Command, port: u16, args: &[&str]) -> ServeProcess {
        let mut child = command
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (line, port) = first_line_port(&mut child);
        let Some(port) = port.filter(|_| line.contains("listening on http")) else {
            let out = child.wait_with_output().unwrap();
            panic!(
                "serve did not start: {line}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap_or_default()
            .to_owned();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut pipe = BufReader::new(child.stderr.take().unwrap());
        let sink = std::sync::Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut line = String::new();
            while pipe.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        ServeProcess {
            child,
            url,
            port,
            stdout_line: line,
            stderr,
        }
    }

    /// Sends SIGTERM and waits for the exit; returns how long it took and the exit code.
    pub fn terminate(&mut self) -> (Duration, Option<i32>) {
        let started = Instant::now();
        signal(self.child.id(), Signal::SIGTERM);
        let status = wait_with_timeout(&mut self.child, Duration::from_secs(15));
        (started.elapsed(), status)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            signal(self.child.id(), Signal::SIGTERM);
            if wait_with_timeout(&mut self.child, Duration::from_secs(10)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// The first line a child prints on stdout, and the port at its end (servers here announce
/// themselves as `... http://127.0.0.1:PORT ...`, probes as a bare port).
pub fn first_line_port(child: &mut Child) -> (String, Option<u16>) {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let word = line
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .or_else(|| line.split_whitespace().next())
        .unwrap_or_default();
    let port = word.rsplit(':').next().and_then(|p| p.parse().ok());
    (line, port)
}

/// A python-socketio + aiohttp server (the stack Claude MPM runs on) on 127.0.0.1:0.
pub fn python_server() -> (Child, u16) {
    let mut child = Command::new(python())
        .arg(interop_dir().join("py_echo_server.py"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (line, port) = first_line_port(&mut child);
    (
        child,
        port.unwrap_or_else(|| panic!("the Python server did not start: {line}")),
    )
}

/// `python3 -c script`, started by a test, and the first word it prints (a port, or a line
/// saying it is ready), parsed as a port when it is one.
pub fn python_script(script: &str) -> (Child, Option<u16>) {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (_, port) = first_line_port(&mut child);
    (child, port)
}

pub fn signal(pid: u32, signal: Signal) {
    let _ = kill(Pid::from_raw(i32::try_from(pid).unwrap()), signal);
}

/// The exit code, or None when the process is still running after `timeout`.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// POSTs `body` to the server's `/api/events`, as Claude MPM's hooks do, and requires 204 (the
/// server has broadcast it by then). One client, kept: building one loads the TLS roots, tens
/// of milliseconds that would sit between the two ends of a timed tool call.
pub fn post_event(url: &str, body: &serde_json::Value) {
    static HTTP: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    let status = HTTP
        .get_or_init(reqwest::blocking::Client::new)
        .post(format!("{url}/api/events"))
        .json(body)
        .send()
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 204);
}

/// The mpm-top binary with a clean environment: HOME, PATH and `env` only.
pub fn mpm_top_command(home: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpm-top"));
    command
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied());
    command
}

/// The Python of a virtualenv under target/ holding the pinned peers of
/// `tests/interop/requirements.txt`; created on first use, re-created when the pins change.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| venv("interop-venv", Path::new("python3"), "requirements.txt"))
}

/// A virtualenv `name` under target/ made by `base` from `tests/interop/<requirements>`,
/// re-created when the pins change; its Python.
pub fn venv(name: &str, base: &Path, requirements: &str) -> PathBuf {
    // Two tests of one binary may want the same virtualenv at once: on a fresh machine both
    // would create it (`venv` then fails on the other's half-made folder).
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = CREATING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let requirements = interop_dir().join(requirements);
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    let stamp = dir.join("installed-requirements.txt");
    let python = dir.join("bin/python");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let _ = std::fs::remove_dir_all(&dir);
        run(Command::new(base).args(["-m", "venv"]).arg(&dir));
        run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements));
        std::fs::write(&stamp, wanted).unwrap();
    }
    python
}

/// A Python 3.13 (what claude-mpm 6.5.83 needs): pyenv's, else one on PATH that really runs.
/// Looked up with the real environment, not a test's scratch HOME.
pub fn python_3_13() -> Option<PathBuf> {
    let works = |p: &Path| {
        Command::new(p)
            .args(["-c", "import sys; assert sys.version_info[:2] == (3, 13)"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let pyenv_prefix = Command::new("pyenv")
        .args(["prefix", "3.13"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("bin/python3.13"));
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|h| h.join(".pyenv")));
    let installed = pyenv_root
        .and_then(|root| std::fs::read_dir(root.join("versions")).ok())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("3.13"))
        })
        .map(|p| p.join("bin/python3.13"));
    pyenv_prefix
        .into_iter()
        .chain(installed)
        .chain([PathBuf::from("python3.13")])
        .find(|p| works(p))
}

pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn run(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `node_modules` of the pinned node peers (`tests/interop/node/package-lock.json`), installed
/// with `npm ci` under target/ on first use and again when the lock changes; None (with the
/// reason on stderr) when node or npm is missing or the install fails.
pub fn node_modules() -> Option<PathBuf> {
    static MODULES: OnceLock<Option<PathBuf>> = OnceLock::new();
    MODULES
        .get_or_init(|| {
            let source = interop_dir().join("node");
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("node-interop");
            let lock = std::fs::read_to_string(source.join("package-lock.json")).unwrap();
            let stamp = dir.join("installed-package-lock.json");
            if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str()) {
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                for file in ["package.json", "package-lock.json"] {
                    std::fs::copy(source.join(file), dir.join(file)).unwrap();
                }
                let installed = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
                    .current_dir(&dir)
                    .output();
                match installed {
                    Ok(out) if out.status.success() => std::fs::write(&stamp, lock).unwrap(),
                    Ok(out) => {
                        eprintln!("npm ci failed: {}", String::from_utf8_lossy(&out.stderr));
                        return None;
                    }
                    Err(e) => {
                        eprintln!("npm is not available ({e})");
                        return None;
                    }
                }
            }
            Some(dir.join("node_modules"))
        })
        .clone()
}

/// `node tests/interop/node/SCRIPT ARGS` with the pinned modules.
pub fn node_script(modules: &Path, script: &str, args: &[&str]) -> Command {
    let mut command = Command::new("node");
    command
        .arg(interop_dir().join("node").join(script))
        .args(args)
        .env("NODE_PATH", modules);
    command
}

/// `serve --daemon`'s answer (`... as PID N on URL; stop it with ...`), required to be a
/// success: the PID and the URL.
pub fn daemon_started(out: &std::process::Output) -> (u32, String) {
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = said
        .split("as PID ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no PID in: {said}"));
    let url = said
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .map_or_else(
            || panic!("no URL in: {said}"),
            |w| w.trim_end_matches(';').to_owned(),
        );
    (pid, url)
}

/// The Engine.IO session id in a polling handshake's answer (`0{"sid":"..."}`).
pub fn engine_sid(handshake: &str) -> String {
    handshake
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no sid in: {handshake}"))
        .to_owned()
}

/// Starts `command` (an `mpm-top serve` with its own arguments), its stdout piped and stderr
/// dropped; the child, the port its first line announces, and that line.
pub fn spawn_serve(command: &mut Command) -> (Child, u16, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (line, port) = first_line_port(&mut child);
    let port = port.unwrap_or_else(|| panic!("serve did not start: {line}"));
    (child, port, line)
}

/// SIGTERM, then requires a clean exit (0) within 15 s.
pub fn stop_cleanly(child: &mut Child) {
    signal(child.id(), Signal::SIGTERM);
    assert_eq!(wait_with_timeout(child, Duration::from_secs(15)), Some(0));
}

/// python-socketio peers of a server (`tests/interop/clients_peer.py`): one client registered
/// as `py-dash` (type `dashboard`) that stays, one that connects and leaves at once. Dropped,
/// the one that stays leaves too.
pub struct Peers(Child);

impl Peers {
    /// Starts them against `url`; returns once both have done their part.
    pub fn start(url: &str) -> Peers {
        use std::io::BufRead as _;
        let mut child = Command::new(python())
            .arg(interop_dir().join("clients_peer.py"))
            .arg(url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the peers did not start");
        Peers(child)
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// What `mpm-top clients --json` printed (it must have succeeded), and its row of the
/// `py-dash` peer of [`Peers`].
pub fn clients_with_py_dash(out: &std::process::Output) -> (serde_json::Value, serde_json::Value) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dash = doc["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "py-dash")
        .unwrap_or_else(|| panic!("no py-dash: {doc:#}"))
        .clone();
    (doc, dash)
}
