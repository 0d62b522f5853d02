//! HTTP beside Socket.IO on the same port: `/health`, `/version.json`, hook ingestion at
//! `POST /api/events`, and CORS from `cors_origins`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::layer::SocketIoLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tracing::warn;

use super::dashboard::Dashboard;
use super::hook::normalize;
use super::socket::{SERVICE, Shared, ingest, now_rfc3339};

/// Bodies larger than this are refused, as the real server refuses over 1 MiB.
pub const MAX_EVENT_BODY: usize = 1024 * 1024;

/// Refusals come from outside and can come by the thousand: one WARN line per kind of refusal
/// per [`super::listen::LOG_EVERY`], naming the latest and counting all of that kind.
#[derive(Clone, Debug, Default)]
struct Refusals(Arc<std::sync::Mutex<HashMap<&'static str, super::listen::Throttled>>>);

impl Refusals {
    fn warn(&self, kind: &'static str, what: &str) {
        let due = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(kind)
            .or_default()
            .hit();
        if let Some(n) = due {
            warn!("{what} (the latest of {n} such refusal(s) since the last report)");
        }
    }
}

/// What the HTTP handlers need.
#[derive(Clone)]
struct App {
    state: Shared,
    io: SocketIo,
    refused: Refusals,
    version: Arc<Value>,
}

/// Origins a browser page may call from: `cors_origins`, any loopback page, and the server
/// itself under whatever name the page used.
#[derive(Clone, Debug)]
pub struct Origins {
    refused: Refusals,
    any: bool,
    allowed: Arc<Vec<String>>,
    /// The names the server answers to as itself (its configured host, its bound address).
    names: Arc<Vec<String>>,
}

impl Origins {
    /// From `cors_origins`; `*` allows every origin (and is a config finding). `names` are the
    /// server's own host names (the configured host, the bound address).
    #[must_use]
    pub fn new(cors_origins: &[String], names: &[String]) -> Origins {
        let any = cors_origins.iter().any(|o| o == "*");
        let allowed = cors_origins
            .iter()
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        let names = names
            .iter()
            .map(|n| crate::target::unbracket(n).to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        Origins {
            refused: Refusals::default(),
            any,
            allowed: Arc::new(allowed),
            names: Arc::new(names),
        }
    }

    /// Whether `host` (a request's `Host` header, with its port) names this server: an IP
    /// address, `localhost`, or one of its own names. A domain name pointed here by someone
    /// else's DNS (rebinding) is not, so a page there cannot read even same-origin answers,
    /// which carry no `Origin` to check.
    #[must_use]
    pub fn is_own_host(&self, host: &str) -> bool {
        let name = match host.rsplit_once(':') {
            // `[::1]:8765`, `localhost:8765`; a bare IPv6 literal has colons but no brackets.
            Some((name, port))
                if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') =>
            {
                name
            }
            _ => host,
        };
        let name = crate::target::unbracket(name)
            .trim_end_matches('.')
            .to_ascii_lowercase();
        name.parse::<std::net::IpAddr>().is_ok()
            || name == "localhost"
            || self.names.contains(&name)
    }

    /// Whether a page from `origin` may talk to the server, asked for `host` (the request's
    /// `Host` header). Allowed: a listed origin; a loopback page on any port (`localhost`,
    /// `127.x`, `[::1]`: only this machine can serve one); and the server's own pages, under
    /// whichever of its own names the browser used (the origin's authority is the `Host` asked,
    /// and that host is one of `names`: a `Host` alone proves nothing, as a page whose domain
    /// was re-pointed at this machine, DNS rebinding, sends its own name as both).
    #[must_use]
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.any || self.allowed.contains(&origin) {
            return true;
        }
        let Ok(url) = reqwest::Url::parse(&origin) else {
            return false;
        };
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let Some(name) = url.host_str() else {
            return false;
        };
        if crate::target::is_loopback_host(name) {
            return true;
        }
        let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
        self.is_own_host(name) && host.is_some_and(|h| h.eq_ignore_ascii_case(authority))
    }
}

/// The HTTP routes around the Socket.IO layer.
pub fn router(
    state: Shared,
    io: SocketIo,
    socketio: SocketIoLayer,
    origins: Origins,
    dashboard: Option<&Dashboard>,
) -> Router {
    let cors = {
        let check = origins.clone();
        let allow = if origins.any {
            AllowOrigin::from(Any)
        } else {
            AllowOrigin::predicate(move |origin: &HeaderValue, parts| {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok());
                origin.to_str().is_ok_and(|o| check.allows(o, host))
            })
        };
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::CONTENT_TYPE])
    };
    let version_body = Arc::new(version_json(dashboard));
    let mut routes = Router::new();
    if let Some(dashboard) = dashboard {
        routes = routes.merge(dashboard.routes());
    }
    routes
        .route("/health", get(health))
        .route("/version.json", get(version))
        .route(
            "/api/events",
            post(post_event).layer(DefaultBodyLimit::max(MAX_EVENT_BODY)),
        )
        .layer(socketio)
        .layer(cors)
        .layer(middleware::from_fn_with_state(
            origins,
            refuse_foreign_origin,
        ))
        .layer(middleware::from_fn(super::deadline::body_deadline))
        .with_state(App {
            state,
            io,
            refused: Refusals::default(),
            version: version_body,
        })
}

