//! The full-screen console: producers send [`Action`]s down one channel; the loop applies them
//! with [`update`], carries out the [`Effect`]s on tasks, and draws at most once per frame.
//! The terminal is restored on every way out: quit, error, SIGTERM, and a panic in any task
//! (the panic hook restores it, prints the message once and exits 101).

mod demo;
mod effects;
pub mod logging;
mod producers;
pub mod replay;
mod tape;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::actions::Audit;
use crate::app::{Action, Clock, Effect, Level, State, Topic};
use crate::config::{FlagValue, Key, Resolved};
use crate::probes::http;
use crate::target::{Chosen, Target};
use crate::ui::{self, Theme};

/// The frame cap: at most one draw per this long, whatever the event rate.
const FRAME: Duration = Duration::from_millis(50);
/// How long quitting waits for work still running (an action, the demo server) before it
/// leaves anyway.
const QUIT_GRACE: Duration = Duration::from_millis(400);

/// How the console was asked to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--demo`: the bundled server in-process, with a workload.
    pub demo: bool,
    /// `--read-only`: no action changes anything.
    pub read_only: bool,
    /// The command line's flags, for re-resolving the configuration around the demo server.
    pub flags: Vec<FlagValue>,
    /// `--config`, likewise.
    pub config_file: Option<PathBuf>,
    /// `--record FILE`: record the session from the start.
    pub record: Option<PathBuf>,
    /// `--record-max-mib`: the size cap of a recording.
    pub record_max_mib: u64,
}

/// The console's runtime (live and replay), or None having said why (as `who`).
///
/// One thread: the console waits on I/O and draws; blocking probes have their own pool.
/// (Two workers measured 8 threads, 9.6 MiB USS and 24% of a core under 20,000 events/s;
/// one: 6, 8.7 MiB and 18%.)
fn runtime(who: &str) -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| eprintln!("{who}: cannot start the async runtime: {e}"))
        .ok()
}

/// Why the console cannot run here, if it cannot: it needs a terminal on both ends.
fn no_terminal() -> Option<&'static str> {
    if !std::io::stdout().is_terminal() {
        Some("standard output is not a terminal")
    } else if !std::io::stdin().is_terminal() {
        Some("standard input is not a terminal")
    } else {
        None
    }
}

/// Runs the console until the user quits. Returns the process exit status.
#[must_use]
pub fn run(resolved: Resolved, options: &Options) -> u8 {
    if let Some(why) = no_terminal() {
        eprintln!(
            "mpm-top: the console needs a terminal, and {why}.\n\
             For output a script or a file can take, use:\n  \
             mpm-top doctor [--json]   the health check\n  \
             mpm-top --collect         the debug bundle (debug_info.txt)\n  \
             mpm-top config --json     the configuration and where each value came from"
        );
        return 2;
    }
    let Some(runtime) = runtime("mpm-top") else {
        return 1;
    };
    let code = runtime.block_on(console(resolved, options));
    // An action still running (a kill waiting out its grace period) does not hold up quitting.
    runtime.shutdown_timeout(QUIT_GRACE);
    code
}

async fn console(resolved: Resolved, options: &Options) -> u8 {
    let (stop_tx, stop) = watch::channel(false);
    let (resolved, mut demo) = if options.demo {
        match demo::start(&resolved, stop.clone()).await {
            Ok(demo) => (
                for_demo(options, demo.server.addr.port(), &demo.log),
                Some(demo),
            ),
            Err(e) => {
                eprintln!("mpm-top --demo: cannot start the bundled server: {e:#}");
                return 1;
            }
        }
    } else {
        (resolved, None)
    };
    // One subscriber for the process: the Log pane's, and the demo server's log file beside it.
    logging::init(demo.as_mut().and_then(|d| d.log_layer.take()));
    let target = match &demo {
        Some(demo) => Target {
            scheme: "http",
            host: "127.0.0.1".into(),
            port: demo.server.addr.port(),
            chosen: Chosen::Demo,
        },
        None => choose(&resolved).await,
    };
    // How the configuration is read again after the console resets it.
    let reload: effects::Reload = {
        let options = options.clone();
        let demo = demo.as_ref().map(|d| (d.server.addr.port(), d.log.clone()));
        std::sync::Arc::new(move || match &demo {
            Some((port, log)) => for_demo(&options, *port, log),
            None => crate::config::load(options.flags.clone(), options.config_file.as_deref()),
        })
    };
    let mut terminal = ratatui::init();
    restore_on_any_panic();
    let outcome = main_loop(&mut terminal, &resolved, &reload, target, options).await;
    ratatui::restore();
    let _ = stop_tx.send(true);
    if let Some(demo) = demo {
        demo.stop(QUIT_GRACE).await;
    }
    match outcome {
        Ok(farewell) => {
            if let Some(farewell) = farewell {
                eprintln!("mpm-top: {farewell}");
            }
            0
        }
        Err(e) => {
            eprintln!("mpm-top: {e:#}");
            1
        }
    }
}

