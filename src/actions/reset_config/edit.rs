//! Replacing the `socketio:` block of a YAML file as text: every byte outside the block stays
//! as it was (comments, anchors, flow style, quoting, key order, line endings, the final
//! newline). Comments are data to the person who wrote them; a round trip through a YAML
//! library would lose them, expand anchors, and retype `0o755` or `0777` for `PyYAML`.
//!
//! When the block cannot be cut out as text safely, the edit is refused with what to change.

use crate::config::{DEFAULT_YAML, SECTION};

/// Where the block is: byte offsets of its first line and of the line after its last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Block {
    start: usize,
    end: usize,
}

/// The lines of `text` with their byte offsets (each line includes its line ending).
fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        out.push((at, line));
        at += line.len();
    }
    out
}

/// A top-level key line (`key:` at column 0), with the text after the colon.
fn top_level_key(line: &str) -> Option<(&str, &str)> {
    let first = line.chars().next()?;
    if first.is_whitespace() || first == '#' || first == '-' {
        return None;
    }
    let (key, rest) = line.split_once(':')?;
    let key = key.trim().trim_matches(['"', '\'']);
    Some((key, rest))
}

/// Whether a line ends the block: anything at column 0 that is not a comment.
fn ends_block(line: &str) -> bool {
    let trimmed = line.trim_end_matches(['\n', '\r']);
    !trimmed.is_empty() && !trimmed.starts_with([' ', '\t', '#'])
}

fn find(text: &str) -> Result<Option<Block>, String> {
    let all = lines(text);
    // One `---` opening the document (after comments) is one document, not two.
    let opening = all
        .iter()
        .position(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .filter(|i| all[*i].1.trim_end() == "---");
    if all
        .iter()
        .enumerate()
        .any(|(i, (_, l))| Some(i) != opening && (l.starts_with("---") || l.starts_with("...")))
    {
        return Err(
            "it holds more than one YAML document (a '---' or '...' line): reset it by hand".into(),
        );
    }
    let heads: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, (_, l))| top_level_key(l).is_some_and(|(k, _)| k == SECTION))
        .map(|(i, _)| i)
        .collect();
    let Some(&head) = heads.first() else {
        return Ok(None);
    };
    if heads.len() > 1 {
        return Err(format!(
            "'{SECTION}:' appears {} times: keep one, then reset",
            heads.len()
        ));
    }
    let after_colon = top_level_key(all[head].1).map_or("", |(_, rest)| rest);
    let inline = after_colon.split(" #").next().unwrap_or_default().trim();
    if !inline.is_empty() && !inline.starts_with('#') {
        return Err(format!(
            "'{SECTION}: {inline}' is written on one line (flow style, an anchor, an alias or a tag): write it as an indented block, then reset"
        ));
    }
    let mut last = head;
    for (i, (_, line)) in all.iter().enumerate().skip(head + 1) {
        if ends_block(line) {
            break;
        }
        let t = line.trim();
        let indented = line.starts_with([' ', '\t']);
        if !t.is_empty() && (indented || !t.starts_with('#')) {
            last = i; // indented content (comments at column 0 after it go with what follows)
        }
    }
    let end = all.get(last + 1).map_or(text.len(), |(at, _)| *at);
    Ok(Some(Block {
        start: all[head].0,
        end,
    }))
}

/// The `socketio:` block of `text` as written, when it has one that can be cut out as text.
#[must_use]
pub fn section_text(text: &str) -> Option<&str> {
    let block = find(text).ok()??;
    Some(&text[block.start..block.end])
}

