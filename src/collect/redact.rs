//! Keeping secrets out of the debug bundle: values of secret-looking names, bearer tokens and
//! API-key-looking strings become `[REDACTED]`, and the home directory becomes `~`.

use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Name fragments that mark a variable or key as secret.
const SECRET_WORDS: [&str; 6] = ["TOKEN", "SECRET", "KEY", "PASSWORD", "AUTH", "COOKIE"];

/// Whether a variable or key called `name` holds a secret.
#[must_use]
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

fn patterns() -> &'static [(Regex, &'static str)] {
    static PATTERNS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            // `Authorization: Bearer x`, `bearer=x`
            (r"(?i)\b(bearer)(\s+|=)[A-Za-z0-9._~+/=-]+", "$1$2[REDACTED]"),
            // `token=x`, `"api_key": "x"`, `password: x`, `Cookie: x`
            (r#"(?i)\b([A-Za-z_]*(?:token|secret|key|password|passwd|auth|cookie)[A-Za-z_]*)("?\s*[=:]\s*"?)[^\s",}]+"#, "$1$2[REDACTED]"),
            // Provider keys: OpenAI/Anthropic style, GitHub, Slack, AWS.
            (r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}", REDACTED),
            (r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}", REDACTED),
            (r"\bxox[abpr]-[A-Za-z0-9-]{10,}", REDACTED),
            (r"\bAKIA[0-9A-Z]{16}\b", REDACTED),
        ]
        .into_iter()
        .filter_map(|(re, with)| Some((Regex::new(re).ok()?, with)))
        .collect()
    })
}

/// Redacts text, counting what it replaced.
#[derive(Debug)]
pub struct Redactor {
    home: Option<String>,
    /// Secrets replaced so far.
    pub count: usize,
}

impl Redactor {
    /// A redactor that also writes `home` as `~`.
    #[must_use]
    pub fn new(home: Option<&Path>) -> Redactor {
        let home = home
            .map(|h| h.display().to_string())
            .filter(|h| h.len() > 1);
        Redactor { home, count: 0 }
    }

    /// `text` with secrets replaced and the home directory shown as `~`.
    pub fn text(&mut self, text: &str) -> String {
        let mut out = text.to_owned();
        for (re, with) in patterns() {
            let found = re
                .find_iter(&out)
                .filter(|m| !m.as_str().ends_with(REDACTED))
                .count();
            if found > 0 {
                self.count += found;
                out = re.replace_all(&out, *with).into_owned();
            }
        }
        match &self.home {
            Some(home) => out.replace(home.as_str(), "~"),
            None => out,
        }
    }

    /// `NAME=value`, with the value hidden when the name is secret.
    pub fn variable(&mut self, name: &str, value: &str) -> String {
        if is_secret_name(name) {
            self.count += 1;
            format!("{name}={REDACTED}")
        } else {
            self.text(&format!("{name}={value}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_of_every_kind_are_replaced_and_counted() {
        let mut r = Redactor::new(Some(Path::new("/home/alice")));
        let line = "GET /x Authorization: Bearer abc.def-ghi token=t0k3n key sk-ant-api03-AAAAAAAAAAAAAAAAAAAA ghp_0123456789abcdefghijABCD in /home/alice/proj";
        let out = r.text(line);
        for secret in [
            "abc.def-ghi",
            "t0k3n",
            "sk-ant-api03",
            "ghp_0123",
            "/home/alice",
        ] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(
            out.starts_with("GET /x Authorization: [REDACTED]") && out.ends_with("in ~/proj"),
            "{out}"
        );
        assert!(r.count >= 4, "{}", r.count);
        assert_eq!(Redactor::new(None).text("Bearer abc"), "Bearer [REDACTED]");
        assert_eq!(
            r.text("  api_key: \"xyz\"\n"),
            "  api_key: \"[REDACTED]\"\n"
        );
        assert_eq!(
            r.variable("SOCKETIO_AUTH_TOKEN", "s3cret"),
            "SOCKETIO_AUTH_TOKEN=[REDACTED]"
        );
        assert_eq!(r.variable("SOCKETIO_PORT", "8765"), "SOCKETIO_PORT=8765");
        assert_eq!(
            r.text("INFO connect sid=abc clients=1"),
            "INFO connect sid=abc clients=1"
        );
    }
}
