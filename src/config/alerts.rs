//! mpm-top's own alert thresholds: not Claude's settings, so not in `~/.claude/config.yaml`.
//!
//! Precedence, later wins: defaults < the `alerts:` section of
//! `$XDG_CONFIG_HOME/mpm-top/config.yaml` (default `~/.config/mpm-top/config.yaml`) <
//! `MPM_TOP_ALERT_<KEY>` environment variables (an override for one shell, as the name says).
//! Like the `socketio:` keys, a bad value is a finding and the layer below supplies the value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::file::parse_named_section;
use super::parse::Raw;
use super::resolve::FileStatus;
use super::source::{Finding, Severity, Source};
use super::{ConfigFile, FileContents, tilde};

/// The section of mpm-top's own file that holds the thresholds.
pub const ALERTS_SECTION: &str = "alerts";
/// The prefix of the environment variables that override a threshold.
pub const ALERT_ENV_PREFIX: &str = "MPM_TOP_ALERT_";

/// One threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKey {
    /// Seconds without events, while clients are connected, before "silence".
    SilenceSecs,
    /// Short-lived clients (under 5 s) in a minute that make a reconnect storm.
    ReconnectsPerMin,
    /// Open files, percent of the server's limit.
    FdPercent,
    /// The resident size the memory projection is measured against, MB.
    RssMb,
    /// Seconds a tool may stay open (started, not stopped).
    ToolOpenSecs,
}

impl AlertKey {
    /// Every threshold, in display order.
    pub const ALL: [AlertKey; 5] = [
        AlertKey::SilenceSecs,
        AlertKey::ReconnectsPerMin,
        AlertKey::FdPercent,
        AlertKey::RssMb,
        AlertKey::ToolOpenSecs,
    ];

    /// The key as the file spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            AlertKey::SilenceSecs => "silence_secs",
            AlertKey::ReconnectsPerMin => "reconnects_per_min",
            AlertKey::FdPercent => "fd_percent",
            AlertKey::RssMb => "rss_mb",
            AlertKey::ToolOpenSecs => "tool_open_secs",
        }
    }

    /// The environment variable that overrides it.
    #[must_use]
    pub fn env_var(self) -> String {
        format!("{ALERT_ENV_PREFIX}{}", self.name().to_uppercase())
    }

    /// The built-in value: the guide's lines where it draws one (80% of the fd limit, 500 MB).
    #[must_use]
    pub fn default_value(self) -> u64 {
        match self {
            AlertKey::SilenceSecs => 300,
            AlertKey::ReconnectsPerMin => 10,
            AlertKey::FdPercent => 80,
            AlertKey::RssMb => 500,
            AlertKey::ToolOpenSecs => 600,
        }
    }

    /// The values that make sense, inclusive.
    fn bounds(self) -> (u64, u64) {
        match self {
            AlertKey::FdPercent => (1, 100),
            AlertKey::RssMb => (1, 1 << 20),
            // A day: longer is "never", which a threshold should not pretend to be.
            AlertKey::SilenceSecs | AlertKey::ToolOpenSecs => (1, 86_400),
            AlertKey::ReconnectsPerMin => (1, 100_000),
        }
    }

    /// The key whose file name is `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<AlertKey> {
        AlertKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Reads a value; why not, with the bad value in quotes.
    fn parse(self, raw: &Raw) -> Result<u64, String> {
        let (low, high) = self.bounds();
        let Raw::Text(text) = raw else {
            return Err(format!("{raw} is not a whole number from {low} to {high}"));
        };
        match text.trim().parse::<u64>() {
            Ok(n) if (low..=high).contains(&n) => Ok(n),
            _ => Err(format!(
                "'{text}' is not a whole number from {low} to {high}"
            )),
        }
    }
}

/// The thresholds in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Thresholds {
    /// See [`AlertKey::SilenceSecs`].
    pub silence_secs: u64,
    /// See [`AlertKey::ReconnectsPerMin`].
    pub reconnects_per_min: u64,
    /// See [`AlertKey::FdPercent`].
    pub fd_percent: u64,
    /// See [`AlertKey::RssMb`].
    pub rss_mb: u64,
    /// See [`AlertKey::ToolOpenSecs`].
    pub tool_open_secs: u64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        let mut t = Thresholds {
            silence_secs: 0,
            reconnects_per_min: 0,
            fd_percent: 0,
            rss_mb: 0,
            tool_open_secs: 0,
        };
        for key in AlertKey::ALL {
            *t.slot(key) = key.default_value();
        }
        t
    }
}

impl Thresholds {
    fn slot(&mut self, key: AlertKey) -> &mut u64 {
        match key {
            AlertKey::SilenceSecs => &mut self.silence_secs,
            AlertKey::ReconnectsPerMin => &mut self.reconnects_per_min,
            AlertKey::FdPercent => &mut self.fd_percent,
            AlertKey::RssMb => &mut self.rss_mb,
            AlertKey::ToolOpenSecs => &mut self.tool_open_secs,
        }
    }
}

