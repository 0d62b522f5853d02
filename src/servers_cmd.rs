//! `mpm-top servers`: every monitor server on the configured host (Claude MPM runs one per
//! project, on 8765–8785), from two scans a second apart so that events per second can be
//! told; a table, or versioned JSON.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use crate::config::Resolved;
use crate::probes::servers::{Scanner, ServerRow, same_project, scan_ports};
use crate::target::{Chosen, Target};

/// Version of the `--json` document.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Time between the two scans: the window events per second are measured over.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);

/// The `--json` document, fields in this order.
#[derive(serde::Serialize)]
struct Document<'a> {
    schema_version: u32,
    scanned: &'a [u16],
    servers: &'a [ServerRow],
    /// Projects more than one server runs for, with their ports (the warning of the table).
    same_project: Vec<SameProject>,
}

/// One project served twice or more.
#[derive(serde::Serialize)]
struct SameProject {
    project: String,
    ports: Vec<u16>,
}

/// Scans twice, prints the servers; 0 when it ran, whatever it found.
pub async fn run(resolved: &Resolved, json: bool) -> u8 {
    let target = Target::configured(resolved);
    let ports = scan_ports(resolved.settings.port_range, &target);
    let mut scanner = Scanner::new(&target, resolved.home.clone());
    scanner.scan(&target.host, &ports).await;
    tokio::time::sleep(RATE_WINDOW).await;
    let rows = scanner.scan(&target.host, &ports).await;
    let out = if json {
        let doc = Document {
            schema_version: JSON_SCHEMA_VERSION,
            scanned: &ports,
            servers: &rows,
            same_project: same_project(&rows)
                .into_iter()
                .map(|(project, ports)| SameProject { project, ports })
                .collect(),
        };
        serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
    } else {
        text(&rows, &ports, &target)
    };
    // A closed pipe (`mpm-top servers | head -1`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(out.as_bytes());
    0
}

/// `8765-8785, 18931`: ascending ports as ranges.
#[must_use]
pub fn ranges(ports: &[u16]) -> String {
    let mut runs: Vec<(u16, u16)> = Vec::new();
    for &port in ports {
        match runs.last_mut() {
            Some((_, end)) if u32::from(*end) + 1 == u32::from(port) => *end = port,
            _ => runs.push((port, port)),
        }
    }
    runs.iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table, the configured target's line, and the warnings.
#[must_use]
pub fn text(rows: &[ServerRow], ports: &[u16], target: &Target) -> String {
    let host = crate::text::clean(&target.host);
    let chosen = match &target.chosen {
        Chosen::Named(by) => format!("set by {}", crate::text::clean(by)),
        _ => "the default".to_owned(),
    };
    let mut out = String::new();
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "No monitor server found on {host}, ports {}.",
            ranges(ports)
        );
    } else {
        out.push_str(&table(rows));
        let _ = writeln!(out, "\nScanned {host}, ports {}.", ranges(ports));
    }
    if rows.iter().any(|r| r.configured) {
        let _ = writeln!(
            out,
            "* the configured target, {} ({chosen}).",
            crate::text::clean(&target.url())
        );
    } else {
        let _ = writeln!(
            out,
            "The configured target, {} ({chosen}): nothing listens there.",
            crate::text::clean(&target.url())
        );
    }
    if rows
        .iter()
        .any(|r| r.answered && r.events_per_sec.is_none())
    {
        out.push_str(
            "EV/S n/a: the server reports no event counter in /health (Claude MPM's current server counts none).\n",
        );
    }
    for (project, ports) in same_project(rows) {
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        let _ = writeln!(
            out,
            "Warning: {} servers for one project, {project} (ports {}): Claude MPM's hooks post to one port (CLAUDE_MPM_SERVER_PORT, default 8765), so a dashboard on another shows nothing. Stop the server you do not use.",
            ports.len(),
            list.join(", ")
        );
    }
    out
}

