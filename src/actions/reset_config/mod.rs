//! Resetting the `socketio:` section of `~/.claude/config.yaml` to the defaults. The section's
//! lines are replaced as text ([`edit`]): every other byte of the file stays as it was. A
//! backup with a name of its own comes first, the write is atomic, a symlinked file is written
//! through its link (which stays a link), and nothing happens when the file changed since the
//! plan was shown.

mod edit;

pub use edit::section_text;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_yaml::{Mapping, Value};

use super::Audit;
use crate::config::SECTION;

/// What a reset would do, worked out before anything is touched.
#[derive(Debug)]
pub struct Plan {
    /// The file, as named.
    pub path: PathBuf,
    /// The file written: `path`, or what its symlink points at.
    pub real: PathBuf,
    /// Whether it exists (else it is created with only the section).
    pub exists: bool,
    /// Its bytes when planned: the write is refused if they changed meanwhile.
    pub original: Vec<u8>,
    /// The new text.
    pub new_text: String,
    /// `- key: old` / `+ key: new` lines for the section; empty when nothing changes.
    pub diff: Vec<String>,
}

fn mapping(text: &str, path: &Path) -> anyhow::Result<Mapping> {
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(_) => bail!(
            "'{}' is not a YAML mapping; nothing was changed (move it away to start afresh)",
            path.display()
        ),
        Err(e) => bail!(
            "'{}' is not valid YAML ({e}); nothing was changed: fix it or move it away",
            path.display()
        ),
    }
}

/// The file a write to `path` must reach: through a symlink (or a chain of them) to its target.
fn through_links(path: &Path) -> anyhow::Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path)
            .with_context(|| format!("'{}' is a symlink to nothing", path.display())),
        _ => Ok(path.to_owned()),
    }
}

