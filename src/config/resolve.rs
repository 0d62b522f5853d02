//! Resolution: a pure function from the gathered [`Inputs`] to settings with provenance.

use std::path::{Path, PathBuf};

use super::file::{Entry, SECTION, parse_section};
use super::key::{ENV_PREFIXES, Key};
use super::parse::{Raw, parse};
use super::setting::{Setting, Settings, Shown, tilde};
use super::source::{Finding, Severity, Source};
use super::suggest::did_you_mean;
use super::{FileContents, Inputs};

/// One key's outcome: the winning value, where it came from, and what it overrode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The key.
    pub key: Key,
    /// The value in force.
    pub value: Setting,
    /// The layer it came from.
    pub source: Source,
    /// Valid values from lower layers that it overrode, nearest layer first.
    pub shadowed: Vec<(Setting, Source)>,
}

/// The state of the configuration file, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Read and used (possibly with findings on single keys).
    Loaded,
    /// Not there; the default file being absent is normal.
    Missing,
    /// There but could not be read.
    Unreadable,
    /// Read but not usable YAML; none of its values were used.
    Invalid,
}

/// The resolved configuration with its provenance and findings.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// Typed values for the program.
    pub settings: Settings,
    /// One row per key, in [`Key::ALL`] order.
    pub rows: Vec<Row>,
    /// Everything wrong, in the order found.
    pub findings: Vec<Finding>,
    /// The file as users see it (`~` for home).
    pub file_shown: String,
    /// What became of the file.
    pub file_status: FileStatus,
    /// The home directory, to show paths with `~`.
    pub home: Option<PathBuf>,
    /// mpm-top's own alert thresholds, resolved from their own file and variables.
    pub alerts: super::alerts::AlertSettings,
}

impl Resolved {
    /// The row of `key`.
    #[must_use]
    pub fn row(&self, key: Key) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }

    /// Findings about `key`.
    pub fn findings_for(&self, key: Key) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.key == Some(key))
    }

    /// Whether any finding is an error (the configuration must not be used to start a server).
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// A value as users see it.
    #[must_use]
    pub fn shown<'a>(&'a self, setting: &'a Setting) -> Shown<'a> {
        Shown {
            setting,
            home: self.home.as_deref(),
        }
    }
}

/// A value a layer offers for a key, not yet checked.
struct Candidate {
    key: Key,
    raw: Raw,
    source: Source,
}

/// Resolves every key from its layers. Pure: everything it needs is in `inputs`.
#[must_use]
pub fn resolve(inputs: &Inputs) -> Resolved {
    let home = inputs.home.as_deref();
    let defaults = Settings::defaults(home.unwrap_or_else(|| Path::new(".")));
    let mut findings = Vec::new();
    if home.is_none() {
        findings.push(warning(
            None,
            None,
            "HOME is not set, so default paths are relative to the current directory; set HOME"
                .into(),
        ));
    }
    let file_shown = tilde(&inputs.file.path, home);
    let (entries, file_status) = file_entries(inputs, &file_shown, &mut findings);

    let mut candidates = env_candidates(inputs, &mut findings);
    candidates.extend(file_candidates(&entries, &file_shown, &mut findings));
    candidates.extend(inputs.flags.iter().filter_map(|f| {
        Some(Candidate {
            key: f.key,
            raw: Raw::Text(f.raw.clone()),
            source: Source::Flag(f.key.flag()?),
        })
    }));
    candidates.extend(inputs.demo.iter().map(|f| Candidate {
        key: f.key,
        raw: Raw::Text(f.raw.clone()),
        source: Source::Demo,
    }));

    let mut settings = defaults.clone();
    let mut rows = Vec::with_capacity(Key::ALL.len());
    for key in Key::ALL {
        let mut valid = vec![(defaults.get(key), Source::Default)];
        let mut rejected = Vec::new();
        // Candidates are in layer order, so the last valid one wins.
        for c in candidates.iter().filter(|c| c.key == key) {
            match parse(key, &c.raw, home, &inputs.paths) {
                Ok(setting) => valid.push((setting, c.source.clone())),
                Err(problem) => rejected.push((c.source.clone(), problem)),
            }
        }
        let (value, source) = valid
            .pop()
            .unwrap_or_else(|| (defaults.get(key), Source::Default));
        valid.reverse();
        for (bad_source, problem) in rejected {
            let using = Shown {
                setting: &value,
                home,
            };
            let fallback = match &source {
                Source::Default => format!("using the default '{using}'"),
                other => format!("using '{using}' from {other}"),
            };
            findings.push(error(
                Some(key),
                Some(bad_source),
                format!("{} {problem}; {fallback}", key.name()),
            ));
        }
        settings.apply(value.clone());
        rows.push(Row {
            key,
            value,
            source,
            shadowed: valid,
        });
    }
    findings.extend(cross_checks(&settings, &rows));
    Resolved {
        settings,
        rows,
        findings,
        file_shown,
        file_status,
        home: inputs.home.clone(),
        alerts: super::alerts::resolve(&inputs.alerts_file, &inputs.env, home),
    }
}

fn error(key: Option<Key>, source: Option<Source>, message: String) -> Finding {
    Finding {
        severity: Severity::Error,
        key,
        source,
        message,
    }
}

fn warning(key: Option<Key>, source: Option<Source>, message: String) -> Finding {
    Finding {
        severity: Severity::Warning,
        key,
        source,
        message,
    }
}

