//! Typed values: [`Setting`] is one key's value, [`Settings`] the whole resolved configuration.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::key::Key;

/// An inclusive range of TCP ports, `start <= end` (checked when parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// First port tried.
    pub start: u16,
    /// Last port tried.
    pub end: u16,
}

impl PortRange {
    /// The ports in the range, in the order `serve` tries them.
    pub fn ports(self) -> impl Iterator<Item = u16> {
        self.start..=self.end
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// Log levels the guide names (`SOCKETIO_LOG_LEVEL=DEBUG`), Python's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Everything, including each emit and receive.
    Debug,
    /// Connections, tool calls, lifecycle.
    Info,
    /// Problems the server recovers from.
    Warning,
    /// Failures.
    Error,
    /// Failures that stop the server.
    Critical,
}

impl LogLevel {
    /// Every level, as written in config.
    pub const NAMES: [&'static str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

    /// Parses a level name, case-insensitively; `WARN` and `FATAL` are accepted as Python does.
    #[must_use]
    pub fn parse(text: &str) -> Option<LogLevel> {
        match text.trim().to_ascii_uppercase().as_str() {
            "DEBUG" => Some(LogLevel::Debug),
            "INFO" => Some(LogLevel::Info),
            "WARNING" | "WARN" => Some(LogLevel::Warning),
            "ERROR" => Some(LogLevel::Error),
            "CRITICAL" | "FATAL" => Some(LogLevel::Critical),
            _ => None,
        }
    }

    /// The canonical name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::Critical => "CRITICAL",
        }
    }
}

/// One key's value. The variant names the key, so applying it to [`Settings`] cannot mismatch.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the key of the same name, documented on `Key`
pub enum Setting {
    Host(String),
    Port(u16),
    PortRange(Option<PortRange>),
    CorsOrigins(Vec<String>),
    Timeout(u32),
    MaxBufferSize(u32),
    HeartbeatInterval(u32),
    LogLevel(LogLevel),
    Ssl(bool),
    CertPath(Option<PathBuf>),
    KeyPath(Option<PathBuf>),
    Debug(bool),
    LogFile(PathBuf),
    PidFile(PathBuf),
    HookHost(String),
    HookPort(u16),
}

/// The resolved configuration, typed, for the rest of the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// See [`Key::Host`].
    pub host: String,
    /// See [`Key::Port`]; 0 asks the OS for any free port.
    pub port: u16,
    /// See [`Key::PortRange`].
    pub port_range: Option<PortRange>,
    /// See [`Key::CorsOrigins`].
    pub cors_origins: Vec<String>,
    /// See [`Key::Timeout`], in seconds.
    pub timeout_secs: u32,
    /// See [`Key::MaxBufferSize`].
    pub max_buffer_size: u32,
    /// See [`Key::HeartbeatInterval`], in seconds.
    pub heartbeat_interval_secs: u32,
    /// See [`Key::LogLevel`].
    pub log_level: LogLevel,
    /// See [`Key::Ssl`].
    pub ssl: bool,
    /// See [`Key::CertPath`].
    pub cert_path: Option<PathBuf>,
    /// See [`Key::KeyPath`].
    pub key_path: Option<PathBuf>,
    /// See [`Key::Debug`].
    pub debug: bool,
    /// See [`Key::LogFile`].
    pub log_file: PathBuf,
    /// See [`Key::PidFile`].
    pub pid_file: PathBuf,
    /// See [`Key::HookHost`].
    pub hook_host: String,
    /// See [`Key::HookPort`].
    pub hook_port: u16,
}

impl Settings {
    /// The built-in defaults (the guide's values). `assets/config.default.yaml` must say the same;
    /// a test holds them equal. Relative paths are under `home`.
    #[must_use]
    pub fn defaults(home: &Path) -> Settings {
        Settings {
            host: "localhost".into(),
            port: 8765,
            port_range: None,
            cors_origins: vec![
                "http://localhost:3000".into(),
                "http://127.0.0.1:3000".into(),
            ],
            // python-socketio's own ping timeout; the guide raises it to 60 when clients drop.
            timeout_secs: 20,
            max_buffer_size: 1000,
            heartbeat_interval_secs: 60,
            log_level: LogLevel::Info,
            ssl: false,
            cert_path: None,
            key_path: None,
            debug: false,
            log_file: home.join(".claude/logs/socketio_server.log"),
            pid_file: home.join(".claude/socketio.pid"),
            hook_host: "localhost".into(),
            hook_port: 8765,
        }
    }

