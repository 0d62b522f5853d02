//! The configuration keys: their names in each layer and the group they belong to.

use serde::Serialize;

/// One configurable setting. The order of [`Key::ALL`] is the order users see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// Interface the server binds and the console connects to.
    Host,
    /// TCP port of the server.
    Port,
    /// Ports `serve` may fall back to, first free wins ("8765-8775").
    PortRange,
    /// Origins allowed by CORS.
    CorsOrigins,
    /// Seconds before an unanswered client counts as gone.
    Timeout,
    /// Events kept in the server's history ring (and its per-client queue).
    MaxBufferSize,
    /// Seconds between `heartbeat` events.
    HeartbeatInterval,
    /// Server log level.
    LogLevel,
    /// Serve HTTPS/WSS instead of HTTP/WS.
    Ssl,
    /// TLS certificate (PEM).
    CertPath,
    /// TLS private key (PEM).
    KeyPath,
    /// Extra diagnostics in the server.
    Debug,
    /// Server log file.
    LogFile,
    /// Server PID file.
    PidFile,
    /// Host Claude MPM's hooks post events to (`CLAUDE_MPM_SERVER_HOST`).
    HookHost,
    /// Port Claude MPM's hooks post events to (`CLAUDE_MPM_SERVER_PORT`).
    HookPort,
}

/// Which program reads a key: mpm-top's own server, or a real Claude MPM install.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// The `socketio:` settings of the guide, used by mpm-top and its server.
    Socketio,
    /// Settings of a Claude MPM install that decide where hook events flow.
    ClaudeMpm,
}

impl Key {
    /// Every key, in display order.
    pub const ALL: [Key; 16] = [
        Key::Host,
        Key::Port,
        Key::PortRange,
        Key::CorsOrigins,
        Key::Timeout,
        Key::MaxBufferSize,
        Key::HeartbeatInterval,
        Key::LogLevel,
        Key::Ssl,
        Key::CertPath,
        Key::KeyPath,
        Key::Debug,
        Key::LogFile,
        Key::PidFile,
        Key::HookHost,
        Key::HookPort,
    ];

    /// The key's name as users see it (and, for the socketio group, as the YAML file spells it).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Key::Host => "host",
            Key::Port => "port",
            Key::PortRange => "port_range",
            Key::CorsOrigins => "cors_origins",
            Key::Timeout => "timeout",
            Key::MaxBufferSize => "max_buffer_size",
            Key::HeartbeatInterval => "heartbeat_interval",
            Key::LogLevel => "log_level",
            Key::Ssl => "ssl",
            Key::CertPath => "cert_path",
            Key::KeyPath => "key_path",
            Key::Debug => "debug",
            Key::LogFile => "log_file",
            Key::PidFile => "pid_file",
            Key::HookHost => "hook_host",
            Key::HookPort => "hook_port",
        }
    }

    /// The group the key belongs to.
    #[must_use]
    pub fn group(self) -> Group {
        match self {
            Key::HookHost | Key::HookPort => Group::ClaudeMpm,
            _ => Group::Socketio,
        }
    }

    /// The environment variable that sets the key, if any.
    #[must_use]
    pub fn env_var(self) -> Option<&'static str> {
        Some(match self {
            Key::Host => "SOCKETIO_HOST",
            Key::Port => "SOCKETIO_PORT",
            Key::PortRange => "SOCKETIO_PORT_RANGE",
            Key::CorsOrigins => "SOCKETIO_CORS",
            Key::Timeout => "SOCKETIO_TIMEOUT",
            Key::MaxBufferSize => "SOCKETIO_BUFFER_SIZE",
            Key::LogLevel => "SOCKETIO_LOG_LEVEL",
            Key::Ssl => "SOCKETIO_SSL",
            Key::CertPath => "SOCKETIO_CERT_PATH",
            Key::KeyPath => "SOCKETIO_KEY_PATH",
            Key::Debug => "SOCKETIO_DEBUG",
            Key::HookHost => "CLAUDE_MPM_SERVER_HOST",
            Key::HookPort => "CLAUDE_MPM_SERVER_PORT",
            Key::HeartbeatInterval | Key::LogFile | Key::PidFile => return None,
        })
    }

    /// The key's name inside the YAML file's `socketio:` section, if the file may set it.
    #[must_use]
    pub fn file_key(self) -> Option<&'static str> {
        match self.group() {
            Group::Socketio => Some(self.name()),
            Group::ClaudeMpm => None,
        }
    }

    /// The command-line flag that sets the key, if any.
    #[must_use]
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Key::Host => Some("--host"),
            Key::Port => Some("--port"),
            Key::LogFile => Some("--log-file"),
            _ => None,
        }
    }

    /// The key whose YAML name is `name`.
    #[must_use]
    pub fn from_file_key(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.file_key() == Some(name))
    }

    /// The key set by environment variable `var`.
    #[must_use]
    pub fn from_env_var(var: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.env_var() == Some(var))
    }
}

/// Environment variable prefixes whose unknown members deserve a warning.
pub const ENV_PREFIXES: [&str; 2] = ["SOCKETIO_", "CLAUDE_MPM_SERVER_"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_env_vars_and_flags_round_trip() {
        for key in Key::ALL {
            if let Some(name) = key.file_key() {
                assert_eq!(Key::from_file_key(name), Some(key));
            }
            if let Some(var) = key.env_var() {
                assert_eq!(Key::from_env_var(var), Some(key));
                assert!(ENV_PREFIXES.iter().any(|p| var.starts_with(p)));
            }
        }
    }
}
