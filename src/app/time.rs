//! Time as data: every happening carries a [`Stamp`] taken where it happened, by its producer.
//! The state never reads a clock; `Tick` only moves the clock that windows and ages use.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Local, Offset as _, TimeZone as _, Utc};
use serde_json::Value;

/// When something happened.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    /// Seconds since the console started, from the monotonic clock: for durations and windows.
    pub mono: f64,
    /// The wall clock at the same instant, with the local offset: for display.
    pub wall: DateTime<FixedOffset>,
}

impl Stamp {
    /// `HH:MM:SS.mmm`, local time.
    #[must_use]
    pub fn clock_text(&self) -> String {
        self.wall.format("%H:%M:%S%.3f").to_string()
    }

    /// `HH:MM:SS`, local time.
    #[must_use]
    pub fn seconds_text(&self) -> String {
        self.wall.format("%H:%M:%S").to_string()
    }

    /// A stamp `mono` seconds after 10:00:00 UTC on 2026-11-26: fixed, for tests and snapshots.
    #[must_use]
    pub fn fixed(mono: f64) -> Stamp {
        let origin = Utc
            .with_ymd_and_hms(2026, 11, 26, 10, 0, 0)
            .single()
            .unwrap_or_default()
            .fixed_offset();
        #[allow(clippy::cast_possible_truncation)] // test times are seconds to hours
        let micros = (mono * 1e6).round() as i64;
        Stamp {
            mono,
            wall: origin + chrono::Duration::microseconds(micros),
        }
    }
}

impl Default for Stamp {
    fn default() -> Stamp {
        Stamp::fixed(0.0)
    }
}

/// The console's clock: producers stamp with it.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    started: Instant,
}

/// The latest instant of `phase` plus a whole number of `every`s that is not after now.
#[must_use]
pub fn last_beat(phase: Instant, every: Duration) -> Instant {
    let every = every.max(Duration::from_millis(1));
    let beats = phase.elapsed().as_nanos() / every.as_nanos();
    let since = u64::try_from(beats.saturating_mul(every.as_nanos())).unwrap_or(u64::MAX);
    phase + Duration::from_nanos(since)
}

impl Clock {
    /// A clock whose monotonic zero is now.
    #[must_use]
    pub fn start() -> Clock {
        Clock {
            started: Instant::now(),
        }
    }

    /// Now.
    #[must_use]
    pub fn stamp(&self) -> Stamp {
        self.stamp_at(Instant::now())
    }

    /// The latest whole second of this clock, not after now: where periodic work starts, so
    /// that the tick and the probes wake together and their changes are drawn in one frame.
    #[must_use]
    pub fn last_whole_second(&self) -> Instant {
        last_beat(self.started, Duration::from_secs(1))
    }

    /// Seconds since the clock started (monotonic), without reading the wall clock.
    #[must_use]
    pub fn mono(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The instant `at` (taken earlier by a producer, e.g. when a packet arrived).
    #[must_use]
    pub fn stamp_at(&self, at: Instant) -> Stamp {
        let now = Instant::now();
        let ago = now.saturating_duration_since(at);
        let wall = Utc::now() - chrono::Duration::from_std(ago).unwrap_or_default();
        Stamp {
            mono: at.saturating_duration_since(self.started).as_secs_f64(),
            wall: wall.with_timezone(&local_offset()),
        }
    }
}

/// The local offset from UTC, in seconds, as last looked up (`i32::MIN`: not yet).
static LOCAL_OFFSET: AtomicI32 = AtomicI32::new(i32::MIN);

/// Looks the local offset up again (the time zone's rules, a DST change): once a second, from
/// the clock's tick, rather than for every event stamped.
pub fn refresh_local_offset() {
    LOCAL_OFFSET.store(Local::now().offset().local_minus_utc(), Ordering::Relaxed);
}

fn local_offset() -> FixedOffset {
    if LOCAL_OFFSET.load(Ordering::Relaxed) == i32::MIN {
        refresh_local_offset();
    }
    FixedOffset::east_opt(LOCAL_OFFSET.load(Ordering::Relaxed)).unwrap_or_else(|| Utc.fix())
}

/// A sender's own timestamp from a payload: an RFC 3339 string (also Claude MPM's malformed
/// `+00:00Z` ending, and a naive string, taken as UTC), or seconds since the epoch as a number.
#[must_use]
pub fn sender_time(value: &Value) -> Option<DateTime<FixedOffset>> {
    match value {
        Value::String(text) => parse_text_time(text),
        Value::Number(n) => {
            let secs = n.as_f64()?;
            if !secs.is_finite() || secs <= 0.0 {
                return None;
            }
            #[allow(clippy::cast_possible_truncation)] // epoch microseconds fit in i64
            let micros = (secs * 1e6).round() as i64;
            DateTime::from_timestamp_micros(micros).map(|t| t.fixed_offset())
        }
        _ => None,
    }
}

fn parse_text_time(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t);
    }
    // "2026-11-25T19:10:00+00:00Z": an offset and a Z, as some Claude MPM hooks send.
    if let Some(t) = text
        .strip_suffix('Z')
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        return Some(t);
    }
    // Python's isoformat() without an offset, and the log's "2026-11-25 19:10:00,123".
    let naive = text.replace(',', ".");
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(&naive, f).ok())
        .map(|t| t.and_utc().fixed_offset())
}