    /// The server's base URL (`http://localhost:8765`, `https://…` with ssl).
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = if self.ssl { "https" } else { "http" };
        format!(
            "{scheme}://{}:{}",
            crate::target::bracket(&self.host),
            self.port
        )
    }

    /// The current value of `key`.
    #[must_use]
    pub fn get(&self, key: Key) -> Setting {
        match key {
            Key::Host => Setting::Host(self.host.clone()),
            Key::Port => Setting::Port(self.port),
            Key::PortRange => Setting::PortRange(self.port_range),
            Key::CorsOrigins => Setting::CorsOrigins(self.cors_origins.clone()),
            Key::Timeout => Setting::Timeout(self.timeout_secs),
            Key::MaxBufferSize => Setting::MaxBufferSize(self.max_buffer_size),
            Key::HeartbeatInterval => Setting::HeartbeatInterval(self.heartbeat_interval_secs),
            Key::LogLevel => Setting::LogLevel(self.log_level),
            Key::Ssl => Setting::Ssl(self.ssl),
            Key::CertPath => Setting::CertPath(self.cert_path.clone()),
            Key::KeyPath => Setting::KeyPath(self.key_path.clone()),
            Key::Debug => Setting::Debug(self.debug),
            Key::LogFile => Setting::LogFile(self.log_file.clone()),
            Key::PidFile => Setting::PidFile(self.pid_file.clone()),
            Key::HookHost => Setting::HookHost(self.hook_host.clone()),
            Key::HookPort => Setting::HookPort(self.hook_port),
        }
    }

    /// Replaces the value of the key `setting` belongs to.
    pub fn apply(&mut self, setting: Setting) {
        match setting {
            Setting::Host(v) => self.host = v,
            Setting::Port(v) => self.port = v,
            Setting::PortRange(v) => self.port_range = v,
            Setting::CorsOrigins(v) => self.cors_origins = v,
            Setting::Timeout(v) => self.timeout_secs = v,
            Setting::MaxBufferSize(v) => self.max_buffer_size = v,
            Setting::HeartbeatInterval(v) => self.heartbeat_interval_secs = v,
            Setting::LogLevel(v) => self.log_level = v,
            Setting::Ssl(v) => self.ssl = v,
            Setting::CertPath(v) => self.cert_path = v,
            Setting::KeyPath(v) => self.key_path = v,
            Setting::Debug(v) => self.debug = v,
            Setting::LogFile(v) => self.log_file = v,
            Setting::PidFile(v) => self.pid_file = v,
            Setting::HookHost(v) => self.hook_host = v,
            Setting::HookPort(v) => self.hook_port = v,
        }
    }
}

/// How a value is shown to users: paths under the home directory start with `~`.
#[derive(Clone, Copy, Debug)]
pub struct Shown<'a> {
    /// The value.
    pub setting: &'a Setting,
    /// The home directory to abbreviate, if known.
    pub home: Option<&'a Path>,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = |p: &Path| tilde(p, self.home);
        match self.setting {
            Setting::Host(v) | Setting::HookHost(v) => f.write_str(v),
            Setting::Port(v) | Setting::HookPort(v) => write!(f, "{v}"),
            Setting::PortRange(Some(r)) => write!(f, "{r}"),
            Setting::PortRange(None) | Setting::CertPath(None) | Setting::KeyPath(None) => {
                f.write_str("(unset)")
            }
            Setting::CorsOrigins(v) => f.write_str(&v.join(", ")),
            Setting::Timeout(v) | Setting::HeartbeatInterval(v) => write!(f, "{v}s"),
            Setting::MaxBufferSize(v) => write!(f, "{v}"),
            Setting::LogLevel(v) => f.write_str(v.name()),
            Setting::Ssl(v) | Setting::Debug(v) => write!(f, "{v}"),
            Setting::CertPath(Some(p))
            | Setting::KeyPath(Some(p))
            | Setting::LogFile(p)
            | Setting::PidFile(p) => f.write_str(&path(p)),
        }
    }
}

impl Shown<'_> {
    /// The value as JSON: numbers stay numbers, lists stay lists, unset is `null`.
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        let path = |p: &Path| J::String(tilde(p, self.home));
        match self.setting {
            Setting::Host(v) | Setting::HookHost(v) => J::String(v.clone()),
            Setting::Port(v) | Setting::HookPort(v) => J::from(*v),
            Setting::PortRange(v) => v.map_or(J::Null, |r| J::String(r.to_string())),
            Setting::CorsOrigins(v) => J::from(v.clone()),
            Setting::Timeout(v) | Setting::MaxBufferSize(v) | Setting::HeartbeatInterval(v) => {
                J::from(*v)
            }
            Setting::LogLevel(v) => J::String(v.name().into()),
            Setting::Ssl(v) | Setting::Debug(v) => J::Bool(*v),
            Setting::CertPath(v) | Setting::KeyPath(v) => v.as_deref().map_or(J::Null, path),
            Setting::LogFile(p) | Setting::PidFile(p) => path(p),
        }
    }
}

impl Serialize for Shown<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(s)
    }
}

/// `path` with the home directory written as `~`, so reports do not reveal the user's home.
#[must_use]
pub fn tilde(path: &Path, home: Option<&Path>) -> String {
    match home.and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) if rest.as_os_str().is_empty() => "~".into(),
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// Expands a leading `~` or `~/` against `home`; other paths are returned as they are.
#[must_use]
pub fn expand_tilde(text: &str, home: Option<&Path>) -> PathBuf {
    match (text.strip_prefix('~'), home) {
        (Some(""), Some(h)) => h.to_path_buf(),
        (Some(rest), Some(h)) if rest.starts_with('/') => h.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_then_apply_is_identity_for_every_key() {
        let home = Path::new("/home/u");
        let defaults = Settings::defaults(home);
        let mut copy = Settings::defaults(Path::new("/elsewhere"));
        for key in Key::ALL {
            copy.apply(defaults.get(key));
        }
        assert_eq!(copy, defaults);
    }

    #[test]
    fn home_paths_are_shown_with_a_tilde_and_expanded_back() {
        let home = Path::new("/home/u");
        assert_eq!(
            tilde(Path::new("/home/u/.claude/x"), Some(home)),
            "~/.claude/x"
        );
        assert_eq!(tilde(Path::new("/home/uu/x"), Some(home)), "/home/uu/x");
        assert_eq!(expand_tilde("~/a/b", Some(home)), home.join("a/b"));
        assert_eq!(expand_tilde("~", Some(home)), home);
        assert_eq!(expand_tilde("~bob/x", Some(home)), PathBuf::from("~bob/x"));
        assert_eq!(expand_tilde("/etc/x", Some(home)), PathBuf::from("/etc/x"));
    }
}
