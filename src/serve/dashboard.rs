//! `serve --dashboard [DIR]`: Claude MPM's own web dashboard (its Svelte build), served beside
//! the monitor so the page and its socket come from one place.
//!
//! Without DIR, the build inside an installed claude-mpm is used. It is found without running
//! anything: `claude-mpm` on PATH → the Python its first line names → that Python's
//! site-packages → `claude_mpm/dashboard/static/svelte-build`.
//!
//! The page hard-codes `http://localhost:8765` for its socket and its API calls, so it is live
//! only when serve runs on 8765; serve says so when it starts elsewhere.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, get};
use serde_json::json;
use tower_http::services::ServeFile;

/// Where Claude MPM's package keeps the dashboard build.
const BUILD_IN_PACKAGE: &str = "claude_mpm/dashboard/static/svelte-build";

/// The port the dashboard's page connects to, whatever served it.
pub const DASHBOARD_PORT: u16 = 8765;

/// Files of `_app/` indexed at most, and how deep; Claude MPM's build has a few hundred files,
/// two levels down.
const MAX_ASSETS: usize = 20_000;
const MAX_DEPTH: usize = 16;

/// A dashboard build to serve.
#[derive(Clone, Debug)]
pub struct Dashboard {
    /// The build directory (holding `index.html`, `_app/`, `favicon.svg`).
    pub dir: PathBuf,
    /// claude-mpm's version and build number, when the build is inside its package.
    pub package: Option<(String, u64)>,
    /// The files under `_app/` that are served, by their path below it: regular files only,
    /// found without following symlinks, no dotfiles. Nothing else in DIR can be reached.
    assets: Arc<HashMap<String, PathBuf>>,
}

impl Dashboard {
    /// The build in `dir`.
    ///
    /// # Errors
    /// When `dir` has no `index.html`.
    pub fn at(dir: &Path) -> anyhow::Result<Dashboard> {
        if !dir.is_dir() {
            bail!("'{}' is not a directory", dir.display());
        }
        // DIR itself may be a symlink; what is inside it is taken as it is, links not followed.
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        let regular = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file());
        if !regular(&dir.join("index.html")) {
            bail!(
                "'{}' is not a dashboard build: it has no index.html (as a regular file)",
                dir.display()
            );
        }
        let mut assets = HashMap::new();
        index_assets(&dir.join("_app"), "", MAX_DEPTH, &mut assets);
        Ok(Dashboard {
            package: package_version(&dir),
            dir,
            assets: Arc::new(assets),
        })
    }

    /// What `--dashboard [DIR]` names: nothing, the build in DIR, or without DIR the one inside
    /// the claude-mpm on PATH.
    ///
    /// # Errors
    /// When the build named or looked for is not there; the message says why.
    pub fn from_arg(arg: Option<&Option<PathBuf>>) -> anyhow::Result<Option<Dashboard>> {
        match arg {
            None => Ok(None),
            Some(Some(dir)) => Dashboard::at(dir).map(Some),
            Some(None) => {
                Dashboard::installed(&std::env::var_os("PATH").unwrap_or_default()).map(Some)
            }
        }
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
        let favicon = self.dir.join("favicon.svg");
        let mut router = Router::new().route_service("/", index);
        // Like the assets: a regular file of the build, not a link out of it.
        if std::fs::symlink_metadata(&favicon).is_ok_and(|m| m.is_file()) {
            router = router.route_service("/favicon.svg", ServeFile::new(favicon));
        }
        router
            .route(
                "/_app/{*path}",
                get(asset).with_state(Arc::clone(&self.assets)),
            )
            .route("/api/working-directory", get(working_directory))
            .route("/api/config", any(belongs_to_claude_mpm))
            .route("/api/config/{*rest}", any(belongs_to_claude_mpm))
            .route("/api/files", any(belongs_to_claude_mpm))
            .route("/api/file", any(belongs_to_claude_mpm))
            .route("/api/file/{*rest}", any(belongs_to_claude_mpm))
            .route("/api/git-history", any(belongs_to_claude_mpm))
    }
}

/// Regular files under `dir` by their path below it, without following symlinks or entering
/// dot-directories, up to [`MAX_ASSETS`] files and `depth` levels.
fn index_assets(dir: &Path, prefix: &str, depth: usize, into: &mut HashMap<String, PathBuf>) {
    let Some(below) = depth.checked_sub(1) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if into.len() >= MAX_ASSETS {
            return;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let key = format!("{prefix}{name}");
        if kind.is_dir() {
            index_assets(&entry.path(), &format!("{key}/"), below, into);
        } else if kind.is_file() {
            into.insert(key, entry.path());
        }
    }
}

/// One file of `_app/`, if the build has it; its type from its extension.
async fn asset(
    State(assets): State<Arc<HashMap<String, PathBuf>>>,
    UrlPath(path): UrlPath<String>,
) -> Response {
    let Some(file) = assets.get(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(file).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&path))], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The types a Svelte build holds.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript",
        Some("css") => "text/css",
        Some("json" | "map") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("wasm") => "application/wasm",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
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
    fn only_regular_files_inside_the_build_are_served_no_links_no_dotfiles() {
        let root = tempfile::tempdir().unwrap();
        let build = build_in(root.path());
        std::fs::create_dir_all(build.join("_app/immutable")).unwrap();
        std::fs::write(build.join("_app/immutable/a.js"), "x").unwrap();
        std::fs::write(build.join("_app/.hidden"), "secret").unwrap();
        std::os::unix::fs::symlink("/", build.join("_app/root")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", build.join("_app/passwd")).unwrap();
        let d = Dashboard::at(&build).unwrap();
        let mut served: Vec<&String> = d.assets.keys().collect();
        served.sort();
        assert_eq!(served, ["immutable/a.js"]);
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
            Dashboard::at(&root.path().join("nothing-here"))
                .unwrap_err()
                .to_string()
                .ends_with("is not a directory")
        );
        assert!(
            not_a_build.to_string().contains("has no index.html"),
            "{not_a_build}"
        );
    }
}
