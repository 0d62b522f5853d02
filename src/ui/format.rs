//! Small formatting helpers shared by the panes.

/// A duration for people: `42s`, `3m07s`, `2h05m`.
#[must_use]
pub fn age(secs: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // display of a duration
    let s = secs.max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// A tool's duration, to the millisecond: `250 ms`, `1.500 s`, `75.250 s`, `12m05s`.
#[must_use]
pub fn duration(secs: f64) -> String {
    if secs.abs() < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else if secs < 100.0 {
        format!("{secs:.3} s")
    } else {
        age(secs)
    }
}

/// A size for people: `512 B`, `12.4 KiB`, `3.1 MiB`.
#[must_use]
pub fn bytes(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // display of a size
    let f = n as f64;
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", f / 1024.0)
    } else {
        format!("{:.1} MiB", f / (1024.0 * 1024.0))
    }
}
