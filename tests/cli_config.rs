//! `mpm-top config`, `serve`'s refusal and the not-yet-built subcommands, run as a user would:
//! the real binary, a scratch HOME, and an environment holding only what each test sets.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn mpm_top(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mpm-top"))
        .env_clear()
        .env("HOME", home)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

fn home_with_config(body: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".claude")).unwrap();
    std::fs::write(home.path().join(".claude/config.yaml"), body).unwrap();
    home
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn row<'a>(table: &'a str, key: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap()
}

#[test]
fn a_flag_shadows_env_and_env_shows_shadowed() {
    let home = tempfile::tempdir().unwrap();
    let out = mpm_top(
        home.path(),
        &[("SOCKETIO_PORT", "9000")],
        &["config", "--port", "9100"],
    );
    let table = text(&out.stdout);
    let port = row(&table, "port");
    assert!(
        port.contains("9100") && port.contains("flag --port"),
        "{table}"
    );
    assert!(port.contains("9000 (env SOCKETIO_PORT)"), "{table}");
    // Hooks still post to 8765: a real finding, so the exit status says so.
    assert!(
        table.contains(
            "hooks post to localhost:8765 but the server is configured for localhost:9100"
        ),
        "{table}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn all_three_layers_show_with_the_file_line() {
    let home = home_with_config("ui:\n  theme: dark\nsocketio:\n  port: 9050\n");
    let env = [
        ("SOCKETIO_PORT", "9000"),
        ("CLAUDE_MPM_SERVER_PORT", "9100"),
    ];
    let out = mpm_top(home.path(), &env, &["config", "--port", "9100"]);
    let table = text(&out.stdout);
    assert_eq!(
        row(&table, "port")
            .split("  ")
            .filter(|c| !c.is_empty())
            .map(str::trim)
            .collect::<Vec<_>>(),
        [
            "port",
            "9100",
            "flag --port",
            "9050 (file ~/.claude/config.yaml:4), 9000 (env SOCKETIO_PORT), 8765 (default)"
        ]
    );
    assert!(table.contains("No findings."), "{table}");
    assert_eq!(out.status.code(), Some(0), "{table}");
}

#[test]
fn json_output_is_the_documented_document() {
    let home = home_with_config("socketio:\n  port: 9050\n");
    let out = mpm_top(
        home.path(),
        &[("SOCKETIO_PORT", "9000")],
        &["config", "--json"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let port = doc["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "port")
        .unwrap();
    assert_eq!(port["value"], 9050);
    assert_eq!(port["source"], "file ~/.claude/config.yaml:2");
    assert_eq!(port["env"], "SOCKETIO_PORT");
    assert_eq!(port["shadowed"][0]["source"], "env SOCKETIO_PORT");
    assert_eq!(doc["ok"], false, "hooks still post to 8765");
}

#[test]
fn broken_yaml_is_shown_with_its_position_and_exits_1() {
    let home = home_with_config("socketio:\n  port: 9050\n  host: [oops\n");
    let out = mpm_top(home.path(), &[], &["config"]);
    let table = text(&out.stdout);
    assert!(
        table.contains("file: ~/.claude/config.yaml (invalid, ignored)"),
        "{table}"
    );
    assert!(
        table.contains("-> error: file ~/.claude/config.yaml:4:1: is not valid YAML ("),
        "{table}"
    );
    assert!(row(&table, "port").contains("default"), "{table}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_missing_cert_path_and_a_bad_port_stop_serve_with_the_config_message() {
    let home = tempfile::tempdir().unwrap();
    let env = [
        ("SOCKETIO_PORT", "99999"),
        ("SOCKETIO_CERT_PATH", "/no/such/cert.pem"),
    ];
    let config = mpm_top(home.path(), &env, &["config"]);
    let table = text(&config.stdout);
    // Loopback and port 0, so that even a broken refusal could never take 8765.
    let serve = mpm_top(
        home.path(),
        &env,
        &["serve", "--host", "127.0.0.1", "--port", "0"],
    );
    let refusal = text(&serve.stderr);
    assert_eq!(serve.status.code(), Some(1), "{refusal}");
    assert!(
        refusal.starts_with("mpm-top: refusing to start: the configuration has errors"),
        "{refusal}"
    );
    for needle in [
        "error: env SOCKETIO_PORT: port '99999' is not valid: expected a whole number from 0 (any free port) to 65535; using",
        "error: env SOCKETIO_CERT_PATH: cert_path '/no/such/cert.pem' does not exist",
    ] {
        assert!(refusal.contains(needle), "serve: {refusal}");
        assert!(table.contains(needle), "config: {table}");
    }
}

#[test]
fn an_explicit_config_file_is_read_instead_of_the_default() {
    let home = home_with_config("socketio:\n  port: 9050\n");
    let other = home.path().join("other.yaml");
    std::fs::write(&other, "socketio:\n  port: 8765\n  log_level: debug\n").unwrap();
    let out = mpm_top(
        home.path(),
        &[],
        &["config", "--config", other.to_str().unwrap()],
    );
    let table = text(&out.stdout);
    assert!(
        row(&table, "port").contains("file ~/other.yaml:2"),
        "{table}"
    );
    assert!(row(&table, "log_level").contains("DEBUG"), "{table}");
    assert_eq!(out.status.code(), Some(0), "{table}");
    let missing = mpm_top(home.path(), &[], &["config", "--config", "/no/such.yaml"]);
    assert!(
        text(&missing.stdout)
            .contains("error: file /no/such.yaml: does not exist: check the --config path")
    );
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn help_lists_every_subcommand_and_completions_are_generated() {
    let home = tempfile::tempdir().unwrap();
    let help = text(&mpm_top(home.path(), &[], &["--help"]).stdout);
    for word in [
        "serve",
        "doctor",
        "servers",
        "test",
        "bench",
        "restart",
        "recover",
        "reset-config",
        "config",
        "completions",
        "--host",
        "--port",
        "--config",
        "--log-file",
        "--read-only",
        "--demo",
        "--collect",
    ] {
        assert!(help.contains(word), "--help lacks {word}");
    }
    let out = mpm_top(home.path(), &[], &["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("reset-config"));
    // Into a pipe already closed (`| head` that has read its lines): no panic.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_mpm-top"))
        .env_clear()
        .env("HOME", home.path())
        .args(["completions", "bash"])
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_console_without_a_terminal_says_what_to_use_instead_and_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let out = mpm_top(home.path(), &[], &["--port", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "escape codes went to a file: {:?}",
        text(&out.stdout)
    );
    let said = text(&out.stderr);
    assert!(said.contains("the console needs a terminal"), "{said}");
    for instead in ["mpm-top doctor", "mpm-top --collect", "--json"] {
        assert!(said.contains(instead), "{said}");
    }
    assert!(!said.contains('\x1b'), "{said:?}");
}

/// A server on 127.0.0.1:0 that answers every request with `body` as JSON, for `requests`
/// requests; its port.
fn lying_server(body: &'static str, requests: usize) -> u16 {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn doctor_and_test_show_a_servers_escape_codes_instead_of_obeying_them() {
    let home = tempfile::tempdir().unwrap();
    let port = lying_server(
        "{\"status\":\"running\\u001b]2;PWNED\\u0007\",\"service\":\"svc\\u001b[2J\\u009b31m\",\"pid\":1}",
        200,
    )
    .to_string();
    for args in [["doctor", "--host"], ["test", "--host"]] {
        let out = mpm_top(
            home.path(),
            &[],
            &[&args[..], &["127.0.0.1", "--port", &port]].concat(),
        );
        let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            !printed.contains('\u{1b}') && !printed.contains('\u{9b}'),
            "{args:?} printed a control character: {printed:?}"
        );
        assert!(
            printed.contains("\\e]2;PWNED") || printed.contains("\\e[2J"),
            "{printed}"
        );
    }
}