/// Works out the reset of `path`. Refuses a file that is not a YAML mapping, or whose section
/// cannot be replaced as text: resetting it would lose what the user has.
///
/// # Errors
/// When the file cannot be read, is not a YAML mapping, or cannot be edited as text.
pub fn plan(path: &Path) -> anyhow::Result<Plan> {
    let real = through_links(path)?;
    if let Ok(meta) = std::fs::metadata(&real) {
        use std::os::unix::fs::MetadataExt as _;
        if !meta.is_file() {
            bail!(
                "'{}' is not a regular file (it is {}); nothing was changed",
                path.display(),
                if real == Path::new("/dev/null") {
                    "/dev/null: the configuration is switched off that way".to_owned()
                } else {
                    format!("{} there", real.display())
                }
            );
        }
        if meta.permissions().mode() & 0o200 == 0 {
            bail!(
                "'{}' is read-only: make it writable to reset it; nothing was changed",
                path.display()
            );
        }
        if meta.nlink() > 1 {
            bail!(
                "'{}' has {} hard links: a reset would part them; nothing was changed",
                path.display(),
                meta.nlink()
            );
        }
    }
    let (exists, original) = match std::fs::read(&real) {
        Ok(bytes) => (true, bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (false, Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read '{}'", path.display())),
    };
    let text = std::str::from_utf8(&original).map_err(|e| {
        anyhow::anyhow!(
            "'{}' is not UTF-8 text ({e}); nothing was changed",
            path.display()
        )
    })?;
    let old = mapping(text, path)?;
    let new_text = edit::replace_block(text).map_err(|why| {
        anyhow::anyhow!(
            "cannot reset '{}': {why}; nothing was changed",
            path.display()
        )
    })?;
    let Ok(Value::Mapping(new)) = serde_yaml::from_str::<Value>(&new_text) else {
        bail!(
            "resetting '{}' as text would not leave valid YAML (a value there spans lines the edit cannot see); nothing was changed: reset it by hand",
            path.display()
        );
    };
    // The promise, checked: every other key keeps its value, and no key appears.
    for (key, value) in &old {
        if key.as_str() != Some(SECTION) && new.get(key) != Some(value) {
            bail!(
                "resetting '{}' would change its key {key:?}; nothing was changed",
                path.display()
            );
        }
    }
    if let Some(key) = new
        .keys()
        .find(|k| k.as_str() != Some(SECTION) && !old.contains_key(*k))
    {
        bail!(
            "resetting '{}' would add a key {key:?} (a value of the section spans lines); nothing was changed: reset it by hand",
            path.display()
        );
    }
    let diff = section_diff(
        old.get(SECTION).unwrap_or(&Value::Null),
        new.get(SECTION).unwrap_or(&Value::Null),
    );
    Ok(Plan {
        path: path.to_owned(),
        real,
        exists,
        original,
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

/// A new file in `dir` named `stem` (or `stem-2`, `stem-3`, …: never an existing one),
/// readable only by the user, holding `bytes`.
fn write_new(dir: &Path, stem: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    for n in 1..1000 {
        let name = if n == 1 {
            stem.to_owned()
        } else {
            format!("{stem}-{n}")
        };
        let path = dir.join(name);
        match crate::files::create_private(&path, bytes) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create '{}'", path.display())),
        }
    }
    bail!("no free name for '{stem}' in '{}'", dir.display())
}

/// Carries out `plan`: a backup of its own, then the new text through a temporary file in the
/// same directory and a rename, keeping the file's permissions (and its symlink). Returns the
/// backup's path.
///
/// # Errors
/// When the file changed since the plan, or the backup or the write fails; the original is then
/// untouched.
pub fn apply(plan: &Plan, audit: &Audit) -> anyhow::Result<Option<PathBuf>> {
    let shown = plan.path.display().to_string();
    let now = match std::fs::read(&plan.real) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read '{shown}'")),
    };
    if now.as_deref() != plan.exists.then_some(plan.original.as_slice()) {
        bail!("'{shown}' changed since the reset was planned; nothing was changed: look again");
    }
    let dir = plan
        .real
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create '{}'", dir.display()))?;
    let name = plan
        .real
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config.yaml")
        .to_owned();
    let backup = if plan.exists {
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .replace(':', "");
        let backup = write_new(&dir, &format!("{name}.backup-{stamp}"), &plan.original)
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
    let tmp = write_new(
        &dir,
        &format!(".{name}.reset-{}", std::process::id()),
        plan.new_text.as_bytes(),
    )?;
    // The file's permission bits, without setuid, setgid or sticky.
    let mode = std::fs::metadata(&plan.real).map_or(0o600, |m| m.permissions().mode() & 0o777);
    let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode));
    if let Err(e) = std::fs::rename(&tmp, &plan.real) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot replace '{shown}'"));
    }
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

    #[test]
    fn a_symlink_stays_a_link_and_two_resets_keep_two_backups() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("dotfiles")).unwrap();
        let target = dir.path().join("dotfiles/claude.yaml");
        let link = dir.path().join("config.yaml");
        let original = "# kept\nsocketio:\n  port: 9000\n";
        std::fs::write(&target, original).unwrap();
        std::os::unix::fs::symlink("dotfiles/claude.yaml", &link).unwrap();
        let audit = Audit::beside(&dir.path().join("server.log"));
        let first = apply(&plan(&link).unwrap(), &audit).unwrap().unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let now = std::fs::read_to_string(&target).unwrap();
        assert!(
            now.starts_with("# kept\nsocketio:\n  host: localhost"),
            "{now}"
        );
        // A second reset within the same second: a backup of its own.
        std::fs::write(&target, original).unwrap();
        let second = apply(&plan(&link).unwrap(), &audit).unwrap().unwrap();
        assert_ne!(first, second);
        assert_eq!(std::fs::read_to_string(&first).unwrap(), original);
        assert_eq!(std::fs::read_to_string(&second).unwrap(), original);
        assert_eq!(first.parent(), target.parent(), "beside the file itself");
        let mode = std::fs::metadata(&first).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_file_changed_since_the_plan_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, "socketio:\n  port: 9000\n").unwrap();
        let planned = plan(&path).unwrap();
        std::fs::write(&path, "socketio:\n  port: 9001\n# edited meanwhile\n").unwrap();
        let audit = Audit::beside(&dir.path().join("server.log"));
        let err = apply(&planned, &audit).unwrap_err().to_string();
        assert!(err.contains("changed since the reset was planned"), "{err}");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("edited meanwhile")
        );
    }

    #[test]
    fn what_a_text_edit_cannot_promise_is_refused_untouched() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        // A config switched off by a link to /dev/null is left switched off.
        let off = dir.path().join("off.yaml");
        std::os::unix::fs::symlink("/dev/null", &off).unwrap();
        let why = plan(&off).unwrap_err().to_string();
        assert!(why.contains("not a regular file"), "{why}");
        // A quoted value continuing at column 0 would turn into a key of its own.
        let spans = dir.path().join("spans.yaml");
        let text = "socketio:\n  host: \"x\nevil: 1 #\"\nkeep: 2\n";
        std::fs::write(&spans, text).unwrap();
        let why = plan(&spans).unwrap_err().to_string();
        assert!(why.contains("nothing was changed"), "{why}");
        assert_eq!(std::fs::read_to_string(&spans).unwrap(), text);
        // A read-only file is the user's decision.
        let locked = dir.path().join("locked.yaml");
        std::fs::write(&locked, "socketio:\n  port: 1\n").unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o444)).unwrap();
        let why = plan(&locked).unwrap_err().to_string();
        assert!(why.contains("read-only"), "{why}");
    }
}