/// `later − earlier` in seconds.
#[must_use]
pub fn seconds_between(earlier: DateTime<FixedOffset>, later: DateTime<FixedOffset>) -> f64 {
    #[allow(clippy::cast_precision_loss)] // microseconds of a tool call
    let micros = (later - earlier).num_microseconds().unwrap_or(i64::MAX) as f64;
    micros / 1e6
}

/// This machine's monotonic clock at `at`, seconds: what Claude MPM's server (asyncio's loop
/// time) stamps its clients with. (`Instant` reads the same clock but does not show it.)
#[must_use]
pub fn monotonic_secs_at(at: Instant) -> Option<f64> {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).ok()?;
    #[allow(clippy::cast_precision_loss)] // seconds since boot
    let secs = now.tv_sec() as f64 + now.tv_nsec() as f64 / 1e9;
    Some(secs - at.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_last_beat_is_a_whole_number_of_periods_after_the_phase_and_not_ahead_of_now() {
        let every = Duration::from_millis(300);
        let phase = Instant::now()
            .checked_sub(Duration::from_millis(1_100))
            .unwrap_or_else(Instant::now);
        let beat = last_beat(phase, every);
        let now = Instant::now();
        assert!(
            beat <= now && now.duration_since(beat) < every,
            "{:?}",
            now.duration_since(beat)
        );
        assert_eq!(beat.duration_since(phase).as_nanos() % every.as_nanos(), 0);
        assert_eq!(
            last_beat(now, every),
            now,
            "a phase of now is its own last beat"
        );
    }

    #[test]
    fn every_timestamp_shape_claude_mpm_sends_parses() {
        let iso = sender_time(&json!("2026-11-25T19:08:14.149725+00:00")).unwrap();
        let bad_z = sender_time(&json!("2026-11-25T19:08:14.149725+00:00Z")).unwrap();
        let float = sender_time(&json!(1_795_633_694.149_725)).unwrap();
        let naive = sender_time(&json!("2026-11-25T19:08:14.149725")).unwrap();
        assert_eq!(iso, bad_z);
        assert_eq!(iso, naive);
        assert!(seconds_between(iso, float).abs() < 1e-3, "{iso} {float}");
        assert_eq!(sender_time(&json!("yesterday")), None);
        assert_eq!(sender_time(&json!(null)), None);
        assert_eq!(sender_time(&json!(-1)), None);
    }

    #[test]
    fn durations_keep_their_milliseconds() {
        let a = sender_time(&json!("2026-11-25T19:08:14.149725+00:00")).unwrap();
        let b = sender_time(&json!("2026-11-25T19:08:16.549725+00:00")).unwrap();
        assert!((seconds_between(a, b) - 2.4).abs() < 1e-9);
        assert_eq!(Stamp::fixed(1.5).clock_text(), "10:00:01.500");
    }

    #[test]
    fn a_stamp_taken_earlier_is_earlier() {
        let clock = Clock::start();
        let then = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let (earlier, now) = (clock.stamp_at(then), clock.stamp());
        assert!(now.mono - earlier.mono >= 0.03);
        let wall = seconds_between(earlier.wall, now.wall);
        assert!((0.02..0.5).contains(&wall), "{wall}");
    }
}
