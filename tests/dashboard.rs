//! `mpm-top serve --dashboard`: Claude MPM's own web dashboard (the Svelte build inside the
//! pinned claude-mpm 6.5.83) served beside the monitor. Its assets are checked over HTTP, its
//! socket side with node socket.io-client using the dashboard's options, and the page itself in
//! chromium-headless-shell driven by puppeteer-core (pinned in tests/interop/node).
//!
//! Without a Python 3.13 (claude-mpm needs it) or node, the tests say so and skip. The browser
//! test needs port 8765, which the page hard-codes: when it is taken, it says so and skips.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{ServeProcess, node_modules, node_script, post_event, python_3_13, venv};
use serde_json::{Value, json};

/// The claude-mpm virtualenv's bin directory and its dashboard build.
fn claude_mpm() -> Option<(PathBuf, PathBuf)> {
    let Some(base) = python_3_13() else {
        eprintln!(
            "SKIPPED: no Python 3.13 found; claude-mpm 6.5.83 (whose dashboard this serves) needs it"
        );
        return None;
    };
    let python = venv("claude-mpm-venv", &base, "requirements-claude-mpm.txt");
    let bin = python.parent().unwrap().to_owned();
    let build = bin
        .parent()
        .unwrap()
        .join("lib/python3.13/site-packages/claude_mpm/dashboard/static/svelte-build");
    assert!(build.join("index.html").is_file(), "{}", build.display());
    Some((bin, build))
}

fn path_with(bin: &Path) -> String {
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{rest}", bin.display())
}

fn hook(correlation: &str, tool: &str) -> Value {
    json!({"namespace": "", "event": "claude_event", "data": {"type": "hook",
        "subtype": "pre_tool", "session_id": "s-dash", "correlation_id": correlation,
        "timestamp": "2026-11-26T09:00:00+00:00", "cwd": "/tmp/project",
        "data": {"tool_name": tool, "tool_parameters": {"command": "ls"}}}})
}

/// serve with `--dashboard` and no DIR: the build is found from the claude-mpm on PATH.
fn serve_dashboard(home: &Path) -> Option<(ServeProcess, PathBuf)> {
    let (bin, build) = claude_mpm()?;
    let path = path_with(&bin);
    Some((
        ServeProcess::start(home, &["--dashboard"], &[("PATH", &path)]),
        build,
    ))
}

#[test]
fn the_dashboard_page_its_assets_and_its_api_are_served() {
    let home = tempfile::tempdir().unwrap();
    let Some((mut serve, build)) = serve_dashboard(home.path()) else {
        return;
    };
    let url = serve.url.clone();
    let http = reqwest::blocking::Client::new();
    let get = |route: &str| http.get(format!("{url}{route}")).send().unwrap();

    let index = get("/");
    assert_eq!(index.status(), 200);
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(
        index.bytes().unwrap(),
        std::fs::read(build.join("index.html")).unwrap()
    );
    let favicon = get("/favicon.svg");
    assert_eq!(favicon.status(), 200);
    assert_eq!(favicon.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        get("/_app/version.json").bytes().unwrap(),
        std::fs::read(build.join("_app/version.json")).unwrap()
    );
    // Every asset the page names loads, byte for byte.
    let html = std::fs::read_to_string(build.join("index.html")).unwrap();
    let assets: Vec<&str> = html
        .split('"')
        .filter(|s| s.starts_with("./_app/") || s.starts_with("/_app/"))
        .collect();
    assert!(!assets.is_empty(), "{html}");
    for asset in &assets {
        let route = asset.trim_start_matches('.');
        let response = get(route);
        assert_eq!(response.status(), 200, "{route}");
        let on_disk = std::fs::read(build.join(route.trim_start_matches('/'))).unwrap();
        assert_eq!(response.bytes().unwrap(), on_disk, "{route}");
    }
    assert_ne!(get("/_app/../../../../../etc/passwd").status(), 200);

    let version: Value = get("/version.json").json().unwrap();
    assert_eq!(version["service"], "mpm-top");
    assert!(version["build"].is_u64(), "{version}");
    assert_eq!(version["dashboard"]["version"], "6.5.83");
    assert_eq!(version["dashboard"]["build"], 419);
    let cwd: Value = get("/api/working-directory").json().unwrap();
    assert_eq!(cwd["success"], true);
    assert!(cwd["working_directory"].is_string(), "{cwd}");
    for (method, route) in [
        ("GET", "/api/config"),
        ("POST", "/api/config/validate"),
        ("GET", "/api/config/skill-links/x"),
        ("GET", "/api/file/read?path=/etc/passwd"),
        ("GET", "/api/file/diff"),
        ("POST", "/api/file"),
    ] {
        let response = http
            .request(method.parse().unwrap(), format!("{url}{route}"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 501, "{method} {route}");
        let body: Value = response.json().unwrap();
        assert!(
            body["reason"]
                .as_str()
                .unwrap()
                .contains("mpm-top serve is a monitor")
        );
    }
    let stderr = serve.stderr.lock().unwrap().clone();
    assert!(stderr.contains("dashboard: http://127.0.0.1:"), "{stderr}");
    assert!(
        stderr.contains("it shows this server's events only when serve runs on port 8765"),
        "{stderr}"
    );
    assert_eq!(serve.terminate().1, Some(0));
}

#[test]
fn the_dashboards_own_socket_options_get_every_answer_and_a_hook_event() {
    let home = tempfile::tempdir().unwrap();
    let Some((mut serve, _)) = serve_dashboard(home.path()) else {
        return;
    };
    let Some(modules) = node_modules() else {
        eprintln!("SKIPPED: node peers unavailable");
        return;
    };
    let url = serve.url.clone();
    // As the page's own client connects: polling, then websocket.
    let mut client = node_script(&modules, "dashboard_client.js", &[&url, "c-dash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(client.stdout.take().unwrap()).lines();
    let mut seen: Vec<Value> = Vec::new();
    let mut posted = false;
    for line in lines {
        let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "dashboard:pong" && !posted {
            post_event(&url, &hook("c-dash", "Bash"));
            posted = true;
        }
        seen.push(event);
    }
    assert_eq!(client.wait().unwrap().code(), Some(0), "{seen:#?}");
    let find = |name: &str| {
        seen.iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name} in {seen:#?}"))
            .clone()
    };
    assert!(find("dashboard:welcome")["data"]["session_id"].is_string());
    assert!(find("dashboard:status:response")["data"]["features"].is_object());
    assert!(find("dashboard:pong")["data"]["server_time"].is_number());
    assert_eq!(find("tool_event")["data"]["data"]["tool_name"], "Bash");
    assert_eq!(serve.terminate().1, Some(0));
}

#[test]
fn a_missing_dashboard_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = common::mpm_top_command(home.path(), &[("PATH", empty.path().to_str().unwrap())])
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--dashboard"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no claude-mpm on PATH"), "{err}");
    let out = common::mpm_top_command(home.path(), &[])
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--dashboard"])
        .arg(empty.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not a dashboard build: it has no index.html"),
        "{err}"
    );
}

