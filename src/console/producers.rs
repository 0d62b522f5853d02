//! The tasks that feed the console's channel: keyboard, clock, and, for each target, the feed
//! and the probes (which also choose the log to tail). Each stamps what it reports with the
//! console's [`Clock`] where it happens, and stops when the channel closes or its target's
//! `stop` turns true. Blocking probes run on blocking threads, never on the UI task.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers};
use futures_util::StreamExt as _;
use tokio::sync::{mpsc, watch};

use crate::actions;
use crate::app::{Action, Clock, Key};
use crate::probes::feed::{self, Dropped, FeedEvent, FeedOptions};
use crate::probes::http;
use crate::probes::owners::Owners;
use crate::probes::{logtail, pidfiles};
use crate::target::Target;

/// How often the clock moves when nothing else happens. Every tick is a redraw; rates and the
/// availability strip are per second, so a faster tick would only cost idle CPU.
const TICK: Duration = Duration::from_secs(1);

/// What the watchers of one target need besides the target.
#[derive(Clone, Debug)]
pub struct Watch {
    /// The console's clock.
    pub clock: Clock,
    /// Ports discovery looks at when the target is silent (Claude MPM's and `port_range`).
    pub other_ports: Vec<u16>,
    /// mpm-top serve's configured log (with `--demo`, the demo server's), tailed when an
    /// mpm-top server holds the port.
    pub our_log: PathBuf,
}

/// A target's producers' way to the console: every action carries the target's generation,
/// so the loop can drop what an old target's producers still send after a switch (a probe
/// round in flight, queued feed events, log lines).
#[derive(Clone, Debug)]
struct Outbox {
    tx: mpsc::Sender<Action>,
    generation: u64,
}

impl Outbox {
    /// An outbox for producers of `generation`, and the switch that stops them.
    fn stoppable(
        tx: &mpsc::Sender<Action>,
        generation: u64,
    ) -> (watch::Sender<bool>, watch::Receiver<bool>, Outbox) {
        let (stop_tx, stop) = watch::channel(false);
        let out = Outbox {
            tx: tx.clone(),
            generation,
        };
        (stop_tx, stop, out)
    }

    fn wrap(&self, action: Action) -> Action {
        Action::Watched(self.generation, Box::new(action))
    }

    /// Whether the console still listens.
    async fn send(&self, action: Action) -> bool {
        self.tx.send(self.wrap(action)).await.is_ok()
    }

    fn try_send(&self, action: Action) {
        let _ = self.tx.try_send(self.wrap(action));
    }

    fn blocking_send(&self, action: Action) -> bool {
        self.tx.blocking_send(self.wrap(action)).is_ok()
    }
}

/// Starts the feed for `target`, its actions tagged with `generation`; it stops when the
/// returned sender is dropped or sends `true`.
pub fn watch_feed(
    target: &Target,
    w: &Watch,
    tx: &mpsc::Sender<Action>,
    generation: u64,
) -> watch::Sender<bool> {
    let (stop_tx, stop, out) = Outbox::stoppable(tx, generation);
    // Claude MPM stamps its clients on its monotonic clock, which only a server on this
    // machine shares with the console.
    let local = crate::target::is_loopback_host(&target.host);
    tokio::spawn(feed_task(target.url(), (w.clock, local), out, stop));
    stop_tx
}

/// Starts the probes for `target` (health, transports, process and sockets, its log), their
/// actions tagged with `generation`; they stop when the returned sender is dropped or sends
/// `true`.
pub fn watch_probes(
    target: &Target,
    w: &Watch,
    tx: &mpsc::Sender<Action>,
    generation: u64,
) -> watch::Sender<bool> {
    let (stop_tx, stop, out) = Outbox::stoppable(tx, generation);
    tokio::spawn(probes(target.clone(), w.clone(), out, stop));
    stop_tx
}

