//! doctor, --collect and the actions against real processes this test starts: mpm-top serve,
//! a python-socketio server, a hung listener, a foreign port holder.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ServeProcess, mpm_top_command, signal};
use nix::sys::signal::Signal;
use serde_json::Value;

fn doctor(home: &std::path::Path, port: u16, env: &[(&str, &str)]) -> (Option<i32>, Value) {
    let out = mpm_top_command(home, env)
        .args([
            "doctor",
            "--json",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .output()
        .unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn status(doc: &Value, name: &str) -> String {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Stops the daemon that answers on `port` (one this test had mpm-top start).
fn stop_daemon(port: u16) {
    if let Ok(r) = reqwest::blocking::get(format!("http://127.0.0.1:{port}/health")) {
        let pid = r.json::<Value>().unwrap()["pid"].as_u64().unwrap();
        signal(u32::try_from(pid).unwrap(), Signal::SIGTERM);
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn doctor_passes_a_healthy_server_and_fails_once_it_is_gone() {
    let home = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::start(home.path(), &[], &[]);
    let port = server.port.to_string();
    let env = [("CLAUDE_MPM_SERVER_PORT", port.as_str())];
    let (code, doc) = doctor(home.path(), server.port, &env);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["server"], "mpm-top");
    assert_eq!(doc["summary"]["fail"], 0);
    server.terminate();
    let (code, doc) = doctor(home.path(), server.port, &env);
    assert_eq!(code, Some(2));
    for check in ["process", "port", "health", "handshake"] {
        assert_eq!(status(&doc, check), "fail", "{check}: {doc:#}");
    }
    let process = doc["checks"][0].clone();
    assert_eq!(process["fix"]["command"], "mpm-top serve --daemon");
    assert_eq!(process["fix"]["key"], "s");
}

#[test]
fn doctor_talks_to_a_python_socketio_server_and_runs_subsets_in_plain_text() {
    let home = tempfile::tempdir().unwrap();
    let (mut child, port) = common::python_server();
    let out = mpm_top_command(home.path(), &[("NO_COLOR", "1")])
        .args([
            "doctor",
            "--checks",
            "health,handshake,websocket",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "[ok]   health        /health answers 'running' from foreign (py-echo-server)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "[ok]   handshake     Socket.IO handshake works (ping 25000 ms / timeout 20000 ms"
        ),
        "{text}"
    );
    assert!(
        text.contains("[ok]   websocket     websocket upgrade works"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5, "{text}");
    let bad = mpm_top_command(home.path(), &[])
        .args(["doctor", "--checks", "helth"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown check 'helth'"));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `mpm-top --collect OUT --host 127.0.0.1 --port PORT` with `env`.
fn collect(
    home: &std::path::Path,
    out: &std::path::Path,
    port: &str,
    env: &[(&str, &str)],
) -> std::process::Output {
    mpm_top_command(home, env)
        .args([
            "--collect",
            out.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            port,
        ])
        .output()
        .unwrap()
}

#[test]
fn collect_redacts_planted_secrets_keeps_every_section_and_survives_a_hung_server() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".claude/logs")).unwrap();
    std::fs::write(
        home.path().join(".claude/config.yaml"),
        "tokens:\n  api_key: sk-ant-api03-PLANTEDPLANTEDPLANTED\nsocketio:\n  log_level: DEBUG\n",
    )
    .unwrap();
    std::fs::write(home.path().join(".claude/logs/socketio_server.log"), "INFO connect sid=1\nWARN Authorization: Bearer PLANTED.jwt.value\nINFO tool_start tool=Bash correlation_id=c-1 (pre_tool)\n").unwrap();
    // A server that accepts connections and never answers.
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hung.local_addr().unwrap().port().to_string();
    let out_path = home.path().join("bundle.txt");
    let started = Instant::now();
    let out = collect(
        home.path(),
        &out_path,
        &port,
        &[
            ("SOCKETIO_AUTH_TOKEN", "PLANTED-env-token"),
            ("CLAUDE_API_KEY", "PLANTED-key"),
        ],
    );
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took < Duration::from_secs(10),
        "a hung server must not hang the collection: {took:?}"
    );
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(progress.contains("collecting: doctor checks"), "{progress}");
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("sha256 ") && summary.contains("redacted: "),
        "{summary}"
    );
    let bundle = std::fs::read_to_string(&out_path).unwrap();
    assert!(!bundle.contains("PLANTED"), "a planted secret leaked");
    assert!(
        !bundle.contains(home.path().to_str().unwrap()),
        "the home path leaked"
    );
    for section in [
        "System (uname -a)",
        "Versions",
        "Doctor",
        "Server log: last 500 lines",
        "Recent events",
        "Sockets on port",
        "Processes (top)",
        "Memory (free)",
        "Disks (df)",
        "Configuration with sources",
        "Environment (SOCKETIO_*, CLAUDE*)",
        "Configuration file ~/.claude/config.yaml: its socketio: section",
        "Server process",
        "Live events",
        "Redacted",
    ] {
        assert!(
            bundle.contains(&format!("===== {section}")),
            "missing {section}"
        );
    }
    assert!(
        bundle.contains("INFO tool_start tool=Bash"),
        "the log is in"
    );
    assert!(
        !bundle.contains("tokens:"),
        "other tools' sections of config.yaml are not copied"
    );
    assert!(
        bundle.contains("[FAIL] health"),
        "the hung server shows as failing"
    );
    assert!(
        bundle.contains("LISTEN"),
        "the hung listener is in the socket table"
    );
    assert_eq!(
        std::fs::metadata(&out_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn restart_replaces_the_running_server_and_waits_for_health() {
    let home = tempfile::tempdir().unwrap();
    let mut old = ServeProcess::start(home.path(), &[], &[]);
    let port = old.port.to_string();
    let out = mpm_top_command(home.path(), &[])
        .args(["restart", "--host", "127.0.0.1", "--port", &port])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert_eq!(
        common::wait_with_timeout(&mut old.child, Duration::from_secs(1)),
        Some(0),
        "the old server exited cleanly"
    );
    let health: Value = reqwest::blocking::get(format!("http://127.0.0.1:{port}/health"))
        .unwrap()
        .json()
        .unwrap();
    assert_ne!(health["pid"], old.child.id());
    assert!(
        said.contains("sent SIGTERM") && said.contains("/health answers 'running'"),
        "{said}"
    );
    let audit = std::fs::read_to_string(home.path().join(".claude/logs/mpm-top.log")).unwrap();
    assert!(audit.contains("action=restart"), "{audit}");
    stop_daemon(old.port);
}

fn foreign_holder() -> (Child, u16) {
    let script = "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)";
    let (child, port) = common::python_script(script);
    (child, port.unwrap())
}

#[test]
fn recover_refuses_without_confirmation_then_kills_only_the_holder_clears_stale_pid_files_and_starts_clean()
 {
    let home = tempfile::tempdir().unwrap();
    let (mut holder, port) = foreign_holder();
    let bystander = Command::new("sleep").arg("60").spawn().unwrap();
    std::fs::create_dir_all(home.path().join(".claude")).unwrap();
    std::fs::write(home.path().join(".claude/socketio.pid"), "999999999\n").unwrap();
    let args = [
        "recover",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ];

    let declined = mpm_top_command(home.path(), &[])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(declined.status.code(), Some(1));
    let said = String::from_utf8_lossy(&declined.stderr);
    assert!(
        said.contains(&format!("PID {}", holder.id())) && said.contains("pass --yes"),
        "{said}"
    );
    assert!(
        holder.try_wait().unwrap().is_none(),
        "nothing happens without confirmation"
    );

    let out = mpm_top_command(home.path(), &[])
        .args(args)
        .arg("--yes")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        common::wait_with_timeout(&mut holder, Duration::from_secs(5)).is_some(),
        "the holder was stopped"
    );
    assert!(said.contains("removed stale PID file"), "{said}");
    let health: Value = reqwest::blocking::get(format!("http://127.0.0.1:{port}/health"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["service"], "mpm-top");
    let mut bystander = bystander;
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "a process not holding the port is untouched"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
    stop_daemon(port);
}

#[test]
fn reset_config_backs_up_shows_the_change_and_keeps_other_sections() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".claude/config.yaml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "ui:\n  theme: dark\nsocketio:\n  port: 9050\n  cors_origins: ['*']\n",
    )
    .unwrap();
    let declined = mpm_top_command(home.path(), &[])
        .arg("reset-config")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(declined.status.code(), Some(1));
    assert!(
        std::fs::read_to_string(&config).unwrap().contains("9050"),
        "unchanged without --yes"
    );
    let out = mpm_top_command(home.path(), &[])
        .args(["reset-config", "--yes"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("- port: 9050") && said.contains("+ port: 8765"),
        "{said}"
    );
    let now = std::fs::read_to_string(&config).unwrap();
    assert!(
        now.contains("theme: dark") && now.contains("port: 8765"),
        "{now}"
    );
    let backups: Vec<_> = std::fs::read_dir(config.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("config.yaml.backup-")
        })
        .collect();
    assert_eq!(backups.len(), 1);
    assert!(
        std::fs::read_to_string(backups[0].path())
            .unwrap()
            .contains("port: 9050")
    );
    let again = mpm_top_command(home.path(), &[])
        .args(["reset-config", "--yes"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));
}

/// A config a person wrote: comments, an anchor used outside the section, flow style, quoting,
/// and values `PyYAML` (what Claude MPM reads the file with) types differently from YAML 1.2.
const BEFORE: &str =
    "# my Claude settings\nui: &ui   # shared below\n  theme: dark\n  modes: [a, 'b', \"c\"]\n";
const SECTION: &str = "socketio:\n  port: 9050   # moved for a test\n  # cors for the dashboard\n  cors_origins: ['*']\n";
const AFTER: &str = "\n# tools\nagents: {reviewer: {mode: '0o755'}, umask: 0777, octal: 0o755}\nprofile: *ui\nlast: yes";

/// `mpm-top reset-config --yes`, which must succeed.
fn reset_config_yes(home: &std::path::Path) {
    let out = mpm_top_command(home, &[])
        .args(["reset-config", "--yes"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reset_config_changes_only_the_sections_bytes_and_every_other_value_stays_for_pyyaml_too() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".claude/config.yaml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let original = format!("{BEFORE}{SECTION}{AFTER}");
    std::fs::write(&config, &original).unwrap();
    reset_config_yes(home.path());
    let now = std::fs::read_to_string(&config).unwrap();
    assert!(now.starts_with(BEFORE), "{now}");
    assert!(
        now.ends_with(AFTER),
        "the rest, and no final newline added:\n{now}"
    );
    assert!(!now.contains("9050") && now.contains("  port: 8765"));
    // Every key but the section holds the same value, as PyYAML reads it and as mpm-top does.
    let script = "import sys, yaml, json\nold, new = (yaml.safe_load(open(p)) for p in sys.argv[1:3])\nold.pop('socketio'); new.pop('socketio')\nprint(json.dumps([old == new, new['agents']]))";
    let backup = std::fs::read_dir(config.parent().unwrap())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().contains(".backup-"))
        .unwrap()
        .path();
    let checked = Command::new(common::python())
        .args(["-c", script])
        .arg(&backup)
        .arg(&config)
        .output()
        .unwrap();
    let said: Value = serde_json::from_slice(&checked.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&checked.stderr)));
    assert_eq!(said[0], true, "PyYAML sees other values change: {said}");
    assert_eq!(said[1]["umask"], 511, "0777 is still PyYAML's octal 511");
    assert_eq!(said[1]["octal"], "0o755", "0o755 is still PyYAML's string");
    let parse = |t: &str| serde_yaml::from_str::<serde_yaml::Value>(t).unwrap();
    let (mut old, mut new) = (parse(&original), parse(&now));
    old.as_mapping_mut().unwrap().remove("socketio");
    new.as_mapping_mut().unwrap().remove("socketio");
    assert_eq!(old, new);
}

#[test]
fn collect_replaces_a_symlink_at_its_path_and_never_writes_through_it() {
    let home = tempfile::tempdir().unwrap();
    let victim = home.path().join("victim.txt");
    std::fs::write(&victim, "keep me\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out_path = home.path().join("debug_info.txt");
    std::os::unix::fs::symlink(&victim, &out_path).unwrap();
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hung.local_addr().unwrap().port().to_string();
    let out = collect(home.path(), &out_path, &port, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    assert_eq!(
        std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
        0o644,
        "the link's target is untouched"
    );
    let meta = std::fs::symlink_metadata(&out_path).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the link was replaced by the bundle"
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn reset_config_writes_through_a_symlink_and_two_resets_in_a_second_keep_two_backups() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".claude")).unwrap();
    std::fs::create_dir_all(home.path().join("dotfiles")).unwrap();
    let real = home.path().join("dotfiles/claude-config.yaml");
    let link = home.path().join(".claude/config.yaml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let original = "# mine\nsocketio:\n  port: 9050\n";
    for _ in 0..2 {
        std::fs::write(&real, original).unwrap();
        reset_config_yes(home.path());
    }
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is still a link"
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .starts_with("# mine\nsocketio:\n  host: localhost")
    );
    let backups: Vec<_> = std::fs::read_dir(real.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".backup-"))
        .map(|e| e.path())
        .collect();
    assert_eq!(backups.len(), 2, "{backups:?}");
    for backup in backups {
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), original);
        assert_eq!(
            std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
