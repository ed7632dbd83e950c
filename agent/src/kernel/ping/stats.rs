//! Round-trip statistics as iputils reports them.

use std::time::Duration;

#[derive(Debug, Default)]
pub(super) struct RttStats {
    count: u32,
    min: Duration,
    max: Duration,
    sum: Duration,
    sum_of_squared_nanos: f64,
}

impl RttStats {
    pub(super) fn record(&mut self, rtt: Duration) {
        self.count += 1;
        self.min = if self.count == 1 {
            rtt
        } else {
            self.min.min(rtt)
        };
        self.max = self.max.max(rtt);
        self.sum = self.sum.saturating_add(rtt);
        let nanos = rtt.as_nanos() as f64;
        self.sum_of_squared_nanos += nanos * nanos;
    }

    pub(super) fn count(&self) -> u32 {
        self.count
    }

    pub(super) fn min(&self) -> Duration {
        self.min
    }

    pub(super) fn max(&self) -> Duration {
        self.max
    }

    pub(super) fn mean(&self) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        self.sum / self.count
    }

    /// iputils' `mdev`: the population standard deviation, sqrt(mean of squares - square of mean).
    /// Despite the name it is not a mean deviation.
    pub(super) fn mdev(&self) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let count = f64::from(self.count);
        let mean_nanos = self.sum.as_nanos() as f64 / count;
        // Rounding can push the difference of two nearly equal numbers slightly below zero.
        let variance = (self.sum_of_squared_nanos / count - mean_nanos * mean_nanos).max(0.0);
        Duration::from_nanos(variance.sqrt().round() as u64)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;

    fn stats_of(micros: &[u64]) -> RttStats {
        let mut stats = RttStats::default();
        for &rtt in micros {
            stats.record(Duration::from_micros(rtt));
        }
        stats
    }

    #[test]
    fn nothing_recorded_gives_zeros() {
        let stats = RttStats::default();
        assert_eq!(
            (stats.count(), stats.min(), stats.max()),
            (0, Duration::ZERO, Duration::ZERO)
        );
        assert_eq!(
            (stats.mean(), stats.mdev()),
            (Duration::ZERO, Duration::ZERO)
        );
    }

    #[test]
    fn one_sample_has_no_deviation() {
        let stats = stats_of(&[250]);
        assert_eq!(stats.min(), Duration::from_micros(250));
        assert_eq!(stats.max(), Duration::from_micros(250));
        assert_eq!(stats.mean(), Duration::from_micros(250));
        assert_eq!(stats.mdev(), Duration::ZERO);
    }

    #[test]
    fn mdev_is_the_population_standard_deviation() {
        // Mean 5, squared deviations 9+1+1+1+0+0+4+16 = 32 over 8 samples: variance 4, mdev 2.
        let stats = stats_of(&[2, 4, 4, 4, 5, 5, 7, 9]);
        assert_eq!(stats.count(), 8);
        assert_eq!(stats.min(), Duration::from_micros(2));
        assert_eq!(stats.max(), Duration::from_micros(9));
        assert_eq!(stats.mean(), Duration::from_micros(5));
        assert_eq!(stats.mdev(), Duration::from_micros(2));
    }

    #[test]
    fn mdev_matches_an_iputils_run() {
        // `rtt min/avg/max/mdev = 0.047/0.051/0.055/0.004 ms` for two replies of 55 and 47 us.
        let stats = stats_of(&[55, 47]);
        assert_eq!(stats.mean(), Duration::from_micros(51));
        assert_eq!(stats.mdev(), Duration::from_micros(4));
    }

    #[test]
    fn equal_samples_never_give_a_negative_variance() {
        let stats = stats_of(&[123_457; 1000]);
        assert_eq!(stats.mdev(), Duration::ZERO);
    }
}
