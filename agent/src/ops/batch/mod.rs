//! Many operations on one host in one call. Operations that touch disjoint namespaces run concurrently;
//! operations that share one run in the order given ([`plan`]). On the first failure nothing new starts,
//! and (unless told to continue) every applied operation is taken back, newest first. Everything a
//! batch changes is written to the intent journal first ([`intent`]), so an agent killed half way takes
//! the batch back at its next start (`ops::recovery`).

pub mod intent;
mod nat_runs;
mod plan;
mod schedule;

/// A named namespace for the ordering tests of `plan` and `nat_runs`.
#[cfg(test)]
fn test_namespace(name: &str) -> crate::domain::NamespaceRef {
    match crate::domain::NamespaceName::parse("n", name) {
        Ok(name) => crate::domain::NamespaceRef::Named(name),
        Err(e) => panic!("{e}"),
    }
}

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

pub(super) use plan::Footprint;
use schedule::Schedule;

use crate::domain::NamespaceRef;
use crate::journal::{Journal, Transaction};
use crate::nat::NatBackend;
use crate::netns::NamespaceRegistry;

use super::gate::Permit;
use super::nat as nat_ops;
use super::operation::{Applied, NatRunKey, Operation, Undo, NAT_DELETE_IS_FINAL};
use super::{OpError, Warning};
use intent::{Created, Entry, UndoRecord};

/// Operations applied at once, at most. Enough to hide each request's round trips; the kernel serializes
/// link changes behind one lock anyway.
const MAX_CONCURRENT: usize = 32;

