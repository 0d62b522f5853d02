//! Resetting the `socketio:` section of `~/.claude/config.yaml` to the defaults: back up first,
//! keep every other key, write atomically, show what changed.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_yaml::{Mapping, Value};

use super::Audit;
use crate::config::{DEFAULT_YAML, SECTION};

/// What a reset would do, worked out before anything is touched.
#[derive(Debug)]
pub struct Plan {
    /// The file.
    pub path: PathBuf,
    /// Whether it exists (else it is created with only the section).
    pub exists: bool,
    /// The new text.
    pub new_text: String,
    /// `- key: old` / `+ key: new` lines for the section; empty when nothing changes.
    pub diff: Vec<String>,
}

fn defaults_section() -> anyhow::Result<Value> {
    let doc: Value =
        serde_yaml::from_str(DEFAULT_YAML).context("the built-in defaults do not parse")?;
    doc.get(SECTION)
        .cloned()
        .context("the built-in defaults have no socketio section")
}

/// Works out the reset of `path`. Refuses a file that is not a YAML mapping: resetting it would
/// lose what the user has.
///
/// # Errors
/// When the file cannot be read or is not a YAML mapping.
pub fn plan(path: &Path) -> anyhow::Result<Plan> {
    let (exists, mut doc) = match std::fs::read_to_string(path) {
        Ok(text) => match serde_yaml::from_str::<Value>(&text) {
            Ok(Value::Mapping(m)) => (true, m),
            Ok(Value::Null) => (true, Mapping::new()),
            Ok(_) => bail!(
                "'{}' is not a YAML mapping; nothing was changed (move it away to start afresh)",
                path.display()
            ),
            Err(e) => bail!(
                "'{}' is not valid YAML ({e}); nothing was changed: fix it or move it away",
                path.display()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (false, Mapping::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read '{}'", path.display())),
    };
    let new = defaults_section()?;
    let old = doc.get(SECTION).cloned().unwrap_or(Value::Null);
    let diff = section_diff(&old, &new);
    doc.insert(Value::String(SECTION.into()), new);
    let new_text =
        serde_yaml::to_string(&Value::Mapping(doc)).context("cannot write the new YAML")?;
    Ok(Plan {
        path: path.to_owned(),
        exists,
        new_text,
        diff,
    })
}

fn line(key: &Value, value: &Value) -> String {
    let key = key
        .as_str()
        .map_or_else(|| format!("{key:?}"), str::to_owned);
    let value = serde_yaml::to_string(value)
        .unwrap_or_default()
        .trim()
        .replace('\n', " ");
    format!("{key}: {value}")
}

fn section_diff(old: &Value, new: &Value) -> Vec<String> {
    let empty = Mapping::new();
    let old = old.as_mapping().unwrap_or(&empty);
    let new = new.as_mapping().unwrap_or(&empty);
    let mut diff = Vec::new();
    for (k, v) in old {
        match new.get(k) {
            Some(n) if n == v => {}
            Some(n) => {
                diff.push(format!("- {}", line(k, v)));
                diff.push(format!("+ {}", line(k, n)));
            }
            None => diff.push(format!("- {}", line(k, v))),
        }
    }
    for (k, n) in new {
        if !old.contains_key(k) {
            diff.push(format!("+ {}", line(k, n)));
        }
    }
    diff
}

/// Carries out `plan`: a timestamped backup, then the new text via a temporary file and a
/// rename, keeping the file's permissions. Returns the backup's path.
///
/// # Errors
/// When the backup or the write fails; the original is then untouched.
pub fn apply(plan: &Plan, audit: &Audit) -> anyhow::Result<Option<PathBuf>> {
    let shown = plan.path.display().to_string();
    let backup = if plan.exists {
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .replace(':', "");
        let backup = plan.path.with_file_name(format!(
            "{}.backup-{stamp}",
            plan.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("config.yaml")
        ));
        std::fs::copy(&plan.path, &backup)
            .with_context(|| format!("cannot back up '{shown}'; nothing was changed"))?;
        audit.step(
            "reset-config",
            &shown,
            &format!("backed up to {}", backup.display()),
        );
        Some(backup)
    } else {
        None
    };
    if let Some(dir) = plan.path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create '{}'", dir.display()))?;
    }
    let tmp = plan
        .path
        .with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, &plan.new_text)
        .with_context(|| format!("cannot write '{}'", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(&plan.path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, &plan.path).with_context(|| format!("cannot replace '{shown}'"))?;
    audit.step(
        "reset-config",
        &shown,
        &format!(
            "socketio section reset to the defaults ({} line(s) changed)",
            plan.diff.len()
        ),
    );
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_section_changes_and_a_backup_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        let original = "# mine\nui:\n  theme: dark\nsocketio:\n  port: 9000\n  colour: red\nagents:\n  - a\n  - b\n";
        std::fs::write(&path, original).unwrap();
        let plan = plan(&path).unwrap();
        assert!(
            plan.diff.contains(&"- port: 9000".to_owned())
                && plan.diff.contains(&"+ port: 8765".to_owned()),
            "{:?}",
            plan.diff
        );
        assert!(plan.diff.contains(&"- colour: red".to_owned()));
        let audit = Audit::beside(&dir.path().join("logs/server.log"));
        let backup = apply(&plan, &audit).unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(&backup).unwrap(),
            original,
            "the backup is the original, byte for byte"
        );
        let now: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(now["ui"]["theme"], "dark");
        assert_eq!(now["agents"][1], "b");
        assert_eq!(now["socketio"]["port"], 8765);
        assert_eq!(now["socketio"].get("colour"), None);
        assert_eq!(now["socketio"]["cors_origins"][0], "http://localhost:3000");
        assert!(
            std::fs::read_to_string(audit.path())
                .unwrap()
                .contains("backed up to")
        );
    }

    #[test]
    fn a_broken_file_is_refused_untouched_and_a_missing_one_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, "socketio: [oops\n").unwrap();
        let err = plan(&path).unwrap_err().to_string();
        assert!(
            err.contains("is not valid YAML") && err.contains("nothing was changed"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "socketio: [oops\n");
        let fresh = dir.path().join("new/config.yaml");
        let plan = plan(&fresh).unwrap();
        assert!(!plan.exists);
        assert_eq!(
            apply(&plan, &Audit::beside(&dir.path().join("server.log"))).unwrap(),
            None
        );
        assert!(
            std::fs::read_to_string(&fresh)
                .unwrap()
                .starts_with("socketio:\n")
        );
    }
}
