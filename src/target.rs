//! The server being looked at: resolved once, then handed to probes, actions and panes.
//!
//! [`crate::config::Resolved`] is the configuration (for the Config pane and `serve`); a
//! [`Target`] is the one server a console, `doctor` or an action is about. Keeping them apart is
//! what stops a discovered server from silently replacing the one the user named: an earlier
//! console rewrote the configured port with a discovered one, and `--port 18931` then monitored,
//! restarted and killed whatever answered on 8779.

use std::fmt;

use crate::config::{Key, Resolved, Source};

/// How the target was chosen.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Chosen {
    /// The user named the host or port (flag, env or file): never replaced by discovery.
    Named(String),
    /// Nobody named anything: the built-in default.
    Default,
    /// Found by discovery because nothing was named and nothing answered on the default.
    Discovered,
    /// The switch key moved the console here from `from`.
    Switched {
        /// The target before the switch, `host:port`.
        from: String,
    },
    /// `--demo`'s in-process server.
    Demo,
}

/// One server: where it is and how it was chosen.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    /// `https` when the configuration says `ssl: true`, else `http`.
    pub scheme: &'static str,
    /// Host name or address, as configured (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Why this one.
    pub chosen: Chosen,
}

impl Target {
    /// The configured server: `host`, `port` and `ssl` as resolved. Named when the host or the
    /// port came from anywhere but the defaults.
    #[must_use]
    pub fn configured(resolved: &Resolved) -> Target {
        let named: Vec<String> = [Key::Host, Key::Port]
            .into_iter()
            .filter_map(|key| resolved.row(key))
            .filter(|row| row.source != Source::Default)
            .map(|row| match &row.source {
                Source::Flag(flag) => (*flag).to_owned(),
                Source::Env(var) => var.clone(),
                Source::File { .. } => "config file".to_owned(),
                other => other.to_string(),
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let s = &resolved.settings;
        Target {
            scheme: if s.ssl { "https" } else { "http" },
            host: s.host.clone(),
            port: s.port,
            chosen: if named.is_empty() {
                Chosen::Default
            } else {
                Chosen::Named(named.join(", "))
            },
        }
    }

    /// The same host and scheme on another port.
    #[must_use]
    pub fn on_port(&self, port: u16, chosen: Chosen) -> Target {
        Target {
            port,
            chosen,
            ..self.clone()
        }
    }

    /// The base URL, IPv6 hosts in brackets.
    #[must_use]
    pub fn url(&self) -> String {
        format!("{}://{}:{}", self.scheme, bracket(&self.host), self.port)
    }

    /// `host:port`, IPv6 hosts in brackets.
    #[must_use]
    pub fn authority(&self) -> String {
        format!("{}:{}", bracket(&self.host), self.port)
    }

    /// Whether the user named it: discovery may offer another server, never take its place.
    #[must_use]
    pub fn is_named(&self) -> bool {
        matches!(self.chosen, Chosen::Named(_))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

/// IPv6 literals go in brackets in URLs; anything already bracketed is left alone.
#[must_use]
pub fn bracket(host: &str) -> String {
    if !host.starts_with('[') && host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// A host as written, without the brackets of an IPv6 literal (`[::1]` → `::1`), so it can be
/// parsed or bound in every spelling.
#[must_use]
pub fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Whether a server bound to `host` is reachable only from this machine: `localhost`, any
/// 127.x address, or `::1`, in any spelling.
#[must_use]
pub fn is_loopback_host(host: &str) -> bool {
    let host = unbracket(host);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What binding `host` exposes, for the warning serve prints and the config finding; `None` for
/// loopback.
#[must_use]
pub fn exposure(host: &str) -> Option<String> {
    if is_loopback_host(host) {
        return None;
    }
    let reach = match unbracket(host).parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_unspecified() => "every network this machine is on",
        _ => "the network that address is on",
    };
    Some(format!(
        "host {host} is not a loopback address: anyone on {reach} can read every tool call (commands, file paths, prompts) and post events of their own; use 127.0.0.1 unless other machines must connect"
    ))
}

/// A target as a recording holds it: its scheme a string, read back as one of the two this
/// program speaks.
#[derive(serde::Deserialize)]
struct RecordedTarget {
    scheme: String,
    host: String,
    port: u16,
    chosen: Chosen,
}

impl<'de> serde::Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(input: D) -> Result<Target, D::Error> {
        let t = RecordedTarget::deserialize(input)?;
        let scheme = match t.scheme.as_str() {
            "https" => "https",
            "http" => "http",
            other => {
                return Err(serde::de::Error::custom(format!(
                    "scheme '{other}' is neither http nor https"
                )));
            }
        };
        // A recording is a file from anyone: what it names is shown, never obeyed.
        let chosen = match t.chosen {
            Chosen::Named(by) => Chosen::Named(crate::text::clean(&by)),
            Chosen::Switched { from } => Chosen::Switched {
                from: crate::text::clean(&from),
            },
            other => other,
        };
        Ok(Target {
            scheme,
            // 253: the longest DNS name.
            host: crate::text::clean(&crate::text::truncate(&t.host, 253)),
            port: t.port,
            chosen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FlagValue, Inputs, resolve};

    fn resolved(flags: &[(Key, &str)], env: &[(&str, &str)]) -> Resolved {
        resolve(&Inputs {
            flags: flags
                .iter()
                .map(|(key, raw)| FlagValue {
                    key: *key,
                    raw: (*raw).to_owned(),
                })
                .collect(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Inputs::default()
        })
    }

    #[test]
    fn a_port_from_a_flag_or_the_environment_is_named() {
        let flag = Target::configured(&resolved(&[(Key::Port, "18931")], &[]));
        assert_eq!(flag.port, 18931);
        assert!(flag.is_named(), "{flag:?}");
        let env = Target::configured(&resolved(&[], &[("SOCKETIO_PORT", "9000")]));
        assert!(matches!(&env.chosen, Chosen::Named(why) if why.contains("SOCKETIO_PORT")));
        let default = Target::configured(&resolved(&[], &[]));
        assert_eq!(default.chosen, Chosen::Default);
        assert!(!default.is_named());
    }

    #[test]
    fn ipv6_hosts_are_bracketed_once() {
        let t = Target::configured(&resolved(&[(Key::Host, "::1"), (Key::Port, "9")], &[]));
        assert_eq!(t.url(), "http://[::1]:9");
        assert_eq!(bracket("[::1]"), "[::1]");
        assert_eq!(bracket("127.0.0.1:9"), "127.0.0.1:9", "not an IPv6 address");
        assert_eq!(t.on_port(10, Chosen::Discovered).authority(), "[::1]:10");
    }
}
