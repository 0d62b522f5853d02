//! The YAML file layer: the `socketio:` section of `~/.claude/config.yaml` (or `--config`).
//!
//! `yaml_serde` checks the syntax and gives the values but no positions for them, so the line
//! of each key comes from [`key_lines`], which reads the block layout the guide's reset script
//! writes. Flow-style sections (`socketio: {port: 1}`) fall back to the section's own line.

use std::collections::HashMap;

use serde_yaml::Value;

use super::parse::Raw;

/// The section of the file mpm-top reads; every other key is left alone.
pub const SECTION: &str = "socketio";

/// One `key: value` from the section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key as written.
    pub name: String,
    /// The value, reduced to what [`super::parse::parse`] takes.
    pub raw: Raw,
    /// 1-based line of the key, when it could be located.
    pub line: Option<usize>,
}

/// Why the file's settings could not be used at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblem {
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// 1-based column, when the problem has one.
    pub column: Option<usize>,
    /// What was wrong and what to do.
    pub message: String,
}

/// Reads the `socketio:` section of a YAML document. A file without the section gives no entries.
///
/// # Errors
/// When the text is not YAML, or the document or section is not a mapping.
pub fn parse_section(text: &str) -> Result<Vec<Entry>, FileProblem> {
    parse_named_section(text, SECTION)
}

/// Reads the section called `section` of a YAML document (mpm-top's own file has `alerts:`).
///
/// # Errors
/// When the text is not YAML, or the document or section is not a mapping.
pub fn parse_named_section(text: &str, section_name: &str) -> Result<Vec<Entry>, FileProblem> {
    let doc: Value = serde_yaml::from_str(text).map_err(|e| {
        let at = e.location();
        FileProblem {
            line: at.as_ref().map(serde_yaml::Location::line),
            column: at.as_ref().map(serde_yaml::Location::column),
            message: format!(
                "is not valid YAML ({}); fix the syntax",
                strip_position(&e.to_string())
            ),
        }
    })?;
    let whole = |kind: &str| FileProblem {
        line: None,
        column: None,
        message: format!(
            "holds {kind} at the top level, expected a mapping (with the '{section_name}:' section)"
        ),
    };
    let section = match &doc {
        Value::Null => return Ok(Vec::new()),
        Value::Mapping(map) => map.get(section_name),
        other => return Err(whole(kind_of(other))),
    };
    let (section_line, lines) = section_key_lines(text, section_name);
    let map = match section {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Mapping(map)) => map,
        Some(other) => {
            return Err(FileProblem {
                line: section_line,
                column: None,
                message: format!(
                    "has '{section_name}:' set to {}, expected a mapping of settings",
                    kind_of(other)
                ),
            });
        }
    };
    Ok(map
        .iter()
        .map(|(k, v)| {
            let name = scalar_text(k).unwrap_or_else(|| format!("{k:?}"));
            let line = lines.get(&name).copied().or(section_line);
            Entry {
                raw: raw_of(v),
                name,
                line,
            }
        })
        .collect())
}

/// `yaml_serde` appends "at line L column C" to its messages; the finding shows it as `path:L:C`.
fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn raw_of(value: &Value) -> Raw {
    match value {
        Value::Null => Raw::Null,
        Value::Sequence(items) => items
            .iter()
            .map(scalar_text)
            .collect::<Option<Vec<_>>>()
            .map_or(Raw::Other("a list holding lists or mappings"), Raw::List),
        Value::Tagged(tagged) => raw_of(&tagged.value),
        other => scalar_text(other).map_or(Raw::Other(kind_of(other)), Raw::Text),
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The line of the `socketio:` key and of each key directly inside its block, 1-based.
#[must_use]
pub fn key_lines(text: &str) -> (Option<usize>, HashMap<String, usize>) {
    section_key_lines(text, SECTION)
}

/// The line of the `section:` key and of each key directly inside its block, 1-based.
fn section_key_lines(text: &str, section: &str) -> (Option<usize>, HashMap<String, usize>) {
    let mut section_line = None;
    let mut child_indent = None;
    let mut lines = HashMap::new();
    let mut inside = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if indent == 0 {
            inside = key_of(trimmed).is_some_and(|k| k == section);
            if inside {
                section_line = Some(index + 1);
            }
        } else if inside
            && *child_indent.get_or_insert(indent) == indent
            && let Some(key) = key_of(trimmed)
        {
            lines.entry(key.to_owned()).or_insert(index + 1);
        }
    }
    (section_line, lines)
}

fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once(':')?;
    Some(key.trim().trim_matches(|c| c == '"' || c == '\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# user config\nother:\n  port: 1\nsocketio:\n  host: example\n\n  # comment\n  port: \"abc\"\n  cors_origins:\n    - http://a:1\n    - http://b:2\nlast: x\n";

    #[test]
    fn entries_carry_their_lines_and_other_sections_are_ignored() {
        let entries = parse_section(FILE).unwrap();
        let by_name: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.line)).collect();
        assert_eq!(
            by_name,
            [
                ("host", Some(5)),
                ("port", Some(8)),
                ("cors_origins", Some(9))
            ]
        );
        assert_eq!(entries[1].raw, Raw::Text("abc".into()));
        assert_eq!(
            entries[2].raw,
            Raw::List(vec!["http://a:1".into(), "http://b:2".into()])
        );
    }

    #[test]
    fn flow_style_falls_back_to_the_section_line() {
        let entries = parse_section("a: 1\nsocketio: {port: 9000}\n").unwrap();
        assert_eq!(entries[0].line, Some(2));
        assert_eq!(entries[0].raw, Raw::Text("9000".into()));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let problem = parse_section("socketio:\n  port: [1, 2\n  host: x\n").unwrap_err();
        assert!(
            problem.line.is_some() && problem.column.is_some(),
            "{problem:?}"
        );
        assert!(
            problem.message.starts_with("is not valid YAML ("),
            "{}",
            problem.message
        );
    }

    #[test]
    fn wrong_shapes_are_problems_and_absent_sections_are_empty() {
        assert!(
            parse_section("- a\n- b\n")
                .unwrap_err()
                .message
                .contains("a list at the top level")
        );
        let p = parse_section("x: 1\nsocketio: 5\n").unwrap_err();
        assert_eq!(p.line, Some(2));
        assert!(p.message.contains("set to a number"));
        assert_eq!(parse_section("x: 1\n").unwrap(), []);
        assert_eq!(parse_section("").unwrap(), []);
        assert_eq!(parse_section("socketio:\n").unwrap(), []);
    }
}