/// The configuration `--demo` runs on: the user's, with the server, its log and the hooks
/// pointed at the demo server (source "--demo"), so neither doctor nor the Config pane
/// reports findings that are only about the demo.
fn for_demo(options: &Options, port: u16, log: &std::path::Path) -> Resolved {
    let mut inputs = crate::config::gather(options.flags.clone(), options.config_file.as_deref());
    let port = port.to_string();
    let log = log.display().to_string();
    inputs.demo = [
        (Key::Host, "127.0.0.1"),
        (Key::Port, port.as_str()),
        (Key::HookHost, "127.0.0.1"),
        (Key::HookPort, port.as_str()),
        (Key::LogFile, log.as_str()),
    ]
    .into_iter()
    .map(|(key, raw)| FlagValue {
        key,
        raw: raw.to_owned(),
    })
    .collect();
    crate::config::resolve(&inputs)
}

/// A panic in any task (tokio would otherwise swallow it and leave the terminal raw): restore
/// the terminal, let the hook before this one print the message, exit non-zero.
fn restore_on_any_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        ratatui::restore();
        previous(info);
        std::process::exit(101);
    }));
}

/// The target: what the user named, always; when nothing was named and nothing answers on the
/// default, the first server discovery finds.
async fn choose(resolved: &Resolved) -> Target {
    let configured = Target::configured(resolved);
    if configured.is_named()
        || http::health(&configured.url(), Duration::from_millis(500))
            .await
            .is_ok()
    {
        return configured;
    }
    let ports = http::discovery_ports(resolved.settings.port_range, configured.port);
    let found = http::discover(&configured.host, ports, Duration::from_millis(300)).await;
    found.first().map_or(configured.clone(), |f| {
        configured.on_port(f.port, Chosen::Discovered)
    })
}

