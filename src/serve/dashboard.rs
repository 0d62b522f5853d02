//! `serve --dashboard [DIR]`: Claude MPM's own web dashboard (its Svelte build), served beside
//! the monitor so the page and its socket come from one place.
//!
//! Without DIR, the build inside an installed claude-mpm is used. It is found without running
//! anything: `claude-mpm` on PATH → the Python its first line names → that Python's
//! site-packages → `claude_mpm/dashboard/static/svelte-build`.
//!
//! The page hard-codes `http://localhost:8765` for its socket and its API calls, so it is live
//! only when serve runs on 8765; serve says so when it starts elsewhere.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, get};
use serde_json::json;
use tower_http::services::{ServeDir, ServeFile};

/// Where Claude MPM's package keeps the dashboard build.
const BUILD_IN_PACKAGE: &str = "claude_mpm/dashboard/static/svelte-build";

/// The port the dashboard's page connects to, whatever served it.
pub const DASHBOARD_PORT: u16 = 8765;

/// A dashboard build to serve.
#[derive(Clone, Debug)]
pub struct Dashboard {
    /// The build directory (holding `index.html`, `_app/`, `favicon.svg`).
    pub dir: PathBuf,
    /// claude-mpm's version and build number, when the build is inside its package.
    pub package: Option<(String, u64)>,
}

impl Dashboard {
    /// The build in `dir`.
    ///
    /// # Errors
    /// When `dir` has no `index.html`.
    pub fn at(dir: &Path) -> anyhow::Result<Dashboard> {
        if !dir.join("index.html").is_file() {
            bail!(
                "'{}' is not a dashboard build: it has no index.html",
                dir.display()
            );
        }
        Ok(Dashboard {
            dir: dir.to_owned(),
            package: package_version(dir),
        })
    }

    /// The build inside the claude-mpm installed on `path` (the value of PATH).
    ///
    /// # Errors
    /// When there is no `claude-mpm` on PATH, or its Python's packages hold no build; the
    /// message says where it looked.
    pub fn installed(path: &std::ffi::OsStr) -> anyhow::Result<Dashboard> {
        let script = std::env::split_paths(path)
            .map(|dir| dir.join("claude-mpm"))
            .find(|p| p.is_file())
            .context("no claude-mpm on PATH: install claude-mpm, or give the build's directory (serve --dashboard DIR)")?;
        // pipx and `pip install --user` put a symlink on PATH; the script it names sits in the
        // environment whose Python runs it.
        let script = std::fs::canonicalize(&script).unwrap_or(script);
        let python = interpreter(&script, path)?;
        // A virtualenv's bin/python is itself a symlink to the system Python: its prefix is
        // where it sits, not where it points.
        let prefix = python
            .parent()
            .and_then(Path::parent)
            .context("the Python has no prefix")?;
        let mut tried = Vec::new();
        for lib in [prefix.join("lib"), prefix.join("lib64")] {
            let Ok(entries) = std::fs::read_dir(&lib) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if !name.to_string_lossy().starts_with("python3") {
                    continue;
                }
                for packages in ["site-packages", "dist-packages"] {
                    let build = entry.path().join(packages).join(BUILD_IN_PACKAGE);
                    if build.join("index.html").is_file() {
                        return Dashboard::at(&build);
                    }
                    tried.push(build);
                }
            }
        }
        let looked = if tried.is_empty() {
            format!("there is no {}/lib/python3*", prefix.display())
        } else {
            let places: Vec<String> = tried.iter().map(|p| format!("'{}'", p.display())).collect();
            format!("looked in {}", places.join(", "))
        };
        bail!(
            "claude-mpm at '{}' runs '{}', whose packages hold no dashboard build ({looked}); give the build's directory (serve --dashboard DIR)",
            script.display(),
            python.display(),
        )
    }

    /// The routes: the page, its assets, and the API calls it makes. The routes that belong to
    /// Claude MPM (its config editor, its file browser) answer 501 with the reason.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let index = ServeFile::new(self.dir.join("index.html"));
        Router::new()
            .route_service("/", index)
            .route_service("/favicon.svg", ServeFile::new(self.dir.join("favicon.svg")))
            .nest_service("/_app", ServeDir::new(self.dir.join("_app")))
            .route("/api/working-directory", get(working_directory))
            .route("/api/config", any(belongs_to_claude_mpm))
            .route("/api/config/{*rest}", any(belongs_to_claude_mpm))
            .route("/api/files", any(belongs_to_claude_mpm))
            .route("/api/file", any(belongs_to_claude_mpm))
            .route("/api/file/{*rest}", any(belongs_to_claude_mpm))
            .route("/api/git-history", any(belongs_to_claude_mpm))
    }
}

