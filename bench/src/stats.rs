//! What was measured, and medians of it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::agent::Memory;
use crate::methods::Method;

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub setup: Duration,
    /// Until the teardown command(s) returned.
    pub teardown: Duration,
    /// Until the kernel had freed every namespace and link (deletion of namespaces is asynchronous).
    pub gone: Duration,
}

#[derive(Debug, Default)]
pub struct Results {
    pub samples: BTreeMap<(usize, usize), Vec<Sample>>,
    /// Per N: (ip loop, one nsfleet call).
    pub listings: BTreeMap<usize, (Vec<Duration>, Vec<Duration>)>,
    pub idle: Memory,
    /// The agent right after building the largest topology with nsfleet batch.
    pub holding: Option<(usize, Memory)>,
    /// Per N: methods not run, with why.
    pub skipped: Vec<(usize, Method, String)>,
}

pub fn method_key(method: Method) -> usize {
    Method::ALL.iter().position(|m| *m == method).unwrap_or(0)
}

impl Results {
    pub fn record(&mut self, n: usize, method: Method, sample: Sample) {
        self.samples
            .entry((n, method_key(method)))
            .or_default()
            .push(sample);
    }

    pub fn of(&self, n: usize, method: Method) -> Option<&[Sample]> {
        self.samples
            .get(&(n, method_key(method)))
            .map(Vec::as_slice)
            .filter(|s| !s.is_empty())
    }

    pub fn median_of(
        &self,
        n: usize,
        method: Method,
        pick: impl Fn(&Sample) -> Duration,
    ) -> Option<Duration> {
        self.of(n, method)
            .map(|samples| median(samples.iter().map(pick).collect()))
    }
}

pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    match values.len() {
        0 => Duration::ZERO,
        len if len % 2 == 1 => values[len / 2],
        len => (values[len / 2 - 1] + values[len / 2]) / 2,
    }
}

/// The nearest-rank percentile (`percent` of 100) of `values`.
pub fn percentile(mut values: Vec<Duration>, percent: usize) -> Duration {
    values.sort();
    match values.len() {
        0 => Duration::ZERO,
        len => values[(len * percent).div_ceil(100).clamp(1, len) - 1],
    }
}
