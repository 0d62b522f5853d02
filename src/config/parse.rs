//! Turning one layer's raw text into a typed [`Setting`], or a problem a user can act on.
//!
//! Every layer goes through the same parser, so `SOCKETIO_PORT=abc`, `port: "abc"` in the file
//! and a bad flag are judged by one rule and reported in one voice.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::key::Key;
use super::setting::{LogLevel, PortRange, Setting, expand_tilde};
use super::suggest::did_you_mean;

/// A value as a layer supplied it, before it is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Raw {
    /// A scalar: env value, flag value, or a YAML string/number/bool.
    Text(String),
    /// A YAML sequence of scalars.
    List(Vec<String>),
    /// YAML `null` (or a key with nothing after the colon).
    Null,
    /// Any other YAML shape, named for the message ("a mapping").
    Other(&'static str),
}

impl fmt::Display for Raw {
    /// The raw value in quotes, as error messages show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Raw::Text(t) => write!(f, "'{t}'"),
            Raw::List(items) => write!(f, "'[{}]'", items.join(", ")),
            Raw::Null => f.write_str("an empty value"),
            Raw::Other(kind) => f.write_str(kind),
        }
    }
}

/// What is known about a path named in the configuration, read up front so that resolution
/// stays a pure function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathState {
    /// A readable regular file.
    File,
    /// Nothing at that path.
    Missing,
    /// Something other than a regular file (a directory, say).
    NotAFile,
    /// It exists but opening it failed; the OS's reason.
    Unreadable(String),
}

/// Facts about the paths the configuration names, keyed by expanded path.
pub type PathFacts = BTreeMap<PathBuf, PathState>;

/// Lower and upper bounds of the numeric keys, inclusive.
const SECONDS: (u32, u32) = (1, 3600);
const BUFFER: (u32, u32) = (1, 1_000_000);

/// What a valid value of `key` looks like, completing "expected ...".
#[must_use]
pub fn expectation(key: Key) -> String {
    match key {
        Key::Host | Key::HookHost => "a host name or IP address, like 'localhost'".into(),
        Key::Port => "a whole number from 0 (any free port) to 65535".into(),
        Key::HookPort => "a whole number from 1 to 65535".into(),
        Key::PortRange => "a port range like '8765-8775'".into(),
        Key::CorsOrigins => {
            "origins like 'http://localhost:3000', as a list or comma-separated".into()
        }
        Key::Timeout | Key::HeartbeatInterval => format!(
            "a whole number of seconds from {} to {}",
            SECONDS.0, SECONDS.1
        ),
        Key::MaxBufferSize => format!("a whole number from {} to {}", BUFFER.0, BUFFER.1),
        Key::LogLevel => format!("one of {}", LogLevel::NAMES.join(", ")),
        Key::Ssl | Key::Debug => "true or false".into(),
        Key::CertPath | Key::KeyPath => "the path of a readable PEM file".into(),
        Key::LogFile | Key::PidFile => "a file path".into(),
    }
}

