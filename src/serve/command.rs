//! `mpm-top serve`: everything around [`super::spawn`] that a long-running server needs.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::net::TcpListener;
use tracing::{error, info, warn};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use super::dashboard::{DASHBOARD_PORT, Dashboard};
use super::logfile::LogFile;
use super::pidfile::PidFile;
use super::socket::logged;
use crate::config::{Key, LogLevel, Resolved, Settings, Source, tilde};
use crate::probes::sockets::holders;

/// Set in the detached server's environment by `--daemon`: it then logs to its file only.
const DAEMON_CHILD: &str = "MPM_TOP_SERVE_DAEMON_CHILD";

/// How long `--daemon` waits for the detached server to answer `/health`.
const DAEMON_READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `mpm-top serve` with the resolved configuration. The configuration has been checked
/// for errors by the caller.
#[must_use]
pub fn run(
    resolved: &Resolved,
    daemon: bool,
    dashboard: Option<&Option<std::path::PathBuf>>,
) -> ExitCode {
    // Found first, also for --daemon: a missing build is said here, not found in a log.
    let outcome = Dashboard::from_arg(dashboard).and_then(|dashboard| {
        if daemon {
            detach(resolved)
        } else {
            serve_foreground(resolved, dashboard.as_ref())
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A server that never started has no log of its own: the file at its log path is
            // the running server's (that is often why this one failed), and the console
            // following it would show this failure as that server's error.
            if STARTED.load(std::sync::atomic::Ordering::SeqCst) {
                error!("serve failed: {e:#}");
            } else if std::env::var_os(DAEMON_CHILD).is_some() {
                // Its stderr is /dev/null; its stdout is the pipe `--daemon` reads.
                let _ = writeln!(std::io::stdout(), "mpm-top serve: {e:#}");
            }
            eprintln!("mpm-top serve: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Set once the server listens and has said so: from then on its failures are its log's.
static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn serve_foreground(resolved: &Resolved, dashboard: Option<&Dashboard>) -> anyhow::Result<()> {
    let settings = &resolved.settings;
    let home = resolved.home.as_deref();
    // A daemon's stderr is /dev/null: it logs to its file only, which it reopens after rotation.
    let daemon_child = std::env::var_os(DAEMON_CHILD).is_some();
    // Kept to the end: dropping it flushes what is still queued for stderr.
    let _stderr_writer = init_logging(settings, home, !daemon_child);
    if daemon_child {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            error!("serve panicked: {info}");
            previous(info);
        }));
    }
    // One thread: measured on 2 cores, the multi-threaded runtime's cross-thread wake-ups put
    // p99 at 1,000 events/s anywhere from 0.3 to 1.3 ms; on one thread it stays near 0.3 ms,
    // still ~10x python-socketio's throughput, and the other core is left to the clients.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut signals = Signals::install()?;
        let tls = match (settings.ssl, &settings.cert_path, &settings.key_path) {
            (true, Some(cert), Some(key)) => Some(super::load_acceptor(cert, key)?),
            (true, _, _) => bail!("ssl is on but cert_path or key_path is not set"),
            (false, _, _) => None,
        };
        let port_from_flag = matches!(
            resolved.row(Key::Port).map(|r| &r.source),
            Some(Source::Flag(_))
        );
        let listener = bind(settings, port_from_flag).await?;
        let pid_file = PidFile::claim(&settings.pid_file, home)?;
        let server = super::spawn_with(listener, settings, tls.clone(), dashboard)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let host = crate::target::bracket(crate::target::unbracket(&settings.host));
        let url = format!("{scheme}://{host}:{}", server.addr.port());
        if let Some(dashboard) = dashboard {
            info!(
                "dashboard: {url}/ (Claude MPM's build in {})",
                logged(&tilde(&dashboard.dir, home))
            );
            if server.addr.port() != DASHBOARD_PORT {
                warn!(
                    "the dashboard's page connects to http://localhost:{DASHBOARD_PORT} whatever serves it: it shows this server's events only when serve runs on port {DASHBOARD_PORT}"
                );
            }
        }
        // On stderr and in the log; `--daemon`'s parent prints it again where the user looks.
        if let Some(exposed) = crate::target::exposure(&settings.host) {
            warn!("{exposed}");
        }
        // One line on stdout, read by `--daemon`; later writes may meet a closed pipe, so
        // nothing else goes to stdout and errors are ignored.
        STARTED.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = writeln!(
            std::io::stdout(),
            "mpm-top serve: listening on {url} (pid {}, log {})",
            std::process::id(),
            tilde(&settings.log_file, home)
        );
        let _ = std::io::stdout().flush();
        let signal = signals.first().await;
        info!("received {signal}: shutting down");
        let started = Instant::now();
        let stopped = server.stop().await;
        drop(pid_file);
        info!("stopped in {} ms", started.elapsed().as_millis());
        stopped
    })
}

