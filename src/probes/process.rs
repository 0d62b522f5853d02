//! Facts about one process, from `/proc`.

/// The most of a command line kept: enough to tell processes apart, and a process with a
/// megabyte of arguments cannot make every sample (and every recorded one) a megabyte.
pub const CMDLINE_CHARS: usize = 4096;

/// Who a process is: enough to show a user, and to notice a PID reused by another program.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessInfo {
    /// Process ID.
    pub pid: u32,
    /// Executable name.
    pub name: String,
    /// Command line, space-joined.
    pub cmdline: String,
    /// Owning user ID, when known.
    pub uid: Option<String>,
    /// Start time in clock ticks since boot (`/proc/PID/stat`, field 22): with the PID it
    /// identifies the process to the tick, so a PID reused even within the same second is a
    /// different process.
    pub start_time: u64,
}

impl ProcessInfo {
    /// Its name and command line with control characters shown as escapes.
    pub fn clean(&mut self) {
        self.name = crate::text::clean(&self.name);
        self.cmdline = crate::text::clean(&crate::text::truncate(&self.cmdline, CMDLINE_CHARS));
        self.uid = self.uid.as_deref().map(crate::text::clean);
    }

    /// The program's name first, then its arguments: `python3 -m claude_mpm …` rather than a
    /// long path cut before the name shows.
    #[must_use]
    pub fn program_and_args(&self) -> String {
        let args = self.cmdline.split_once(' ').map_or("", |(_, args)| args);
        format!("{} {args}", self.name).trim_end().to_owned()
    }

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
/// nothing and cannot be signalled, so it counts as gone). Read from `/proc/PID` directly:
/// sysinfo, asked for one process, read every process's task list.
#[must_use]
pub fn describe(pid: u32) -> Option<ProcessInfo> {
    let start_time = start_ticks(pid)?;
    let (name, cmd, uid) = super::procfs::identity(pid)?;
    // Names and arguments are whatever a process chose (a script named with escape codes):
    // sanitised here, so no printout, dialog or audit line carries them raw.
    Some(ProcessInfo {
        pid,
        name: crate::text::clean(&name),
        cmdline: crate::text::clean(&crate::text::truncate(&cmd.join(" "), CMDLINE_CHARS)),
        uid,
        start_time,
    })
}

/// When `pid` started, in clock ticks since boot; None when it is gone (a zombie, exited but
/// not yet reaped by its parent, counts as gone: it holds nothing and runs nothing).
#[must_use]
pub fn start_ticks(pid: u32) -> Option<u64> {
    // State is the 1st field after the name, starttime the 20th.
    let fields = super::procfs::stat_fields(pid)?;
    if matches!(fields.first()?.as_str(), "Z" | "X" | "x") {
        return None;
    }
    fields.get(19)?.parse().ok()
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
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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
    super::procfs::stats(pid, interval)
}

/// The guide escalates at continuous memory growth over 500 MB.
pub const MEMORY_ESCALATION_BYTES: u64 = 500 * 1024 * 1024;

/// How worrying a resident size is: at half the escalation line a warning, at the line a
/// failure. One rule for `doctor` and the console's Resources pane.
#[must_use]
pub fn memory_status(rss_bytes: u64) -> crate::checks::Status {
    use crate::checks::Status;
    if rss_bytes >= MEMORY_ESCALATION_BYTES {
        Status::Fail
    } else if rss_bytes >= MEMORY_ESCALATION_BYTES / 2 {
        Status::Warn
    } else {
        Status::Ok
    }
}

/// RSS samples over time, bounded, to tell growth toward the escalation line.
#[derive(Clone, Debug)]
pub struct MemoryTrend {
    samples: crate::bounded::Ring<(f64, u64)>,
}

impl Default for MemoryTrend {
    fn default() -> MemoryTrend {
        MemoryTrend {
            samples: crate::bounded::Ring::new(Self::CAPACITY),
        }
    }
}

/// What the samples say about growth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Projection {
    /// Fewer than [`MemoryTrend::MIN_SPAN_SECS`] of samples: too early to say.
    TooEarly {
        /// Seconds of samples so far.
        span_secs: f64,
    },
    /// Not growing.
    Flat,
    /// Growing at `mib_per_min`; the line is `minutes` away at that rate.
    Growing {
        /// Slope, MiB per minute.
        mib_per_min: f64,
        /// Minutes to [`MEMORY_ESCALATION_BYTES`].
        minutes: f64,
    },
}

