//! Keeping secrets out of the debug bundle. Each shape a secret takes is a rule with a name;
//! what a rule matches becomes `[REDACTED]` (keeping what says what it was: `Authorization:`,
//! `password=`, `https://`), the home directory becomes `~`, and the bundle's summary counts
//! what was hidden, by kind.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use regex::{Regex, RegexSet};
use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Name fragments that mark a variable or key as secret.
const SECRET_WORDS: [&str; 10] = [
    "TOKEN",
    "SECRET",
    "KEY",
    "PASS",
    "PWD",
    "AUTH",
    "COOKIE",
    "CREDENTIAL",
    "WEBHOOK",
    "SIGNATURE",
];

/// Whether a variable or key called `name` holds a secret.
#[must_use]
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// Whether a command-line word is a flag whose value is secret (`--password`, `-p`, `--api-key`).
fn is_secret_flag(word: &str) -> bool {
    word == "-p" || (word.starts_with('-') && !word.contains('=') && is_secret_name(word))
}

/// A secret-looking name inside a pattern (`api_key`, `client-secret`, `X-Auth-Token`).
const NAME: &str = r"[A-Za-z0-9_-]*(?:token|secret|key|pass|pwd|auth|cookie|credential|webhook|signature)[A-Za-z0-9_-]*";

/// What separates a name from its value: `=`, `:`, `=>`, with the name's closing quote (plain
/// or escaped, as in JSON inside a string) and spaces on the same line.
const SEP: &str = r#"(?:\\?["'])?[ \t]*(?:=>|[=:])[ \t]*"#;

/// A value: quoted (plainly, escaped, or singly) or up to a space, comma or closing bracket.
const VALUE: &str = r#"(?:\\"(?:[^"\\\n]|\\[^"\n])*\\"|"[^"\n]*"|'[^'\n]*'|[^\s",}'\]]+)"#;

/// The rules, most specific first: (kind, pattern, replacement).
fn rules() -> &'static [(&'static str, Regex, String)] {
    static RULES: OnceLock<Vec<(&'static str, Regex, String)>> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = REDACTED;
        [
            (
                "private key",
                r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY[A-Z ]*-----.*?(?:-----END [A-Z ]*PRIVATE KEY[A-Z ]*-----|\z)"
                    .to_owned(),
                format!("-----{r} PRIVATE KEY-----"),
            ),
            (
                "cookie header",
                r"(?i)\b((?:set-)?cookie[ \t]*:[ \t]*)[^\n]+".to_owned(),
                format!("${{1}}{r}"),
            ),
            (
                "authorization header",
                r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*)(?:(basic|bearer|token|digest|negotiate)\s+)?[^\s,;]+"
                    .to_owned(),
                format!("${{1}}${{2}} {r}"),
            ),
            (
                "bearer or token",
                r"(?i)\b(bearer|token)(\s+|=)[A-Za-z0-9._~+/=-]{8,}".to_owned(),
                format!("$1$2{r}"),
            ),
            (
                "URL credentials",
                r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#]*@".to_owned(),
                format!("$1{r}@"),
            ),
            (
                "webhook URL",
                r"(?i)\b(hooks\.slack\.com/services/|discord(?:app)?\.com/api/webhooks/)[A-Za-z0-9/_-]+"
                    .to_owned(),
                format!("$1{r}"),
            ),
            (
                "command-line secret",
                format!(r#"(?i)((?:^|\s)--?{NAME}(?:=|\s+))(?:"[^"]*"|'[^']*'|\S+)|((?:^|\s)-p)([^\s-]\S*)"#),
                format!("${{1}}${{2}}{r}"),
            ),
            (
                "URL-encoded secret",
                format!(r"(?i)\b({NAME})((?:%22)?(?:%3D|%3A)(?:%22)?)[^\s&%]+"),
                format!("$1$2{r}"),
            ),
            (
                "provider key",
                r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}|\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}|\bxox[abposr]-[A-Za-z0-9-]{10,}|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bglpat-[A-Za-z0-9_-]{20}|\bnpm_[A-Za-z0-9]{36}|\bAIza[0-9A-Za-z_-]{35}|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"
                    .to_owned(),
                r.to_owned(),
            ),
            (
                "secret-named value",
                format!(r"(?i)\b({NAME})({SEP}){VALUE}"),
                format!("$1$2{r}"),
            ),
        ]
        .into_iter()
        .filter_map(|(kind, re, with)| Some((kind, Regex::new(&re).ok()?, with)))
        .collect()
    })
}