/// One threshold's value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRow {
    /// The key.
    pub key: AlertKey,
    /// The value in force.
    pub value: u64,
    /// Its layer.
    pub source: Source,
    /// The values it overrode, nearest layer first.
    pub shadowed: Vec<(u64, Source)>,
}

/// The thresholds resolved, with provenance and findings.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertSettings {
    /// What the rules use.
    pub thresholds: Thresholds,
    /// One row per key, in [`AlertKey::ALL`] order.
    pub rows: Vec<AlertRow>,
    /// What was wrong with the file or a variable.
    pub findings: Vec<Finding>,
    /// The file, as shown (`~` for home).
    pub file_shown: String,
    /// What became of it.
    pub file_status: FileStatus,
}

impl Default for AlertSettings {
    fn default() -> AlertSettings {
        resolve(&ConfigFile::default(), &BTreeMap::new(), None)
    }
}

/// mpm-top's own configuration file: `$XDG_CONFIG_HOME/mpm-top/config.yaml` when that variable
/// holds an absolute path (the XDG spec says to ignore a relative one), else under
/// `~/.config`.
#[must_use]
pub fn own_file(xdg_config_home: Option<&str>, home: Option<&Path>) -> PathBuf {
    let base = xdg_config_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".config")))
        .unwrap_or_else(|| PathBuf::from(".config"));
    base.join("mpm-top/config.yaml")
}

/// Resolves the thresholds from the file's `alerts:` section and the `MPM_TOP_ALERT_*`
/// variables among `env`. Pure.
#[must_use]
pub fn resolve(
    file: &ConfigFile,
    env: &BTreeMap<String, String>,
    home: Option<&Path>,
) -> AlertSettings {
    let file_shown = tilde(&file.path, home);
    let mut findings = Vec::new();
    let at = |line| Source::file(&file_shown, line);
    let (entries, file_status) = match &file.contents {
        FileContents::Missing => (Vec::new(), FileStatus::Missing),
        FileContents::Unreadable(why) => {
            findings.push(finding(
                at(None),
                format!("cannot be read ({why}); the default alert thresholds are used"),
            ));
            (Vec::new(), FileStatus::Unreadable)
        }
        FileContents::Text(text) => match parse_named_section(text, ALERTS_SECTION) {
            Ok(entries) => (entries, FileStatus::Loaded),
            Err(problem) => {
                let message = format!("{}; none of its alert thresholds are used", problem.message);
                findings.push(finding(
                    Source::File {
                        path: file_shown.clone(),
                        line: problem.line,
                        column: problem.column,
                    },
                    message,
                ));
                (Vec::new(), FileStatus::Invalid)
            }
        },
    };
    // Candidates in layer order: the file's, then the environment's.
    let mut candidates: Vec<(AlertKey, Raw, Source)> = Vec::new();
    let names: Vec<&str> = AlertKey::ALL.iter().map(|k| k.name()).collect();
    for entry in entries {
        if let Some(key) = AlertKey::from_name(&entry.name) {
            candidates.push((key, entry.raw, at(entry.line)));
        } else {
            let hint = super::did_you_mean(&entry.name, names.iter().copied());
            findings.push(finding(
                at(entry.line),
                format!(
                    "unknown key '{}' in the '{ALERTS_SECTION}:' section is ignored{hint}",
                    crate::text::clean(&entry.name)
                ),
            ));
        }
    }
    let vars: Vec<String> = AlertKey::ALL.iter().map(|k| k.env_var()).collect();
    for (var, value) in env.iter().filter(|(v, _)| v.starts_with(ALERT_ENV_PREFIX)) {
        if let Some(key) = AlertKey::ALL.into_iter().find(|k| k.env_var() == *var) {
            candidates.push((key, Raw::Text(value.clone()), Source::Env(var.clone())));
        } else {
            let hint = super::did_you_mean(var, vars.iter().map(String::as_str));
            findings.push(finding(
                Source::Env(var.clone()),
                format!(
                    "unknown variable '{}' is ignored{hint}",
                    crate::text::clean(var)
                ),
            ));
        }
    }
    let mut thresholds = Thresholds::default();
    let mut rows = Vec::with_capacity(AlertKey::ALL.len());
    for key in AlertKey::ALL {
        let mut valid = vec![(key.default_value(), Source::Default)];
        for (_, raw, source) in candidates.iter().filter(|(k, ..)| *k == key) {
            match key.parse(raw) {
                Ok(n) => valid.push((n, source.clone())),
                Err(problem) => {
                    let (using, from) = valid.last().cloned().unwrap_or((0, Source::Default));
                    let fallback = match from {
                        Source::Default => format!("using the default '{using}'"),
                        other => format!("using '{using}' from {other}"),
                    };
                    findings.push(finding(
                        source.clone(),
                        format!("alerts.{} {problem}; {fallback}", key.name()),
                    ));
                }
            }
        }
        let (value, source) = valid
            .pop()
            .unwrap_or((key.default_value(), Source::Default));
        valid.reverse();
        *thresholds.slot(key) = value;
        rows.push(AlertRow {
            key,
            value,
            source,
            shadowed: valid,
        });
    }
    AlertSettings {
        thresholds,
        rows,
        findings,
        file_shown,
        file_status,
    }
}