fn table(rows: &[ServerRow]) -> String {
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let dash = || "-".to_owned();
            [
                format!("{}{}", r.port, if r.configured { "*" } else { "" }),
                r.kind_label.clone(),
                match (r.pid, r.reported_pid) {
                    (Some(pid), _) => pid.to_string(),
                    (None, Some(says)) => format!("? (says {says})"),
                    (None, None) => "?".to_owned(),
                },
                r.project.clone().unwrap_or_else(dash),
                r.health.clone(),
                r.clients.map_or_else(dash, |c| c.to_string()),
                r.events_per_sec
                    .map_or_else(|| "n/a".to_owned(), |e| format!("{e:.1}")),
                r.uptime_secs.map_or_else(dash, crate::ui::format::age),
            ]
        })
        .collect();
    let header = [
        "PORT", "KIND", "PID", "PROJECT", "HEALTH", "CLIENTS", "EV/S", "UPTIME",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        line.trim_end().to_owned() + "\n"
    };
    let mut out = line(&header);
    for row in &cells {
        out.push_str(&line(&row.each_ref().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::http::ServerKind;

    fn row(port: u16, kind: ServerKind, pid: Option<u32>, project: &str) -> ServerRow {
        ServerRow {
            port,
            url: format!("http://127.0.0.1:{port}"),
            kind_label: kind.label(),
            kind,
            pid,
            reported_pid: Some(1),
            project: Some(project.into()),
            answered: true,
            health: "running".into(),
            clients: Some(2),
            events_per_sec: Some(3.5),
            uptime_secs: Some(187.0),
            configured: false,
        }
    }

    fn target(port: u16) -> Target {
        Target {
            scheme: "http",
            host: "localhost".into(),
            port,
            chosen: Chosen::Default,
        }
    }

    #[test]
    fn ports_read_as_ranges() {
        assert_eq!(
            ranges(&[8765, 8766, 8767, 9000, 18931, 18932]),
            "8765-8767, 9000, 18931-18932"
        );
        assert_eq!(ranges(&[65534, 65535]), "65534-65535");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn the_table_marks_the_target_and_warns_of_two_servers_for_one_project() {
        let mut claude = row(8765, ServerKind::ClaudeMpm, Some(40), "~/code/a");
        claude.events_per_sec = None;
        claude.configured = true;
        let mut elsewhere = row(8766, ServerKind::MpmTop, None, "~/code/a");
        elsewhere.project = None;
        let rows = [
            claude,
            elsewhere,
            row(8767, ServerKind::MpmTop, Some(41), "~/code/a"),
        ];
        let shown = text(&rows, &(8765..=8785).collect::<Vec<_>>(), &target(8765));
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[..4],
            [
                "PORT   KIND        PID         PROJECT   HEALTH   CLIENTS  EV/S  UPTIME",
                "8765*  Claude MPM  40          ~/code/a  running  2        n/a   3m07s",
                "8766   mpm-top     ? (says 1)  -         running  2        3.5   3m07s",
                "8767   mpm-top     41          ~/code/a  running  2        3.5   3m07s",
            ],
            "{shown}"
        );
        assert!(
            shown.contains("Scanned localhost, ports 8765-8785."),
            "{shown}"
        );
        assert!(
            shown.contains("* the configured target, http://localhost:8765 (the default)."),
            "{shown}"
        );
        assert!(shown.contains("EV/S n/a: "), "{shown}");
        assert!(
            shown.contains("Warning: 2 servers for one project, ~/code/a (ports 8765, 8767)"),
            "{shown}"
        );
    }

    #[test]
    fn nothing_found_says_where_it_looked() {
        let shown = text(&[], &[8765, 8766, 9000], &target(9000));
        assert_eq!(
            shown,
            "No monitor server found on localhost, ports 8765-8766, 9000.\n\
             The configured target, http://localhost:9000 (the default): nothing listens there.\n"
        );
    }
}
