//! What one whole process cost: wall time around its spawn and wait, and its own CPU time and minor page
//! faults from `getrusage(RUSAGE_CHILDREN)`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};
use crate::run::succeeded;
use crate::stats::median;

/// One process's cost.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    pub elapsed: Duration,
    pub cpu: Duration,
    pub minor_faults: u64,
}

/// Runs one process to completion (output discarded) and measures it; a failure is an error, so a
/// command that did nothing is never timed as fast.
pub fn timed(program: &Path, args: &[String]) -> Result<Cost> {
    let before = children_usage();
    let started = Instant::now();
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| BenchError::io(format!("start {}", program.display()), e))?;
    let elapsed = started.elapsed();
    let after = children_usage();
    succeeded(output, || {
        format!("{} {}", program.display(), args.join(" "))
    })?;
    Ok(Cost {
        elapsed,
        cpu: after.0.saturating_sub(before.0),
        minor_faults: after.1.saturating_sub(before.1),
    })
}

/// CPU time and minor page faults of every child waited for so far. An agent is a child too, but
/// counts only once it is waited for, at the end.
fn children_usage() -> (Duration, u64) {
    // SAFETY: getrusage writes only into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_CHILDREN with a valid pointer cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    (
        time(usage.ru_utime) + time(usage.ru_stime),
        usage.ru_minflt as u64,
    )
}

pub fn median_elapsed(costs: &[Cost]) -> Duration {
    median(costs.iter().map(|c| c.elapsed).collect())
}

pub fn median_cpu(costs: &[Cost]) -> Duration {
    median(costs.iter().map(|c| c.cpu).collect())
}

pub fn median_faults(costs: &[Cost]) -> u64 {
    let mut faults: Vec<u64> = costs.iter().map(|c| c.minor_faults).collect();
    faults.sort_unstable();
    faults.get(faults.len() / 2).copied().unwrap_or(0)
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