/// Every alert finding is an error of the value, not of the program: a warning, since a bad
/// threshold falls back and nothing else depends on it.
fn finding(source: Source, message: String) -> Finding {
    Finding {
        severity: Severity::Warning,
        key: None,
        source: Some(source),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        ConfigFile {
            path: PathBuf::from("/home/me/.config/mpm-top/config.yaml"),
            explicit: false,
            contents: FileContents::Text(text.into()),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_without_file_or_variables() {
        let s = resolve(
            &ConfigFile::default(),
            &BTreeMap::new(),
            Some(Path::new("/home/me")),
        );
        assert_eq!(s.thresholds, Thresholds::default());
        assert_eq!(s.thresholds.fd_percent, 80);
        assert_eq!(s.thresholds.rss_mb, 500);
        assert!(s.findings.is_empty());
        assert!(s.rows.iter().all(|r| r.source == Source::Default));
    }

    #[test]
    fn the_file_sets_and_the_environment_overrides_it() {
        let f = file("# mine\nalerts:\n  tool_open_secs: 2\n  fd_percent: 90\nother: 1\n");
        let s = resolve(
            &f,
            &env(&[("MPM_TOP_ALERT_FD_PERCENT", "70")]),
            Some(Path::new("/home/me")),
        );
        assert_eq!(s.thresholds.tool_open_secs, 2);
        assert_eq!(s.thresholds.fd_percent, 70);
        let fd = &s.rows[2];
        assert_eq!(fd.source, Source::Env("MPM_TOP_ALERT_FD_PERCENT".into()));
        assert_eq!(
            fd.shadowed,
            [
                (90, Source::file("~/.config/mpm-top/config.yaml", Some(4))),
                (80, Source::Default)
            ]
        );
        assert_eq!(
            s.rows[4].source,
            Source::file("~/.config/mpm-top/config.yaml", Some(3))
        );
        assert!(s.findings.is_empty(), "{:?}", s.findings);
    }

    #[test]
    fn bad_values_are_findings_and_the_layer_below_is_used() {
        let f = file(
            "alerts:\n  fd_percent: 150\n  silence_secs: soon\n  rss_mb: [1]\n  tool_opne_secs: 3\n",
        );
        let s = resolve(
            &f,
            &env(&[
                ("MPM_TOP_ALERT_SILENCE_SECS", "-4"),
                ("MPM_TOP_ALERT_RSS", "9"),
            ]),
            Some(Path::new("/home/me")),
        );
        assert_eq!(s.thresholds, Thresholds::default());
        let text: Vec<String> = s.findings.iter().map(ToString::to_string).collect();
        let all = text.join("\n");
        for needle in [
            "alerts.fd_percent '150' is not a whole number from 1 to 100; using the default '80'",
            "alerts.silence_secs 'soon' is not",
            "alerts.silence_secs '-4' is not",
            "alerts.rss_mb",
            "unknown key 'tool_opne_secs'",
            "did you mean 'tool_open_secs'",
            "unknown variable 'MPM_TOP_ALERT_RSS'",
        ] {
            assert!(all.contains(needle), "{needle} not in:\n{all}");
        }
    }

    #[test]
    fn a_broken_file_is_one_finding_and_defaults() {
        let s = resolve(
            &file("alerts: [\n"),
            &BTreeMap::new(),
            Some(Path::new("/home/me")),
        );
        assert_eq!(s.file_status, FileStatus::Invalid);
        assert_eq!(s.thresholds, Thresholds::default());
        assert_eq!(s.findings.len(), 1);
        let s = resolve(
            &file("alerts: 5\n"),
            &BTreeMap::new(),
            Some(Path::new("/home/me")),
        );
        assert!(s.findings[0].message.contains("'alerts:' set to a number"));
    }

    #[test]
    fn the_file_follows_xdg_config_home_when_it_is_absolute() {
        let home = Path::new("/home/me");
        assert_eq!(
            own_file(Some("/x/cfg"), Some(home)),
            Path::new("/x/cfg/mpm-top/config.yaml")
        );
        assert_eq!(
            own_file(Some("relative"), Some(home)),
            Path::new("/home/me/.config/mpm-top/config.yaml")
        );
        assert_eq!(
            own_file(None, Some(home)),
            Path::new("/home/me/.config/mpm-top/config.yaml")
        );
    }
}