impl MemoryTrend {
    /// Samples kept: at one every 5 s, an hour.
    pub const CAPACITY: usize = 720;
    /// A projection from less than this is start-up noise.
    pub const MIN_SPAN_SECS: f64 = 300.0;

    /// Adds a sample taken `at_secs` seconds from any fixed origin.
    pub fn push(&mut self, at_secs: f64, rss_bytes: u64) {
        self.samples.push((at_secs, rss_bytes));
    }

    /// Growth in bytes per minute between the first and last sample (None with fewer than 2).
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // byte counts far below 2^52
    pub fn growth_per_minute(&self) -> Option<f64> {
        let (&(t0, m0), &(t1, m1)) = (self.samples.first()?, self.samples.last()?);
        (t1 > t0).then(|| (m1 as f64 - m0 as f64) / (t1 - t0) * 60.0)
    }

    /// Seconds between the first and last sample.
    #[must_use]
    pub fn span_secs(&self) -> f64 {
        match (self.samples.first(), self.samples.last()) {
            (Some((t0, _)), Some((t1, _))) => t1 - t0,
            _ => 0.0,
        }
    }

    /// Minutes until the escalation line at the current growth, if memory is growing.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn minutes_to_escalation(&self) -> Option<f64> {
        let growth = self.growth_per_minute().filter(|g| *g > 0.0)?;
        let &(_, now) = self.samples.last()?;
        Some(MEMORY_ESCALATION_BYTES.saturating_sub(now) as f64 / growth)
    }

    /// The projection to show: nothing before [`Self::MIN_SPAN_SECS`] of samples.
    #[must_use]
    pub fn projection(&self) -> Projection {
        let span_secs = self.span_secs();
        if span_secs < Self::MIN_SPAN_SECS {
            return Projection::TooEarly { span_secs };
        }
        match (self.growth_per_minute(), self.minutes_to_escalation()) {
            (Some(growth), Some(minutes)) => Projection::Growing {
                mib_per_min: growth / f64::from(1 << 20),
                minutes,
            },
            _ => Projection::Flat,
        }
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
        assert_eq!(trend.projection(), Projection::Flat);
        assert_eq!(
            trend.minutes_to_escalation(),
            None,
            "flat memory is not heading anywhere"
        );
    }

    #[test]
    fn no_projection_before_five_minutes_of_samples() {
        let mut trend = MemoryTrend::default();
        trend.push(0.0, 100 << 20);
        trend.push(60.0, 110 << 20);
        assert_eq!(trend.projection(), Projection::TooEarly { span_secs: 60.0 });
        trend.push(300.0, 150 << 20);
        let Projection::Growing {
            mib_per_min,
            minutes,
        } = trend.projection()
        else {
            panic!("{:?}", trend.projection());
        };
        assert!((mib_per_min - 10.0).abs() < 1e-9);
        assert!((minutes - 35.0).abs() < 1e-9);
    }

    #[test]
    fn samples_this_process() {
        let s = stats(std::process::id(), std::time::Duration::from_millis(10)).unwrap();
        assert!(s.rss_bytes > 0);
        // A single-threaded child: its one thread is its main thread, and it counts.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let sleeping = stats(child.id(), std::time::Duration::from_millis(10)).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(sleeping.threads, Some(1));
        assert!(s.open_files.unwrap_or(0) > 0 && s.fd_limit.unwrap_or(0) > 0);
    }
}