/// Anchors (`&name`) and aliases (`*name`) in `text`, roughly: enough to see one cross the
/// block's edge.
fn marks(text: &str, sigil: char) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split(" #").next().unwrap_or_default();
        let mut quote = None;
        for (i, c) in code.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, c) if c == sigil => {
                    let before = code[..i].chars().last();
                    if before.is_none_or(|b| b == ' ' || b == ':' || b == '-' || b == '[') {
                        let name: String = code[i + 1..]
                            .chars()
                            .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
                            .collect();
                        if !name.is_empty() {
                            out.push(name);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The default block, as shipped in `assets/config.default.yaml`, with `newline` endings.
fn default_block(newline: &str) -> String {
    let start = DEFAULT_YAML
        .find(&format!("\n{SECTION}:"))
        .map_or(0, |i| i + 1);
    let block = &DEFAULT_YAML[start..];
    if newline == "\n" {
        block.to_owned()
    } else {
        block.replace('\n', newline)
    }
}

/// `text` with its `socketio:` block replaced by the defaults (or the defaults appended when
/// it has none). Everything else is the same bytes.
///
/// # Errors
/// When the block cannot be replaced as text; the message says what to change.
pub fn replace_block(text: &str) -> Result<String, String> {
    if text.starts_with('\u{feff}') {
        return Err("it starts with a byte-order mark: save it as plain UTF-8, then reset".into());
    }
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let fresh = default_block(newline);
    let Some(block) = find(text)? else {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(newline);
        }
        out.push_str(&fresh);
        return Ok(out);
    };
    let (before, inside, after) = (
        &text[..block.start],
        &text[block.start..block.end],
        &text[block.end..],
    );
    let outside = format!("{before}{after}");
    let anchors_inside = marks(inside, '&');
    let aliases_outside = marks(&outside, '*');
    if let Some(name) = anchors_inside.iter().find(|a| aliases_outside.contains(a)) {
        return Err(format!(
            "the anchor '&{name}' in the {SECTION}: block is used elsewhere ('*{name}'): copy its value there, then reset"
        ));
    }
    let anchors_outside = marks(&outside, '&');
    if let Some(name) = marks(inside, '*')
        .iter()
        .find(|a| anchors_outside.contains(a))
    {
        return Err(format!(
            "the {SECTION}: block uses '*{name}', an anchor defined outside it: write the value in place, then reset"
        ));
    }
    let mut block_text = fresh;
    if !inside.ends_with('\n') {
        // The block was the end of a file with no final newline: keep it that way.
        block_text = block_text.trim_end_matches(['\n', '\r']).to_owned();
    }
    Ok(format!("{before}{block_text}{after}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINE: &str = "# my settings\nui: &ui\n  theme: dark   # keep\nsocketio:\n  port: 9000\n  # a note\n  cors_origins: [a, b]\n\n# next: agents\nagents: {a: 1, b: '0o755'}\nmode: 0777\nalias: *ui\n";

    #[test]
    fn only_the_block_changes_byte_for_byte() {
        let out = replace_block(MINE).unwrap();
        let (before, after) = MINE.split_once("socketio:").unwrap();
        assert!(out.starts_with(before));
        let tail = &after[after.find("\n\n# next").unwrap()..];
        assert!(out.ends_with(tail), "{out}");
        assert!(out.contains("socketio:\n  host: localhost\n  port: 8765"));
        assert!(!out.contains("9000") && !out.contains("a note"));
    }

    #[test]
    fn one_document_opened_with_three_dashes_is_fine() {
        let out = replace_block("# c\n---\nsocketio:\n  port: 1\n").unwrap();
        assert!(out.starts_with("# c\n---\nsocketio:\n  host: localhost"));
    }

    #[test]
    fn line_endings_and_a_missing_final_newline_are_kept() {
        let crlf = "a: 1\r\nsocketio:\r\n  port: 1\r\nb: 2\r\n";
        let out = replace_block(crlf).unwrap();
        assert!(out.starts_with("a: 1\r\nsocketio:\r\n"));
        assert!(out.ends_with("\r\nb: 2\r\n"));
        assert!(!out.replace("\r\n", "").contains('\n'));
        let last = "a: 1\nsocketio:\n  port: 1";
        assert!(!replace_block(last).unwrap().ends_with('\n'));
        let none = "a: 1";
        assert!(
            replace_block(none)
                .unwrap()
                .starts_with("a: 1\nsocketio:\n")
        );
    }

    #[test]
    fn what_cannot_be_cut_as_text_is_refused_with_what_to_change() {
        for (text, says) in [
            ("socketio: {port: 1}\n", "written on one line"),
            (
                "socketio: &s\n  port: 1\nother: *s\n",
                "written on one line",
            ),
            ("socketio:\n  port: &p 1\nother: *p\n", "used elsewhere"),
            ("base: &b 9\nsocketio:\n  port: *b\n", "defined outside"),
            (
                "socketio:\n  port: 1\nsocketio:\n  port: 2\n",
                "appears 2 times",
            ),
            (
                "a: 1\n---\nsocketio:\n  port: 1\n",
                "more than one YAML document",
            ),
        ] {
            let why = replace_block(text).unwrap_err();
            assert!(why.contains(says), "{text:?}: {why}");
        }
    }
}
