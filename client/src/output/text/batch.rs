//! What a batch prints in text mode: nothing per applied operation (as `ip -batch`), a line per warning
//! and per failure, each naming the line of the file, and how many operations were undone or not.

use std::fmt::Write;

use nsfleet_proto::v1::{BatchOutcome, BatchResult};
use tonic::Code;

use super::shown;
use crate::{commands::batch::BatchRun, failure::HostFailure};

/// The stderr lines for one host's batch.
pub fn report(host: &str, run: &BatchRun) -> String {
    let mut out = String::new();
    let mut undone = 0;
    let mut skipped = 0;
    let mut not_undone: Vec<&BatchResult> = Vec::new();
    for result in &run.response.results {
        let line = describe_line(run, result.index);
        for warning in &result.warnings {
            let _ = write!(out, "warning: {host}: {line}: {}", shown(&warning.message));
            if !warning.fix.is_empty() {
                let _ = write!(out, " (fix: {})", shown(&warning.fix));
            }
            out.push('\n');
        }
        match outcome_of(result) {
            BatchOutcome::Failed => {
                let failure = HostFailure::new(Code::from(result.code), result.message.clone());
                let _ = writeln!(
                    out,
                    "nsfleet: {host}: {line}: {}",
                    shown(&failure.to_string())
                );
            }
            BatchOutcome::Undone => undone += 1,
            BatchOutcome::NotUndone => not_undone.push(result),
            BatchOutcome::Skipped => skipped += 1,
            BatchOutcome::Applied | BatchOutcome::Unspecified => {}
        }
    }
    if undone > 0 {
        let _ = writeln!(out, "nsfleet: {host}: {} undone", operations(undone));
    }
    if let Some(first) = not_undone.first() {
        let _ = writeln!(
            out,
            "nsfleet: {host}: {} applied and not undone ({}: {})",
            operations(not_undone.len()),
            describe_line(run, first.index),
            shown(&first.message)
        );
    }
    if skipped > 0 {
        let _ = writeln!(out, "nsfleet: {host}: {} skipped", operations(skipped));
    }
    out
}

/// The first failed operation as a host failure (code and "line N: message"), for the JSON error.
pub fn first_failure(run: &BatchRun) -> HostFailure {
    run.response
        .results
        .iter()
        .find(|result| outcome_of(result) == BatchOutcome::Failed)
        .map_or_else(
            || HostFailure::new(Code::Aborted, "the batch was not applied"),
            |result| {
                HostFailure::new(
                    Code::from(result.code),
                    format!("{}: {}", describe_line(run, result.index), result.message),
                )
            },
        )
}

fn outcome_of(result: &BatchResult) -> BatchOutcome {
    BatchOutcome::try_from(result.outcome).unwrap_or(BatchOutcome::Unspecified)
}

fn describe_line(run: &BatchRun, index: u32) -> String {
    match run.line_of(index) {
        Some(line) => format!("line {line}"),
        None => format!("operation {index}"),
    }
}

fn operations(count: usize) -> String {
    if count == 1 {
        "1 operation".to_owned()
    } else {
        format!("{count} operations")
    }
}
