//! Recordings written and read back: whole, cut short, with garbage after them, of another
//! version, and files that are not recordings at all.

use std::io::Write as _;

use serde_json::json;

use super::*;
use crate::app::{Key, Stamp};
use crate::target::{Chosen, Target};

fn target() -> Target {
    Target {
        scheme: "http",
        host: "127.0.0.1".into(),
        port: 18765,
        chosen: Chosen::Default,
    }
}

/// A recording of `n` tool calls, one a second, each taking 250 ms.
fn recording(n: usize) -> (Header, Vec<Entry>) {
    let header = Header::new(&target(), "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    let mut entries = Vec::new();
    for i in 0..n {
        #[allow(clippy::cast_precision_loss)]
        let t = i as f64;
        for (at, subtype) in [(t, "pre_tool"), (t + 0.25, "post_tool")] {
            entries.push(Entry {
                t: at,
                a: Action::Tick(Stamp::fixed(at)),
            });
            entries.push(Entry {
                t: at,
                a: Action::FeedEvent {
                    name: "claude_event".into(),
                    data: json!({"subtype": subtype, "correlation_id": format!("c-{i}"),
                        "session_id": "s", "data": {"tool_name": format!("Tool{i}")}}),
                    at: Stamp::fixed(at),
                },
            });
        }
    }
    (header, entries)
}

/// The notes a recording holds, in order.
fn notes(r: &Recording) -> Vec<String> {
    r.entries()
        .filter_map(|e| match e.a {
            Action::Note(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn bytes(n: usize) -> Vec<u8> {
    let (header, entries) = recording(n);
    encode(&header, entries, None).unwrap()
}

#[test]
fn a_recording_reads_back_whole() {
    let r = Recording::from_bytes(bytes(100), "r.jsonl.gz".into()).unwrap();
    assert_eq!(r.entries, 400);
    assert_eq!(r.damage, None);
    assert!((r.length() - 99.25).abs() < 1e-9, "{}", r.length());
    let first = r.entries().next().unwrap();
    assert!(matches!(first.a, Action::Tick(_)));
}

#[test]
fn a_file_cut_short_replays_up_to_the_cut_and_says_where() {
    let whole = bytes(2000);
    let cut = whole[..whole.len() * 2 / 3].to_vec();
    let r = Recording::from_bytes(cut, "cut.jsonl.gz".into()).unwrap();
    let damage = r.damage.clone().unwrap();
    assert!(r.entries > 1000 && r.entries < 8000, "{}", r.entries);
    assert_eq!(damage.entries, r.entries);
    assert_eq!(damage.line, r.entries + 2, "{damage}");
    assert!(damage.to_string().contains("cut short"), "{damage}");
    assert_eq!(r.entries().count(), r.entries);
}

#[test]
fn garbage_after_a_whole_recording_keeps_every_entry() {
    let mut file = bytes(50);
    file.extend_from_slice(b"\x00\x01 not gzip at all");
    let r = Recording::from_bytes(file, "g.jsonl.gz".into()).unwrap();
    assert_eq!(r.entries, 200);
    let damage = r.damage.unwrap();
    assert_eq!(damage.line, 202, "{damage}");
}

#[test]
fn a_line_that_is_not_an_entry_ends_the_replay_there() {
    let (header, entries) = recording(3);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    writeln!(gz, "{}", serde_json::to_string(&header).unwrap()).unwrap();
    for e in &entries[..4] {
        writeln!(gz, "{}", serde_json::to_string(e).unwrap()).unwrap();
    }
    writeln!(gz, "{{\"t\": 1, \"a\": {{\"Explode\": 1}}}}").unwrap();
    let r = Recording::from_bytes(gz.finish().unwrap(), "x".into()).unwrap();
    assert_eq!(r.entries, 4);
    let damage = r.damage.unwrap();
    assert_eq!(damage.line, 6);
    assert!(damage.why.contains("not a recording entry"), "{damage}");
}

#[test]
fn another_version_or_another_file_is_a_clear_error() {
    let (mut header, entries) = recording(1);
    header.version = 2;
    header.mpm_top = "9.9.9".into();
    let err =
        Recording::from_bytes(encode(&header, entries, None).unwrap(), "v2".into()).unwrap_err();
    assert!(
        err.contains("v2 is a version 2 recording (written by mpm-top 9.9.9)"),
        "{err}"
    );
    assert!(err.contains("reads version 1"), "{err}");

    let err = Recording::from_bytes(b"hello\n".to_vec(), "notes.txt".into()).unwrap_err();
    assert!(
        err.contains("notes.txt is not an mpm-top recording: it is not gzip-compressed"),
        "{err}"
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{\"hello\": 1}\n").unwrap();
    let err = Recording::from_bytes(gz.finish().unwrap(), "other.json.gz".into()).unwrap_err();
    assert!(err.contains("does not say \"format\""), "{err}");
    let err = Recording::from_bytes(Vec::new(), "empty".into()).unwrap_err();
    assert!(err.contains("not gzip-compressed"), "{err}");
}

#[test]
fn keys_in_a_file_are_skipped_and_times_never_run_backwards() {
    let header = Header::new(&target(), "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    writeln!(gz, "{}", serde_json::to_string(&header).unwrap()).unwrap();
    for (t, a) in [
        (5.0, Action::Note("first".into())),
        (6.0, Action::Key(Key::Char('K'))),
        (2.0, Action::Note("earlier".into())),
    ] {
        writeln!(gz, "{}", serde_json::to_string(&Entry { t, a }).unwrap()).unwrap();
    }
    let r = Recording::from_bytes(gz.finish().unwrap(), "k".into()).unwrap();
    let times: Vec<f64> = r.entries().map(|e| e.t).collect();
    assert_eq!(times, [5.0, 5.0]);
}

#[test]
fn a_recording_hides_secrets_as_the_bundle_does() {
    let header = Header::new(&target(), "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    let entries = vec![
        Entry {
            t: 0.0,
            a: Action::FeedEvent {
                name: "claude_event".into(),
                data: json!({"api_key": "sk-abcdefghijklmnopqrstuvwx", "input_tokens": 7,
                    "data": {"command": "curl -H 'Authorization: Bearer abcdefghijklmnop'"}}),
                at: Stamp::fixed(0.0),
            },
        },
        Entry {
            t: 0.0,
            a: Action::Note("posted to https://user:hunter22@example.com/x".into()),
        },
    ];
    let file = encode(&header, entries, None).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&file[..]), &mut text).unwrap();
    for secret in [
        "sk-abcdefghijklmnopqrstuvwx",
        "abcdefghijklmnop",
        "hunter22",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("\"input_tokens\":7"), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
}

#[test]
fn a_recording_stops_at_its_cap_saying_so_and_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capped.jsonl.gz");
    let header = Header::new(&target(), "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    let recorder = Recorder::start(&path, &header, Vec::new(), 64 * 1024, None).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut i = 0_u32;
    while recorder.stopped().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the cap never stopped it"
        );
        // Incompressible payloads, so the cap is reached quickly.
        let noise: String = (0..64)
            .map(|k| char::from(b'a' + u8::try_from((i * 31 + k * 7) % 26).unwrap()))
            .collect();
        recorder.record(
            f64::from(i),
            &Action::FeedEvent {
                name: "claude_event".into(),
                data: json!({"noise": noise, "i": i}),
                at: Stamp::fixed(f64::from(i)),
            },
        );
        i += 1;
        if i.is_multiple_of(1000) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let why = recorder.stopped().unwrap();
    assert!(why.starts_with("reached its size cap"), "{why}");
    assert!(recorder.finish().is_ok());
    let r = Recording::open(&path).unwrap();
    assert_eq!(r.damage, None);
    assert!(r.entries > 100, "{}", r.entries);
    // The cap says so in the recording itself (a note on entries the queue could not take
    // may follow it).
    let notes = notes(&r);
    assert!(
        notes.iter().any(|n| n.contains("reached its size cap")),
        "{notes:?}"
    );
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 128 * 1024, "{size}");
}

#[test]
fn a_recording_never_replaces_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("there.jsonl.gz");
    std::fs::write(&path, "mine").unwrap();
    let header = Header::new(&target(), "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    let err = Recorder::start(&path, &header, Vec::new(), 1 << 20, None).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let link = dir.path().join("link.jsonl.gz");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
    assert!(Recorder::start(&link, &header, Vec::new(), 1 << 20, None).is_err());
    assert!(!dir.path().join("nowhere").exists());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
}

#[test]
fn a_file_of_key_presses_is_damaged_and_a_directory_is_not_a_recording() {
    let header = Header::new(&target(), "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    writeln!(gz, "{}", serde_json::to_string(&header).unwrap()).unwrap();
    let key = serde_json::to_string(&Entry {
        t: 1.0,
        a: Action::Key(Key::Char('q')),
    })
    .unwrap();
    for _ in 0..5000 {
        writeln!(gz, "{key}").unwrap();
    }
    let r = Recording::from_bytes(gz.finish().unwrap(), "keys".into()).unwrap();
    assert_eq!(r.entries, 0);
    let damage = r.damage.unwrap();
    assert!(damage.why.contains("key presses"), "{damage}");
    assert!(damage.line < 1100, "{damage}");

    let dir = tempfile::tempdir().unwrap();
    let err = Recording::open(dir.path()).unwrap_err();
    assert!(err.contains("is not a regular file"), "{err}");
}

#[test]
fn messages_quoting_a_file_show_its_control_characters_as_escapes() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let header = Header::new(&target(), "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    writeln!(gz, "{}", serde_json::to_string(&header).unwrap()).unwrap();
    writeln!(
        gz,
        "{{\"t\":0.2,\"a\":{{\"\\u001b]2;PWNED\\u0007\\r\\nFORGED\":1}}}}"
    )
    .unwrap();
    let r = Recording::from_bytes(gz.finish().unwrap(), "esc".into()).unwrap();
    let damage = r.damage.unwrap().to_string();
    assert!(!damage.chars().any(char::is_control), "{damage:?}");
    assert!(damage.contains("\\e]2;PWNED"), "{damage}");
}

#[test]
fn a_payload_too_large_for_a_line_is_recorded_as_its_start() {
    let header = Header::new(&target(), "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    // 50,000 empty secret-named values: redaction makes the payload longer before it is cut.
    let mut big = serde_json::Map::new();
    for i in 0..50_000 {
        big.insert(format!("token{i}"), json!(""));
    }
    let entries = vec![Entry {
        t: 0.0,
        a: Action::FeedEvent {
            name: "claude_event".into(),
            data: serde_json::Value::Object(big),
            at: Stamp::fixed(0.0),
        },
    }];
    let r = Recording::from_bytes(encode(&header, entries, None).unwrap(), "big".into()).unwrap();
    assert_eq!((r.entries, r.damage.clone()), (1, None));
    let Some(Action::FeedEvent { data, .. }) = r.entries().next().map(|e| e.a) else {
        panic!("no event");
    };
    let text = data.as_str().unwrap();
    assert!(text.starts_with("(a payload of "), "{}", &text[..80]);
    assert!(text.len() < MAX_PAYLOAD + 100, "{}", text.len());
}

#[test]
fn no_line_outgrows_what_replay_reads() {
    use crate::probes::process::ProcessInfo;
    use crate::probes::sockets::SocketRow;
    let header = Header::new(&target(), "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    let owner = ProcessInfo {
        pid: 1,
        name: "hold".into(),
        cmdline: "x".repeat(2 * 1024 * 1024),
        uid: None,
        start_time: 1,
    };
    let entries = vec![
        // Control characters are written six bytes each: the cut counts them so.
        Entry {
            t: 0.0,
            a: Action::FeedEvent {
                name: "claude_event".into(),
                data: json!({"s": "\u{1}".repeat(174_743)}),
                at: Stamp::fixed(0.0),
            },
        },
        Entry {
            t: 1.0,
            a: Action::Resources {
                process: None,
                sockets: vec![SocketRow {
                    state: "ESTABLISHED".into(),
                    local: "127.0.0.1:1".into(),
                    remote: "127.0.0.1:2".into(),
                    owners: vec![owner],
                    inode: 1,
                }],
                holders: Ok(Vec::new()),
                at: Stamp::fixed(1.0),
            },
        },
        Entry {
            t: 2.0,
            a: Action::Note("after".into()),
        },
    ];
    let r = Recording::from_bytes(encode(&header, entries, None).unwrap(), "long".into()).unwrap();
    assert_eq!((r.entries, r.damage.clone()), (3, None));
    let notes = notes(&r);
    assert!(
        notes[0].starts_with("recording: a Resources entry of 2048 KiB was left out"),
        "{notes:?}"
    );
    assert_eq!(notes[1], "after");
}

#[test]
fn a_large_history_replays_to_the_same_rows_as_live() {
    let events: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            json!({"event": "claude_event", "subtype": "post_tool", "correlation_id": format!("c-{i}"),
                "session_id": "s", "data": {"tool_name": format!("Tool{i}"), "output": "o".repeat(2048)}})
        })
        .collect();
    let action = Action::FeedEvent {
        name: "event_history".into(),
        data: json!({"events": events, "count": 1000}),
        at: Stamp::fixed(1.0),
    };
    let header = Header::new(&target(), "mpm-top", Stamp::fixed(0.0).wall, 0.0);
    let entry = Entry {
        t: 1.0,
        a: action.clone(),
    };
    let r = Recording::from_bytes(encode(&header, vec![entry], None).unwrap(), "h".into()).unwrap();
    assert_eq!(r.damage, None);
    let mut live = crate::app::State::new(target(), true);
    let _ = crate::app::update(&mut live, action);
    let mut replayed = crate::app::State::new(target(), true);
    for e in r.entries() {
        let _ = crate::app::update(&mut replayed, e.a);
    }
    let rows = |s: &crate::app::State| -> Vec<(String, String)> {
        s.events
            .iter()
            .map(|e| (e.name.clone(), e.summary.clone()))
            .collect()
    };
    assert_eq!(rows(&live).len(), 1001);
    assert_eq!(rows(&replayed), rows(&live));
}