/// Checks `raw` as a value of `key`. `Err` holds the problem, phrased to follow the key's name.
///
/// # Errors
/// When the value has the wrong shape, is out of range, or names a file that cannot be used.
pub fn parse(
    key: Key,
    raw: &Raw,
    home: Option<&Path>,
    paths: &PathFacts,
) -> Result<Setting, String> {
    let invalid = || format!("{raw} is not valid: expected {}", expectation(key));
    let text = match raw {
        Raw::Text(t) => t.trim(),
        Raw::List(items) if key == Key::CorsOrigins => return origins(items.clone()),
        Raw::Null if matches!(key, Key::PortRange | Key::CertPath | Key::KeyPath) => "",
        Raw::Null => return Err(format!("has no value: expected {}", expectation(key))),
        Raw::List(_) | Raw::Other(_) => {
            return Err(format!("is {}: expected {}", shape(raw), expectation(key)));
        }
    };
    let number = |(lo, hi): (u32, u32)| {
        text.parse::<u32>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(invalid)
    };
    Ok(match key {
        Key::Host => Setting::Host(host(text).map_err(|e| format!("{raw} {e}"))?),
        Key::HookHost => Setting::HookHost(host(text).map_err(|e| format!("{raw} {e}"))?),
        Key::Port => Setting::Port(text.parse().map_err(|_| invalid())?),
        Key::HookPort => {
            Setting::HookPort(text.parse().ok().filter(|p| *p > 0).ok_or_else(invalid)?)
        }
        Key::PortRange if text.is_empty() => Setting::PortRange(None),
        Key::PortRange => Setting::PortRange(Some(
            port_range(text).map_err(|e| e.unwrap_or_else(invalid))?,
        )),
        Key::CorsOrigins => return origins(text.split(',').map(str::to_owned).collect()),
        Key::Timeout => Setting::Timeout(number(SECONDS)?),
        Key::HeartbeatInterval => Setting::HeartbeatInterval(number(SECONDS)?),
        Key::MaxBufferSize => Setting::MaxBufferSize(number(BUFFER)?),
        Key::LogLevel => Setting::LogLevel(LogLevel::parse(text).ok_or_else(|| {
            invalid() + &did_you_mean(&text.to_ascii_uppercase(), LogLevel::NAMES)
        })?),
        Key::Ssl => Setting::Ssl(boolean(text).ok_or_else(invalid)?),
        Key::Debug => Setting::Debug(boolean(text).ok_or_else(invalid)?),
        Key::CertPath => {
            Setting::CertPath(pem_file(text, home, paths).map_err(|e| format!("{raw} {e}"))?)
        }
        Key::KeyPath => {
            Setting::KeyPath(pem_file(text, home, paths).map_err(|e| format!("{raw} {e}"))?)
        }
        Key::LogFile | Key::PidFile if text.is_empty() => return Err(invalid()),
        Key::LogFile => Setting::LogFile(expand_tilde(text, home)),
        Key::PidFile => Setting::PidFile(expand_tilde(text, home)),
    })
}

fn shape(raw: &Raw) -> &'static str {
    match raw {
        Raw::List(_) => "a list",
        Raw::Other(kind) => kind,
        Raw::Text(_) | Raw::Null => "a value",
    }
}

fn host(text: &str) -> Result<String, &'static str> {
    if text.is_empty() || text.contains(char::is_whitespace) {
        Err("is not valid: expected a host name or IP address, like 'localhost'")
    } else if text.contains("://") || text.contains('/') {
        Err("is a URL, not a host: write only the host name, like 'localhost'")
    } else {
        Ok(text.to_owned())
    }
}

/// `Err(None)` means "not a range at all", `Err(Some(msg))` a range with a specific fault.
fn port_range(text: &str) -> Result<PortRange, Option<String>> {
    let (a, b) = text.split_once('-').ok_or(None)?;
    let port = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p > 0).ok_or(None);
    let (start, end) = (port(a)?, port(b)?);
    if start > end {
        return Err(Some(format!(
            "'{text}' runs backwards: write it as '{end}-{start}'"
        )));
    }
    Ok(PortRange { start, end })
}

fn origins(items: Vec<String>) -> Result<Setting, String> {
    let items: Vec<String> = items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(
            "is empty: no browser page could connect; list origins like 'http://localhost:3000'"
                .into(),
        );
    }
    if let Some(bad) = items.iter().find(|o| *o != "*" && !o.contains("://")) {
        return Err(format!(
            "has '{bad}', which is not an origin: expected scheme://host[:port], like 'http://localhost:3000'"
        ));
    }
    Ok(Setting::CorsOrigins(items))
}

fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn pem_file(text: &str, home: Option<&Path>, paths: &PathFacts) -> Result<Option<PathBuf>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let path = expand_tilde(text, home);
    match paths.get(&path) {
        Some(PathState::Missing) => Err("does not exist: point it at an existing PEM file".into()),
        Some(PathState::NotAFile) => Err("is not a regular file: point it at a PEM file".into()),
        Some(PathState::Unreadable(why)) => {
            Err(format!("cannot be read ({why}): fix its permissions"))
        }
        Some(PathState::File) | None => Ok(Some(path)),
    }
}

/// Paths that [`parse`] would look up in [`PathFacts`] for this raw value, so they can be
/// checked before resolution.
#[must_use]
pub fn file_to_check(key: Key, raw: &Raw, home: Option<&Path>) -> Option<PathBuf> {
    match (key, raw) {
        (Key::CertPath | Key::KeyPath, Raw::Text(t)) if !t.trim().is_empty() => {
            Some(expand_tilde(t.trim(), home))
        }
        _ => None,
    }
}
