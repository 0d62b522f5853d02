//! Latency summaries.

use serde::Serialize;

/// Mean and percentiles of a set of latencies, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: usize,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// Summarizes `samples` (milliseconds); all zero when empty.
    #[must_use]
    pub fn of(mut samples: Vec<f64>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_by(f64::total_cmp);
        #[allow(clippy::cast_precision_loss)] // sample counts are far below 2^52
        let mean_ms = samples.iter().sum::<f64>() / samples.len() as f64;
        Latency {
            count: samples.len(),
            mean_ms,
            p50_ms: percentile(&samples, 50),
            p99_ms: percentile(&samples, 99),
            max_ms: samples[samples.len() - 1],
        }
    }
}

/// Nearest-rank percentile of sorted, non-empty samples.
fn percentile(sorted: &[f64], pct: usize) -> f64 {
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latency::of((1..=100).rev().map(f64::from).collect());
        assert_eq!(
            (l.count, l.p50_ms, l.p99_ms, l.max_ms),
            (100, 50.0, 99.0, 100.0)
        );
        assert!((l.mean_ms - 50.5).abs() < 1e-9);
        assert!((Latency::of(vec![3.0]).p99_ms - 3.0).abs() < f64::EPSILON);
        assert_eq!(Latency::of(vec![]), Latency::default());
    }
}