/// The browser Debian ships for headless use; installed (pinned) when missing and this runs as
/// root, as the machine allows. None, with the reason, when it cannot be had.
fn chromium() -> Option<PathBuf> {
    const PACKAGE: &str = "chromium-headless-shell=148.0.7778.167-1~deb12u1";
    let found = || {
        [
            "/usr/bin/chromium-headless-shell",
            "/usr/lib/chromium/chromium-headless-shell",
        ]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
    };
    if let Some(path) = found() {
        return Some(path);
    }
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: chromium-headless-shell is not installed and this is not root");
        return None;
    }
    let installed = std::process::Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", PACKAGE])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output();
    match installed {
        Ok(out) if out.status.success() => found(),
        Ok(out) => {
            eprintln!(
                "SKIPPED: cannot install {PACKAGE}: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or_default()
            );
            None
        }
        Err(e) => {
            eprintln!("SKIPPED: cannot run apt-get to install {PACKAGE}: {e}");
            None
        }
    }
}

#[test]
fn the_dashboard_page_in_a_real_browser_shows_a_hook_event() {
    // The page connects to localhost:8765 whatever serves it: the one port a test may bind.
    if std::net::TcpListener::bind(("127.0.0.1", 8765)).is_err() {
        eprintln!(
            "SKIPPED: port 8765 is in use, and Claude MPM's dashboard page connects only there"
        );
        return;
    }
    let Some((_, build)) = claude_mpm() else {
        return;
    };
    let Some(modules) = node_modules() else {
        eprintln!("SKIPPED: node peers unavailable");
        return;
    };
    let Some(browser) = chromium() else { return };
    let home = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start_on(
        home.path(),
        8765,
        &["--dashboard", build.to_str().unwrap()],
        &[],
    );
    let page = "http://localhost:8765/";
    let tool = format!("MpmTopProbe{}", std::process::id());
    let mut driver = node_script(
        &modules,
        "browser.js",
        &[browser.to_str().unwrap(), page, &tool],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap();
    let mut lines = std::io::BufReader::new(driver.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    // Once the page is loaded and its socket connected, the hook event is posted.
    let started = Instant::now();
    for line in lines.by_ref() {
        let line = line.unwrap();
        said.push(line.clone());
        if line == "loaded" {
            while started.elapsed() < Duration::from_secs(20) {
                let health: Value = reqwest::blocking::get(format!("{}/health", serve.url))
                    .unwrap()
                    .json()
                    .unwrap();
                if health["clients"].as_u64() > Some(0) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            post_event(&serve.url, &hook("c-browser", &tool));
        }
        if line == "seen" || line.starts_with("failed") {
            break;
        }
    }
    let code = driver.wait().unwrap().code();
    eprintln!("browser said: {said:?}");
    assert_eq!(code, Some(0), "{said:?}");
    assert!(said.iter().any(|l| l == "seen"), "{said:?}");
}
