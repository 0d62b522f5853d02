//! Where a value came from, and what was wrong with one.

use std::fmt;

use serde::Serialize;

use super::key::Key;

/// The layer (and place in it) a value was read from. Later layers win: default < env < file < flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Built into mpm-top (and shipped as `assets/config.default.yaml`).
    Default,
    /// An environment variable.
    Env(String),
    /// The YAML file, shown with `~` for the home directory; line and column when known.
    File {
        /// The file as users should see it.
        path: String,
        /// 1-based line.
        line: Option<usize>,
        /// 1-based column, for parse errors.
        column: Option<usize>,
    },
    /// A command-line flag.
    Flag(&'static str),
    /// `--demo`: the console's in-process server, which the demo points everything at.
    Demo,
}

impl Source {
    /// A place in the file.
    #[must_use]
    pub fn file(path: &str, line: Option<usize>) -> Source {
        Source::File {
            path: path.to_owned(),
            line,
            column: None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::File { path, line, column } => {
                write!(f, "file {path}")?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                if let Some(column) = column {
                    write!(f, ":{column}")?;
                }
                Ok(())
            }
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Demo => f.write_str("--demo"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How bad a finding is. Errors make `serve` refuse to start; both make `config` exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Suspicious but usable (an unknown key, hooks posting elsewhere).
    Warning,
    /// A value that was rejected, or a setup that cannot work.
    Error,
}

/// Something wrong with the configuration, attached to the key it concerns when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// The key it concerns, if any (a YAML syntax error concerns the whole file).
    pub key: Option<Key>,
    /// Where the offending input was.
    pub source: Option<Source>,
    /// What was wrong, with the bad value in quotes, and what to do.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        match &self.source {
            Some(source) => write!(f, "{label}: {source}: {}", self.message),
            None => write!(f, "{label}: {}", self.message),
        }
    }
}