/// The Python a script's `#!` line runs (`#!/usr/bin/env python3` is looked up on `path`).
fn interpreter(script: &Path, path: &std::ffi::OsStr) -> anyhow::Result<PathBuf> {
    use std::io::{BufRead as _, BufReader, Read as _};
    let file = std::fs::File::open(script)
        .with_context(|| format!("cannot read '{}'", script.display()))?;
    let mut first = String::new();
    // At most one short line: whatever sits on PATH under that name costs nothing to check.
    BufReader::new(file.take(4096))
        .read_line(&mut first)
        .with_context(|| format!("cannot read '{}'", script.display()))?;
    let line = first
        .strip_prefix("#!")
        .with_context(|| format!("'{}' does not start with #!", script.display()))?;
    let mut words = line.split_whitespace();
    let program = words.next().context("an empty #! line")?;
    if Path::new(program).file_name().is_some_and(|n| n == "env") {
        let name = words.next().context("#!/usr/bin/env names no program")?;
        return std::env::split_paths(path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .with_context(|| format!("'{name}' (from the #! line of claude-mpm) is not on PATH"));
    }
    Ok(PathBuf::from(program))
}

/// claude-mpm's `VERSION` and `BUILD_NUMBER`, when `dir` is the build inside its package.
fn package_version(dir: &Path) -> Option<(String, u64)> {
    let package = dir.ancestors().nth(3)?;
    if package.file_name()? != "claude_mpm" {
        return None;
    }
    let read = |name: &str| std::fs::read_to_string(package.join(name)).ok();
    let version = read("VERSION")?.trim().to_owned();
    let build = read("BUILD_NUMBER")?.trim().parse().ok()?;
    Some((version, build))
}

/// As Claude MPM answers it: the server's working directory.
async fn working_directory() -> Response {
    match std::env::current_dir() {
        Ok(dir) => Json(json!({"working_directory": dir, "success": true})).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"success": false, "error": format!("cannot read the working directory: {e}")})),
        )
            .into_response(),
    }
}

async fn belongs_to_claude_mpm() -> Response {
    let body = json!({
        "success": false,
        "error": "not implemented by mpm-top serve",
        "reason": "mpm-top serve is a monitor: it relays events but does not edit Claude MPM's configuration or browse files; run Claude MPM's own server for these",
    });
    (StatusCode::NOT_IMPLEMENTED, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn build_in(root: &Path) -> PathBuf {
        let package = root.join("lib/python3.13/site-packages/claude_mpm");
        let build = package.join("dashboard/static/svelte-build");
        std::fs::create_dir_all(build.join("_app")).unwrap();
        std::fs::write(build.join("index.html"), "<html></html>").unwrap();
        std::fs::write(package.join("VERSION"), "6.5.83\n").unwrap();
        std::fs::write(package.join("BUILD_NUMBER"), "419\n").unwrap();
        build
    }

    fn script(bin: &Path, first_line: &str) {
        std::fs::create_dir_all(bin).unwrap();
        let path = bin.join("claude-mpm");
        std::fs::write(&path, format!("{first_line}\nimport sys\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn the_installed_build_is_found_from_the_script_on_path_without_running_it() {
        let root = tempfile::tempdir().unwrap();
        let venv = root.path().join("venv");
        let build = build_in(&venv);
        script(
            &venv.join("bin"),
            &format!("#!{}/bin/python", venv.display()),
        );
        let found = Dashboard::installed(venv.join("bin").as_os_str()).unwrap();
        assert_eq!(found.dir, build);
        assert_eq!(found.package, Some(("6.5.83".to_owned(), 419)));
    }

    #[test]
    fn env_shebangs_are_followed_on_path() {
        let root = tempfile::tempdir().unwrap();
        let prefix = root.path().join("usr");
        build_in(&prefix);
        std::fs::create_dir_all(prefix.join("bin")).unwrap();
        std::fs::write(prefix.join("bin/python3"), "").unwrap();
        script(&root.path().join("scripts"), "#!/usr/bin/env python3");
        let path = std::env::join_paths([root.path().join("scripts"), prefix.join("bin")]).unwrap();
        assert!(Dashboard::installed(&path).is_ok());
    }

    #[test]
    fn what_is_missing_is_said() {
        let root = tempfile::tempdir().unwrap();
        let none = Dashboard::installed(root.path().as_os_str()).unwrap_err();
        assert!(
            none.to_string().starts_with("no claude-mpm on PATH"),
            "{none}"
        );
        script(root.path(), "#!/nowhere/bin/python");
        let empty = Dashboard::installed(root.path().as_os_str()).unwrap_err();
        assert!(
            empty.to_string().contains(
                "whose packages hold no dashboard build (there is no /nowhere/lib/python3*)"
            ),
            "{empty}"
        );
        let not_a_build = Dashboard::at(root.path()).unwrap_err();
        assert!(
            not_a_build.to_string().contains("has no index.html"),
            "{not_a_build}"
        );
    }
}
