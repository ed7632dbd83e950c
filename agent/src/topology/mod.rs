//! Declarative topologies: a named desired state per host, planned against the kernel and the ledger,
//! applied through the batch executor, verified by reading the kernel back. Knows nothing of gRPC: the
//! service parses requests into [`Desired`] and renders [`Change`]s.
//!
//! - [`desired`]: the desired state and the checks that need all of it;
//! - [`object`]: object identities (what is owned and recorded);
//! - [`observe`]: one read of the kernel per namespace;
//! - [`plan`]: the diff, ownership decisions and fingerprint (pure);
//! - [`ledger`]: what each topology owns, on disk;
//! - [`lint`]: what the kernel accepts but breaks traffic.

pub mod desired;
mod error;
pub mod ledger;
pub mod lint;
mod lint_vxlan;
pub mod object;
pub mod observe;
pub mod plan;

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Mutex;

pub use desired::{Desired, DesiredForwarding, DesiredLink, TopologyName};
pub use error::TopologyError;
pub use ledger::{Ledger, Owned, Record};
pub use object::{ObjectId, ObjectKind};
pub use plan::{Action, Change, Plan};

use crate::domain::NamespaceRef;
use crate::journal::Journal;
use crate::kernel::route::MAIN_TABLE;
use crate::nat::NatBackend;
use crate::netns::NamespaceRegistry;
use crate::ops::batch::intent::UndoRecord;
use crate::ops::batch::{self, OperationOutcome};
use crate::ops::gate::Permit;
use crate::ops::guard::{self, ManagementPath};
use crate::ops::{Operation, Warning};
use observe::{Observed, Scope};
use plan::OtherOwners;

/// What a plan shows: the changes, the fingerprint and the lint.
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub warnings: Vec<Warning>,
}

#[derive(Debug)]
pub struct Applied {
    pub changes: Vec<Change>,
    pub changed: bool,
    pub warnings: Vec<Warning>,
    pub fingerprint: String,
    /// The steps that take the apply back, in the order it was applied (empty when nothing changed).
    pub undo: Vec<UndoRecord>,
}

/// How an apply is made, besides the desired state.
#[derive(Debug, Default)]
pub struct ApplyOptions<'a> {
    /// The plan's fingerprint the caller saw: refuse when the host changed since.
    pub fingerprint: Option<&'a str>,
    /// The caller's path to the agent, for the management-path guard; `None` for unix callers.
    pub path: Option<&'a ManagementPath>,
    pub force: bool,
    /// The apply is a confirmed commit: a forced change of the management path is allowed then.
    pub confirmed: bool,
    /// When, as the ledger records it.
    pub now: String,
}

#[derive(Debug)]
pub struct State {
    pub known: bool,
    /// The recorded objects and whether each is still in the kernel.
    pub objects: Vec<(ObjectId, bool)>,
    pub drift: Vec<Change>,
    pub fingerprint: String,
}

#[derive(Debug)]
pub struct Summary {
    pub name: String,
    pub objects: usize,
    pub applied_at: String,
}

/// The topologies of this host. One change at a time: two applies planned against the same state would
/// each miss the other's objects.
pub struct Topologies {
    registry: Arc<NamespaceRegistry>,
    nat: Arc<dyn NatBackend>,
    journal: Arc<Journal>,
    ledger: Ledger,
    busy: Mutex<()>,
}

impl Topologies {
    pub fn new(
        registry: Arc<NamespaceRegistry>,
        nat: Arc<dyn NatBackend>,
        journal: Arc<Journal>,
        ledger: Ledger,
    ) -> Self {
        Self {
            registry,
            nat,
            journal,
            ledger,
            busy: Mutex::new(()),
        }
    }

    pub fn ledger_path(&self, name: &TopologyName) -> std::path::PathBuf {
        self.ledger.path_of(name)
    }

    /// The ledger's record of a topology, for a caller that needs its last desired state.
    pub fn record(&self, name: &TopologyName) -> Result<Option<Record>, TopologyError> {
        Ok(self.ledger.read(name)?)
    }

    pub async fn plan(&self, desired: &Desired) -> Result<Planned, TopologyError> {
        let _busy = self.busy.lock().await;
        self.plan_unlocked(desired).await
    }

    async fn plan_unlocked(&self, desired: &Desired) -> Result<Planned, TopologyError> {
        let (record, others) = self.records(&desired.name)?;
        let observed = self.observe(Some(desired), record.as_ref()).await?;
        let plan = plan::plan(desired, record.as_ref(), &others, &observed)?;
        let warnings = lint::lint(desired, &observed);
        Ok(Planned { plan, warnings })
    }

