//! Resolution driven as a pure function: precedence tables and every bad-input message.

use std::path::{Path, PathBuf};

use super::*;

const HOME: &str = "/home/u";

fn home() -> PathBuf {
    PathBuf::from(HOME)
}

/// Inputs with the given env pairs, `socketio:` file body (None = no file) and flags.
fn inputs(env: &[(&str, &str)], file: Option<&str>, flags: &[(Key, &str)]) -> Inputs {
    let mut paths = PathFacts::new();
    for p in [
        "/certs/env.pem",
        "/certs/file.pem",
        "/certs/flag.pem",
        "/certs/key.pem",
    ] {
        paths.insert(PathBuf::from(p), PathState::File);
    }
    paths.insert(PathBuf::from("/nope/cert.pem"), PathState::Missing);
    paths.insert(PathBuf::from("/certs"), PathState::NotAFile);
    Inputs {
        demo: Vec::new(),
        home: Some(home()),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        file: ConfigFile {
            path: default_file(&home()),
            explicit: false,
            contents: file.map_or(FileContents::Missing, |body| {
                FileContents::Text(body.to_owned())
            }),
        },
        flags: flags
            .iter()
            .map(|(key, raw)| FlagValue {
                key: *key,
                raw: (*raw).to_owned(),
            })
            .collect(),
        paths,
        alerts_file: ConfigFile::default(),
    }
}

