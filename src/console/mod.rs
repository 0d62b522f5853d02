//! The full-screen console: producers send [`Action`]s down one channel; the loop applies them
//! with [`update`], carries out the [`Effect`]s on tasks, and draws at most once per frame.
//! The terminal is restored on every way out: quit, error, panic (ratatui's hook), SIGTERM.

mod demo;
mod producers;

use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers};
use futures_util::StreamExt as _;
use tokio::sync::{mpsc, watch};

use crate::actions::{Audit, kill, reset_config, restart};
use crate::app::{Action, Effect, Key, State, update};
use crate::checks::{self, Status};
use crate::config::Resolved;
use crate::probes::http::{self, CLAUDE_MPM_PORTS};
use crate::ui::{self, Theme};
use crate::{collect, doctor};

/// The frame cap: at most one draw per this long, whatever the event rate.
const FRAME: Duration = Duration::from_millis(50);
/// How often time advances in the state. Keys and events draw at once; the clock only needs
/// seconds (rates and the availability strip are per second), and every tick is a redraw, so a
/// faster tick would only cost idle CPU.
const TICK: Duration = Duration::from_secs(1);

/// Runs the console until the user quits. Returns the process exit status.
#[must_use]
pub fn run(resolved: Resolved, demo_mode: bool, read_only: bool) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mpm-top: cannot start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(async move {
        let (stop_tx, stop) = watch::channel(false);
        let mut resolved = resolved;
        let demo = if demo_mode {
            match demo::start(&resolved.settings, stop.clone()).await {
                Ok(server) => {
                    resolved.settings.host = "127.0.0.1".into();
                    resolved.settings.port = server.addr.port();
                    Some(server)
                }
                Err(e) => {
                    eprintln!("mpm-top --demo: cannot start the bundled server: {e:#}");
                    return 1;
                }
            }
        } else {
            None
        };
        let url = target(&resolved, demo.is_some()).await;
        let mut terminal = ratatui::init();
        let outcome = main_loop(&mut terminal, &resolved, &url, read_only, stop.clone()).await;
        ratatui::restore();
        let _ = stop_tx.send(true);
        if let Some(server) = demo {
            let _ = server.stop().await;
        }
        match outcome {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("mpm-top: {e:#}");
                1
            }
        }
    })
}

/// The configured server, or, when nothing answers there, a Claude MPM server found on
/// 8765–8785.
async fn target(resolved: &Resolved, demo: bool) -> String {
    let url = resolved.settings.url();
    if demo || http::health(&url, Duration::from_millis(500)).await.is_ok() {
        return url;
    }
    let found = http::discover(
        &resolved.settings.host,
        CLAUDE_MPM_PORTS,
        Duration::from_millis(300),
    )
    .await;
    found.first().map_or(url, |f| {
        format!(
            "http://{}:{}",
            http::bracket(&resolved.settings.host),
            f.port
        )
    })
}

async fn main_loop(
    terminal: &mut ratatui::DefaultTerminal,
    resolved: &Resolved,
    url: &str,
    read_only: bool,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Action>(8192);
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or(resolved.settings.port);
    let mut resolved = resolved.clone();
    resolved.settings.port = port;
    tokio::spawn(keyboard(tx.clone()));
    tokio::spawn(ticks(tx.clone()));
    tokio::spawn(producers::feed(url.to_owned(), tx.clone(), stop));
    tokio::spawn(producers::probes(url.to_owned(), port, tx.clone()));
    producers::log_tail(resolved.settings.log_file.clone(), tx.clone());

    let mut state = State::new(url, read_only);
    state.own_pid = std::process::id();
    state.config = producers::config_rows(&resolved);
    state.config_file = resolved.file_shown.clone();
    state.note(format!(
        "monitoring {url}{}",
        if read_only { " (read-only)" } else { "" }
    ));
    let theme = Theme::new(std::env::var_os("NO_COLOR").is_some());
    let audit = Audit::beside(&resolved.settings.log_file).quiet();
    let mut batch = Vec::with_capacity(512);
    let mut drawn = Instant::now()
        .checked_sub(FRAME)
        .unwrap_or_else(Instant::now);
    terminal.draw(|f| ui::render(f, &state, &theme))?;
    // Changes not yet on screen: the frame cap defers a draw, it never drops one.
    let mut dirty = false;
    loop {
        let received = if dirty {
            let wait = FRAME.saturating_sub(drawn.elapsed());
            if let Ok(n) = tokio::time::timeout(wait, rx.recv_many(&mut batch, 512)).await {
                n
            } else {
                terminal.draw(|f| ui::render(f, &state, &theme))?;
                drawn = Instant::now();
                dirty = false;
                continue;
            }
        } else {
            rx.recv_many(&mut batch, 512).await
        };
        if received == 0 {
            return Ok(());
        }
        let mut key_pressed = false;
        for action in batch.drain(..) {
            key_pressed |= matches!(action, Action::Key(_) | Action::Resize);
            for effect in update(&mut state, action) {
                state.note(format!("{effect:?}: started"));
                tokio::spawn(carry_out(
                    effect,
                    resolved.clone(),
                    audit.clone(),
                    tx.clone(),
                ));
            }
        }
        if state.quit {
            return Ok(());
        }
        // Keys are answered at once; everything else is drawn at most once per frame.
        if key_pressed || drawn.elapsed() >= FRAME {
            terminal.draw(|f| ui::render(f, &state, &theme))?;
            drawn = Instant::now();
            dirty = false;
        } else {
            dirty = true;
        }
    }
}

