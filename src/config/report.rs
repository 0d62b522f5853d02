//! `mpm-top config`: the resolved configuration as a table or as JSON.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::alerts::AlertSettings;
use super::key::{Group, Key};
use super::resolve::Resolved;
use super::source::Finding;

/// Version of the `--json` document; bumped only when a field changes meaning or disappears.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// A table with one row per key (value, source, shadowed values) and each finding under the row
/// it concerns; findings about no single key come last. Every line is sanitised: a finding
/// quotes the bad value as given, and a value from the environment can hold escape codes.
#[must_use]
pub fn to_table(resolved: &Resolved) -> String {
    table(resolved)
        .lines()
        .map(|line| crate::text::clean(line) + "\n")
        .collect()
}

fn table(resolved: &Resolved) -> String {
    let mut out = format!(
        "Configuration (later layers win: default < env < file < flag)\nfile: {} ({})\n",
        resolved.file_shown,
        status_word(resolved)
    );
    let cells: Vec<[String; 4]> = rows(resolved)
        .into_iter()
        .map(|r| [r.key, r.value, r.source, r.shadowed])
        .collect();
    let header = ["KEY", "VALUE", "SOURCE", "SHADOWED"].map(str::to_owned);
    let width = |i: usize| {
        cells
            .iter()
            .chain([&header])
            .map(|c| c[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    let line = |c: &[String; 4]| {
        let text = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        text.trim_end().to_owned() + "\n"
    };
    let mut group = None;
    for (row, cell) in resolved.rows.iter().zip(&cells) {
        if group != Some(row.key.group()) {
            group = Some(row.key.group());
            out.push('\n');
            out.push_str(match row.key.group() {
                Group::Socketio => "socketio (mpm-top and its server)\n",
                Group::ClaudeMpm => "Claude MPM hooks (where hook events are posted)\n",
            });
            out.push_str(&line(&header));
        }
        out.push_str(&line(cell));
        for finding in resolved.findings_for(row.key) {
            let _ = writeln!(out, "  -> {finding}"); // writing to a String cannot fail
        }
    }
    let alerts = &resolved.alerts;
    let _ = writeln!(
        out,
        "\nalerts (mpm-top's own thresholds; later wins: default < file < env)\nfile: {} ({})",
        alerts.file_shown,
        status_text(alerts.file_status)
    );
    out.push_str(&line(&header));
    for row in alert_rows(alerts) {
        out.push_str(&line(&[row.key, row.value, row.source, row.shadowed]));
    }
    for finding in &alerts.findings {
        let _ = writeln!(out, "  -> {finding}"); // writing to a String cannot fail
    }
    let general: Vec<&Finding> = resolved
        .findings
        .iter()
        .filter(|f| f.key.is_none())
        .collect();
    if !general.is_empty() {
        out.push_str("\nOther findings\n");
        for finding in general {
            let _ = writeln!(out, "  -> {finding}"); // writing to a String cannot fail
        }
    }
    let n = resolved.findings.len() + alerts.findings.len();
    let _ = match n {
        0 => writeln!(out, "\nNo findings."),
        1 => writeln!(out, "\n1 finding."),
        n => writeln!(out, "\n{n} findings."),
    };
    out
}

/// One key as people see it: the row of `mpm-top config` and of the console's Config pane.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfigRow {
    /// The key's name.
    pub key: String,
    /// The value in force, as shown (`~` for home).
    pub value: String,
    /// Where it came from.
    pub source: String,
    /// The values it overrode, nearest layer first: `value (source), …`.
    pub shadowed: String,
    /// The first finding about the key, if any.
    pub finding: Option<String>,
}

/// Every key's row, in [`Key::ALL`] order, then mpm-top's alert thresholds (`alerts.*`).
#[must_use]
pub fn rows(resolved: &Resolved) -> Vec<ConfigRow> {
    let mut rows = claude_rows(resolved);
    rows.extend(alert_rows(&resolved.alerts));
    rows
}

/// The alert thresholds' rows: each named `alerts.<key>`, with its first finding.
fn alert_rows(alerts: &AlertSettings) -> Vec<ConfigRow> {
    alerts
        .rows
        .iter()
        .map(|row| {
            let name = format!("alerts.{}", row.key.name());
            let env = row.key.env_var();
            // Findings name the key (`alerts.fd_percent …`) or its variable.
            let finding = alerts
                .findings
                .iter()
                .find(|f| f.message.starts_with(&format!("{name} ")) || f.message.contains(&env))
                .map(|f| f.message.clone());
            ConfigRow {
                key: name,
                value: row.value.to_string(),
                source: row.source.to_string(),
                shadowed: row
                    .shadowed
                    .iter()
                    .map(|(v, s)| format!("{v} ({s})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                finding,
            }
        })
        .collect()
}

fn claude_rows(resolved: &Resolved) -> Vec<ConfigRow> {
    resolved
        .rows
        .iter()
        .map(|row| {
            let shadowed: Vec<String> = row
                .shadowed
                .iter()
                .map(|(value, source)| format!("{} ({source})", resolved.shown(value)))
                .collect();
            ConfigRow {
                key: row.key.name().to_owned(),
                value: resolved.shown(&row.value).to_string(),
                source: row.source.to_string(),
                shadowed: shadowed.join(", "),
                finding: resolved
                    .findings_for(row.key)
                    .next()
                    .map(|f| f.message.clone()),
            }
        })
        .collect()
}

fn status_word(resolved: &Resolved) -> &'static str {
    status_text(resolved.file_status)
}

fn status_text(status: super::FileStatus) -> &'static str {
    match status {
        super::FileStatus::Loaded => "loaded",
        super::FileStatus::Missing => "not present",
        super::FileStatus::Unreadable => "unreadable",
        super::FileStatus::Invalid => "invalid, ignored",
    }
}

/// The stable JSON document of `mpm-top config --json` (schema in the README).
#[must_use]
pub fn to_json(resolved: &Resolved) -> Value {
    let settings: Vec<Value> = resolved
        .rows
        .iter()
        .map(|row| {
            let shadowed: Vec<Value> = row
                .shadowed
                .iter()
                .map(|(value, source)| json!({"value": resolved.shown(value), "source": source}))
                .collect();
            let findings: Vec<Value> = resolved.findings_for(row.key).map(finding_json).collect();
            json!({
                "key": row.key,
                "group": row.key.group(),
                "env": row.key.env_var(),
                "flag": row.key.flag(),
                "value": resolved.shown(&row.value),
                "source": row.source,
                "shadowed": shadowed,
                "findings": findings,
            })
        })
        .collect();
    json!({
        "schema_version": JSON_SCHEMA_VERSION,
        "precedence": ["default", "env", "file", "flag"],
        "config_file": {"path": resolved.file_shown, "status": resolved.file_status},
        "settings": settings,
        "findings": resolved.findings.iter().map(finding_json).collect::<Vec<_>>(),
        "alerts": alerts_json(&resolved.alerts),
        "ok": resolved.findings.is_empty() && resolved.alerts.findings.is_empty(),
    })
}

/// mpm-top's alert thresholds: their own file, precedence and findings.
fn alerts_json(alerts: &AlertSettings) -> Value {
    let thresholds: Vec<Value> = alerts
        .rows
        .iter()
        .map(|row| {
            json!({
                "key": row.key,
                "env": row.key.env_var(),
                "value": row.value,
                "source": row.source,
                "shadowed": row.shadowed.iter()
                    .map(|(value, source)| json!({"value": value, "source": source}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "precedence": ["default", "file", "env"],
        "config_file": {"path": alerts.file_shown, "status": alerts.file_status},
        "thresholds": thresholds,
        "findings": alerts.findings.iter().map(finding_json).collect::<Vec<_>>(),
    })
}

fn finding_json(finding: &Finding) -> Value {
    json!({
        "severity": finding.severity,
        "key": finding.key.map(Key::name),
        "source": finding.source,
        "message": finding.message,
    })
}
