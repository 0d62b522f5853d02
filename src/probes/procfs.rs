//! One process's resource use, read straight from `/proc/PID`: the few files that hold it.
//!
//! sysinfo, asked for one process with its threads, listed `/proc/N/task` for every process on
//! the machine (483 directory opens per sample here); an idle console took most of its system
//! calls doing that every 5 s.

use std::time::{Duration, Instant};

use super::process::ProcessStats;

/// One reading of the counters that CPU use is worked out from.
struct Reading {
    /// User and system time, clock ticks.
    cpu_ticks: u64,
    /// When it was read.
    at: Instant,
}

/// The fields of `/proc/PID/stat` after the command name (which may hold spaces and `)`), in
/// order: state is the first.
pub(super) fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn reading(pid: u32) -> Option<Reading> {
    let fields = stat_fields(pid)?;
    // utime and stime are the 12th and 13th fields after the name.
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Reading {
        cpu_ticks: ticks(11)? + ticks(12)?,
        at: Instant::now(),
    })
}

/// Clock ticks per second (`getconf CLK_TCK`).
fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// A `Name:  value kB` line of `/proc/PID/status`, as a number.
fn status_number(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The soft limit on open files, from `/proc/PID/limits`.
fn fd_limit(pid: u32) -> Option<usize> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A process's name (as `ps` shows it), its arguments, and its real user ID; None when gone.
#[must_use]
pub fn identity(pid: u32) -> Option<(String, Vec<String>, Option<String>)> {
    let name = std::fs::read(format!("/proc/{pid}/comm")).ok()?;
    let name = String::from_utf8_lossy(&name)
        .trim_end_matches('\n')
        .to_owned();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid = status_number(&status, "Uid:").map(|u| u.to_string());
    Some((name, cmd, uid))
}

/// Samples `pid` twice, `interval` apart (CPU use needs two readings); blocking. None when
/// the process is gone.
#[must_use]
pub fn stats(pid: u32, interval: Duration) -> Option<ProcessStats> {
    let first = reading(pid)?;
    std::thread::sleep(interval);
    let second = reading(pid)?;
    let hz = ticks_per_second();
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)] // small counts
    let cpu_percent = {
        let busy = second.cpu_ticks.saturating_sub(first.cpu_ticks) as f64 / hz as f64;
        let wall = second.at.duration_since(first.at).as_secs_f64().max(1e-3);
        (busy / wall * 100.0) as f32
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let start_ticks = super::process::start_ticks(pid)?;
    let boot_secs = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )] // seconds, clamped
    let uptime_secs = (boot_secs - start_ticks as f64 / hz as f64).max(0.0) as u64;
    Some(ProcessStats {
        pid,
        rss_bytes: status_number(&status, "VmRSS:").unwrap_or(0) * 1024,
        cpu_percent,
        threads: status_number(&status, "Threads:").and_then(|n| usize::try_from(n).ok()),
        open_files: std::fs::read_dir(format!("/proc/{pid}/fd"))
            .ok()
            .map(Iterator::count),
        fd_limit: fd_limit(pid),
        uptime_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_measured_and_a_missing_one_is_none() {
        let me = stats(std::process::id(), Duration::from_millis(20)).expect("this process");
        assert!(me.rss_bytes > 1024 * 1024, "{me:?}");
        assert!(me.threads.is_some_and(|n| n >= 1), "{me:?}");
        assert!(me.open_files.is_some_and(|n| n >= 3), "{me:?}");
        assert!(me.fd_limit.is_some_and(|n| n >= 64), "{me:?}");
        assert!(me.uptime_secs < 3600, "{me:?}");
        assert!(stats(u32::MAX - 1, Duration::ZERO).is_none());
    }
}