/// Every rule at once, to pass over text none of them matches in one scan (a recording redacts
/// every string of every event).
fn any_rule() -> &'static RegexSet {
    static SET: OnceLock<RegexSet> = OnceLock::new();
    SET.get_or_init(|| {
        RegexSet::new(rules().iter().map(|(_, re, _)| re.as_str())).unwrap_or_else(|_| {
            // Each pattern compiled alone above; a set of them cannot fail. If it somehow
            // did, matching everything keeps the full rules running on every text.
            RegexSet::new([""]).unwrap_or_else(|_| RegexSet::empty())
        })
    })
}

/// Redacts text, counting what it replaced by kind.
#[derive(Debug)]
pub struct Redactor {
    home: Option<String>,
    /// Secrets replaced so far, by kind.
    pub kinds: BTreeMap<&'static str, usize>,
}

impl Redactor {
    /// A redactor that also writes `home` as `~` (with or without a trailing `/`).
    #[must_use]
    pub fn new(home: Option<&Path>) -> Redactor {
        let home = home
            .map(|h| h.display().to_string().trim_end_matches('/').to_owned())
            .filter(|h| !h.is_empty());
        Redactor {
            home,
            kinds: BTreeMap::new(),
        }
    }

    /// Secrets replaced so far.
    #[must_use]
    pub fn count(&self) -> usize {
        self.kinds.values().sum()
    }

    /// `3 (2 authorization header, 1 provider key)`.
    #[must_use]
    pub fn summary(&self) -> String {
        if self.kinds.is_empty() {
            return "0".into();
        }
        let each: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!("{} ({})", self.count(), each.join(", "))
    }

    /// `text` with secrets replaced and the home directory shown as `~`.
    pub fn text(&mut self, text: &str) -> String {
        let has_home = self.home.as_deref().is_some_and(|h| text.contains(h));
        if !has_home && !any_rule().is_match(text) {
            return text.to_owned();
        }
        let mut out = text.to_owned();
        for (kind, re, with) in rules() {
            let mut found = 0;
            let replaced = re.replace_all(&out, |caps: &regex::Captures| {
                let whole = caps.get(0).map_or("", |m| m.as_str());
                let end = caps.get(0).map_or(0, |m| m.end());
                // Already hidden by an earlier rule (`Authorization: Basic [REDACTED]` is not
                // a secret named Authorization whose value is "Basic").
                // (A value pattern stops at `]`: `[REDACTED` is already hidden too.)
                if whole.contains(&REDACTED[..REDACTED.len() - 1])
                    || out[end..].starts_with(&format!(" {REDACTED}"))
                {
                    return whole.to_owned();
                }
                found += 1;
                let mut to = String::new();
                caps.expand(with, &mut to);
                let to = to.replace("  ", " ");
                // A quoted key's value stays a quoted string, so JSON in a log line (Claude
                // MPM's engine.io packets) still parses: `"password":"[REDACTED]"`.
                match caps.get(2).map(|m| m.as_str().trim_start()) {
                    Some(sep) if *kind == "secret-named value" && sep.starts_with("\\\"") => {
                        to.replace(REDACTED, &format!("\\\"{REDACTED}\\\""))
                    }
                    Some(sep) if *kind == "secret-named value" && sep.starts_with('"') => {
                        to.replace(REDACTED, &format!("\"{REDACTED}\""))
                    }
                    _ => to,
                }
            });
            let replaced = replaced.into_owned();
            if found > 0 {
                *self.kinds.entry(kind).or_default() += found;
            }
            out = replaced;
        }
        match &self.home {
            Some(home) => out.replace(home.as_str(), "~"),
            None => out,
        }
    }

