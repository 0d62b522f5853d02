//! `mpm-top clients`: the Clients view (`C`) as a table or versioned JSON. The connected
//! clients are the server's `client:list` answer; the departures (who left, how long it
//! lived, why) come from the server's log, read through the same reducer the console runs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::app::clients::{Client, Departure};
use crate::app::{Action, Clock, Stamp, State};
use crate::checks::alerts::SHORT_LIVED_SECS;
use crate::config::Resolved;
use crate::probes::logfields;
use crate::probes::logtail::{self, LogLine};
use crate::sio_client::{self, Transport};
use crate::target::Target;

/// Version of the `--json` document.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// How long each step (connect, list) may take.
const STEP: Duration = Duration::from_secs(3);

/// Lines of the server's log read for departures.
const LOG_LINES: usize = 20_000;

/// Lists the clients of the configured server; 0 when it answered, 1 when it did not.
pub async fn run(resolved: &Resolved, json: bool) -> u8 {
    let target = Target::configured(resolved);
    let clock = Clock::start();
    let mut state = State::new(target.clone(), true);
    let log = departures_from_log(resolved, &target, &mut state, clock)
        .await
        .map(|p| crate::config::tilde(&p, resolved.home.as_deref()));
    if let Err(why) = list(&target, &mut state, clock).await {
        eprintln!(
            "mpm-top clients: {} did not list its clients: {why}\nIs the server running? mpm-top doctor says why not.",
            target.url()
        );
        return 1;
    }
    let out = if json {
        serde_json::to_string_pretty(&document(&state, log.as_ref())).unwrap_or_default() + "\n"
    } else {
        text(&state, log.as_ref())
    };
    // A closed pipe (`mpm-top clients | head -1`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(out.as_bytes());
    0
}

/// Connects, asks for `client:list`, hands the answer to the reducer as the console's feed
/// does (this connection is marked as this command's own).
async fn list(target: &Target, state: &mut State, clock: Clock) -> anyhow::Result<()> {
    let mut session = sio_client::connect(&target.url(), Transport::Websocket, STEP).await?;
    // Both servers greet each client by its sid before the connect ack.
    if let Some(welcome) = session.wait_for("dashboard:welcome", STEP).await {
        crate::app::clients::welcomed(state, &welcome.data);
    }
    // Named as mpm-top's own, so that consoles do not count this short visit as flapping.
    session
        .emit(
            "client:register",
            crate::app::clients::registration("mpm-top clients"),
        )
        .await?;
    session.emit("client:list", json!({})).await?;
    let answer = session.wait_for("client:list:response", STEP).await;
    let _ = session.disconnect().await;
    let answer =
        answer.ok_or_else(|| anyhow::anyhow!("no client:list:response within {STEP:?}"))?;
    let local = crate::target::is_loopback_host(&target.host);
    let action = Action::ClientList {
        data: answer.data,
        at: clock.stamp_at(answer.at),
        boot: local
            .then(|| crate::app::time::monotonic_secs_at(answer.at))
            .flatten(),
    };
    let _ = crate::app::update(state, action);
    Ok(())
}

/// Reads the departures the server's log tells of (mpm-top serve's log, or Claude MPM's daemon
/// log), each at the time its line carries; the log read, if one was.
async fn departures_from_log(
    resolved: &Resolved,
    target: &Target,
    state: &mut State,
    clock: Clock,
) -> Option<PathBuf> {
    let kind = crate::probes::http::health(&target.url(), STEP)
        .await
        .ok()
        .map(|h| h.kind);
    let (owned, ours) = (target.clone(), resolved.settings.log_file.clone());
    let lines = tokio::task::spawn_blocking(move || {
        let holder = crate::actions::holder::current(&owned)
            .ok()?
            .first()
            .map(|h| h.process.pid);
        let path = crate::probes::pidfiles::server_log(kind.as_ref(), holder, owned.port, &ours)?;
        let lines = logtail::last_lines(&path, LOG_LINES).ok()?;
        Some((path, lines))
    })
    .await
    .ok()
    .flatten();
    let (path, lines) = lines?;
    let now = clock.stamp();
    for line in lines {
        let at = line_stamp(&line, now);
        let _ = crate::app::update(state, Action::LogLine(line, at));
    }
    Some(path)
}