/// Runs the live console; what to tell the user after the terminal is restored (where a
/// recording went).
async fn main_loop(
    terminal: &mut ratatui::DefaultTerminal,
    resolved: &Resolved,
    reload: &effects::Reload,
    target: Target,
    options: &Options,
) -> anyhow::Result<Option<String>> {
    let (tx, mut rx) = mpsc::channel::<Action>(8192);
    let clock = Clock::start();
    let watch = producers::Watch {
        clock,
        other_ports: Vec::new(),
        our_log: resolved.settings.log_file.clone(),
    };
    let watch_of = |t: &Target| producers::Watch {
        other_ports: http::discovery_ports(resolved.settings.port_range, t.port),
        ..watch.clone()
    };
    start_producers(resolved, &target, clock, &tx);
    // Each target's producers tag what they send with its generation: the state routes it to
    // the server on screen or to one watched in the background, and drops the rest.
    let mut watching = Watching::default();
    let starters = Starters {
        feed: |t: &Target, g| producers::watch_feed(t, &watch_of(t), &tx, g),
        probes: |t: &Target, g| producers::watch_probes(t, &watch_of(t), &tx, g),
    };

    let (mut state, mut tape) = begin(resolved, &target, clock, options)?;
    reconcile(&mut watching, &state, &starters);
    let theme = Theme::new(std::env::var_os("NO_COLOR").is_some());
    let audit = Audit::beside(&resolved.settings.log_file).quiet();
    let mut batch = Vec::with_capacity(512);
    let log_view = logging::view();
    draw(terminal, &state, &theme, &log_view)?;
    // Since when changes wait to be drawn: a frame after the first of them, all are drawn at
    // once. (The second's tick and health answer arrive a few ms apart: one draw, not two.)
    let mut dirty: Option<Instant> = None;
    loop {
        let received = if let Some(since) = dirty {
            let wait = FRAME.saturating_sub(since.elapsed());
            if let Ok(n) = tokio::time::timeout(wait, rx.recv_many(&mut batch, 512)).await {
                n
            } else {
                draw(terminal, &state, &theme, &log_view)?;
                dirty = None;
                continue;
            }
        } else {
            rx.recv_many(&mut batch, 512).await
        };
        if received == 0 {
            return Ok(finish_recording(&mut tape));
        }
        // The clock as the batch is applied: mpm-top's own log lines are stamped with it.
        log_only(tape.apply(&mut state, Action::Tick(clock.stamp())));
        let mut key_pressed = false;
        for action in batch.drain(..) {
            if matches!(&action, Action::Watched(g, _) if *g != state.generation) {
                // A server watched in the background keeps what it reports, unrecorded: a
                // recording is of the server on screen.
                log_only(crate::app::update(&mut state, action));
                continue;
            }
            key_pressed |= matches!(action, Action::Key(_) | Action::Resize);
            for effect in tape
                .apply(&mut state, action)
                .into_iter()
                .filter_map(logged)
            {
                match effect {
                    Effect::Switch(to) => {
                        log_only(tape.apply(&mut state, Action::Retargeted(to)));
                        reconcile(&mut watching, &state, &starters);
                        continue;
                    }
                    Effect::Record => {
                        start_or_stop_recording(&mut tape, &mut state, &tx);
                        continue;
                    }
                    Effect::LogView(key) => {
                        // tui-logger's widget learns what is selected when it is drawn: each
                        // key acts on the frame before it, so each is drawn at once.
                        logging::press(&log_view, key);
                        draw(terminal, &state, &theme, &log_view)?;
                        continue;
                    }
                    _ => {}
                }
                start(
                    &mut tape,
                    &mut state,
                    effect,
                    (resolved, reload, &audit, &tx),
                );
            }
        }
        let (recording, ended) = tape.view();
        state.recording = recording;
        if let Some(why) = ended {
            tape.note(&mut state, why);
        }
        if state.quit {
            return Ok(finish_recording(&mut tape));
        }
        // Keys are answered at once; everything else is drawn a frame after it came.
        if key_pressed {
            draw(terminal, &state, &theme, &log_view)?;
            dirty = None;
        } else {
            dirty.get_or_insert_with(Instant::now);
        }
    }
}

/// The producers that are not about one target: keys, the clock, and every server on the
/// host, scanned every 5 s (`S`, the status pane, the same-project alert).
fn start_producers(resolved: &Resolved, target: &Target, clock: Clock, tx: &mpsc::Sender<Action>) {
    tokio::spawn(producers::keyboard(tx.clone()));
    tokio::spawn(producers::ticks(clock, tx.clone()));
    tokio::spawn(producers::servers(
        Target::configured(resolved),
        crate::probes::servers::scan_ports(resolved.settings.port_range, target),
        (clock, resolved.home.clone()),
        tx.clone(),
    ));
}

/// The producers running, by generation: each target's feed, and its probes while it is on
/// screen.
type Watching = std::collections::BTreeMap<u64, (watch::Sender<bool>, Option<watch::Sender<bool>>)>;

/// How a target's feed and probes are started (tagged with its generation).
struct Starters<F, P> {
    feed: F,
    probes: P,
}

/// Keeps running exactly what is needed: the target on screen has its feed and probes; a parked server keeps its feed only (its events, rates
/// and clients are what switching back must find; its health and sockets are probed again when
/// it is back); the producers of a server let go stop.
fn reconcile<F, P>(watching: &mut Watching, state: &State, start: &Starters<F, P>)
where
    F: Fn(&Target, u64) -> watch::Sender<bool>,
    P: Fn(&Target, u64) -> watch::Sender<bool>,
{
    let (target, current) = (&state.target, state.generation);
    let parked: Vec<u64> = state.parked.iter().map(|p| p.generation).collect();
    watching.retain(|g, (feed, probes)| {
        let keep = *g == current || parked.contains(g);
        if !keep {
            let _ = feed.send(true);
        }
        if (!keep || *g != current)
            && let Some(probes) = probes.take()
        {
            let _ = probes.send(true);
        }
        keep
    });
    let (_, probes) = watching
        .entry(current)
        .or_insert_with(|| ((start.feed)(target, current), None));
    if probes.is_none() {
        *probes = Some((start.probes)(target, current));
    }
}

/// Carries out the log lines among the effects of an action that asks for nothing else.
fn log_only(effects: Vec<Effect>) {
    for effect in effects {
        _ = logged(effect);
    }
}