    /// Plans, checks the fingerprint, records the intended ownership, runs the plan's operations as one
    /// batch (all or nothing), records the result and verifies it by planning again.
    pub async fn apply(
        &self,
        desired: &Desired,
        encoded_desired: &[u8],
        how: ApplyOptions<'_>,
        admitted: Permit,
    ) -> Result<Applied, TopologyError> {
        let ApplyOptions {
            fingerprint,
            path,
            force,
            confirmed,
            now,
        } = how;
        let _busy = self.busy.lock().await;
        let Planned { plan, mut warnings } = self.plan_unlocked(desired).await?;
        if let Some(given) = fingerprint {
            if given != plan.fingerprint {
                return Err(TopologyError::StaleFingerprint {
                    given: given.to_string(),
                });
            }
        }
        let previous = self.ledger.read(&desired.name)?;
        let record = |objects: Vec<Owned>| Record {
            topology: desired.name.to_string(),
            applied_at: now.clone(),
            objects,
            desired: ledger::encode_hex(encoded_desired),
            digest: String::new(),
        };
        if plan.changes.is_empty() {
            let unchanged = record(plan.owned_after.clone());
            if previous.as_ref().map(Record::identity) != Some(unchanged.identity()) {
                self.ledger.write(&unchanged)?;
            }
            let verified = self.plan_unlocked(desired).await?;
            return Ok(Applied {
                changes: Vec::new(),
                changed: false,
                warnings,
                fingerprint: verified.plan.fingerprint,
                undo: Vec::new(),
            });
        }
        let operations: Vec<Operation> = plan
            .changes
            .iter()
            .flat_map(|c| c.operations.iter().cloned())
            .collect();
        self.guard(path, &operations, force, &plan.changes).await?;
        if force && !confirmed {
            // Forced through the guard: refused unless the change would undo itself at a deadline.
            if self
                .guard(path, &operations, false, &plan.changes)
                .await
                .is_err()
            {
                return Err(TopologyError::ManagementPathNeedsCommit);
            }
        }
        // Ownership is recorded before anything exists, so no object nsfleet makes is ever unowned;
        // the union keeps what this apply is about to delete until it is gone.
        let mut intended = previous
            .as_ref()
            .map(|r| r.objects.clone())
            .unwrap_or_default();
        for owned in &plan.owned_after {
            if !intended.iter().any(|o| o.id == owned.id) {
                intended.push(owned.clone());
            }
        }
        let mut intent = record(intended);
        if let Some(previous) = &previous {
            intent.desired = previous.desired.clone();
        }
        self.ledger.write(&intent)?;
        let outcomes = self.run(admitted, operations).await?;
        let undo = undo_steps(&outcomes);
        if let Err(error) = failure(&plan.changes, outcomes, &mut warnings) {
            // Everything taken back: the old record is true again. Something left behind: the union
            // stays, so whatever this apply made is still recorded as the topology's.
            let left_behind = matches!(&error, TopologyError::Failed { not_undone, .. } if !not_undone.is_empty());
            if !left_behind {
                match &previous {
                    Some(previous) => self.ledger.write(previous)?,
                    None => self.ledger.remove(&desired.name)?,
                }
            }
            return Err(error);
        }
        self.ledger.write(&record(plan.owned_after.clone()))?;
        let verified = self.plan_unlocked(desired).await?;
        if !verified.plan.changes.is_empty() {
            return Err(TopologyError::DidNotStick {
                changes: verified
                    .plan
                    .changes
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            });
        }
        Ok(Applied {
            changes: plan.changes,
            changed: true,
            warnings,
            fingerprint: verified.plan.fingerprint,
            undo,
        })
    }

    /// What the host holds of a topology and its drift against `desired` (that of the last apply when
    /// the caller has none: it decodes the record's).
    pub async fn state(
        &self,
        name: &TopologyName,
        desired: Option<&Desired>,
    ) -> Result<State, TopologyError> {
        let _busy = self.busy.lock().await;
        let record = self.ledger.read(name)?;
        let observed = self.observe(desired, record.as_ref()).await?;
        let objects = record
            .as_ref()
            .map(|r| {
                r.objects
                    .iter()
                    .map(|o| (o.id.clone(), present(&observed, o)))
                    .collect()
            })
            .unwrap_or_default();
        let (drift, fingerprint) = match desired {
            Some(desired) => {
                let (_, others) = self.records(name)?;
                let plan = plan::plan(desired, record.as_ref(), &others, &observed)?;
                (plan.changes, plan.fingerprint)
            }
            None => (Vec::new(), String::new()),
        };
        Ok(State {
            known: record.is_some(),
            objects,
            drift,
            fingerprint,
        })
    }