/// When a log line says it was written, on the console's clock; lines without a time are
/// taken as now.
fn line_stamp(line: &LogLine, now: Stamp) -> Stamp {
    let Some(written) = logfields::parse(&line.text).time else {
        return now;
    };
    let ago = crate::app::time::seconds_between(written, now.wall).max(0.0);
    Stamp {
        mono: now.mono - ago,
        wall: written,
    }
}

fn age(client: &Client, now: Stamp) -> Option<f64> {
    client.connected.map(|c| (now.mono - c.mono).max(0.0))
}

fn document(state: &State, log: Option<&String>) -> Value {
    let c = &state.clients;
    let now = c.listed.unwrap_or(state.now);
    let clients: Vec<Value> = c
        .list
        .iter()
        .map(|client| {
            json!({
                "sid": client.sid, "name": client.name, "type": client.kind,
                "transport": (!client.transport.is_empty()).then_some(&client.transport),
                "connected_at": client.connected.map(|t| t.wall.to_rfc3339()),
                "connected_secs": age(client, now),
                "this_command": client.own,
            })
        })
        .collect();
    let departures: Vec<Value> = c.departures.iter().rev().map(departure_json).collect();
    json!({
        "schema_version": JSON_SCHEMA_VERSION,
        "server": state.target.url(),
        "total": c.total,
        "clients": clients,
        "departures_from": log,
        "short_lived_secs": SHORT_LIVED_SECS,
        "departures": departures,
    })
}

fn departure_json(d: &Departure) -> Value {
    json!({
        "sid": d.sid, "name": (!d.name.is_empty()).then_some(&d.name),
        "left_at": d.left.wall.to_rfc3339(), "lived_secs": d.lived,
        "lived_at_most": d.lived_at_most,
        "short_lived": d.flapped(), "reason": d.reason,
    })
}

fn text(state: &State, log: Option<&String>) -> String {
    let c = &state.clients;
    let now = c.listed.unwrap_or(state.now);
    let mut out = format!("{} connected to {}\n", c.total, state.target.url());
    if c.total > c.list.len() as u64 {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "(the first {} of them, this command first: a list is cut there)",
            c.list.len()
        );
    }
    let _ = writeln!(
        out,
        "{:<22} {:<32} {:<12} {:<10} {:<9} FOR",
        "SID", "NAME", "TYPE", "TRANSPORT", "SINCE"
    );
    for client in &c.list {
        let name = if client.own {
            format!("{} (this)", client.name)
        } else {
            client.name.clone()
        };
        let _ = writeln!(
            out,
            "{:<22} {:<32} {:<12} {:<10} {:<9} {}",
            client.sid,
            name,
            client.kind,
            dash(&client.transport),
            client.connected.map_or("?".into(), |t| t.seconds_text()),
            age(client, now).map_or("?".into(), crate::ui::format::age)
        );
    }
    match log {
        None => out.push_str(
            "\nDepartures: no server log found to read them from (the console's C view sees them as they happen).\n",
        ),
        Some(path) => {
            let flapped = c.departures.iter().filter(|d| d.flapped()).count();
            let _ = writeln!(
                out,
                "\nLast {} departures (from {}), newest first; {flapped} lived under {SHORT_LIVED_SECS:.0} s (!):",
                c.departures.len(),
                path
            );
            let _ = writeln!(out, "{:<9} {:<22} {:<12} REASON", "LEFT", "SID", "LIVED");
            for d in c.departures.iter().rev() {
                let lived = d.lived.map_or("?".into(), |l| {
                    let bound = if d.lived_at_most { "≤ " } else { "" };
                    format!("{bound}{}", crate::ui::format::duration(l))
                });
                let mark = if d.flapped() { "! " } else { "" };
                let _ = writeln!(
                    out,
                    "{:<9} {:<22} {:<12} {}",
                    d.left.seconds_text(),
                    d.sid,
                    format!("{mark}{lived}"),
                    d.reason.as_deref().unwrap_or("—")
                );
            }
        }
    }
    out
}

fn dash(text: &str) -> &str {
    if text.is_empty() { "—" } else { text }
}