/// Starts `effect` on a task of its own, saying so in the log.
fn start(
    tape: &mut tape::Tape,
    state: &mut State,
    effect: Effect,
    with: (&Resolved, &effects::Reload, &Audit, &mpsc::Sender<Action>),
) {
    let (resolved, reload, audit, tx) = with;
    let started = format!("{}: started", effect.label());
    tape.log(state, Level::Info, Topic::Action, started);
    let held = matches!(effect, Effect::Collect(_)).then(|| crate::collect::Held {
        recording: tape.held(state),
        alerts: crate::app::alerts::history_text(state),
    });
    tokio::spawn(effects::carry_out(
        effect,
        resolved.clone(),
        reload.clone(),
        audit.clone(),
        tx.clone(),
        held,
    ));
}

/// Logs `effect` if it is a log line; returns it otherwise.
fn logged(effect: Effect) -> Option<Effect> {
    match effect {
        Effect::Log(entry) => {
            logging::emit(&entry);
            None
        }
        other => Some(other),
    }
}

/// Draws a frame, with the log lines written since the last one.
fn draw(
    terminal: &mut ratatui::DefaultTerminal,
    state: &State,
    theme: &Theme,
    log_view: &ui::LogView,
) -> std::io::Result<()> {
    logging::flush();
    terminal
        .draw(|f| ui::render(f, state, theme, log_view))
        .map(|_| ())
}

/// The console's first state, and its tape (recording from the start with `--record`).
fn begin(
    resolved: &Resolved,
    target: &Target,
    clock: Clock,
    options: &Options,
) -> anyhow::Result<(State, tape::Tape)> {
    let mut state = State::new(target.clone(), options.read_only);
    state.now = clock.stamp();
    state.config_file.clone_from(&resolved.file_shown);
    let mut tape = tape::Tape::new(clock, options.record_max_mib, resolved.home.as_deref());
    log_only(tape.apply(&mut state, Action::Config(crate::config::rows(resolved))));
    log_only(tape.apply(&mut state, Action::Thresholds(resolved.alerts.thresholds)));
    tape.note(
        &mut state,
        format!(
            "monitoring {target}{}",
            if options.read_only {
                " (read-only)"
            } else {
                ""
            }
        ),
    );
    if let Some(path) = &options.record {
        tape.start(&state, path, tape::Wait::ForFile)
            .map_err(|e| anyhow::anyhow!("--record: {e}"))?;
        tape.note(
            &mut state,
            format!("recording to {}: w stops", path.display()),
        );
    }
    Ok((state, tape))
}

/// `w`: a recording in the current directory, named for when it began; or the end of the one
/// being written.
fn start_or_stop_recording(tape: &mut tape::Tape, state: &mut State, tx: &mpsc::Sender<Action>) {
    if let Some(recorder) = tape.stop() {
        // Writing out what is queued is the recorder's work, off the console's task; the
        // outcome comes back as a note.
        let tx = tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.blocking_send(Action::Note(finished(recorder)));
        });
        return;
    }
    // Named for the second it began; a second recording in the same second gets `-2`, …
    let stem = format!("mpm-top-{}", state.now.wall.format("%Y%m%d-%H%M%S"));
    let path = (1..100)
        .map(|n| match n {
            1 => PathBuf::from(format!("{stem}.{}", crate::record::EXTENSION)),
            n => PathBuf::from(format!("{stem}-{n}.{}", crate::record::EXTENSION)),
        })
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| PathBuf::from(format!("{stem}.{}", crate::record::EXTENSION)));
    match tape.start(state, &path, tape::Wait::No) {
        Ok(()) => tape.note(state, format!("recording to {}: w stops", path.display())),
        Err(e) => tape.note(state, format!("w: cannot record: {e}")),
    }
}

/// Ends the recording being written, if any: what to tell the user.
fn finish_recording(tape: &mut tape::Tape) -> Option<String> {
    tape.stop().map(finished)
}

/// Finishes a recording: what to tell the user.
fn finished(recorder: crate::record::Recorder) -> String {
    let path = recorder.path().to_owned();
    let shown = path.display();
    match recorder.finish() {
        Ok(bytes) => format!(
            "recorded {shown} ({}); mpm-top replay {shown} opens it",
            crate::ui::bytes(bytes)
        ),
        Err(why) => format!("the recording {shown} ended early: {why}"),
    }
}