    /// Deletes everything the ledger records for `name`, in reverse order, then the record.
    pub async fn destroy(
        &self,
        name: &TopologyName,
        ignore_missing: bool,
        path: Option<&ManagementPath>,
        force: bool,
        admitted: Permit,
    ) -> Result<Applied, TopologyError> {
        let _busy = self.busy.lock().await;
        let Some(record) = self.ledger.read(name)? else {
            return if ignore_missing {
                Ok(Applied {
                    changes: Vec::new(),
                    changed: false,
                    warnings: Vec::new(),
                    fingerprint: String::new(),
                    undo: Vec::new(),
                })
            } else {
                Err(TopologyError::Unknown { name: name.clone() })
            };
        };
        let nothing = Desired::empty(name.clone());
        let observed = self.observe(None, Some(&record)).await?;
        let plan = plan::plan(&nothing, Some(&record), &OtherOwners::new(), &observed)?;
        let operations: Vec<Operation> = plan
            .changes
            .iter()
            .flat_map(|c| c.operations.iter().cloned())
            .collect();
        let mut warnings = Vec::new();
        let mut undo = Vec::new();
        if !operations.is_empty() {
            self.guard(path, &operations, force, &plan.changes).await?;
            let outcomes = self.run(admitted, operations).await?;
            undo = undo_steps(&outcomes);
            failure(&plan.changes, outcomes, &mut warnings)?;
        }
        self.ledger.remove(name)?;
        Ok(Applied {
            changed: !plan.changes.is_empty(),
            changes: plan.changes,
            warnings,
            fingerprint: String::new(),
            undo,
        })
    }

    /// Runs `steps` (an apply's undo, as [`Applied::undo`] gave it) newest first, then puts back the
    /// ledger's record of `name` as it was before (`None`: no record). Taking back a confirmed commit
    /// starts here: it is what restores the settings of objects the commit changed but did not make
    /// (adopted ones, the management link). Returns the steps that failed, with why.
    pub async fn take_back(
        &self,
        name: &TopologyName,
        steps: &[UndoRecord],
        previous: Option<&Record>,
        _admitted: &Permit,
    ) -> Result<Vec<String>, TopologyError> {
        let _busy = self.busy.lock().await;
        let mut failed = Vec::new();
        // A deletion cannot be taken back by a step: re-applying the previous desired state makes the
        // object again.
        let possible = steps
            .iter()
            .rev()
            .filter(|step| !matches!(step, UndoRecord::Impossible { .. }));
        for step in possible {
            let undone = match step.to_undo() {
                Ok(undo) => undo.run(&self.registry, &self.nat).await,
                Err(error) => Err(error.to_string()),
            };
            if let Err(why) = undone {
                failed.push(format!("{step:?}: {why}"));
            }
        }
        match previous {
            Some(record) => self.ledger.write(record)?,
            None if failed.is_empty() => self.ledger.remove(name)?,
            // Something the commit made may still exist: the record keeps owning it.
            None => {}
        }
        Ok(failed)
    }

    pub fn list(&self) -> Result<Vec<Summary>, TopologyError> {
        Ok(self
            .ledger
            .read_all()?
            .into_iter()
            .map(|r| Summary {
                name: r.topology,
                objects: r.objects.len(),
                applied_at: r.applied_at,
            })
            .collect())
    }

    /// The record of `name`, and who owns what among the other topologies, from one read of the ledger.
    fn records(&self, name: &TopologyName) -> Result<(Option<Record>, OtherOwners), TopologyError> {
        let mut own = None;
        let mut owners = OtherOwners::new();
        for record in self.ledger.read_all()? {
            if record.topology == name.as_str() {
                own = Some(record);
                continue;
            }
            for owned in record.objects {
                owners.insert(owned.id, record.topology.clone());
            }
        }
        Ok((own, owners))
    }

    async fn observe(
        &self,
        desired: Option<&Desired>,
        record: Option<&Record>,
    ) -> Result<Observed, TopologyError> {
        let scope = scope(desired, record);
        Ok(observe::observe(&self.registry, &self.nat, &scope).await?)
    }

    async fn guard(
        &self,
        path: Option<&ManagementPath>,
        operations: &[Operation],
        force: bool,
        changes: &[Change],
    ) -> Result<(), TopologyError> {
        let checked: Vec<_> = operations
            .iter()
            .filter_map(|o| guard::Change::of(o).map(|c| (c, force)))
            .collect();
        guard::check(&self.registry, path, &checked)
            .await
            .map_err(|(_, error)| TopologyError::Refused {
                changes: changes.len(),
                error: Box::new(error),
            })
    }

