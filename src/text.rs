//! Text from outside (server payloads, log lines, files, process names) is hostile: a tool name
//! carrying `ESC ] 2 ; … BEL` retitles the terminal, one carrying `\n2026-… ERROR` forges a log
//! line. [`sanitize`] is the one function every such string passes through before it is drawn
//! or written to a log: control characters become visible escapes, everything else is kept.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every C0 and C1 control character and DEL made visible: `\e` for ESC, `\n`,
/// `\r`, `\t`, and `\xNN` / `\u{NN}` for the rest. Backslashes are kept as they are: the
/// result is for people to read, not to be parsed back.
#[must_use]
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\x1b' => out.push_str("\\e"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x80 && is_control(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F): the characters a terminal may act
/// on instead of showing. Also the bidirectional controls (which reorder what is shown, so a
/// name can read as something it is not) and the line and paragraph separators.
#[must_use]
pub fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
                // Invisible format characters: zero-width, soft hyphen, word joiners, BOM,
                // interlinear annotations, tags.
                | '\u{00ad}' | '\u{034f}' | '\u{180e}' | '\u{200b}'..='\u{200d}'
                | '\u{2060}'..='\u{2064}' | '\u{206a}'..='\u{206f}' | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}'
        )
}

/// [`sanitize`] line by line, keeping the line breaks: for multi-line text from outside (a
/// bundle section, a pretty-printed payload).
#[must_use]
pub fn sanitize_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| sanitize(line.strip_suffix('\r').unwrap_or(line)).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// [`sanitize`], owned.
#[must_use]
pub fn clean(text: &str) -> String {
    sanitize(text).into_owned()
}

/// At most `max` characters of `text`, with `…` when it was cut.
#[must_use]
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_newlines_and_c1_controls_become_visible() {
        let hostile =
            "a\x1b]2;PWNED\x07\x1b[2J\x1b[31mb\r\nc\u{9b}31m\x7f\u{202e}\u{200f}\u{61c}\u{2028}";
        let shown = sanitize(hostile);
        assert_eq!(
            shown,
            "a\\e]2;PWNED\\x07\\e[2J\\e[31mb\\r\\nc\\u{9b}31m\\x7f\\u{202e}\\u{200f}\\u{61c}\\u{2028}"
        );
        assert!(!shown.chars().any(is_control));
        assert_eq!(sanitize_lines("a\x1b\r\nb\tc\n"), "a\\e\nb\\tc\n");
    }

    #[test]
    fn ordinary_text_is_borrowed_untouched() {
        assert!(matches!(sanitize("Bash ✓ ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
