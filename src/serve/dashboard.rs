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
    /// The files that are served, by their path below DIR (`index.html`, `favicon.svg`,
    /// `_app/...`): regular files only, found without following symlinks, no dotfiles, each
    /// pinned to the file it was at start. Nothing else in DIR can be reached.
    assets: Arc<HashMap<String, BuildFile>>,
}

/// A file of the build as it was indexed: served only while the path still leads to it.
#[derive(Clone, Debug)]
struct BuildFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl BuildFile {
    /// `path` when it is a regular file itself (not a symlink to one).
    fn at(path: PathBuf) -> Option<BuildFile> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::symlink_metadata(&path).ok()?;
        meta.is_file().then(|| BuildFile {
            path,
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// The contents, if the path still leads, without a symlink at its end, to the very file
    /// indexed: a file or folder swapped in after start (a link to a private file) is refused.
    fn read(&self) -> Option<Vec<u8>> {
        use std::io::Read as _;
        use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
        let flags = nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags.bits())
            .open(&self.path)
            .ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.dev() != self.dev || meta.ino() != self.ino {
            return None;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }
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
        for name in ["index.html", "favicon.svg"] {
            if let Some(file) = BuildFile::at(dir.join(name)) {
                assets.insert(name.to_owned(), file);
            }
        }
        index_assets(&dir.join("_app"), "_app/", MAX_DEPTH, &mut assets);
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
        let assets = Arc::clone(&self.assets);
        let file = |name: &'static str| {
            let assets = Arc::clone(&assets);
            get(move || async move { serve(&assets, name) })
        };
        Router::new()
            .route("/", file("index.html"))
            .route("/favicon.svg", file("favicon.svg"))
            .route("/_app/{*path}", get(asset).with_state(assets))
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
fn index_assets(dir: &Path, prefix: &str, depth: usize, into: &mut HashMap<String, BuildFile>) {
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
        } else if kind.is_file()
            && let Some(file) = BuildFile::at(entry.path())
        {
            into.insert(key, file);
        }
    }
}

/// One file of `_app/`, if the build has it.
async fn asset(
    State(assets): State<Arc<HashMap<String, BuildFile>>>,
    UrlPath(path): UrlPath<String>,
) -> Response {
    serve(&assets, &format!("_app/{path}"))
}

/// The build's file `key`, its type from its extension; 404 for anything else.
fn serve(assets: &HashMap<String, BuildFile>, key: &str) -> Response {
    match assets.get(key).and_then(BuildFile::read) {
        Some(bytes) => ([(header::CONTENT_TYPE, content_type(key))], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
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
        assert_eq!(served, ["_app/immutable/a.js", "index.html"]);
        // Swapped after start for a link to a private file: refused, not followed.
        let secret = root.path().join("secret");
        std::fs::write(&secret, "private").unwrap();
        let js = build.join("_app/immutable/a.js");
        assert_eq!(d.assets["_app/immutable/a.js"].read().unwrap(), b"x");
        std::fs::remove_file(&js).unwrap();
        std::os::unix::fs::symlink(&secret, &js).unwrap();
        assert_eq!(d.assets["_app/immutable/a.js"].read(), None);
        // Or a folder on its way swapped for a link to one holding a private a.js: the file
        // reached is not the one indexed.
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("a.js"), "private").unwrap();
        std::fs::remove_file(&js).unwrap();
        std::fs::write(&js, "x").unwrap();
        let d = Dashboard::at(&build).unwrap();
        std::fs::rename(build.join("_app/immutable"), root.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, build.join("_app/immutable")).unwrap();
        assert_eq!(d.assets["_app/immutable/a.js"].read(), None);
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