/// SIGTERM, SIGINT, SIGHUP (the terminal went away) and SIGQUIT (Ctrl-backslash), listened
/// for from the start: each means "stop cleanly", removing the PID file, even before the
/// server is up.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            hup: signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?,
            quit: signal(SignalKind::quit()).context("cannot listen for SIGQUIT")?,
        })
    }

    /// The first of them, by name.
    async fn first(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
            _ = self.hup.recv() => "SIGHUP",
            _ = self.quit.recv() => "SIGQUIT",
        }
    }
}

/// Binds the configured port, or the first free port of `port_range` unless `--port` was given.
async fn bind(settings: &Settings, port_from_flag: bool) -> anyhow::Result<TcpListener> {
    let candidates: Vec<u16> = match settings.port_range {
        Some(range) if !port_from_flag => range.ports().collect(),
        _ => vec![settings.port],
    };
    let host = crate::target::unbracket(&settings.host);
    let mut busy = Vec::new();
    for port in candidates {
        match TcpListener::bind((host, port)).await {
            Ok(listener) => {
                if !busy.is_empty() {
                    info!("ports {busy:?} are in use; took {port} from port_range");
                }
                return Ok(listener);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => busy.push(port),
            Err(e) => bail!("cannot listen on {host}:{port}: {e}"),
        }
    }
    let first = busy.first().copied().unwrap_or(settings.port);
    let who = tokio::task::spawn_blocking(move || holders(first))
        .await
        .unwrap_or_default();
    let holder = match who.as_slice() {
        [] => "another process (its owner could not be read)".to_owned(),
        list => list
            .iter()
            .map(|p| format!("PID {} ({})", p.pid, p.command()))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let ports = if busy.len() > 1 {
        format!(
            "every port of {first}-{}",
            busy.last().copied().unwrap_or(first)
        )
    } else {
        format!("port {first}")
    };
    bail!(
        "{ports} on {host} is already in use; port {first} is held by {holder}. Free it with `mpm-top recover`, or choose another port with --port"
    )
}

/// A layer of the process's one `tracing` subscriber, built on its own.
pub type LogLayer = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// Log lines go to the log file (reopened after rotation) and, for `serve`, to stderr. The
/// guard, when there is one, must live as long as the server: dropping it flushes stderr.
#[must_use = "dropping the guard ends logging to stderr"]
pub fn init_logging(
    settings: &Settings,
    home: Option<&std::path::Path>,
    to_stderr: bool,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let file = file_log(settings, home);
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    // Written by a thread of its own that drops lines when the pipe is full: a stderr nobody
    // reads (`serve 2>&1 | slow-reader`) used to block every log line, and so the server.
    let (stderr, guard) = if to_stderr {
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(STDERR_LINES)
            .thread_name("serve-stderr")
            .finish(std::io::stderr());
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(colour)
            .with_target(false)
            .with_writer(writer)
            .with_filter(log_filter(settings));
        (Some(layer), Some(guard))
    } else {
        (None, None)
    };
    let _ = tracing_subscriber::registry()
        .with(file)
        .with(stderr)
        .try_init();
    guard
}

/// The server's log file as a layer (None, having said why, when it cannot be written): for
/// `serve`, and for the console's `--demo`, whose subscriber also feeds the Log pane.
#[must_use]
pub fn file_log(settings: &Settings, home: Option<&std::path::Path>) -> Option<LogLayer> {
    match LogFile::open(&settings.log_file) {
        Ok(file) => Some(Box::new(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_target(false)
                .with_writer(Mutex::new(file))
                .with_filter(log_filter(settings)),
        )),
        Err(e) => {
            eprintln!(
                "mpm-top serve: cannot write the log file '{}' ({e}); logging to stderr only",
                tilde(&settings.log_file, home)
            );
            None
        }
    }
}

/// What the server logs: its own lines at `log_level`; the Socket.IO libraries' lines only with
/// `debug: true` (they are chatty).
fn log_filter(settings: &Settings) -> Targets {
    let level = match settings.log_level {
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warning => LevelFilter::WARN,
        LogLevel::Error | LogLevel::Critical => LevelFilter::ERROR,
    };
    let libraries = if settings.debug {
        level
    } else {
        LevelFilter::WARN
    };
    Targets::new()
        .with_target("mpm_top", level)
        .with_default(libraries)
}

/// Log lines queued for stderr at most (~2 MB); past it, lines are dropped, not waited for.
const STDERR_LINES: usize = 10_000;

/// `--daemon`: start `mpm-top serve` detached, wait until it answers `/health`, print its PID.
fn detach(resolved: &Resolved) -> anyhow::Result<()> {
    let settings = &resolved.settings;
    let exe = std::env::current_exe().context("cannot find the mpm-top executable")?;
    let args: Vec<_> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--daemon")
        .collect();
    // Opened here only to fail early, with the path, when it cannot be written.
    LogFile::open(&settings.log_file).with_context(|| {
        format!(
            "cannot open the log file '{}'",
            tilde(&settings.log_file, resolved.home.as_deref())
        )
    })?;
    let mut child = std::process::Command::new(exe);
    // A process group of its own: a Ctrl-C in this terminal is not meant for it.
    std::os::unix::process::CommandExt::process_group(&mut child, 0);
    let mut child = child
        .args(args)
        .stdin(Stdio::null())
        .env(DAEMON_CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the server")?;
    let pid = child.id();
    let stdout = child.stdout.take().context("no pipe from the server")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(DAEMON_READY_TIMEOUT).unwrap_or_default();
    let ready = started_url(&line).and_then(|url| wait_for_health(&url).map(|()| url));
    let url = match ready {
        Ok(url) => url,
        Err(e) => {
            // A server that did not come up as promised is not left running behind the error.
            // SIGTERM first, so it removes its PID file; SIGKILL only if it will not go.
            if matches!(child.try_wait(), Ok(None)) {
                if let Ok(pid) = i32::try_from(pid) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                }
                let deadline = Instant::now() + super::DRAIN_TIMEOUT + Duration::from_secs(1);
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if matches!(child.try_wait(), Ok(None)) {
                    let _ = child.kill();
                }
                let _ = child.wait();
            }
            let status = child
                .try_wait()
                .ok()
                .flatten()
                .map_or(String::new(), |s| format!(" ({s})"));
            // A server that said why it did not start has said all there is; one that started
            // and then failed wrote why in its log.
            if started_url(&line).is_err() && line.contains("mpm-top serve: ") {
                bail!("{e:#}{status}");
            }
            bail!(
                "{e:#}{status}; see the log '{}'",
                tilde(&settings.log_file, resolved.home.as_deref())
            );
        }
    };
    if let Some(exposed) = crate::target::exposure(&settings.host) {
        eprintln!("mpm-top serve: warning: {exposed}");
    }
    println!(
        "mpm-top serve: running in the background as PID {pid} on {url}; stop it with `kill {pid}`"
    );
    Ok(())
}

/// The URL in the server's first stdout line; a line without one is the reason it did not
/// start.
fn started_url(line: &str) -> anyhow::Result<String> {
    if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http")) {
        return Ok(url.to_owned());
    }
    match line.trim().strip_prefix("mpm-top serve: ") {
        Some(reason) => bail!("the server did not start: {reason}"),
        None => bail!("the server did not start"),
    }
}

fn wait_for_health(url: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime to wait for the server")?;
    runtime
        .block_on(crate::probes::http::wait_for_health(url, DAEMON_READY_TIMEOUT))
        .map(drop)
        .map_err(|e| {
            anyhow::anyhow!(
                "the server started but {url}/health did not answer within {DAEMON_READY_TIMEOUT:?}: {e}"
            )
        })
}