/// One valid sample per layer that can set the key, with the value it must resolve to.
struct Case {
    key: Key,
    env: Option<(&'static str, Setting)>,
    file: Option<(&'static str, Setting)>,
    flag: Option<(&'static str, Setting)>,
}

#[allow(clippy::too_many_lines)] // one table row per key reads best as one list
fn cases() -> Vec<Case> {
    use Setting as S;
    let range = |start, end| S::PortRange(Some(PortRange { start, end }));
    let list = |items: &[&str]| S::CorsOrigins(items.iter().map(|s| (*s).to_owned()).collect());
    let path = |p: &str| Some(PathBuf::from(p));
    let c = |key, env, file, flag| Case {
        key,
        env,
        file,
        flag,
    };
    vec![
        c(
            Key::Host,
            Some(("env-host", S::Host("env-host".into()))),
            Some(("file-host", S::Host("file-host".into()))),
            Some(("flag-host", S::Host("flag-host".into()))),
        ),
        c(
            Key::Port,
            Some(("9000", S::Port(9000))),
            Some(("9050", S::Port(9050))),
            Some(("9100", S::Port(9100))),
        ),
        c(
            Key::PortRange,
            Some(("8765-8775", range(8765, 8775))),
            Some(("\"8800 - 8810\"", range(8800, 8810))),
            None,
        ),
        c(
            Key::CorsOrigins,
            Some((
                "http://e:1, http://e:2",
                list(&["http://e:1", "http://e:2"]),
            )),
            Some(("[\"http://f:1\", \"*\"]", list(&["http://f:1", "*"]))),
            None,
        ),
        c(
            Key::Timeout,
            Some(("60", S::Timeout(60))),
            Some(("45", S::Timeout(45))),
            None,
        ),
        c(
            Key::MaxBufferSize,
            Some(("500", S::MaxBufferSize(500))),
            Some(("2000", S::MaxBufferSize(2000))),
            None,
        ),
        c(
            Key::HeartbeatInterval,
            None,
            Some(("30", S::HeartbeatInterval(30))),
            None,
        ),
        c(
            Key::LogLevel,
            Some(("debug", S::LogLevel(LogLevel::Debug))),
            Some(("WARN", S::LogLevel(LogLevel::Warning))),
            None,
        ),
        c(
            Key::Ssl,
            Some(("1", S::Ssl(true))),
            Some(("false", S::Ssl(false))),
            None,
        ),
        c(
            Key::CertPath,
            Some(("/certs/env.pem", S::CertPath(path("/certs/env.pem")))),
            Some(("/certs/file.pem", S::CertPath(path("/certs/file.pem")))),
            None,
        ),
        c(
            Key::KeyPath,
            Some(("/certs/key.pem", S::KeyPath(path("/certs/key.pem")))),
            Some(("null", S::KeyPath(None))),
            None,
        ),
        c(
            Key::Debug,
            Some(("yes", S::Debug(true))),
            Some(("off", S::Debug(false))),
            None,
        ),
        c(
            Key::LogFile,
            None,
            Some(("~/logs/f.log", S::LogFile(home().join("logs/f.log")))),
            Some(("/var/x.log", S::LogFile("/var/x.log".into()))),
        ),
        c(
            Key::PidFile,
            None,
            Some(("/run/mpm.pid", S::PidFile("/run/mpm.pid".into()))),
            None,
        ),
        c(
            Key::HookHost,
            Some(("127.0.0.1", S::HookHost("127.0.0.1".into()))),
            None,
            None,
        ),
        c(Key::HookPort, Some(("8765", S::HookPort(8765))), None, None),
    ]
}

#[test]
fn every_key_has_a_precedence_case() {
    let covered: Vec<Key> = cases().iter().map(|c| c.key).collect();
    assert_eq!(covered, Key::ALL);
}

/// For every key and every subset of the layers that can set it, the highest layer wins and the
/// others are shadowed, nearest first, down to the default.
#[test]
fn precedence_table_every_key_every_layer_every_combination() {
    let mut checked = 0;
    for case in cases() {
        let key = case.key;
        assert_eq!(case.env.is_some(), key.env_var().is_some(), "{key:?}");
        assert_eq!(case.file.is_some(), key.file_key().is_some(), "{key:?}");
        assert_eq!(case.flag.is_some(), key.flag().is_some(), "{key:?}");
        for mask in 0..8u8 {
            let on = |bit: u8| mask & (1 << bit) != 0;
            let (env, file, flag) = (
                case.env.as_ref().filter(|_| on(0)),
                case.file.as_ref().filter(|_| on(1)),
                case.flag.as_ref().filter(|_| on(2)),
            );
            if (on(0) && env.is_none()) || (on(1) && file.is_none()) || (on(2) && flag.is_none()) {
                continue; // that layer cannot set this key
            }
            let env_pairs: Vec<(&str, &str)> = env
                .map(|(raw, _)| (key.env_var().unwrap_or_default(), *raw))
                .into_iter()
                .collect();
            let body = file.map(|(raw, _)| format!("socketio:\n  {}: {raw}\n", key.name()));
            let flags: Vec<(Key, &str)> = flag.map(|(raw, _)| (key, *raw)).into_iter().collect();
            let resolved = resolve(&inputs(&env_pairs, body.as_deref(), &flags));
            let row = resolved.row(key).unwrap();

            let mut expected: Vec<(Setting, Source)> =
                vec![(Settings::defaults(&home()).get(key), Source::Default)];
            if let Some((_, v)) = env {
                expected.push((
                    v.clone(),
                    Source::Env(key.env_var().unwrap_or_default().to_owned()),
                ));
            }
            if let Some((_, v)) = file {
                expected.push((v.clone(), Source::file("~/.claude/config.yaml", Some(2))));
            }
            if let Some((_, v)) = flag {
                expected.push((v.clone(), Source::Flag(key.flag().unwrap_or_default())));
            }
            let (winner, source) = expected.pop().unwrap();
            expected.reverse();
            assert_eq!(
                (&row.value, &row.source),
                (&winner, &source),
                "{key:?} mask {mask}"
            );
            assert_eq!(row.shadowed, expected, "{key:?} mask {mask}");
            assert!(
                resolved
                    .findings
                    .iter()
                    .all(|f| f.key != Some(key) || f.severity == Severity::Warning),
                "{key:?} mask {mask}: {:?}",
                resolved.findings
            );
            checked += 1;
        }
    }
    // host and port have 3 layers (8 subsets each), 10 keys have 2 (4), 4 keys have 1 (2): 64
    assert_eq!(checked, 64, "cases checked");
}

#[test]
fn three_layers_on_one_key_all_show() {
    let file = "socketio:\n  host: example\n  port: 9050\n";
    let r = resolve(&inputs(
        &[("SOCKETIO_PORT", "9000")],
        Some(file),
        &[(Key::Port, "9100")],
    ));
    let row = r.row(Key::Port).unwrap();
    assert_eq!(row.value, Setting::Port(9100));
    assert_eq!(row.source.to_string(), "flag --port");
    let shadowed: Vec<String> = row
        .shadowed
        .iter()
        .map(|(v, s)| format!("{} ({s})", r.shown(v)))
        .collect();
    assert_eq!(
        shadowed,
        [
            "9050 (file ~/.claude/config.yaml:3)",
            "9000 (env SOCKETIO_PORT)",
            "8765 (default)"
        ]
    );
    assert_eq!(r.settings.port, 9100);
    assert_eq!(r.settings.host, "example");
}

#[test]
fn layers_mix_across_keys() {
    let file = "socketio:\n  timeout: 45\n  log_level: ERROR\n";
    let env = [
        ("SOCKETIO_TIMEOUT", "60"),
        ("SOCKETIO_BUFFER_SIZE", "500"),
        ("SOCKETIO_HOST", "127.0.0.1"),
    ];
    let r = resolve(&inputs(&env, Some(file), &[(Key::Host, "::1")]));
    assert_eq!(r.settings.timeout_secs, 45);
    assert_eq!(r.settings.max_buffer_size, 500);
    assert_eq!(r.settings.log_level, LogLevel::Error);
    assert_eq!(r.settings.host, "::1");
    assert_eq!(r.settings.port, 8765);
    assert_eq!(r.row(Key::Port).unwrap().source, Source::Default);
}

#[test]
fn the_shipped_defaults_file_equals_the_built_in_defaults() {
    let r = resolve(&inputs(&[], Some(DEFAULT_YAML), &[]));
    assert_eq!(r.findings, [], "the defaults file must be clean");
    assert_eq!(r.settings, Settings::defaults(&home()));
    let named: Vec<String> = parse_section(DEFAULT_YAML)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let file_keys: Vec<&str> = Key::ALL.iter().filter_map(|k| k.file_key()).collect();
    assert_eq!(
        named, file_keys,
        "the defaults file names every key, in order"
    );
}

/// The one finding on `key`, as a user reads it.
fn message(r: &Resolved, key: Key) -> String {
    let found: Vec<String> = r.findings_for(key).map(ToString::to_string).collect();
    assert_eq!(found.len(), 1, "{key:?}: {:?}", r.findings);
    found[0].clone()
}

#[test]
fn an_out_of_range_env_port_is_reported_and_the_default_used() {
    let r = resolve(&inputs(&[("SOCKETIO_PORT", "99999")], None, &[]));
    assert_eq!(r.settings.port, 8765);
    assert_eq!(
        message(&r, Key::Port),
        "error: env SOCKETIO_PORT: port '99999' is not valid: expected a whole number from 0 (any free port) to 65535; using the default '8765'"
    );
    assert!(r.has_errors());
}

#[test]
fn a_wrong_type_in_the_file_falls_back_to_the_env_layer() {
    let r = resolve(&inputs(
        &[("SOCKETIO_PORT", "9000")],
        Some("socketio:\n  host: h\n  port: \"abc\"\n"),
        &[],
    ));
    assert_eq!(r.settings.port, 9000);
    assert_eq!(r.settings.host, "h", "the file's other keys still count");
    assert_eq!(
        message(&r, Key::Port),
        "error: file ~/.claude/config.yaml:3: port 'abc' is not valid: expected a whole number from 0 (any free port) to 65535; using '9000' from env SOCKETIO_PORT"
    );
}

#[test]
fn shapes_that_are_not_scalars_are_named() {
    let r = resolve(&inputs(
        &[],
        Some("socketio:\n  port: {a: 1}\n  host: [a, b]\n  timeout:\n"),
        &[],
    ));
    assert!(
        message(&r, Key::Port).contains("port is a mapping: expected a whole number"),
        "{r:?}"
    );
    assert!(message(&r, Key::Host).contains("host is a list: expected a host name"));
    assert!(
        message(&r, Key::Timeout)
            .contains("timeout has no value: expected a whole number of seconds from 1 to 3600")
    );
}

#[test]
fn unparsable_yaml_reports_file_line_and_column_and_is_ignored() {
    let r = resolve(&inputs(
        &[],
        Some("socketio:\n  port: 9050\n  host: [oops\n"),
        &[],
    ));
    assert_eq!(r.file_status, FileStatus::Invalid);
    assert_eq!(r.settings.port, 8765);
    let general: Vec<String> = r.findings.iter().map(ToString::to_string).collect();
    assert_eq!(general.len(), 1, "{general:?}");
    let text = &general[0];
    assert!(
        text.starts_with("error: file ~/.claude/config.yaml:4:1: is not valid YAML ("),
        "{text}"
    );
    assert!(text.ends_with("; none of its settings are used"), "{text}");
}

#[test]
fn unknown_keys_warn_with_a_suggestion() {
    let r = resolve(&inputs(
        &[],
        Some("socketio:\n  prot: 9000\n  colour: red\n"),
        &[],
    ));
    let texts: Vec<String> = r.findings.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "warning: file ~/.claude/config.yaml:2: unknown key 'prot' in the 'socketio:' section is ignored; did you mean 'port'?",
            "warning: file ~/.claude/config.yaml:3: unknown key 'colour' in the 'socketio:' section is ignored",
        ]
    );
    assert!(!r.has_errors());
}

#[test]
fn unknown_env_variables_warn_with_a_suggestion() {
    let r = resolve(&inputs(
        &[("SOCKETIO_PROT", "1"), ("OTHER", "x")],
        None,
        &[],
    ));
    let texts: Vec<String> = r.findings.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "warning: env SOCKETIO_PROT: unknown variable 'SOCKETIO_PROT' is ignored; did you mean 'SOCKETIO_PORT'?"
        ]
    );
}