    /// The batch executor ApplyBatch uses, run to its end: a caller that goes away does not stop it.
    async fn run(
        &self,
        admitted: Permit,
        operations: Vec<Operation>,
    ) -> Result<Vec<OperationOutcome>, TopologyError> {
        let (registry, nat, journal) = (
            self.registry.clone(),
            self.nat.clone(),
            self.journal.clone(),
        );
        tokio::spawn(batch::run(
            registry, nat, journal, admitted, operations, false,
        ))
        .await
        .map_err(|e| TopologyError::Unfinished(e.to_string()))
    }
}

/// The namespaces (and where forwarding and NAT matter) that the desired state and the record touch.
fn scope(desired: Option<&Desired>, record: Option<&Record>) -> Scope {
    let mut scope = Scope::default();
    scope.namespaces.insert(NamespaceRef::Host);
    if let Some(desired) = desired {
        for name in &desired.namespaces {
            scope.namespaces.insert(NamespaceRef::Named(name.clone()));
        }
        for forwarding in &desired.forwarding {
            scope.forwarding.insert(forwarding.namespace.clone());
        }
        scope.all_tables |= desired
            .routes
            .iter()
            .any(|r| desired::route_table(r) != MAIN_TABLE);
        for rule in &desired.nat_rules {
            scope.nat.insert(rule.namespace.clone());
            // Lint: NAT where forwarding is off.
            scope.forwarding.insert(rule.namespace.clone());
        }
    }
    for owned in record.map(|r| r.objects.as_slice()).unwrap_or_default() {
        let Ok(namespace) = NamespaceRef::parse("namespace", owned.id.container().unwrap_or(""))
        else {
            continue;
        };
        scope.all_tables |= owned.table.is_some_and(|t| t != MAIN_TABLE);
        match owned.id.kind {
            ObjectKind::Forwarding => {
                scope.forwarding.insert(namespace.clone());
            }
            ObjectKind::NatRule => {
                scope.nat.insert(namespace.clone());
            }
            _ => {}
        }
        scope.namespaces.insert(namespace);
    }
    // Forwarding and NAT are read inside namespaces that are read at all.
    let all: BTreeSet<_> = scope.namespaces.clone();
    scope.forwarding.retain(|n| all.contains(n));
    scope.nat.retain(|n| all.contains(n));
    scope
}

/// Whether a recorded object is in the kernel.
fn present(observed: &Observed, owned: &Owned) -> bool {
    let id = &owned.id;
    let namespace = NamespaceRef::parse("namespace", &id.namespace).ok();
    let space = namespace.as_ref().and_then(|n| observed.space(n));
    match id.kind {
        ObjectKind::Namespace => {
            NamespaceRef::parse("namespace", &id.name).is_ok_and(|n| observed.namespace_exists(&n))
        }
        ObjectKind::Link => space.is_some_and(|s| s.links.contains_key(&id.name)),
        ObjectKind::Address => space.is_some_and(|s| {
            s.addresses
                .iter()
                .any(|(link, prefix, _)| *link == id.link && prefix.to_string() == id.name)
        }),
        ObjectKind::Route => space.is_some_and(|s| {
            s.routes.iter().any(|r| {
                Some(r.destination.to_string()) == owned.destination && Some(r.table) == owned.table
            })
        }),
        ObjectKind::Forwarding => space.is_some(),
        ObjectKind::NatRule => {
            space.is_some_and(|s| s.nat.as_ref().is_some_and(|n| n.ids.contains(&id.name)))
        }
    }
}

/// The undo steps of the operations a batch applied and kept, in their order.
fn undo_steps(outcomes: &[OperationOutcome]) -> Vec<UndoRecord> {
    outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            OperationOutcome::Applied { undo, .. } => Some(UndoRecord::from_undo(undo)),
            _ => None,
        })
        .filter(|record| !record.is_nothing())
        .collect()
}

/// The first failed operation of a batch, as an error naming its change; warnings of applied ones are
/// collected.
fn failure(
    changes: &[Change],
    outcomes: Vec<OperationOutcome>,
    warnings: &mut Vec<Warning>,
) -> Result<(), TopologyError> {
    let owners: Vec<&Change> = changes
        .iter()
        .flat_map(|c| std::iter::repeat_n(c, c.operations.len()))
        .collect();
    let mut failed = None;
    let mut not_undone = Vec::new();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        let change = owners.get(index).map(|c| c.to_string()).unwrap_or_default();
        match outcome {
            OperationOutcome::Applied {
                warnings: mut more, ..
            } => warnings.append(&mut more),
            OperationOutcome::Failed(error) if failed.is_none() => failed = Some((change, error)),
            OperationOutcome::NotUndone { reason, .. } => {
                not_undone.push(format!("{change}: {reason}"))
            }
            _ => {}
        }
    }
    match failed {
        Some((change, error)) => Err(TopologyError::Failed {
            change,
            error: Box::new(error),
            not_undone,
        }),
        None => Ok(()),
    }
}
