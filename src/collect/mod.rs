//! `mpm-top --collect [PATH]`: the guide's "Information to Collect", natively, in one file.
//!
//! Strictly read-only (it runs the doctor's read-only probes and reads files), every probe
//! bounded, secrets redacted, and the file written with mode 0600.

mod redact;
mod stack;
mod system;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest as _, Sha256};

pub use redact::{REDACTED, Redactor, is_secret_name};

use crate::checks;
use crate::config::{self, Resolved};
use crate::doctor;
use crate::probes::logtail::{LineKind, last_lines};
use crate::probes::sockets;
use crate::record::{Entry, Header};
use crate::target::Target;

/// Log lines included, as the guide's `tail -500`.
const LOG_LINES: usize = 500;

/// What was written.
#[derive(Debug)]
pub struct Bundle {
    /// Bytes written.
    pub size: usize,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// Secrets replaced.
    pub redacted: usize,
    /// The same, by kind: `3 (2 authorization header, 1 provider key)`.
    pub redacted_kinds: String,
    /// The recording written beside it, or why there is none.
    pub recording: Result<PathBuf, String>,
}

/// Where the bundle's recording goes: beside it, named after it (`debug_info.txt` →
/// `debug_info.jsonl.gz`).
#[must_use]
pub fn recording_path(bundle: &Path) -> PathBuf {
    let stem = bundle
        .file_stem()
        .map_or_else(|| "debug_info".into(), |s| s.to_string_lossy().into_owned());
    bundle.with_file_name(format!("{stem}.{}", crate::record::EXTENSION))
}

/// Collects everything and writes it to `path`, reporting progress on `progress`. Beside it
/// goes a recording: `held`, what a console holds, or else a few seconds from the feed.
/// From the console, `held` also carries its alerts: each raised and cleared, with times.
///
/// # Errors
/// When the file cannot be written.
pub async fn collect(
    resolved: &Resolved,
    target: &Target,
    path: &Path,
    held: Option<Held>,
    progress: &mut impl std::io::Write,
) -> std::io::Result<Bundle> {
    let started = Instant::now();
    let mut step = |what: &str| {
        let _ = writeln!(
            progress,
            "collecting: {what} ({} ms)",
            started.elapsed().as_millis()
        );
    };
    let mut r = Redactor::new(resolved.home.as_deref());
    let mut out = format!(
        "mpm-top debug bundle\nwritten by mpm-top {} for {}; secrets are redacted as {REDACTED}, the home directory is shown as ~\n",
        env!("CARGO_PKG_VERSION"),
        target.url()
    );
    step("system and versions");
    section(&mut out, "System (uname -a)", &system::uname());
    step("the server: version, process, interpreter and packages");
    // What waits on the server runs together: a hung server costs one timeout, not five.
    // (Boxed: together the three futures are large to keep on the stack.)
    let (pid, doctor_text, live) = tokio::join!(
        Box::pin(server_sections(target, &mut out, &mut r)),
        Box::pin(doctor_text(resolved, target)),
        Box::pin(stack::live_events(target))
    );
    step("doctor checks");
    section(&mut out, "Doctor", &r.text(&doctor_text));
    step("server logs");
    log_sections(resolved, &mut out, &mut r);
    if let Some((path, text)) = pid.and_then(|p| stack::claude_mpm_log(p, target.port)) {
        section(
            &mut out,
            &format!("Claude MPM's log: the last lines of {path}"),
            &r.text(&text),
        );
    }
    section(
        &mut out,
        &format!(
            "Live events: what the server sent a new client in {} s",
            stack::LISTEN.as_secs()
        ),
        &r.text(&live.text),
    );
    step("alerts");
    alerts_section(&mut out, &mut r, held.as_ref());
    step("the recording");
    let (from, (header, entries)) = if let Some(held) = held {
        ("what the console held", held.recording)
    } else {
        let (header, mut entries) = live.recording;
        entries.insert(
            0,
            Entry {
                t: 0.0,
                a: crate::app::Action::Config(config::rows(resolved)),
            },
        );
        (
            "the feed's events above, with the health, transports, port and configuration",
            (header, entries),
        )
    };
    // Redacting and compressing is CPU work: off the async workers.
    let recording = {
        let (bundle, home) = (path.to_owned(), resolved.home.clone());
        tokio::task::spawn_blocking(move || {
            write_recording(&bundle, &header, entries, home.as_deref())
        })
        .await
        .unwrap_or_else(|e| Err(format!("the recording could not be written: {e}")))
    };
    let text = match &recording {
        Ok((at, count)) => {
            // By name: whoever receives the two files keeps them side by side.
            let name = at
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            format!(
                "{name}, beside this file: {count} entries ({from}), redacted as this file is.\nOpen it in the console, in the folder holding both, with:\n  mpm-top replay {name}\nor print its events as JSON lines with:\n  mpm-top replay {name} --json\n"
            )
        }
        Err(why) => format!("(no recording: {why})\n"),
    };
    section(&mut out, "Recording", &r.text(&text));
    step("processes and sockets");
    process_sections(target.port, &mut out, &mut r).await;
    step("configuration");
    config_sections(resolved, &mut out, &mut r);
    let _ = writeln!(out, "\n===== Redacted =====\n{}", r.summary());
    step("writing");
    let bytes = out.into_bytes();
    write_private(path, &bytes)?;
    Ok(Bundle {
        size: bytes.len(),
        sha256: hex(&Sha256::digest(&bytes)),
        redacted: r.count(),
        redacted_kinds: r.summary(),
        recording: recording.map(|(at, _)| at),
    })
}

