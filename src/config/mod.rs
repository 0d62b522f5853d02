//! Layered configuration with provenance.
//!
//! Precedence, later wins, as the troubleshooting guide describes:
//! defaults (`assets/config.default.yaml`) < `SOCKETIO_*` environment < the `socketio:` section
//! of `~/.claude/config.yaml` (or `--config`) < command-line flags.
//!
//! [`gather`] does all the I/O once, up front (environment, file, the TLS files it names);
//! [`resolve`] is then a pure function of those [`Inputs`], which is what the tests drive.
//! Bad input never aborts: each problem becomes a [`Finding`] on its key and the layer below
//! supplies the value.

pub mod alerts;
mod file;
mod key;
mod parse;
mod report;
mod resolve;
mod setting;
mod source;
mod suggest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use file::{SECTION, key_lines, parse_section};
pub use key::{Group, Key};
pub use parse::{PathFacts, PathState, Raw, file_to_check};
pub use report::{ConfigRow, JSON_SCHEMA_VERSION, rows, to_json, to_table};
pub use resolve::{FileStatus, Resolved, Row, resolve};
pub use setting::{LogLevel, PortRange, Setting, Settings, Shown, expand_tilde, tilde};
pub use source::{Finding, Severity, Source};
pub use suggest::{closest, did_you_mean};

/// The shipped defaults file, embedded; equal to [`Settings::defaults`] (tested).
pub const DEFAULT_YAML: &str = include_str!("../../assets/config.default.yaml");

/// The largest alerts file read.
const ALERTS_FILE_MAX: u64 = 64 * 1024;

/// Everything resolution reads, captured once.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The user's home directory, for `~` and the default paths.
    pub home: Option<PathBuf>,
    /// The environment variables that matter (`SOCKETIO_*`, `CLAUDE_MPM_SERVER_*`).
    pub env: BTreeMap<String, String>,
    /// The configuration file.
    pub file: ConfigFile,
    /// Values given on the command line.
    pub flags: Vec<FlagValue>,
    /// Values `--demo` sets for its in-process server, above every other layer.
    pub demo: Vec<FlagValue>,
    /// What the TLS paths named by any layer point at.
    pub paths: PathFacts,
    /// mpm-top's own file, for the `alerts:` thresholds (see [`alerts`]).
    pub alerts_file: ConfigFile,
}

/// The YAML configuration file and what reading it gave.
#[derive(Clone, Debug, Default)]
pub struct ConfigFile {
    /// Its path (expanded).
    pub path: PathBuf,
    /// Named with `--config`: then its absence is an error, not the normal case.
    pub explicit: bool,
    /// What was read.
    pub contents: FileContents,
}

/// The outcome of reading the configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FileContents {
    /// No file there.
    #[default]
    Missing,
    /// It could not be read; the OS's reason.
    Unreadable(String),
    /// Its text (invalid UTF-8 replaced, so the YAML parser reports where).
    Text(String),
}

/// One flag's value, kept as text so every layer is checked by the same parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagValue {
    /// The key the flag sets.
    pub key: Key,
    /// The value as given.
    pub raw: String,
}

/// The default configuration file under `home`.
#[must_use]
pub fn default_file(home: &Path) -> PathBuf {
    home.join(".claude/config.yaml")
}

/// Reads the environment, the configuration file (`explicit_file`, else the default) and the
/// TLS files named anywhere, for [`resolve`].
#[must_use]
pub fn gather(flags: Vec<FlagValue>, explicit_file: Option<&Path>) -> Inputs {
    let home = std::env::home_dir().filter(|h| !h.as_os_str().is_empty());
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
        .filter(|(k, _)| {
            key::ENV_PREFIXES.iter().any(|p| k.starts_with(p))
                || k.starts_with(alerts::ALERT_ENV_PREFIX)
        })
        .collect();
    let path = match (explicit_file, &home) {
        (Some(p), _) => expand_tilde(&p.to_string_lossy(), home.as_deref()),
        (None, Some(h)) => default_file(h),
        (None, None) => PathBuf::from(".claude/config.yaml"),
    };
    let file = ConfigFile {
        contents: read_regular(&path),
        path,
        explicit: explicit_file.is_some(),
    };
    let xdg = std::env::var("XDG_CONFIG_HOME").ok();
    let own = alerts::own_file(xdg.as_deref(), home.as_deref());
    // mpm-top's own file holds five numbers: one far bigger is not a settings file.
    let contents = match std::fs::metadata(&own) {
        Ok(m) if m.is_file() && m.len() > ALERTS_FILE_MAX => FileContents::Unreadable(format!(
            "it is {} bytes, more than the {ALERTS_FILE_MAX} a settings file needs",
            m.len()
        )),
        _ => read_regular(&own),
    };
    let alerts_file = ConfigFile {
        contents,
        path: own,
        explicit: false,
    };
    let mut inputs = Inputs {
        home,
        env,
        file,
        flags,
        demo: Vec::new(),
        paths: PathFacts::new(),
        alerts_file,
    };
    for path in paths_named(&inputs) {
        let state = path_state(&path);
        inputs.paths.insert(path, state);
    }
    inputs
}

/// A configuration file's text. A FIFO or a device would block or never end: only a regular
/// file is read.
fn read_regular(path: &Path) -> FileContents {
    match std::fs::metadata(path).map(|m| m.is_file()) {
        // A config linked to /dev/null is a config switched off: as if there were none.
        Ok(false) if std::fs::canonicalize(path).is_ok_and(|p| p == Path::new("/dev/null")) => {
            FileContents::Missing
        }
        Ok(false) => FileContents::Unreadable("it is not a regular file".into()),
        _ => read_config(path),
    }
}

fn read_config(path: &Path) -> FileContents {
    match std::fs::read(path) {
        Ok(bytes) => FileContents::Text(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileContents::Missing,
        Err(e) => FileContents::Unreadable(e.to_string()),
    }
}

/// Resolves the configuration for this process: [`gather`] then [`resolve`].
#[must_use]
pub fn load(flags: Vec<FlagValue>, explicit_file: Option<&Path>) -> Resolved {
    resolve(&gather(flags, explicit_file))
}

/// Every file path any layer gives for a key whose file must exist.
fn paths_named(inputs: &Inputs) -> Vec<PathBuf> {
    let home = inputs.home.as_deref();
    let mut raws: Vec<(Key, Raw)> = inputs
        .env
        .iter()
        .filter_map(|(var, v)| Some((Key::from_env_var(var)?, Raw::Text(v.clone()))))
        .collect();
    if let FileContents::Text(text) = &inputs.file.contents {
        let entries = parse_section(text).unwrap_or_default();
        raws.extend(
            entries
                .into_iter()
                .filter_map(|e| Some((Key::from_file_key(&e.name)?, e.raw))),
        );
    }
    raws.extend(
        inputs
            .flags
            .iter()
            .map(|f| (f.key, Raw::Text(f.raw.clone()))),
    );
    raws.iter()
        .filter_map(|(key, raw)| file_to_check(*key, raw, home))
        .collect()
}

fn path_state(path: &Path) -> PathState {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => PathState::Missing,
        Err(e) => PathState::Unreadable(e.to_string()),
        Ok(meta) if !meta.is_file() => PathState::NotAFile,
        Ok(_) => match std::fs::File::open(path) {
            Ok(_) => PathState::File,
            Err(e) => PathState::Unreadable(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests;