fn file_entries(
    inputs: &Inputs,
    shown: &str,
    findings: &mut Vec<Finding>,
) -> (Vec<Entry>, FileStatus) {
    let at = |line, column| {
        Some(Source::File {
            path: shown.to_owned(),
            line,
            column,
        })
    };
    match &inputs.file.contents {
        FileContents::Missing if inputs.file.explicit => {
            findings.push(error(
                None,
                at(None, None),
                "does not exist: check the --config path".into(),
            ));
            (Vec::new(), FileStatus::Missing)
        }
        FileContents::Missing => (Vec::new(), FileStatus::Missing),
        FileContents::Unreadable(why) => {
            findings.push(error(
                None,
                at(None, None),
                format!("cannot be read ({why}); its settings are ignored"),
            ));
            (Vec::new(), FileStatus::Unreadable)
        }
        FileContents::Text(text) => match parse_section(text) {
            Ok(entries) => (entries, FileStatus::Loaded),
            Err(problem) => {
                let message = format!("{}; none of its settings are used", problem.message);
                findings.push(error(None, at(problem.line, problem.column), message));
                (Vec::new(), FileStatus::Invalid)
            }
        },
    }
}

fn env_candidates(inputs: &Inputs, findings: &mut Vec<Finding>) -> Vec<Candidate> {
    let known: Vec<&str> = Key::ALL.iter().filter_map(|k| k.env_var()).collect();
    let mut out = Vec::new();
    for (var, value) in &inputs.env {
        match Key::from_env_var(var) {
            Some(key) => out.push(Candidate {
                key,
                raw: Raw::Text(value.clone()),
                source: Source::Env(var.clone()),
            }),
            None if ENV_PREFIXES.iter().any(|p| var.starts_with(p)) => {
                let hint = did_you_mean(var, known.iter().copied());
                findings.push(warning(
                    None,
                    Some(Source::Env(var.clone())),
                    format!("unknown variable '{var}' is ignored{hint}"),
                ));
            }
            None => {}
        }
    }
    out
}

fn file_candidates(entries: &[Entry], shown: &str, findings: &mut Vec<Finding>) -> Vec<Candidate> {
    let known: Vec<&str> = Key::ALL.iter().filter_map(|k| k.file_key()).collect();
    let mut out = Vec::new();
    for entry in entries {
        let source = Source::file(shown, entry.line);
        if let Some(key) = Key::from_file_key(&entry.name) {
            out.push(Candidate {
                key,
                raw: entry.raw.clone(),
                source,
            });
        } else {
            let hint = did_you_mean(&entry.name, known.iter().copied());
            let message = format!(
                "unknown key '{}' in the '{SECTION}:' section is ignored{hint}",
                entry.name
            );
            findings.push(warning(None, Some(source), message));
        }
    }
    out
}

/// Findings that involve more than one key.
fn cross_checks(settings: &Settings, rows: &[Row]) -> Vec<Finding> {
    // A default is no place a user could go and fix, so it is not named as the source.
    let source_of = |key: Key| {
        rows.iter()
            .find(|r| r.key == key)
            .map(|r| r.source.clone())
            .filter(|s| *s != Source::Default)
    };
    let mut out = Vec::new();
    if settings.ssl {
        for (key, path) in [
            (Key::CertPath, &settings.cert_path),
            (Key::KeyPath, &settings.key_path),
        ] {
            if path.is_none() {
                let message = format!(
                    "ssl is on but {} is not set: HTTPS needs a certificate and its key; set both or turn ssl off",
                    key.name()
                );
                out.push(error(Some(key), source_of(Key::Ssl), message));
            }
        }
    }
    if let Some(exposed) = crate::target::exposure(&settings.host) {
        out.push(warning(Some(Key::Host), source_of(Key::Host), exposed));
    }
    if settings.cors_origins.iter().any(|o| o == "*") {
        let message = "cors_origins allows '*': any web page open in a browser on this machine can read every tool call and post events; list the origins instead (loopback pages on any port are allowed without it)".to_owned();
        out.push(warning(
            Some(Key::CorsOrigins),
            source_of(Key::CorsOrigins),
            message,
        ));
    }
    if settings.max_buffer_size > crate::serve::SANE_BUFFER_SIZE {
        let message = format!(
            "max_buffer_size {} is more than mpm-top serve can use: its history also stops at {} MiB and each client's queue at {} packets; {} or less is plenty",
            settings.max_buffer_size,
            crate::serve::history::HISTORY_BYTES / (1024 * 1024),
            crate::serve::CLIENT_QUEUE_MAX,
            crate::serve::SANE_BUFFER_SIZE
        );
        out.push(warning(
            Some(Key::MaxBufferSize),
            source_of(Key::MaxBufferSize),
            message,
        ));
    }
    let port_differs = settings.port != 0 && settings.hook_port != settings.port;
    let host_differs = !same_host(&settings.hook_host, &settings.host);
    if port_differs || host_differs {
        let message = format!(
            "hooks post to {}:{} but the server is configured for {}:{}: hook events will be lost; set CLAUDE_MPM_SERVER_HOST/CLAUDE_MPM_SERVER_PORT to match, or run the server there",
            settings.hook_host, settings.hook_port, settings.host, settings.port
        );
        let key = if port_differs {
            Key::HookPort
        } else {
            Key::HookHost
        };
        out.push(warning(Some(key), source_of(key), message));
    } else if settings.ssl {
        // Claude MPM's hook sender (connection_manager_http.py) builds http://host:port/api/events
        // whatever the server speaks.
        let message = format!(
            "ssl is on, but Claude MPM's hooks always post plain http://{}:{}/api/events: every hook event will be refused; turn ssl off for the server hooks post to",
            settings.hook_host, settings.hook_port
        );
        out.push(warning(Some(Key::Ssl), source_of(Key::Ssl), message));
    }
    out
}

/// Whether a client posting to `client` reaches a server bound to `server`: the hook-drift
/// rule's own test.
fn same_host(client: &str, server: &str) -> bool {
    crate::checks::alerts::reaches(client, server)
}