#[test]
fn a_backwards_port_range_says_how_to_write_it() {
    let r = resolve(&inputs(&[("SOCKETIO_PORT_RANGE", "8775-8765")], None, &[]));
    assert_eq!(r.settings.port_range, None);
    assert_eq!(
        message(&r, Key::PortRange),
        "error: env SOCKETIO_PORT_RANGE: port_range '8775-8765' runs backwards: write it as '8765-8775'; using the default '(unset)'"
    );
    let r = resolve(&inputs(&[("SOCKETIO_PORT_RANGE", "8765")], None, &[]));
    assert!(
        message(&r, Key::PortRange)
            .contains("port_range '8765' is not valid: expected a port range like '8765-8775'")
    );
}

#[test]
fn a_missing_cert_path_is_an_error_and_ssl_without_cert_is_too() {
    let env = [
        ("SOCKETIO_SSL", "true"),
        ("SOCKETIO_CERT_PATH", "/nope/cert.pem"),
        ("SOCKETIO_KEY_PATH", "/certs"),
    ];
    let r = resolve(&inputs(&env, None, &[]));
    let cert: Vec<String> = r
        .findings_for(Key::CertPath)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        cert,
        [
            "error: env SOCKETIO_CERT_PATH: cert_path '/nope/cert.pem' does not exist: point it at an existing PEM file; using the default '(unset)'",
            "error: env SOCKETIO_SSL: ssl is on but cert_path is not set: HTTPS needs a certificate and its key; set both or turn ssl off",
        ]
    );
    let key: Vec<String> = r
        .findings_for(Key::KeyPath)
        .map(ToString::to_string)
        .collect();
    assert!(
        key[0].contains("key_path '/certs' is not a regular file"),
        "{key:?}"
    );
}