/// Forwards the feed's events as actions, each stamped with its arrival instant.
async fn feed_task(
    url: String,
    (clock, local): (Clock, bool),
    out: Outbox,
    stop: watch::Receiver<bool>,
) {
    let (feed_tx, mut events) = mpsc::channel(4096);
    let dropped = Dropped::default();
    let options = FeedOptions {
        ping_phase: Some(clock.last_whole_second()),
        // The Clients view's list: on each count change, at most once a second.
        list_clients: Some(Duration::from_secs(1)),
        register: Some(crate::app::clients::registration("mpm-top console")),
        ..FeedOptions::new(&url)
    };
    tokio::spawn(feed::run(options, feed_tx, dropped.clone(), stop));
    let mut told = 0;
    while let Some(event) = events.recv().await {
        // Events the feed could not queue (the console fell behind): counted, and said.
        if dropped.count() != told {
            told = dropped.count();
            if !out.send(Action::FeedDropped(told)).await {
                return;
            }
        }
        let action = match event {
            FeedEvent::Connected => Action::Connected,
            FeedEvent::Disconnected { reason, retry_in } => Action::Disconnected(format!(
                "{reason} (retry in {:.2}s)",
                retry_in.as_secs_f64()
            )),
            FeedEvent::Event { name, data, at } if name == "client:list:response" => {
                Action::ClientList {
                    data,
                    at: clock.stamp_at(at),
                    boot: local
                        .then(|| crate::app::time::monotonic_secs_at(at))
                        .flatten(),
                }
            }
            FeedEvent::Event { name, data, at } => Action::FeedEvent {
                name,
                data,
                at: clock.stamp_at(at),
            },
            FeedEvent::Latency(d) => Action::Latency(d.as_secs_f64() * 1000.0),
        };
        if !out.send(action).await {
            return;
        }
    }
}

/// Health every second; handshake, websocket, process and sockets every 5 s (the socket table
/// scans /proc, the costliest probe the console runs); discovery every 5 s while the target
/// is silent; the log of the server holding the port, tailed while it holds it.
async fn probes(target: Target, w: Watch, out: Outbox, mut stop: watch::Receiver<bool>) {
    let url = target.url();
    let timeout = Duration::from_secs(1);
    // On the clock's whole seconds, as the tick is: its answer is drawn in the tick's frame.
    let mut ticker = tokio::time::interval_at(w.clock.last_whole_second().into(), TICK);
    let mut tail: Option<Tail> = None;
    let mut kind = None;
    // Who held the port's sockets: kept between samples (see `probes::owners`).
    let mut owners = Some(Owners::default());
    for round in 0u64.. {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        let health = http::health(&url, timeout).await;
        let answered = health.is_ok();
        if let Ok(h) = &health {
            kind = Some(h.kind.clone());
        }
        if !out
            .send(Action::Health(health.map_err(|e| e.to_string())))
            .await
        {
            break;
        }
        if round % 5 != 0 {
            continue;
        }
        if !answered {
            let found = http::discover(
                &target.host,
                w.other_ports.iter().copied(),
                Duration::from_millis(300),
            )
            .await;
            let found = found
                .into_iter()
                .map(|f| (f.port, f.health.kind.label()))
                .collect();
            out.send(Action::Found(found)).await;
        }
        let (handshake, websocket) = tokio::join!(
            http::handshake(&url, timeout),
            http::websocket_upgrade(&url, timeout)
        );
        out.send(Action::Transport {
            handshake: handshake.is_ok(),
            websocket: websocket.is_ok(),
        })
        .await;
        let port = target.port;
        let owned = target.clone();
        let (log_kind, log_watch) = (kind.clone(), w.clone());
        let mut known = owners.take().unwrap_or_default();
        let facts = tokio::task::spawn_blocking(move || {
            let facts = actions::holder::port_facts_with(&owned, &mut known);
            let log = pidfiles::server_log(log_kind.as_ref(), facts.pid, port, &log_watch.our_log);
            (facts.stats, facts.rows, facts.holders, log, known)
        })
        .await;
        let Ok((process, sockets, holders, wanted, known)) = facts else {
            continue;
        };
        owners = Some(known);
        let at = w.clock.stamp();
        if tail.as_ref().map(|t| &t.path) != wanted.as_ref() {
            tail = wanted.map(|path| {
                out.try_send(Action::Note(format!("tailing {}", path.display())));
                Tail::start(path, w.clock, out.clone())
            });
        }
        out.send(Action::Resources {
            process,
            sockets,
            holders,
            at,
        })
        .await;
    }
    drop(tail);
}

