//! Recordings end to end: the real console records (`--record`, the `w` key, `c`'s bundle,
//! `--collect`), a recording replays headless to the same tool pairs and durations the live
//! console showed, and `mpm-top replay` seeks and changes speed in a pseudo-terminal.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::pty::Tty;
use common::{ServeProcess, mpm_top_command};
use mpm_top::app::{Action, Stamp, State, update};
use mpm_top::record::{Entry, Header, Recording, encode};
use mpm_top::target::{Chosen, Target};
use serde_json::json;

/// `mpm-top ARGS` in a pty, HOME (and so the working directory) `home`.
fn console(home: &Path, args: &[&str]) -> Tty {
    let exe = Path::new(env!("CARGO_BIN_EXE_mpm-top"));
    let mut path = std::ffi::OsString::from(exe.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    Tty::spawn("mpm-top", &args, home, &path)
}

/// Waits for the program in the pty to exit; its exit code.
fn exit_code(tty: &mut Tty) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = tty.child.try_wait().unwrap() {
            return status.exit_code();
        }
        assert!(
            Instant::now() < deadline,
            "it did not exit:\n{}",
            tty.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `tool_stop` rows on screen that show a duration: (time, took, tool).
fn tool_pairs_on_screen(screen: &str) -> Vec<(String, String, String)> {
    screen
        .lines()
        .filter_map(|line| {
            let row = line.split('│').find(|part| part.contains(" tool_stop "))?;
            let words: Vec<&str> = row.split_whitespace().collect();
            // time, source, tool_stop, number, unit, session, tool, …
            let unit = *words.get(4)?;
            if !["ms", "s"].contains(&unit) {
                return None;
            }
            Some((
                words[0].to_owned(),
                format!("{} {unit}", words[3]),
                (*words.get(6)?).to_owned(),
            ))
        })
        .collect()
}

/// A recording applied whole, as `mpm-top replay` applies it.
fn replayed(file: &Path) -> State {
    let recording = Recording::open(file).unwrap();
    assert_eq!(recording.damage, None);
    let mut state = State::new(recording.header.target.clone(), true);
    for entry in recording.entries() {
        let _ = update(&mut state, entry.a);
    }
    state
}

/// `mpm-top replay FILE --json`: exit code, stdout, stderr.
fn replay_json(home: &Path, file: &Path) -> (Option<i32>, String, String) {
    let out = mpm_top_command(home, &[])
        .args(["replay", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_demo_recording_replays_to_the_same_tool_pairs_and_durations() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("demo.jsonl.gz");
    let mut tty = console(home.path(), &["--demo", "--record", file.to_str().unwrap()]);
    tty.wait_for("● REC");
    let deadline = Instant::now() + Duration::from_secs(40);
    let live = loop {
        let pairs = tool_pairs_on_screen(&tty.text());
        if pairs.len() >= 5 {
            break pairs;
        }
        assert!(Instant::now() < deadline, "too few pairs:\n{}", tty.text());
        std::thread::sleep(Duration::from_millis(200));
    };
    // A pair's duration is refined when a better clock for it arrives (its log line, read a
    // moment after the feed's event): compare the rows as they stand 2 s later, the ones first
    // seen above, which have had that time to settle. Paused, so that they stay on screen
    // (a loaded machine had scrolled them away); a paused row's duration is still refined.
    tty.keys("p");
    std::thread::sleep(Duration::from_secs(2));
    let settled = tool_pairs_on_screen(&tty.text());
    let live: Vec<_> = settled
        .into_iter()
        .filter(|(at, _, tool)| live.iter().any(|(a, _, t)| a == at && t == tool))
        .collect();
    assert!(
        live.len() >= 3,
        "the first rows scrolled away:\n{}",
        tty.text()
    );
    tty.keys("q");
    assert_eq!(exit_code(&mut tty), 0);
    let farewell = tty.text();
    assert!(farewell.contains("mpm-top replay "), "{farewell}");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions())
            & 0o777,
        0o600
    );

    let state = replayed(&file);
    let replayed: Vec<(String, String, String)> = state
        .events
        .iter()
        .filter(|row| row.name == "tool_stop")
        .filter_map(|row| {
            Some((
                row.at.clock_text(),
                mpm_top::ui::format::duration(row.duration?),
                row.summary.split_whitespace().next()?.to_owned(),
            ))
        })
        .collect();
    for pair in &live {
        assert!(
            replayed.contains(pair),
            "live {pair:?} is not in the replay: {replayed:?}"
        );
    }
}

/// A recording of a minute: a tick each second, and every 5 s a tool call of 1.25 s.
fn minute_recording(file: &Path) {
    let target = Target {
        scheme: "http",
        host: "127.0.0.1".into(),
        port: 18765,
        chosen: Chosen::Default,
    };
    let header = Header::new(&target, "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    let mut entries = Vec::new();
    for second in 0..=60 {
        let t = f64::from(second);
        entries.push(Entry {
            t,
            a: Action::Tick(Stamp::fixed(t)),
        });
        if second % 5 == 0 && second < 60 {
            for (at, subtype) in [(t, "pre_tool"), (t + 1.25, "post_tool")] {
                entries.push(Entry {
                    t: at,
                    a: Action::FeedEvent {
                        name: "claude_event".into(),
                        data: json!({"subtype": subtype, "correlation_id": format!("c-{second}"),
                            "session_id": "s-1", "data": {"tool_name": format!("Tool{second}")}}),
                        at: Stamp::fixed(at),
                    },
                });
            }
        }
    }
    std::fs::write(file, encode(&header, entries, None).unwrap()).unwrap();
}

#[test]
fn replay_seeks_changes_speed_and_refuses_actions_in_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("minute.jsonl.gz");
    minute_recording(&file);
    let mut tty = console(home.path(), &["replay", file.to_str().unwrap()]);
    tty.wait_for("REPLAY 10:00:0");
    tty.wait_for("×1 ▶");
    tty.keys(" ");
    tty.wait_for("❚❚ paused");
    tty.keys("\x1b[F"); // End
    let end = tty.wait_until("the end, with its last rows", |s| {
        s.contains("1:00/1:00") && s.contains("Tool55")
    });
    assert!(end.contains("1.250 s"), "{end}");
    tty.keys("\x1b[H"); // Home
    // The whole frame: the clock line can be drawn before the rows below it are.
    let start = tty.wait_until("a seek back that starts again, with no later rows", |s| {
        s.contains("0:00/1:00") && !s.contains("Tool55")
    });
    assert!(
        !start.contains("Tool55"),
        "a seek back starts again: {start}"
    );
    tty.keys("\x1b[C"); // Right: 10 s on
    let ten = tty.wait_for("0:10/1:00");
    assert!(
        ten.contains("Tool5 ") || ten.contains("Tool5\u{20}"),
        "{ten}"
    );
    assert!(!ten.contains("Tool15"), "{ten}");
    tty.keys("\x1b[D"); // Left
    tty.wait_for("0:00/1:00");
    tty.keys("]]");
    tty.wait_for("×4 ");
    tty.keys("[[[[[");
    tty.wait_for("×0.25 ");
    tty.keys("K");
    tty.wait_for("replay: 'K' is disabled");
    tty.keys("]]]]]]");
    tty.wait_for("×16 ");
    let started = Instant::now();
    tty.keys(" ");
    let end = tty.wait_for("■ end");
    assert!(end.contains("1:00/1:00"), "{end}");
    // A minute at ×16 is under 4 s; generous for a loaded machine, but not as recorded.
    assert!(started.elapsed() < Duration::from_secs(20));
    tty.keys("q");
    assert_eq!(exit_code(&mut tty), 0);
}

/// Posts a hook event to the server.
fn post(url: &str, subtype: &str, correlation: &str, data: &serde_json::Value) {
    let body = json!({"event": "claude_event", "data": {"subtype": subtype,
        "session_id": "s-rec", "correlation_id": correlation, "data": data}});
    common::post_event(url, &body);
}

/// Waits until `mpm-top replay FILE --json` prints `needle`; its output.
fn wait_for_recorded(home: &Path, file: &Path, needle: &str) -> (Option<i32>, String, String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = replay_json(home, file);
        if out.1.contains(needle) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "{needle} never reached {}: {out:?}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn one_file_named(dir: &Path, prefix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

#[test]
fn the_live_console_records_redacted_stops_and_starts_with_w_and_a_kill_leaves_a_readable_file() {
    let home = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(home.path(), &[], &[]);
    let first = home.path().join("first.jsonl.gz");
    let port = server.port.to_string();
    let mut tty = console(
        home.path(),
        &[
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--record",
            first.to_str().unwrap(),
        ],
    );
    tty.wait_for("feed ✓");
    tty.wait_for("● REC");
    let planted = json!({"tool_name": "SecretTool", "api_key": "sk-PLANTEDPLANTEDPLANTED99",
        "command": "curl -H 'Authorization: Bearer PLANTEDBEARER123'"});
    post(&server.url, "pre_tool", "c-secret", &planted);
    tty.wait_for("SecretTool");

    // c: the bundle carries what the console holds.
    tty.keys("c");
    tty.wait_for("wrote debug_info.txt");
    let bundle = std::fs::read_to_string(home.path().join("debug_info.txt")).unwrap();
    assert!(
        bundle.contains("mpm-top replay debug_info.jsonl.gz"),
        "{bundle}"
    );
    let (code, events, _) = replay_json(home.path(), &home.path().join("debug_info.jsonl.gz"));
    assert_eq!(code, Some(0));
    assert!(events.contains("SecretTool"), "{events}");
    assert!(!events.contains("PLANTED"), "{events}");

    // w ends the --record recording: whole, and redacted.
    tty.keys("w");
    tty.wait_for("recorded ");
    let (code, events, err) = replay_json(home.path(), &first);
    assert_eq!(code, Some(0), "{err}");
    assert!(events.contains("SecretTool"), "{events}");
    assert!(!events.contains("PLANTED"), "{events}");
    assert!(events.contains("[REDACTED]"), "{events}");

    // w again: a new recording in the working directory, cut off by SIGKILL.
    tty.keys("w");
    tty.wait_for("● REC");
    post(
        &server.url,
        "pre_tool",
        "c-after",
        &json!({"tool_name": "AfterTool"}),
    );
    tty.wait_for("AfterTool");
    let second = one_file_named(home.path(), "mpm-top-");
    let (code, events, err) = wait_for_recorded(home.path(), &second, "AfterTool");
    let pid = tty.child.process_id().unwrap();
    common::signal(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = exit_code(&mut tty);
    // While it ran the file was open-ended; after the kill it still is, up to its last flush.
    assert!(events.contains("AfterTool"), "{events}");
    // Begun mid-session, it starts with the recent past the panes were showing.
    assert!(events.contains("SecretTool"), "{events}");
    assert_eq!(
        code,
        Some(1),
        "an open-ended file says where it stops: {err}"
    );
    assert!(err.contains("cut short"), "{err}");
    let (code, events, err) = replay_json(home.path(), &second);
    assert_eq!(code, Some(1));
    assert!(events.contains("AfterTool"), "{events}");
    assert!(err.contains("damaged at line"), "{err}");
}

#[test]
fn collect_writes_a_recording_beside_the_bundle_that_names_it() {
    let home = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(home.path(), &[], &[]);
    post(
        &server.url,
        "pre_tool",
        "c-1",
        &json!({"tool_name": "BundledTool"}),
    );
    let out_path = home.path().join("bundle.txt");
    let out = mpm_top_command(home.path(), &[])
        .args(["--collect", out_path.to_str().unwrap()])
        .args(["--host", "127.0.0.1", "--port", &server.port.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recording = home.path().join("bundle.jsonl.gz");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("bundle.jsonl.gz beside it"), "{said}");
    let bundle = std::fs::read_to_string(&out_path).unwrap();
    assert!(bundle.contains("===== Recording"), "{bundle}");
    assert!(
        bundle.contains("mpm-top replay bundle.jsonl.gz\n"),
        "{bundle}"
    );
    let (code, events, err) = replay_json(home.path(), &recording);
    assert_eq!(code, Some(0), "{err}");
    assert!(events.contains("event_history"), "{events}");
    assert!(events.contains("BundledTool"), "{events}");
    let state = replayed(&recording);
    assert_eq!(state.server.kind.as_deref(), Some("mpm-top"));
    assert!(state.connected);
    assert_eq!(state.server.handshake, Some(true));
    assert!(
        state.sockets.iter().any(|s| s.state == "LISTEN"),
        "{:?}",
        state.sockets
    );
    assert!(state.resources.is_some(), "the server process was sampled");
    assert!(state.config.iter().any(|r| r.key == "port"));
}

#[test]
fn what_is_not_a_recording_gets_a_clear_error_and_no_terminal_points_to_json() {
    let home = tempfile::tempdir().unwrap();
    let notes = home.path().join("notes.txt");
    std::fs::write(&notes, "hello\n").unwrap();
    let (code, _, err) = replay_json(home.path(), &notes);
    assert_eq!(code, Some(1));
    assert!(err.contains("is not an mpm-top recording"), "{err}");
    let (code, _, err) = replay_json(home.path(), &home.path().join("missing.jsonl.gz"));
    assert_eq!(code, Some(1));
    assert!(err.contains("cannot open"), "{err}");

    let good = home.path().join("minute.jsonl.gz");
    minute_recording(&good);
    let before = std::fs::read(&good).unwrap();
    let out = mpm_top_command(home.path(), &[])
        .args(["replay", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--json"), "{err}");

    let out = mpm_top_command(home.path(), &[])
        .args(["--record", "x.jsonl.gz", "doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does nothing with `doctor`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An existing file is never replaced by a recording.
    let mut tty = console(home.path(), &["--demo", "--record", good.to_str().unwrap()]);
    assert_eq!(exit_code(&mut tty), 1);
    assert!(tty.text().contains("already exists"), "{}", tty.text());
    assert_eq!(std::fs::read(&good).unwrap(), before);
}