async fn keyboard(tx: mpsc::Sender<Action>) {
    let mut events = EventStream::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        let event = tokio::select! {
            e = events.next() => e,
            _ = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => Some(Ok(Event::Key(crossterm::event::KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)))),
        };
        let key = match event {
            Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => match k.code {
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
                KeyCode::Char(c) => Key::Char(c),
                KeyCode::Tab => Key::Tab,
                KeyCode::Esc => Key::Esc,
                KeyCode::Enter => Key::Enter,
                KeyCode::Backspace => Key::Backspace,
                KeyCode::Up => Key::Up,
                KeyCode::Down => Key::Down,
                _ => continue,
            },
            Some(Ok(Event::Resize(..))) => {
                if tx.send(Action::Resize).await.is_err() {
                    return;
                }
                continue;
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return,
        };
        if tx.send(Action::Key(key)).await.is_err() {
            return;
        }
    }
}

async fn ticks(tx: mpsc::Sender<Action>) {
    let started = Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    loop {
        ticker.tick().await;
        if tx
            .send(Action::Tick(started.elapsed().as_secs_f64()))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Carries out one effect with the same code the command line uses.
async fn carry_out(effect: Effect, resolved: Resolved, audit: Audit, tx: mpsc::Sender<Action>) {
    let outcome: anyhow::Result<String> = match effect {
        Effect::StartServer => restart::start_server(&resolved, &audit, "start")
            .await
            .map(|url| format!("server started: {url}")),
        Effect::Restart => restart::restart(&resolved, true, &audit)
            .await
            .map(|url| format!("restarted: {url}")),
        Effect::Kill(targets) => {
            let audit = audit.clone();
            tokio::task::spawn_blocking(move || {
                targets
                    .iter()
                    .map(|t| {
                        format!(
                            "PID {}: {:?}",
                            t.pid,
                            kill::terminate(t, kill::GRACE, &audit, "kill")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .await
            .map_err(anyhow::Error::from)
        }
        Effect::ResetConfig => {
            let path = crate::config::expand_tilde(&resolved.file_shown, resolved.home.as_deref());
            reset_config::plan(&path)
                .and_then(|plan| reset_config::apply(&plan, &audit))
                .map(|backup| {
                    format!(
                        "config reset; backup: {}",
                        backup.map_or("none (there was no file)".into(), |b| b
                            .display()
                            .to_string())
                    )
                })
        }
        Effect::Collect => {
            collect::collect(&resolved, Path::new("debug_info.txt"), &mut std::io::sink())
                .await
                .map(|b| {
                    format!(
                        "wrote debug_info.txt ({} bytes, {} redacted, sha256 {})",
                        b.size,
                        b.redacted,
                        &b.sha256[..12]
                    )
                })
                .map_err(anyhow::Error::from)
        }
        Effect::Doctor => {
            let facts = doctor::gather(&resolved).await;
            let results = checks::evaluate(&facts, &[]);
            let worst = results.iter().max_by_key(|c| c.status);
            if let Some(c) = worst {
                let text = if c.status == Status::Ok {
                    "all checks pass".to_owned()
                } else {
                    format!("{}: {}", c.name, c.reason)
                };
                let _ = tx.send(Action::Doctor(c.status, text)).await;
            }
            let count = |s| results.iter().filter(|c| c.status == s).count();
            Ok(format!(
                "doctor: {} ok, {} warnings, {} failures",
                count(Status::Ok),
                count(Status::Warn),
                count(Status::Fail)
            ))
        }
    };
    let _ = tx
        .send(outcome.map_or_else(|e| Action::Failed(format!("{e:#}")), Action::Done))
        .await;
}