/// Browsers ignore a missing CORS header only for the response; refusing outright also stops a
/// disallowed page's websocket and POSTs, which CORS alone does not.
async fn refuse_foreign_origin(
    State(origins): State<Origins>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("?").to_owned());
    let host = request
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("?"));
    if let Some(host) = host
        && !origins.is_own_host(host)
    {
        origins.refused.warn(
            "host",
            &format!(
                "refused request for host {} (not a name of this server)",
                super::socket::logged(host)
            ),
        );
        let reason = format!(
            "host '{host}' is not a name of this server: a page whose domain was pointed at this machine (DNS rebinding) must not read it; use localhost, an IP address, or the configured host\n"
        );
        return (StatusCode::FORBIDDEN, reason).into_response();
    }
    match origin {
        Some(origin) if !origins.allows(&origin, host) => {
            origins.refused.warn(
                "origin",
                &format!(
                    "refused request from origin {} (not in cors_origins)",
                    super::socket::logged(&origin)
                ),
            );
            let reason = format!(
                "origin '{origin}' is not allowed: add it to cors_origins (SOCKETIO_CORS)\n"
            );
            (StatusCode::FORBIDDEN, reason).into_response()
        }
        _ => next.run(request).await,
    }
}

async fn health(State(app): State<App>) -> Json<Value> {
    let mut body = json!({
        "status": "running",
        "service": SERVICE,
        "version": env!("CARGO_PKG_VERSION"),
        "port": app.state.port,
        "pid": std::process::id(),
        "uptime": app.state.uptime_secs(),
        "clients": crate::serve::socket::client_count(&app.io),
        "rss_bytes": tokio::task::spawn_blocking(own_rss_bytes).await.unwrap_or(None),
    });
    if let (Value::Object(b), Value::Object(c)) = (&mut body, app.state.counters()) {
        b.extend(c);
    }
    Json(body)
}

async fn version(State(app): State<App>) -> Json<Value> {
    Json(app.version.as_ref().clone())
}

/// `/version.json` in Claude MPM's shape. mpm-top has no build numbers (`build` 0); when the
/// dashboard served comes from a claude-mpm package, its version and build are under
/// `dashboard`.
fn version_json(dashboard: Option<&Dashboard>) -> Value {
    let v = env!("CARGO_PKG_VERSION");
    let mut body = json!({"version": v, "build": 0, "formatted_build": "0000",
        "full_version": format!("v{v}-build.0"), "service": SERVICE});
    if let Some((version, build)) = dashboard.and_then(|d| d.package.clone()) {
        body["dashboard"] = json!({"version": version, "build": build,
            "full_version": format!("v{version}-build.{build}")});
    }
    body
}

/// The hook sender's wrapper in, 204 out; anything else is a 4xx saying why.
async fn post_event(
    State(app): State<App>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    // Counted from here to the broadcast: a stop waits for it, so a 204 means delivered.
    let Some(_post) = app.state.begin_post() else {
        let reason = "the server is shutting down; the event was not taken\n";
        return (StatusCode::SERVICE_UNAVAILABLE, reason).into_response();
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            app.refused
                .warn("body", &format!("POST /api/events refused: {e}"));
            let reason = format!("event refused: {e} (limit {MAX_EVENT_BODY} bytes)\n");
            return (e.status(), reason).into_response();
        }
    };
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            app.refused.warn(
                "json",
                &format!("POST /api/events refused: malformed JSON: {e}"),
            );
            return (StatusCode::BAD_REQUEST, format!("malformed JSON: {e}\n")).into_response();
        }
    };
    match normalize(&parsed, &now_rfc3339()) {
        Ok(event) => {
            app.state.record_received("http:/api/events");
            ingest(&app.io, &app.state, &event).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            app.refused
                .warn("shape", &format!("POST /api/events refused: {e}"));
            (StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")).into_response()
        }
    }
}

/// This process's resident memory, for `/health`.
fn own_rss_bytes() -> Option<u64> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, get_current_pid};
    let pid = get_current_pid().ok()?;
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_memory(),
    );
    system.process(pid).map(sysinfo::Process::memory)
}

#[cfg(test)]
mod tests {
    use super::Origins;

    #[test]
    fn loopback_pages_and_the_servers_own_names_get_in_and_nothing_else() {
        let o = Origins::new(&["http://dash.example:3000".into()], &["10.0.0.5".into()]);
        for origin in [
            "http://localhost:5173",
            "http://127.0.0.1:9",
            "http://[::1]:8080",
            "https://LOCALHOST:1",
            "http://dash.example:3000/",
        ] {
            assert!(o.allows(origin, None), "{origin}");
        }
        assert!(o.allows("http://10.0.0.5:8765", Some("10.0.0.5:8765")));
        for (origin, host) in [
            ("http://10.0.0.5:8765", Some("10.0.0.5:9999")),
            ("http://rebound.example:8765", Some("rebound.example:8765")),
            ("http://localhost.evil.example", None),
            ("http://127.0.0.1.evil.example", None),
            ("http://evil.example@localhost.evil.example", None),
            ("null", None),
            ("file://", None),
        ] {
            assert!(!o.allows(origin, host), "{origin} {host:?}");
        }
        assert!(Origins::new(&["*".into()], &[]).allows("http://anything.example", None));
    }

    #[test]
    fn only_the_servers_own_names_are_hosts() {
        let o = Origins::new(&[], &["myhost".into(), "0.0.0.0".into()]);
        for host in [
            "127.0.0.1:8765",
            "localhost:8765",
            "LOCALHOST",
            "localhost.:1",
            "[::1]:8765",
            "::1",
            "10.1.2.3:80",
            "myhost:8765",
        ] {
            assert!(o.is_own_host(host), "{host}");
        }
        for host in [
            "evil.test:8765",
            "localhost.evil.test",
            "myhost.evil:1",
            "?",
            "",
        ] {
            assert!(!o.is_own_host(host), "{host}");
        }
    }
}
