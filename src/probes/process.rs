//! Facts about one process, from sysinfo.

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

/// Who a process is: enough to show a user, and to notice a PID reused by another program.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProcessInfo {
    /// Process ID.
    pub pid: u32,
    /// Executable name.
    pub name: String,
    /// Command line, space-joined.
    pub cmdline: String,
    /// Owning user ID, when known.
    pub uid: Option<String>,
    /// Start time, seconds since the epoch; with the PID it identifies the process.
    pub start_time: u64,
}

impl ProcessInfo {
    /// The command line, or the name when the command line is hidden.
    #[must_use]
    pub fn command(&self) -> &str {
        if self.cmdline.is_empty() {
            &self.name
        } else {
            &self.cmdline
        }
    }
}

/// The process `pid`, if it exists and has not exited (a zombie, waiting to be reaped, holds
/// nothing and cannot be signalled, so it counts as gone).
#[must_use]
pub fn describe(pid: u32) -> Option<ProcessInfo> {
    let pid = Pid::from_u32(pid);
    let mut system = System::new();
    let what = ProcessRefreshKind::nothing()
        .with_cmd(UpdateKind::Always)
        .with_user(UpdateKind::Always);
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), false, what);
    let p = system.process(pid).filter(|p| {
        !matches!(
            p.status(),
            sysinfo::ProcessStatus::Zombie | sysinfo::ProcessStatus::Dead
        )
    })?;
    Some(ProcessInfo {
        pid: pid.as_u32(),
        name: p.name().to_string_lossy().into_owned(),
        cmdline: p
            .cmd()
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        uid: p.user_id().map(|u| u.to_string()),
        start_time: p.start_time(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_process_and_not_a_missing_one() {
        let me = describe(std::process::id()).unwrap();
        assert!(me.start_time > 0);
        assert!(!me.command().is_empty());
        assert_eq!(describe(u32::MAX - 1), None);
    }
}

/// Resource use of one process: the guide's `ps`, `top`, `lsof | wc -l` and `ulimit -n`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProcessStats {
    /// Process ID.
    pub pid: u32,
    /// Resident memory.
    pub rss_bytes: u64,
    /// CPU use over the sampling interval, percent of one core.
    pub cpu_percent: f32,
    /// Threads.
    pub threads: Option<usize>,
    /// Open file descriptors.
    pub open_files: Option<usize>,
    /// Its soft limit on open files.
    pub fd_limit: Option<usize>,
    /// Seconds since it started.
    pub uptime_secs: u64,
}

/// Samples `pid` twice, `interval` apart (CPU use needs two readings); blocking.
#[must_use]
pub fn stats(pid: u32, interval: std::time::Duration) -> Option<ProcessStats> {
    let spid = Pid::from_u32(pid);
    let mut system = System::new();
    let what = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_tasks();
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[spid]), true, what);
    std::thread::sleep(interval.max(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL));
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[spid]), true, what);
    let p = system.process(spid)?;
    Some(ProcessStats {
        pid,
        rss_bytes: p.memory(),
        cpu_percent: p.cpu_usage(),
        threads: p.tasks().map(std::collections::HashSet::len),
        open_files: p.open_files(),
        fd_limit: p.open_files_limit(),
        uptime_secs: p.run_time(),
    })
}

/// The guide escalates at continuous memory growth over 500 MB.
pub const MEMORY_ESCALATION_BYTES: u64 = 500 * 1024 * 1024;

/// RSS samples over time, bounded, to tell growth toward the escalation line.
#[derive(Clone, Debug, Default)]
pub struct MemoryTrend {
    samples: std::collections::VecDeque<(f64, u64)>,
}

impl MemoryTrend {
    /// Samples kept: at one a second, ten minutes.
    pub const CAPACITY: usize = 600;

    /// Adds a sample taken `at_secs` seconds from any fixed origin.
    pub fn push(&mut self, at_secs: f64, rss_bytes: u64) {
        if self.samples.len() == Self::CAPACITY {
            self.samples.pop_front();
        }
        self.samples.push_back((at_secs, rss_bytes));
    }

    /// Growth in bytes per minute between the first and last sample (None with fewer than 2).
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // byte counts far below 2^52
    pub fn growth_per_minute(&self) -> Option<f64> {
        let (&(t0, m0), &(t1, m1)) = (self.samples.front()?, self.samples.back()?);
        (t1 > t0).then(|| (m1 as f64 - m0 as f64) / (t1 - t0) * 60.0)
    }

    /// Seconds between the first and last sample.
    #[must_use]
    pub fn span_secs(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some((t0, _)), Some((t1, _))) => t1 - t0,
            _ => 0.0,
        }
    }

    /// Minutes until the escalation line at the current growth, if memory is growing.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn minutes_to_escalation(&self) -> Option<f64> {
        let growth = self.growth_per_minute().filter(|g| *g > 0.0)?;
        let &(_, now) = self.samples.back()?;
        Some(MEMORY_ESCALATION_BYTES.saturating_sub(now) as f64 / growth)
    }
}

#[cfg(test)]
mod trend_tests {
    use super::*;

    #[test]
    fn growth_and_time_to_the_line() {
        let mut trend = MemoryTrend::default();
        assert_eq!(trend.growth_per_minute(), None);
        trend.push(0.0, 100 << 20);
        trend.push(60.0, 200 << 20);
        assert_eq!(trend.growth_per_minute(), Some(f64::from(100 << 20)));
        assert_eq!(trend.minutes_to_escalation(), Some(3.0));
        for i in 0..1000 {
            trend.push(f64::from(100 + i), 200 << 20);
        }
        assert_eq!(trend.samples.len(), MemoryTrend::CAPACITY);
        assert_eq!(
            trend.minutes_to_escalation(),
            None,
            "flat memory is not heading anywhere"
        );
    }

    #[test]
    fn samples_this_process() {
        let s = stats(std::process::id(), std::time::Duration::from_millis(10)).unwrap();
        assert!(s.rss_bytes > 0 && s.threads.unwrap_or(0) >= 1);
        assert!(s.open_files.unwrap_or(0) > 0 && s.fd_limit.unwrap_or(0) > 0);
    }
}