/// The console's alerts, raised and cleared; from the command line, where they come from.
fn alerts_section(out: &mut String, r: &mut Redactor, held: Option<&Held>) {
    let alerts = held.map_or_else(
        || "(collected outside the console: alerts need its history. The doctor checks above run the rules that need none: fds, hooks, servers)\n".to_owned(),
        |h| h.alerts.clone(),
    );
    section(
        out,
        "Alerts (raised and cleared while the console ran)",
        &r.text(&alerts),
    );
}

/// What a console holds for its bundle.
#[derive(Clone, Debug)]
pub struct Held {
    /// Its recent past, as a recording.
    pub recording: (Header, Vec<Entry>),
    /// Its alerts' history, as text.
    pub alerts: String,
}

/// Writes the bundle's recording beside it, as privately; where, and how many entries.
fn write_recording(
    bundle: &Path,
    header: &Header,
    entries: Vec<Entry>,
    home: Option<&Path>,
) -> Result<(PathBuf, usize), String> {
    let at = recording_path(bundle);
    let count = entries.len();
    let bytes = crate::record::encode(header, entries, home).map_err(|e| e.to_string())?;
    write_private(&at, &bytes).map_err(|e| format!("cannot write {}: {e}", at.display()))?;
    Ok((at, count))
}

/// The server as it reports itself, and the process that holds its port; that process's PID.
async fn server_sections(target: &Target, out: &mut String, r: &mut Redactor) -> Option<u32> {
    section(
        out,
        "Versions",
        &format!(
            "mpm-top {} (collecting)\n{}",
            env!("CARGO_PKG_VERSION"),
            stack::server_version(target).await
        ),
    );
    let owned = target.clone();
    let (text, pid) = tokio::task::spawn_blocking(move || stack::server_process(&owned))
        .await
        .unwrap_or_else(|_| (String::new(), None));
    section(
        out,
        "Server process: its interpreter and the packages of its environment",
        &r.text(&text),
    );
    pid
}

async fn doctor_text(resolved: &Resolved, target: &Target) -> String {
    let facts = doctor::gather(resolved, target).await;
    let results = checks::evaluate(&facts, &[]);
    let plain = doctor::Style {
        unicode: false,
        colour: false,
    };
    doctor::to_text(&target.url(), &results, plain)
}

fn log_sections(resolved: &Resolved, out: &mut String, r: &mut Redactor) {
    let log_shown = config::tilde(&resolved.settings.log_file, resolved.home.as_deref());
    let lines = last_lines(&resolved.settings.log_file, LOG_LINES);
    let text = match &lines {
        Ok(lines) => lines.iter().fold(String::new(), |mut acc, l| {
            let _ = writeln!(acc, "{}", l.text);
            acc
        }),
        Err(e) => format!("(cannot read {log_shown}: {e})\n"),
    };
    section(
        out,
        &format!("Server log: last {LOG_LINES} lines of {log_shown}"),
        &r.text(&text),
    );
    let events: Vec<_> = lines
        .iter()
        .flatten()
        .filter(|l| l.kind != LineKind::Other)
        .collect();
    let recent =
        events[events.len().saturating_sub(50)..]
            .iter()
            .fold(String::new(), |mut acc, l| {
                let _ = writeln!(acc, "{:?}: {}", l.kind, l.text);
                acc
            });
    section(
        out,
        "Recent events (connect, disconnect, tool_start/tool_stop, errors; from the log)",
        &r.text(&recent),
    );
}