/// A log followed on a thread of its own (the tailer blocks); stops when dropped.
struct Tail {
    path: PathBuf,
    stop: Arc<AtomicBool>,
}

impl Tail {
    fn start(path: PathBuf, clock: Clock, out: Outbox) -> Tail {
        let stop = Arc::new(AtomicBool::new(false));
        let (watched, stopped) = (path.clone(), Arc::clone(&stop));
        // One thread: the tailer hands each line straight to the console's queue, and waits
        // when it is full (a log written faster than the console reads waits in the file).
        // Stamped when read: the tailer wakes on the write (notify), so this is when the line
        // appeared, give or take a scheduling delay.
        std::thread::spawn(move || {
            let send = |line| out.blocking_send(Action::LogLine(line, clock.stamp()));
            logtail::follow_until(&watched, &send, Duration::from_secs(1), &stopped);
        });
        Tail { path, stop }
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The first of SIGTERM, SIGHUP (the terminal closed) and SIGQUIT: each means quit, cleanly.
async fn told_to_go() {
    use tokio::signal::unix::{SignalKind, signal};
    let wait = |kind| async move {
        match signal(kind) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = wait(SignalKind::terminate()) => {}
        () = wait(SignalKind::hangup()) => {}
        () = wait(SignalKind::quit()) => {}
    }
}

/// Keys, resizes, and SIGTERM or SIGHUP (as Ctrl-C, so the terminal is restored and the demo's
/// folder removed).
pub async fn keyboard(tx: mpsc::Sender<Action>) {
    let mut events = EventStream::new();
    let go = told_to_go();
    tokio::pin!(go);
    loop {
        let event = tokio::select! {
            e = events.next() => e,
            () = &mut go => {
                let _ = tx.send(Action::Key(Key::CtrlC)).await;
                return;
            }
        };
        let key = match event {
            Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => match k.code {
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
                KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlU,
                KeyCode::Char(_) if k.modifiers.contains(KeyModifiers::CONTROL) => continue,
                KeyCode::Char(c) => Key::Char(c),
                KeyCode::Tab => Key::Tab,
                KeyCode::Esc => Key::Esc,
                KeyCode::Enter => Key::Enter,
                KeyCode::Backspace => Key::Backspace,
                KeyCode::Up => Key::Up,
                KeyCode::Down => Key::Down,
                KeyCode::PageUp => Key::PageUp,
                KeyCode::PageDown => Key::PageDown,
                KeyCode::Home => Key::Home,
                KeyCode::Left => Key::Left,
                KeyCode::Right => Key::Right,
                KeyCode::End => Key::End,
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

/// How often the host is scanned for servers: measured at 2–8 ms a scan on this machine.
const SCAN_EVERY: Duration = Duration::from_secs(5);

/// Every monitor server on the target's host, every [`SCAN_EVERY`], on the clock's whole
/// seconds (its answer is drawn in the tick's frame).
pub async fn servers(
    configured: Target,
    ports: Vec<u16>,
    (clock, home): (Clock, Option<PathBuf>),
    tx: mpsc::Sender<Action>,
) {
    let mut scanner = crate::probes::servers::Scanner::new(&configured, home);
    // Two seconds after the target's own 5-second sample: the blocking thread that sample used
    // is idle again and takes the scan (on the same second, a second thread was started).
    let phase = clock.last_whole_second() + Duration::from_secs(2);
    let mut ticker = tokio::time::interval_at(phase.into(), SCAN_EVERY);
    loop {
        ticker.tick().await;
        let rows = scanner.scan(&configured.host, &ports).await;
        let at = clock.stamp();
        if tx.send(Action::Servers { rows, at }).await.is_err() {
            return;
        }
    }
}

/// The clock, once a second.
pub async fn ticks(clock: Clock, tx: mpsc::Sender<Action>) {
    let mut ticker = tokio::time::interval_at(clock.last_whole_second().into(), TICK);
    loop {
        ticker.tick().await;
        crate::app::time::refresh_local_offset();
        if tx.send(Action::Tick(clock.stamp())).await.is_err() {
            return;
        }
    }
}