#[test]
fn garbage_values_name_what_was_expected() {
    let env = [
        ("SOCKETIO_SSL", "maybe"),
        ("SOCKETIO_LOG_LEVEL", "DEBG"),
        ("SOCKETIO_TIMEOUT", "-5"),
        ("SOCKETIO_BUFFER_SIZE", "0"),
        ("SOCKETIO_CORS", "localhost:3000"),
        ("SOCKETIO_HOST", "http://localhost"),
    ];
    let r = resolve(&inputs(&env, None, &[]));
    assert!(
        message(&r, Key::Ssl).contains(
            "ssl 'maybe' is not valid: expected true or false; using the default 'false'"
        )
    );
    assert!(message(&r, Key::LogLevel).contains("log_level 'DEBG' is not valid: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL; did you mean 'DEBUG'?; using the default 'INFO'"));
    assert!(
        message(&r, Key::Timeout).contains(
            "timeout '-5' is not valid: expected a whole number of seconds from 1 to 3600"
        )
    );
    assert!(
        message(&r, Key::MaxBufferSize).contains(
            "max_buffer_size '0' is not valid: expected a whole number from 1 to 1000000"
        )
    );
    assert!(
        message(&r, Key::CorsOrigins)
            .contains("cors_origins has 'localhost:3000', which is not an origin")
    );
    assert!(message(&r, Key::Host).contains("host 'http://localhost' is a URL, not a host"));
    assert_eq!(r.settings, Settings::defaults(&home()));
}