async fn process_sections(port: u16, out: &mut String, r: &mut Redactor) {
    let table = tokio::task::spawn_blocking(move || sockets::port_table(port)).await;
    let text = match table {
        Ok(Ok(rows)) if rows.is_empty() => format!("(no TCP sockets on port {port})\n"),
        Ok(Ok(rows)) => rows.iter().fold(String::new(), |mut acc, row| {
            let owners: Vec<String> = row
                .owners
                .iter()
                .map(|p| {
                    format!(
                        "PID {} uid {} {}",
                        p.pid,
                        p.uid.as_deref().unwrap_or("?"),
                        p.command()
                    )
                })
                .collect();
            let _ = writeln!(
                acc,
                "{:<12} {:<24} {:<24} {}",
                row.state,
                row.local,
                row.remote,
                owners.join("; ")
            );
            acc
        }),
        _ => "(the socket tables could not be read)\n".into(),
    };
    section(
        out,
        &format!("Sockets on port {port} (netstat / lsof -i)"),
        &r.text(&text),
    );
    section(
        out,
        "Processes (top)",
        &r.text(
            &tokio::task::spawn_blocking(system::top)
                .await
                .unwrap_or_default(),
        ),
    );
    section(
        out,
        "Memory (free)",
        &tokio::task::spawn_blocking(system::memory)
            .await
            .unwrap_or_default(),
    );
    section(
        out,
        "Disks (df)",
        &tokio::task::spawn_blocking(system::disks)
            .await
            .unwrap_or_default(),
    );
}

fn config_sections(resolved: &Resolved, out: &mut String, r: &mut Redactor) {
    section(
        out,
        "Configuration with sources (mpm-top config)",
        &r.text(&config::to_table(resolved)),
    );
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
        .filter(|(k, _)| k.contains("SOCKETIO") || k.contains("CLAUDE"))
        .collect();
    env.sort();
    let env_text = env.iter().fold(String::new(), |mut acc, (k, v)| {
        // One line each: a newline in a value would forge lines of the bundle.
        let _ = writeln!(acc, "{}", r.variable(k, &crate::text::clean(v)));
        acc
    });
    section(
        out,
        "Environment (SOCKETIO_*, CLAUDE*)",
        if env_text.is_empty() {
            "(none set)\n"
        } else {
            &env_text
        },
    );
    // Only the section mpm-top reads: the rest of the file belongs to other tools.
    let file_text = match std::fs::read(resolved_file(resolved)) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let others = serde_yaml::from_str::<serde_yaml::Value>(&text)
                .ok()
                .and_then(|v| v.as_mapping().map(serde_yaml::Mapping::len))
                .map_or(0, |n| n.saturating_sub(1));
            let block = crate::actions::reset_config::section_text(&text)
                .unwrap_or("(no socketio: section)\n");
            format!(
                "{}(its {others} other top-level key(s) belong to other tools and are not copied)\n",
                r.text(block)
            )
        }
        Err(e) => format!("({e})\n"),
    };
    section(
        out,
        &format!(
            "Configuration file {}: its socketio: section",
            resolved.file_shown
        ),
        &file_text,
    );
}

fn resolved_file(resolved: &Resolved) -> std::path::PathBuf {
    config::expand_tilde(&resolved.file_shown, resolved.home.as_deref())
}

/// Appends a section. Its body is text from outside (logs, process lists, server answers):
/// each line is sanitised, so reading the bundle in a terminal is safe.
fn section(out: &mut String, title: &str, body: &str) {
    let body = crate::text::sanitize_lines(body);
    let _ = write!(out, "\n===== {title} =====\n{body}");
    if !body.ends_with('\n') {
        out.push('\n');
    }
}

/// Writes `bytes` to `path`, readable only by the user from the first byte: into a new file
/// beside it (created, never opened through a link), then renamed over `path`. A symlink at
/// `path` is replaced by the file, never followed: what it pointed at is not touched.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(
        || "debug_info.txt".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written =
        crate::files::create_private(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `mpm-top --collect PATH`: exit 0 on success, 1 when the file cannot be written.
pub async fn run(resolved: &Resolved, path: &Path) -> u8 {
    let started = Instant::now();
    let target = Target::configured(resolved);
    match collect(resolved, &target, path, None, &mut std::io::stderr()).await {
        Ok(bundle) => {
            println!(
                "wrote {} ({} bytes, sha256 {}) in {:.1} s; redacted: {}; the file is readable only by you",
                path.display(),
                bundle.size,
                bundle.sha256,
                started.elapsed().as_secs_f64(),
                bundle.redacted_kinds
            );
            match &bundle.recording {
                Ok(at) => println!(
                    "wrote {} beside it: a recording; mpm-top replay {} opens it",
                    at.display(),
                    at.display()
                ),
                Err(why) => eprintln!("mpm-top --collect: no recording: {why}"),
            }
            0
        }
        Err(e) => {
            eprintln!("mpm-top --collect: cannot write '{}': {e}", path.display());
            1
        }
    }
}