    /// A JSON payload from outside, redacted in place:
    /// - every string, and every key, by the text rules;
    /// - every string under a secret-named key (`"api_key": "…"`, `"password": ["…"]`);
    /// - the value of a name/value pair whose name is secret (`{"name": "Authorization",
    ///   "value": "…"}`, as HAR files and form fields write headers);
    /// - in a list, the item after a secret-named flag (`["mysql", "--password", "…"]`).
    ///
    /// Numbers stay, even under such a name: `input_tokens: 1234` is a count, not a secret.
    pub fn json(&mut self, value: &mut Value) {
        match value {
            Value::String(text) => *text = self.text(text),
            Value::Array(items) => {
                let mut flag_before = false;
                for item in items.iter_mut() {
                    if flag_before {
                        self.hide(item);
                        flag_before = false;
                        continue;
                    }
                    flag_before = item.as_str().is_some_and(is_secret_flag);
                    self.json(item);
                }
            }
            Value::Object(map) => {
                let is_value =
                    |k: &str| k.eq_ignore_ascii_case("value") || k.eq_ignore_ascii_case("values");
                let is_label = |k: &str| {
                    ["name", "key", "header", "field"]
                        .iter()
                        .any(|l| k.eq_ignore_ascii_case(l))
                };
                let is_pair = map.keys().any(|k| is_value(k));
                let secret_label = map
                    .iter()
                    .any(|(k, v)| is_label(k) && v.as_str().is_some_and(is_secret_name));
                // Keys that redact to the same text get `#2`, `#3`, …: counted once each, so a
                // map of ten thousand secret keys costs ten thousand steps.
                let mut taken: std::collections::HashMap<String, usize> =
                    std::collections::HashMap::new();
                for (key, mut v) in std::mem::take(map) {
                    // A pair's "key" is the label of its value, not a key itself.
                    let label = is_pair && key.eq_ignore_ascii_case("key");
                    if (is_secret_name(&key) && !label) || (secret_label && is_value(&key)) {
                        self.hide(&mut v);
                    } else {
                        self.json(&mut v);
                    }
                    let shown = self.text(&key);
                    let key = if shown == key && !map.contains_key(&key) {
                        key
                    } else {
                        // Each name's counter only grows: linear however many collide.
                        let n = taken.entry(shown.clone()).or_insert(1);
                        let mut unique = shown.clone();
                        while map.contains_key(&unique) {
                            *n += 1;
                            unique = format!("{shown}#{n}");
                        }
                        unique
                    };
                    map.insert(key, v);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Every string in `value` replaced: it sits under a secret name.
    fn hide(&mut self, value: &mut Value) {
        match value {
            Value::String(text) => {
                *self.kinds.entry("secret-named value").or_default() += 1;
                *text = REDACTED.into();
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.hide(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.hide(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// `NAME=value`, with the value hidden when the name is secret.
    pub fn variable(&mut self, name: &str, value: &str) -> String {
        if is_secret_name(name) {
            *self.kinds.entry("secret-named variable").or_default() += 1;
            format!("{name}={REDACTED}")
        } else {
            self.text(&format!("{name}={value}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each planted secret, the text around it, and what must be left of the line.
    const PLANTED: [(&str, &str, &str); 32] = [
        (
            "mysqld --db-password hunter22 --port 1",
            "hunter22",
            "--db-password [REDACTED] --port 1",
        ),
        (
            "app --client-secret=abcSECRET1",
            "abcSECRET1",
            "--client-secret=[REDACTED]",
        ),
        (
            "app --token \"two words\" next",
            "two words",
            "--token [REDACTED] next",
        ),
        (
            "{'password': 'pyDICTpw'}",
            "pyDICTpw",
            "'password': [REDACTED]",
        ),
        (
            "{\\\"api_key\\\": \\\"escJSONkey\\\"}",
            "escJSONkey",
            "api_key",
        ),
        (
            "Cookie: a=1; session=COOKIEVAL",
            "COOKIEVAL",
            "Cookie: [REDACTED]",
        ),
        (
            "redis://:EMPTYUSERpw@host:6379",
            "EMPTYUSERpw",
            "redis://[REDACTED]@host",
        ),
        (
            "https://TOKENASUSER@github.com/x",
            "TOKENASUSER",
            "https://[REDACTED]@github.com",
        ),
        (
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
            "lQOYBF",
            "[REDACTED]",
        ),
        (
            "q=password%22%3A%22URLENCpw&x",
            "URLENCpw",
            "password%22%3A%22[REDACTED]",
        ),
        (
            "secret => ARROWsecret",
            "ARROWsecret",
            "secret => [REDACTED]",
        ),
        (
            "auth:\n  user: bob\n  pass: PASSval",
            "PASSval",
            "user: bob",
        ),
        (
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
            "eyJzdWIiOiIxIn0",
            "token",
        ),
        (
            "signature=SIGvalue123",
            "SIGvalue123",
            "signature=[REDACTED]",
        ),
        ("gitlab glpat-ABCDEFGHIJKLMNOPQRST end", "glpat-ABC", " end"),
        (
            "Authorization: Basic dXNlcjpodW50ZXIy",
            "dXNlcjpodW50ZXIy",
            "Authorization: Basic [REDACTED]",
        ),
        (
            "Authorization: Bearer abc.def-ghi",
            "abc.def-ghi",
            "Authorization: Bearer [REDACTED]",
        ),
        (
            "Proxy-Authorization: Token tok123456789",
            "tok123456789",
            "Proxy-Authorization: Token [REDACTED]",
        ),
        (
            "curl -H 'x' Bearer eyJhbGciOiJIUzI1NiJ9.x.y",
            "eyJhbGciOiJIUzI1NiJ9",
            "Bearer [REDACTED]",
        ),
        (
            "redis://admin:hunter2@127.0.0.1:6379/0",
            "hunter2",
            "redis://[REDACTED]@127.0.0.1",
        ),
        (
            "password: \"correct horse battery staple\"",
            "battery staple",
            "password: [REDACTED]",
        ),
        ("db_passwd='two words'", "two words", "db_passwd=[REDACTED]"),
        (
            "mysqld --password s3cr3tpw --port 3306",
            "s3cr3tpw",
            "--password [REDACTED] --port 3306",
        ),
        (
            "mysql -uroot -pS3cretPW db",
            "S3cretPW",
            "-uroot -p[REDACTED] db",
        ),
        (
            "GET /cb?client_secret%3Dabcdef123456&x=1",
            "abcdef123456",
            "client_secret%3D[REDACTED]&x=1",
        ),
        (
            "https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXX",
            "XXXXXXXX",
            "hooks.slack.com/services/[REDACTED]",
        ),
        ("key ghp_0123456789abcdefghijABCD end", "ghp_0123", " end"),
        ("SLACK xoxb-1234567890-abcdefghij end", "xoxb-123", " end"),
        (
            "anthropic sk-ant-api03-AAAAAAAAAAAAAAAAAAAA end",
            "sk-ant-api03",
            " end",
        ),
        (
            "aws AKIAABCDEFGHIJKLMNOP end",
            "AKIAABCDEFGHIJKLMNOP",
            " end",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----\nafter",
            "MIIEow",
            "\nafter",
        ),
        ("  api_key: \"xyz\"", "xyz", "api_key: [REDACTED]"),
    ];

    #[test]
    fn every_shape_of_secret_is_replaced_and_counted_by_kind() {
        for (line, secret, left) in PLANTED {
            let mut r = Redactor::new(None);
            let out = r.text(line);
            assert!(!out.contains(secret), "{secret} survived in {out:?}");
            assert!(out.contains(left), "{line:?} became {out:?}");
            assert!(r.count() >= 1, "{line:?} was not counted");
        }
        let mut r = Redactor::new(None);
        r.text("Authorization: Basic abc and xoxb-1234567890-abcdefghij");
        assert_eq!(r.summary(), "2 (1 authorization header, 1 provider key)");
    }

    #[test]
    fn ordinary_lines_and_home_paths() {
        let mut r = Redactor::new(Some(Path::new("/home/alice/")));
        assert_eq!(r.text("in /home/alice/proj"), "in ~/proj");
        assert_eq!(
            r.text("INFO connect sid=abc clients=1 --port 8765 -v"),
            "INFO connect sid=abc clients=1 --port 8765 -v"
        );
        assert_eq!(r.count(), 0);
        assert_eq!(
            r.variable("SOCKETIO_AUTH_TOKEN", "s3cret"),
            "SOCKETIO_AUTH_TOKEN=[REDACTED]"
        );
        assert_eq!(r.variable("SOCKETIO_PORT", "8765"), "SOCKETIO_PORT=8765");
    }

    #[test]
    fn a_json_payload_keeps_its_shape_and_loses_its_secrets() {
        let mut r = Redactor::new(Some(Path::new("/home/alice")));
        let mut payload = serde_json::json!({
            "tool_name": "Bash",
            "api_key": "sk-live-abcdefghijklmnopqrstuv",
            "input_tokens": 1234,
            "nested": {"auth": {"password": "hunter22"}, "cwd": "/home/alice/proj"},
            "command": ["curl", "-H", "Authorization: Bearer abcdefghijkl"],
        });
        r.json(&mut payload);
        assert_eq!(
            payload,
            serde_json::json!({
                "tool_name": "Bash",
                "api_key": REDACTED,
                "input_tokens": 1234,
                "nested": {"auth": {"password": REDACTED}, "cwd": "~/proj"},
                "command": ["curl", "-H", "Authorization: Bearer [REDACTED]"],
            })
        );
        assert_eq!(r.count(), 3, "{}", r.summary());
    }

    #[test]
    fn json_secrets_in_lists_pairs_keys_and_command_lines() {
        let mut r = Redactor::new(None);
        let mut payload = serde_json::json!({
            "password": ["p1", {"value": "p2"}, 7],
            "headers": [
                {"name": "Authorization", "value": "Basic QkFTSUM6cGFzcw=="},
                {"name": "Accept", "value": "text/html"},
                {"key": "password", "value": "p3"},
            ],
            "sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUV": 1,
            "argv": ["mysql", "--password", "p4", "-p", "p5", "--port", "3306"],
            "command": "--password 'p6 p7' --verbose",
        });
        r.json(&mut payload);
        let text = payload.to_string();
        for secret in ["p1", "p2", "QkFTSUM", "p3", "ABCDEFGHIJ", "p4", "p5", "p6"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        for kept in ["text/html", "\"password\"", "3306", "--verbose", "7"] {
            assert!(text.contains(kept), "{kept} lost from {text}");
        }
    }

    #[test]
    fn many_secret_keys_cost_linear_time_and_every_value_is_kept_under_its_own_key() {
        let mut r = Redactor::new(None);
        let mut map = serde_json::Map::new();
        for i in 0..10_000 {
            map.insert(format!("token=abcdefgh{i:06}"), serde_json::json!(i));
        }
        let mut payload = Value::Object(map);
        let started = std::time::Instant::now();
        r.json(&mut payload);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let map = payload.as_object().unwrap();
        assert_eq!(map.len(), 10_000);
        assert!(map.keys().all(|k| !k.contains("abcdefgh")), "a key leaked");
        assert!(
            map.contains_key("token=[REDACTED]#10000"),
            "{:?}",
            map.keys().next_back()
        );
    }

    #[test]
    fn pairs_in_any_case_flags_before_any_value_and_no_double_brackets() {
        let mut r = Redactor::new(None);
        let mut payload = serde_json::json!({
            "h": {"Name": "Authorization", "Value": "p1"},
            "argv": ["psql", "--password", {"v": "p2"}, "--password", ["p3"]],
            "line": "token=abcdefghijkl and --password=hunter22x",
        });
        r.json(&mut payload);
        let text = payload.to_string();
        for secret in ["p1", "p2", "p3", "abcdefghijkl", "hunter22x"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(!text.contains("[REDACTED]]"), "{text}");
    }

    #[test]
    fn json_in_a_log_line_stays_json() {
        let mut r = Redactor::new(None);
        let line = r#"42["claude_event",{"password":"hunter22","input_tokens":12,"x":"\"token\":\"abcdefghij\""}]"#;
        let out = r.text(line);
        assert!(
            !out.contains("hunter22") && !out.contains("abcdefghij"),
            "{out}"
        );
        let json: Value = serde_json::from_str(&out[2..]).unwrap();
        assert_eq!(json[1]["password"], REDACTED, "{out}");
    }
}