#[test]
fn hooks_posting_elsewhere_is_a_finding() {
    let r = resolve(&inputs(&[], Some("socketio:\n  port: 8766\n"), &[]));
    assert_eq!(
        message(&r, Key::HookPort),
        "warning: hooks post to localhost:8765 but the server is configured for localhost:8766: hook events will be lost; set CLAUDE_MPM_SERVER_HOST/CLAUDE_MPM_SERVER_PORT to match, or run the server there"
    );
    let r = resolve(&inputs(
        &[
            ("CLAUDE_MPM_SERVER_PORT", "8766"),
            ("CLAUDE_MPM_SERVER_HOST", "127.0.0.1"),
        ],
        Some("socketio:\n  port: 8766\n  host: 0.0.0.0\n"),
        &[],
    ));
    // Loopback hooks reach a server on all interfaces; what remains is its exposure.
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].key, Some(Key::Host));
    assert!(
        r.findings[0]
            .message
            .starts_with("host 0.0.0.0 is not a loopback address: anyone on every network"),
        "{}",
        r.findings[0].message
    );
    let r = resolve(&inputs(
        &[("CLAUDE_MPM_SERVER_HOST", "10.0.0.9")],
        None,
        &[],
    ));
    assert!(
        message(&r, Key::HookHost).contains(
            "hooks post to 10.0.0.9:8765 but the server is configured for localhost:8765"
        )
    );
}

#[test]
fn an_explicit_config_file_that_is_missing_is_an_error() {
    let mut i = inputs(&[], None, &[]);
    i.file.explicit = true;
    i.file.path = PathBuf::from("/etc/mpm.yaml");
    let r = resolve(&i);
    assert_eq!(
        r.findings[0].to_string(),
        "error: file /etc/mpm.yaml: does not exist: check the --config path"
    );
    i.file.contents = FileContents::Unreadable("Permission denied (os error 13)".into());
    let r = resolve(&i);
    assert_eq!(
        r.findings[0].to_string(),
        "error: file /etc/mpm.yaml: cannot be read (Permission denied (os error 13)); its settings are ignored"
    );
}

#[test]
fn no_home_still_resolves() {
    let mut i = inputs(&[], None, &[]);
    i.home = None;
    let r = resolve(&i);
    assert_eq!(
        r.settings.log_file,
        Path::new("./.claude/logs/socketio_server.log")
    );
    assert!(r.findings[0].message.starts_with("HOME is not set"));
}

#[test]
fn json_report_keeps_its_documented_shape() {
    let r = resolve(&inputs(
        &[("SOCKETIO_PORT", "9000")],
        Some("socketio:\n  port: 9050\n  prot: 1\n"),
        &[(Key::Port, "9100")],
    ));
    let doc = to_json(&r);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["config_file"]["status"], "loaded");
    let port = &doc["settings"][1];
    assert_eq!(port["key"], "port");
    assert_eq!(port["value"], 9100);
    assert_eq!(port["source"], "flag --port");
    assert_eq!(port["shadowed"][0]["value"], 9050);
    assert_eq!(
        port["shadowed"][0]["source"],
        "file ~/.claude/config.yaml:2"
    );
    assert_eq!(port["shadowed"][1]["source"], "env SOCKETIO_PORT");
    assert_eq!(port["shadowed"][2]["source"], "default");
    assert_eq!(
        doc["settings"][3]["value"],
        serde_json::json!(["http://localhost:3000", "http://127.0.0.1:3000"])
    );
    assert_eq!(
        doc["settings"][12]["value"],
        "~/.claude/logs/socketio_server.log"
    );
    assert_eq!(doc["findings"][0]["severity"], "warning");
    assert_eq!(doc["ok"], false);
}

#[test]
fn table_report_shows_findings_under_their_row() {
    let r = resolve(&inputs(&[("SOCKETIO_PORT", "99999")], None, &[]));
    let table = to_table(&r);
    let lines: Vec<&str> = table.lines().collect();
    let port = lines.iter().position(|l| l.starts_with("port ")).unwrap();
    assert!(
        lines[port].contains("8765") && lines[port].contains("default"),
        "{table}"
    );
    assert!(
        lines[port + 1].starts_with("  -> error: env SOCKETIO_PORT: port '99999'"),
        "{table}"
    );
    assert!(table.ends_with("1 finding.\n"), "{table}");
}
