//! Many operations on one host in one call. Operations that touch disjoint namespaces run concurrently;
//! operations that share one run in the order given ([`plan`]). On the first failure nothing new starts,
//! and (unless told to continue) every applied operation is taken back, newest first.

mod plan;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

pub(super) use plan::Footprint;

use crate::nat::NatBackend;
use crate::netns::NamespaceRegistry;

use super::operation::{Applied, Operation, Undo};
use super::{OpError, Warning};

/// Operations applied at once, at most. Enough to hide each request's round trips; the kernel serializes
/// link changes behind one lock anyway.
const MAX_CONCURRENT: usize = 32;

/// What happened to one operation.
#[derive(Debug)]
pub enum OperationOutcome {
    Applied {
        changed: bool,
        warnings: Vec<Warning>,
    },
    Failed(OpError),
    /// Not started because an earlier operation failed.
    Skipped,
    /// Applied, then taken back because a later operation failed.
    Undone {
        warnings: Vec<Warning>,
    },
    /// Applied, and could not be taken back.
    NotUndone {
        changed: bool,
        warnings: Vec<Warning>,
        reason: String,
    },
}

enum Step {
    /// The single call's detail is dropped: a batch answers only `changed` and warnings.
    Applied {
        changed: bool,
        warnings: Vec<Warning>,
        undo: Undo,
    },
    Failed(OpError),
    Skipped,
}

pub async fn run(
    registry: Arc<NamespaceRegistry>,
    nat: Arc<dyn NatBackend>,
    operations: Vec<Operation>,
    continue_on_error: bool,
) -> Vec<OperationOutcome> {
    let footprints: Vec<_> = operations.iter().map(Operation::footprint).collect();
    let waits = plan::dependencies(&footprints);
    let operations = Arc::new(operations);
    let failed = Arc::new(AtomicBool::new(false));
    let limit = Arc::new(Semaphore::new(MAX_CONCURRENT));
    let (done_senders, done_receivers): (Vec<_>, Vec<_>) =
        (0..operations.len()).map(|_| watch::channel(false)).unzip();

    let mut tasks = JoinSet::new();
    for ((index, deps), done) in waits.into_iter().enumerate().zip(done_senders) {
        let before: Vec<watch::Receiver<bool>> =
            deps.iter().map(|d| done_receivers[*d].clone()).collect();
        let (registry, nat, operations, failed, limit) = (
            registry.clone(),
            nat.clone(),
            operations.clone(),
            failed.clone(),
            limit.clone(),
        );
        tasks.spawn(async move {
            for mut receiver in before {
                // An error means the sender is gone, which also means that operation is over.
                let _ = receiver.wait_for(|finished| *finished).await;
            }
            let step = if failed.load(Ordering::SeqCst) && !continue_on_error {
                Step::Skipped
            } else {
                let _permit = limit.acquire().await;
                match operations[index].apply(&registry, Some(&nat)).await {
                    Ok(Applied {
                        changed,
                        warnings,
                        undo,
                        ..
                    }) => Step::Applied {
                        changed,
                        warnings,
                        undo,
                    },
                    Err(error) => {
                        failed.store(true, Ordering::SeqCst);
                        Step::Failed(error)
                    }
                }
            };
            let _ = done.send(true);
            (index, step)
        });
    }
    let mut steps: Vec<Option<Step>> = (0..operations.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, step)) = joined {
            steps[index] = Some(step);
        }
    }

    let roll_back = failed.load(Ordering::SeqCst) && !continue_on_error;
    let mut outcomes: Vec<Option<OperationOutcome>> = (0..steps.len()).map(|_| None).collect();
    // Newest first, so each undo finds the state its operation left.
    for (index, step) in steps.into_iter().enumerate().rev() {
        outcomes[index] = Some(match step {
            Some(Step::Applied {
                changed,
                warnings,
                undo,
            }) if roll_back => match undo.run(&registry, &nat).await {
                Ok(()) => match undo {
                    Undo::Nothing => OperationOutcome::Applied { changed, warnings },
                    _ => OperationOutcome::Undone { warnings },
                },
                Err(reason) => OperationOutcome::NotUndone {
                    changed,
                    warnings,
                    reason,
                },
            },
            Some(Step::Applied {
                changed, warnings, ..
            }) => OperationOutcome::Applied { changed, warnings },
            Some(Step::Failed(error)) => OperationOutcome::Failed(error),
            Some(Step::Skipped) => OperationOutcome::Skipped,
            None => OperationOutcome::Failed(OpError::TaskLost),
        });
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(OperationOutcome::Skipped))
        .collect()
}
