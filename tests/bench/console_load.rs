//! `cargo bench --bench console_load`: what the console costs, in a real pseudo-terminal.
//!
//! 1. Idle: `mpm-top` monitoring an idle `mpm-top serve`, side by side with htop and btop
//!    (each measured alone for 30 s, when installed): CPU as % of one core; RSS, PSS and USS
//!    (unique memory: private pages, from `/proc/PID/smaps_rollup`); threads.
//! 2. Load: the console while 20,000 events/s reach it (`mpm-top bench` fan-out, each send
//!    re-broadcast twice): CPU, RSS over time (flat means no backlog), and how long a key press
//!    takes to show on screen.
//!
//! Everything runs on 127.0.0.1; the server and load generator are processes this bench starts.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::pty::Tty;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// (CPU time in ms, RSS in bytes) of `pid`.
fn usage(pid: u32) -> (u64, u64) {
    let pid = Pid::from_u32(pid);
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing().with_cpu().with_memory(),
    );
    system
        .process(pid)
        .map_or((0, 0), |p| (p.accumulated_cpu_time(), p.memory()))
}

/// (RSS, PSS, USS) in MiB and the thread count of `pid`, from /proc: what it holds, its fair
/// share of what it shares, and what is its alone.
fn memory(pid: u32) -> (f64, f64, f64, u64) {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let kib = |field: &str| -> f64 {
        rollup
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    (
        kib("Rss:"),
        kib("Pss:"),
        kib("Private_Clean:") + kib("Private_Dirty:"),
        threads,
    )
}

/// CPU as % of one core over `secs`, and RSS at the end (MiB).
fn measure(pid: u32, secs: u64) -> (f64, f64) {
    let (c0, _) = usage(pid);
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, rss) = usage(pid);
    (
        (c1 - c0) as f64 / (secs as f64 * 1000.0) * 100.0,
        rss as f64 / f64::from(1u32 << 20),
    )
}

fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn main() {
    let home = tempfile::tempdir().unwrap();
    let server =
        common::ServeProcess::start(home.path(), &[], &[("SOCKETIO_LOG_LEVEL", "WARNING")]);
    let exe = env!("CARGO_BIN_EXE_mpm-top").to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let console_args = vec![
        "--host".to_owned(),
        "127.0.0.1".into(),
        "--port".into(),
        server.port.to_string(),
    ];

    println!(
        "| program (idle, 30 s) | CPU, % of one core | RSS | PSS | USS | threads |\n|---|---|---|---|---|---|"
    );
    let mut programs = vec![("mpm-top".to_owned(), exe.clone(), console_args.clone())];
    for other in ["htop", "btop"] {
        if installed(other) {
            programs.push((other.to_owned(), other.to_owned(), Vec::new()));
        } else {
            eprintln!("{other} is not installed: skipped");
        }
    }
    for (name, program, args) in &programs {
        let mut tty = Tty::spawn(program, args, home.path(), &path);
        std::thread::sleep(Duration::from_secs(5)); // start-up is not idle
        let pid = tty.child.process_id().unwrap();
        let (cpu, _) = measure(pid, 30);
        let (rss, pss, uss, threads) = memory(pid);
        println!("| {name} | {cpu:.2}% | {rss:.1} MiB | {pss:.1} MiB | {uss:.1} MiB | {threads} |");
        let _ = tty.child.kill();
    }

    let mut tty = Tty::spawn(&exe, &console_args, home.path(), &path);
    std::thread::sleep(Duration::from_secs(3));
    let pid = tty.child.process_id().unwrap();
    let port = server.port.to_string();
    // 10,000 sends/s, each re-broadcast as hook:event and claude_event: 20,000 events/s.
    let mut load = common::mpm_top_command(home.path(), &[])
        .args([
            "bench",
            "--json",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--clients",
            "1",
            "--events",
            "200000",
            "--rate",
            "10000",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let (_, rss_early) = usage(pid);
    let (cpu, rss_mid) = measure(pid, 5);
    let started = Instant::now();
    tty.keys("?");
    tty.wait_for("Any key closes this help.");
    let key_ms = started.elapsed().as_secs_f64() * 1000.0;
    std::thread::sleep(Duration::from_secs(5));
    let (_, rss_late) = usage(pid);
    let mib = |b: u64| b as f64 / f64::from(1u32 << 20);
    println!(
        "\nUnder 20,000 events/s: CPU {cpu:.0}% of one core; RSS {:.1} → {:.1} → {:.1} MiB over 13 s; a key press showed on screen in {key_ms:.0} ms",
        mib(rss_early),
        rss_mid,
        mib(rss_late)
    );
    let _ = load.kill();
    let _ = load.wait();
    let _ = tty.child.kill();
}