/// What happened to one operation.
#[derive(Debug)]
pub enum OperationOutcome {
    Applied {
        changed: bool,
        warnings: Vec<Warning>,
        /// What takes it back, for a caller that may undo the batch later (a confirmed commit).
        undo: Undo,
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

/// Applies `operations` as one transaction of `journal`: its record is written before the first change
/// and removed once the batch has ended (applied, or taken back by itself). If the record cannot be
/// written, nothing is applied: the first operation fails with [`OpError::Journal`], the rest are skipped.
/// The permit (the gate's admission) is held until the batch has ended, its own rollback included.
pub async fn run(
    registry: Arc<NamespaceRegistry>,
    nat: Arc<dyn NatBackend>,
    journal: Arc<Journal>,
    admitted: Permit,
    operations: Vec<Operation>,
    continue_on_error: bool,
) -> Vec<OperationOutcome> {
    let transaction = match journal.begin(&Entry::Intent {
        operations: intent::describe(&operations),
    }) {
        Ok(transaction) => Arc::new(transaction),
        Err(error) => {
            let mut outcomes: Vec<_> = (0..operations.len())
                .map(|_| OperationOutcome::Skipped)
                .collect();
            if let Some(first) = outcomes.first_mut() {
                *first = OperationOutcome::Failed(error.into());
            }
            return outcomes;
        }
    };
    let admitted = Arc::new(admitted);
    let outcomes = run_journaled(
        registry,
        nat,
        &transaction,
        &admitted,
        operations,
        continue_on_error,
    )
    .await;
    // The batch is over either way: what it could not take back was reported to the caller as NOT_UNDONE,
    // and a restart must not now undo what the caller was told is applied.
    match Arc::try_unwrap(transaction) {
        Ok(transaction) => {
            if let Err(error) = transaction.finish() {
                tracing::error!("the batch ended, but its intent record stays: {error}");
            }
        }
        Err(_) => tracing::error!("the batch ended while a task still held its intent record"),
    }
    outcomes
}

async fn run_journaled(
    registry: Arc<NamespaceRegistry>,
    nat: Arc<dyn NatBackend>,
    transaction: &Arc<Transaction>,
    admitted: &Arc<Permit>,
    operations: Vec<Operation>,
    continue_on_error: bool,
) -> Vec<OperationOutcome> {
    let footprints: Vec<_> = operations.iter().map(Operation::footprint).collect();
    let mut schedule = Schedule::new(&plan::dependencies(&footprints));
    drop(footprints);
    let run_keys: Vec<Option<NatRunKey>> = operations.iter().map(Operation::nat_run_key).collect();
    let leaders = nat_runs::leaders(&run_keys);
    drop(run_keys);
    let shared = Shared {
        registry: registry.clone(),
        nat: nat.clone(),
        admitted: admitted.clone(),
        operations: Arc::new(operations),
        failed: Arc::default(),
        continue_on_error,
        transaction: transaction.clone(),
        created: Arc::default(),
    };
    // Steps a run's leader decided for the later members of its run; each member collects its own. The
    // plan makes every member wait for the one before it (same namespace), so the leader is done first.
    let decided: Arc<Mutex<HashMap<usize, Step>>> = Arc::default();

    // Tasks exist only for operations that are running: one per operation up front cost hundreds of
    // bytes each (future, channels), hundreds of times a batch's wire size for large batches.
    let mut steps: Vec<Option<Step>> = (0..leaders.len()).map(|_| None).collect();
    let mut tasks = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, usize> = HashMap::new();
    loop {
        while tasks.len() < MAX_CONCURRENT {
            let Some(index) = schedule.next_ready() else {
                break;
            };
            let step = match leaders[index] {
                // Nothing decided: the leader did not start, so neither does the rest of its run.
                Some(leader) if leader != index => {
                    Some(lock(&decided).remove(&index).unwrap_or(Step::Skipped))
                }
                _ if shared.runner().stopped() => Some(Step::Skipped),
                _ => None,
            };
            if let Some(step) = step {
                steps[index] = Some(step);
                schedule.finished(index);
                continue;
            }
            let members: Vec<usize> = match leaders[index] {
                Some(_) => (index..leaders.len())
                    .take_while(|&member| leaders[member] == Some(index))
                    .collect(),
                None => Vec::new(),
            };
            let (shared, decided) = (shared.clone(), decided.clone());
            let task = tasks.spawn(async move {
                let runner = shared.runner();
                if members.is_empty() {
                    return runner.apply_one(index).await;
                }
                let mut steps = runner.apply_run(&members).await;
                let first = steps.remove(0);
                lock(&decided).extend(members.into_iter().skip(1).zip(steps));
                first
            });
            running.insert(task.id(), index);
        }
        let Some(joined) = tasks.join_next_with_id().await else {
            break;
        };
        let (id, step) = match joined {
            Ok((id, step)) => (id, Some(step)),
            // A panicked task: its operation reports `TaskLost`, and what waited for it may go on.
            Err(error) => (error.id(), None),
        };
        if let Some(index) = running.remove(&id) {
            steps[index] = step;
            schedule.finished(index);
        }
    }

    let roll_back = shared.failed.load(Ordering::SeqCst) && !continue_on_error;
    let mut outcomes: Vec<Option<OperationOutcome>> = (0..steps.len()).map(|_| None).collect();
    // Newest first, so each undo finds the state its operation left.
    let mut newest_first: VecDeque<(usize, Option<Step>)> =
        steps.into_iter().enumerate().rev().collect();
    while !newest_first.is_empty() {
        if roll_back {
            let rules = nat_undo_run(&newest_first);
            if rules > 1 {
                let run: Vec<_> = newest_first.drain(..rules).collect();
                for (index, outcome) in undo_nat_run(&registry, &nat, run).await {
                    note_undone(transaction, index, &outcome);
                    outcomes[index] = Some(outcome);
                }
                continue;
            }
        }
        let Some((index, step)) = newest_first.pop_front() else {
            break;
        };
        outcomes[index] = Some(match step {
            Some(Step::Applied {
                changed,
                warnings,
                undo,
            }) if roll_back => {
                let outcome = undo_one(&registry, &nat, changed, warnings, undo).await;
                note_undone(transaction, index, &outcome);
                outcome
            }
            Some(Step::Applied {
                changed,
                warnings,
                undo,
            }) => OperationOutcome::Applied {
                changed,
                warnings,
                undo,
            },
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

/// What every running operation's task shares.
#[derive(Clone)]
struct Shared {
    registry: Arc<NamespaceRegistry>,
    nat: Arc<dyn NatBackend>,
    admitted: Arc<Permit>,
    operations: Arc<Vec<Operation>>,
    failed: Arc<AtomicBool>,
    continue_on_error: bool,
    transaction: Arc<Transaction>,
    created: Arc<Mutex<Created>>,
}

impl Shared {
    fn runner(&self) -> Runner<'_> {
        Runner {
            registry: &self.registry,
            nat: &self.nat,
            admitted: &self.admitted,
            operations: &self.operations,
            failed: &self.failed,
            continue_on_error: self.continue_on_error,
            transaction: &self.transaction,
            created: &self.created,
        }
    }
}

/// Tells the journal an operation was taken back, so a crash later in the rollback does not take it back
/// twice. Losing this entry is harmless: taking back again finds the object gone or the value already set.
fn note_undone(transaction: &Transaction, index: usize, outcome: &OperationOutcome) {
    if matches!(outcome, OperationOutcome::Undone { .. }) {
        if let Err(error) = transaction.append(&Entry::Undone { op: index }) {
            tracing::warn!("intent journal: {error}");
        }
    }
}

struct Runner<'a> {
    registry: &'a NamespaceRegistry,
    nat: &'a Arc<dyn NatBackend>,
    admitted: &'a Permit,
    operations: &'a [Operation],
    failed: &'a AtomicBool,
    continue_on_error: bool,
    transaction: &'a Transaction,
    created: &'a Mutex<Created>,
}

impl Runner<'_> {
    /// Nothing new starts after a failure, unless the caller asked to continue.
    fn stopped(&self) -> bool {
        self.failed.load(Ordering::SeqCst) && !self.continue_on_error
    }

    async fn apply_one(&self, index: usize) -> Step {
        let operation = &self.operations[index];
        let covered = lock(self.created).covers(operation);
        if !covered {
            let journaled =
                match intent::before(self.registry, self.nat, operation, self.created).await {
                    Ok(undo) => self.write_before(index, undo),
                    Err(error) => Err(error),
                };
            if let Err(error) = journaled {
                self.failed.store(true, Ordering::SeqCst);
                return Step::Failed(error);
            }
        }
        match operation
            .apply(self.registry, Some(self.nat), self.admitted)
            .await
        {
            Ok(Applied {
                changed,
                warnings,
                undo,
                ..
            }) => {
                if changed && !covered {
                    self.write_after(index, &undo).await;
                }
                lock(self.created).note(operation, changed);
                Step::Applied {
                    changed,
                    warnings,
                    undo,
                }
            }
            Err(error) => {
                self.failed.store(true, Ordering::SeqCst);
                Step::Failed(error)
            }
        }
    }

    /// Must succeed before the operation runs: a change the journal does not know of could not be taken
    /// back after a crash.
    fn write_before(&self, index: usize, undo: UndoRecord) -> Result<(), OpError> {
        if undo.is_nothing() {
            return Ok(());
        }
        self.transaction
            .append(&Entry::Before { op: index, undo })
            .map_err(OpError::from)
    }

    /// May fail without harm: recovery then treats the operation as in flight, by its `Before` entry.
    async fn write_after(&self, index: usize, undo: &Undo) {
        let undo = intent::after(self.registry, undo).await;
        if let Err(error) = self.transaction.append(&Entry::After { op: index, undo }) {
            tracing::warn!("intent journal: {error}");
        }
    }

    /// One transaction for the run's rules. When it fails, the run is applied again one operation at a
    /// time, so the failing operation, and only it, reports its own error, exactly as without grouping.
    async fn apply_run(&self, members: &[usize]) -> Vec<Step> {
        let grouped = match members
            .first()
            .and_then(|&m| self.operations[m].nat_run_key())
        {
            Some(NatRunKey::Add(_)) => self.add_run(members).await,
            Some(NatRunKey::Delete(namespace)) => self.delete_run(namespace, members).await,
            None => None,
        };
        if let Some(steps) = grouped {
            return steps;
        }
        let mut steps = Vec::with_capacity(members.len());
        for &member in members {
            steps.push(if self.stopped() {
                Step::Skipped
            } else {
                self.apply_one(member).await
            });
        }
        steps
    }

    /// A run of NAT additions in one transaction; `None` when it must go one by one.
    async fn add_run(&self, members: &[usize]) -> Option<Vec<Step>> {
        let requests: Vec<_> = members
            .iter()
            .filter_map(|&member| match &self.operations[member] {
                Operation::AddNatRule(request) => Some(request.clone()),
                _ => None,
            })
            .collect();
        if requests.len() != members.len() || self.write_run_before(members).await.is_err() {
            return None;
        }
        let outcomes = nat_ops::add_all(self.registry, self.nat.clone(), requests)
            .await
            .ok()?;
        let mut steps = Vec::with_capacity(outcomes.len());
        for (&member, outcome) in members.iter().zip(outcomes) {
            let undo = if outcome.changed {
                Undo::DeleteNatRule {
                    namespace: outcome_namespace(self.operations, members),
                    id: outcome.value.id,
                }
            } else {
                Undo::Nothing
            };
            if outcome.changed && !lock(self.created).covers(&self.operations[member]) {
                self.write_after(member, &undo).await;
            }
            steps.push(Step::Applied {
                changed: outcome.changed,
                undo,
                warnings: outcome.warnings,
            });
        }
        Some(steps)
    }

    /// A run of NAT deletions in one transaction; `None` when it must go one by one. A deletion has
    /// nothing to journal: it cannot be taken back, and says so (`Undo::Impossible`), grouped or not.
    async fn delete_run(&self, namespace: &NamespaceRef, members: &[usize]) -> Option<Vec<Step>> {
        let mut ids = Vec::with_capacity(members.len());
        // One missing rule that may not be missing fails the whole transaction, and the one-by-one
        // retry then gives that operation, and only it, its NOT_FOUND.
        let mut ignore_missing = true;
        for &member in members {
            match &self.operations[member] {
                Operation::DeleteNatRule {
                    id,
                    ignore_missing: this_may_be_missing,
                    ..
                } => {
                    ids.push(id.clone());
                    ignore_missing &= *this_may_be_missing;
                }
                _ => return None,
            }
        }
        let outcomes = nat_ops::delete_all(
            self.registry,
            self.nat.clone(),
            namespace,
            ids,
            ignore_missing,
        )
        .await
        .ok()?;
        if outcomes.len() != members.len() {
            return None;
        }
        Some(
            outcomes
                .into_iter()
                .map(|outcome| Step::Applied {
                    changed: outcome.changed,
                    warnings: outcome.warnings,
                    undo: Undo::Impossible(NAT_DELETE_IS_FINAL),
                })
                .collect(),
        )
    }
}

impl Runner<'_> {
    /// The `Before` entries of a run of NAT additions, from one listing of the namespace's rules.
    async fn write_run_before(&self, members: &[usize]) -> Result<(), OpError> {
        for &member in members {
            if lock(self.created).covers(&self.operations[member]) {
                continue;
            }
            let undo = intent::before(
                self.registry,
                self.nat,
                &self.operations[member],
                self.created,
            )
            .await?;
            self.write_before(member, undo)?;
        }
        Ok(())
    }
}

fn outcome_namespace(operations: &[Operation], members: &[usize]) -> NamespaceRef {
    members
        .first()
        .and_then(|&first| operations[first].nat_addition_namespace())
        .cloned()
        .unwrap_or(NamespaceRef::Host)
}

/// How many of the leading steps (newest first) are applied NAT additions of one namespace, to be taken
/// back in one transaction.
fn nat_undo_run(newest_first: &VecDeque<(usize, Option<Step>)>) -> usize {
    let namespace_of = |step: &Option<Step>| match step {
        Some(Step::Applied {
            undo: Undo::DeleteNatRule { namespace, .. },
            ..
        }) => Some(namespace.clone()),
        _ => None,
    };
    let Some(first) = newest_first
        .front()
        .and_then(|(_, step)| namespace_of(step))
    else {
        return 0;
    };
    newest_first
        .iter()
        .take_while(|(_, step)| namespace_of(step).as_ref() == Some(&first))
        .count()
}

/// Takes back a run of NAT additions at once; if that fails, one by one, so each reports its own fate.
async fn undo_nat_run(
    registry: &NamespaceRegistry,
    nat: &Arc<dyn NatBackend>,
    run: Vec<(usize, Option<Step>)>,
) -> Vec<(usize, OperationOutcome)> {
    let mut namespace = None;
    let mut ids = Vec::with_capacity(run.len());
    for (_, step) in &run {
        if let Some(Step::Applied {
            undo: Undo::DeleteNatRule { namespace: ns, id },
            ..
        }) = step
        {
            namespace.get_or_insert_with(|| ns.clone());
            ids.push(id.clone());
        }
    }
    let together = match &namespace {
        Some(namespace) => nat_ops::delete_all_quietly(registry, nat.clone(), namespace, ids)
            .await
            .is_ok(),
        None => false,
    };
    let mut outcomes = Vec::with_capacity(run.len());
    for (index, step) in run {
        let outcome = match step {
            Some(Step::Applied { warnings, .. }) if together => {
                OperationOutcome::Undone { warnings }
            }
            Some(Step::Applied {
                changed,
                warnings,
                undo,
            }) => undo_one(registry, nat, changed, warnings, undo).await,
            Some(Step::Failed(error)) => OperationOutcome::Failed(error),
            Some(Step::Skipped) => OperationOutcome::Skipped,
            None => OperationOutcome::Failed(OpError::TaskLost),
        };
        outcomes.push((index, outcome));
    }
    outcomes
}

async fn undo_one(
    registry: &NamespaceRegistry,
    nat: &Arc<dyn NatBackend>,
    changed: bool,
    warnings: Vec<Warning>,
    undo: Undo,
) -> OperationOutcome {
    match undo.run(registry, nat).await {
        Ok(()) => match undo {
            Undo::Nothing => OperationOutcome::Applied {
                changed,
                warnings,
                undo: Undo::Nothing,
            },
            _ => OperationOutcome::Undone { warnings },
        },
        Err(reason) => OperationOutcome::NotUndone {
            changed,
            warnings,
            reason,
        },
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every holder only inserts or removes whole entries: a panic cannot leave the map half changed.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
