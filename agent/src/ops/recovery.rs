//! Recovery at start: every unfinished transaction in the intent journal is taken back, newest first,
//! before the agent serves. Which steps to run is decided by [`steps_to_take_back`], a pure function of the
//! entries; each step then proves, where it deletes, that the object is the one the transaction created.
//!
//! The rules:
//! - An operation with an `After` entry changed something: its step runs. A namespace or link is deleted
//!   only if it is still the one created (same namespace cookie, same link index in the same
//!   namespace); otherwise it is left alone and the log says so.
//! - An operation with only a `Before` entry was in flight when the agent died: it may or may not have
//!   changed the kernel. Its step runs; it was recorded only after reading that the object did not exist,
//!   and the `Before` entry was written before the change, so the object can have been made by this
//!   transaction or, in the window between that read and the agent's death, by someone else. nsfleet
//!   takes that window (micro- to milliseconds, and no other nsfleet transaction can make the same
//!   namespace meanwhile: creations of one name are serialized) as its own.
//! - An operation with `Undone` was taken back by the batch itself; one with no entry never ran.
//!
//! A record that cannot be read (truncated, damaged, unknown version or entry) is renamed `.corrupt` and
//! nothing in it is acted upon; a record of another boot (its objects died with that boot) `.other-boot`.
//! A transaction whose steps did not all succeed keeps its record, renamed `.unrecovered`, and the agent
//! still serves (see ARCHITECTURE.md, "Intent journal and recovery").

use std::sync::Arc;

use crate::domain::{LinkName, NamespaceName, NamespaceRef};
use crate::journal::{Found, Journal, Record};
use crate::nat::NatBackend;
use crate::netns::{NamespaceRegistry, NetnsError};

use super::batch::intent::{Entry, UndoRecord};
use super::link as link_ops;

/// What recovery did, for the start-up log.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// Transactions fully taken back.
    pub recovered: usize,
    /// Records kept for people (corrupt, unrecovered, other boot), with why.
    pub kept: Vec<String>,
    /// Records set aside by earlier starts, still there.
    pub earlier: Vec<std::path::PathBuf>,
}

/// The steps that take a transaction back, newest first, each with its operation's index.
pub fn steps_to_take_back(entries: &[Entry]) -> Vec<(usize, UndoRecord)> {
    #[derive(Clone)]
    enum Known {
        InFlight(UndoRecord),
        Applied(UndoRecord),
        Undone,
    }
    let mut known: std::collections::HashMap<usize, Known> = Default::default();
    // Operations in the order of their last entry: concurrent operations finish in any order, and the
    // one that finished last is taken back first.
    let mut order: Vec<usize> = Vec::new();
    for entry in entries {
        let (op, now) = match entry {
            Entry::Intent { .. } => continue,
            Entry::Before { op, undo } => (*op, Known::InFlight(undo.clone())),
            Entry::After { op, undo } => (*op, Known::Applied(undo.clone())),
            Entry::Undone { op } => (*op, Known::Undone),
        };
        // An operation retried by a NAT run's fallback writes `Before` again after its `After`: the
        // `After` (or `Undone`) stands.
        if matches!(now, Known::InFlight(_))
            && matches!(known.get(&op), Some(Known::Applied(_) | Known::Undone))
        {
            continue;
        }
        known.insert(op, now);
        order.retain(|&o| o != op);
        order.push(op);
    }
    order
        .into_iter()
        .rev()
        .filter_map(|op| match known.remove(&op) {
            Some(Known::InFlight(undo) | Known::Applied(undo)) if !undo.is_nothing() => {
                Some((op, undo))
            }
            _ => None,
        })
        .collect()
}

/// Takes back every unfinished transaction. Errors reading the directory are returned; everything else
/// is logged and reported.
pub async fn recover(
    journal: &Journal,
    registry: &NamespaceRegistry,
    nat: &Arc<dyn NatBackend>,
) -> Result<RecoveryReport, crate::journal::JournalError> {
    let mut report = RecoveryReport {
        earlier: journal.set_aside_files(),
        ..RecoveryReport::default()
    };
    for found in journal.unfinished()? {
        match found {
            Found::Corrupt { path, reason } => {
                let kept = journal.set_aside(&path, "corrupt")?;
                tracing::error!(
                    record = %kept.display(),
                    "intent record unreadable ({reason}): nothing in it was undone; objects it may name are \
                     left as they are"
                );
                report.kept.push(format!("{}: {reason}", kept.display()));
            }
            Found::OtherBoot { path, .. } => {
                let kept = journal.set_aside(&path, "other-boot")?;
                tracing::warn!(
                    record = %kept.display(),
                    "intent record from an earlier boot: its objects ended with that boot; nothing to undo"
                );
                report
                    .kept
                    .push(format!("{}: written before a reboot", kept.display()));
            }
            Found::Unfinished(record) => match take_back(record, registry, nat).await {
                Ok(path) => {
                    journal.remove(&path)?;
                    report.recovered += 1;
                }
                Err((path, why)) => {
                    let kept = journal.set_aside(&path, why.suffix())?;
                    tracing::error!(record = %kept.display(), "{why}");
                    report.kept.push(format!("{}: {why}", kept.display()));
                }
            },
        }
    }
    for earlier in &report.earlier {
        tracing::warn!(
            record = %earlier.display(),
            "an intent record set aside by an earlier start is still there: read it, repair the host if \
             needed, then remove it"
        );
    }
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
enum NotRecovered {
    #[error("intent record unreadable ({0}): nothing in it was undone")]
    Corrupt(String),
    #[error("the transaction could not be fully taken back: {}", .0.join("; "))]
    Failed(Vec<String>),
}

impl NotRecovered {
    fn suffix(&self) -> &'static str {
        match self {
            Self::Corrupt(_) => "corrupt",
            Self::Failed(_) => "unrecovered",
        }
    }
}

async fn take_back(
    record: Record,
    registry: &NamespaceRegistry,
    nat: &Arc<dyn NatBackend>,
) -> Result<std::path::PathBuf, (std::path::PathBuf, NotRecovered)> {
    let mut entries = Vec::with_capacity(record.entries.len());
    for (index, value) in record.entries.into_iter().enumerate() {
        match serde_json::from_value::<Entry>(value) {
            Ok(entry) => entries.push(entry),
            // Line 1 is the header; entries start at line 2.
            Err(e) => {
                return Err((
                    record.path,
                    NotRecovered::Corrupt(format!("line {}: {e}", index + 2)),
                ))
            }
        }
    }
    let steps = steps_to_take_back(&entries);
    tracing::warn!(
        transaction = %record.header.transaction,
        steps = steps.len(),
        "an unfinished transaction: taking it back"
    );
    let mut failures = Vec::new();
    for (op, step) in steps {
        match run_step(registry, nat, &step).await {
            Ok(done) => tracing::info!(operation = op, "{done}"),
            Err(why) => {
                tracing::error!(operation = op, "could not take back: {why}");
                failures.push(format!("operation {op}: {why}"));
            }
        }
    }
    if failures.is_empty() {
        tracing::warn!(transaction = %record.header.transaction, "transaction taken back");
        Ok(record.path)
    } else {
        Err((record.path, NotRecovered::Failed(failures)))
    }
}

/// Runs one step; `Ok` says what was done (or why nothing needed doing).
async fn run_step(
    registry: &NamespaceRegistry,
    nat: &Arc<dyn NatBackend>,
    step: &UndoRecord,
) -> Result<String, String> {
    if let Some(namespace) = step.named_namespace() {
        if let Ok(name) = NamespaceName::parse("namespace", namespace) {
            if matches!(registry.get(&name), Err(NetnsError::NotFound { .. })) {
                return Ok(format!(
                    "{step:?}: its namespace is gone, and the object with it"
                ));
            }
        }
    }
    match step {
        UndoRecord::Impossible { why } => Err(why.clone()),
        UndoRecord::DeleteNamespace {
            name,
            cookie: Some(cookie),
        } => {
            let name = NamespaceName::parse("name", name).map_err(|e| e.to_string())?;
            match registry.handle(&NamespaceRef::Named(name.clone())).await {
                Err(NetnsError::NotFound { .. }) => {
                    return Ok(format!("namespace {name} is already gone"))
                }
                Ok(handle) if handle.cookie() != *cookie => {
                    return Ok(format!(
                        "namespace {name} is not the one the transaction created: left alone"
                    ))
                }
                _ => {}
            }
            delete_namespace(registry, &name, false).await
        }
        UndoRecord::DeleteNamespace { name, cookie: None } => {
            let name = NamespaceName::parse("name", name).map_err(|e| e.to_string())?;
            delete_namespace(registry, &name, true).await
        }
        UndoRecord::DeleteLink {
            namespace,
            name,
            namespace_cookie,
            ifindex,
        } => {
            let namespace =
                NamespaceRef::parse("namespace", namespace).map_err(|e| e.to_string())?;
            let name = LinkName::parse("name", name).map_err(|e| e.to_string())?;
            let handle = registry
                .handle(&namespace)
                .await
                .map_err(|e| e.to_string())?;
            if namespace_cookie.is_some_and(|cookie| cookie != handle.cookie()) {
                return Ok(format!(
                    "{namespace} is not the one link {name} was created in: left alone"
                ));
            }
            let current = crate::kernel::link::get_by_name(handle.route(), name.as_str())
                .map_err(|e| e.to_string())?;
            match current {
                None => Ok(format!("link {name} in {namespace} is already gone")),
                Some(link) if ifindex.is_some_and(|index| index != link.index) => Ok(format!(
                    "link {name} in {namespace} is not the one the transaction created: left alone"
                )),
                Some(_) => link_ops::delete(registry, &namespace, &name, true)
                    .await
                    .map(|_| format!("deleted link {name} in {namespace}"))
                    .map_err(|e| e.to_string()),
            }
        }
        other => {
            let undo = other.to_undo().map_err(|e| e.to_string())?;
            undo.run(registry, nat)
                .await
                .map(|()| format!("took back: {other:?}"))
        }
    }
}

/// `in_flight`: the creation was under way at the kill, so an empty file of that name is the mount point
/// it had made (iproute2 and nsfleet alike make it first); `delete` removes it. Otherwise an empty file
/// is someone's creation under way after the batch's namespace went: left alone.
async fn delete_namespace(
    registry: &NamespaceRegistry,
    name: &NamespaceName,
    in_flight: bool,
) -> Result<String, String> {
    match registry.get(name) {
        Err(NetnsError::NotFound { .. }) => return Ok(format!("namespace {name} is already gone")),
        Err(NetnsError::NotANamespace { .. }) if !in_flight => {
            return Ok(format!(
                "{name} in /run/netns is not a namespace (an empty file): left alone"
            ))
        }
        _ => {}
    }
    match registry.delete(name).await {
        Ok(()) => Ok(format!("deleted namespace {name}")),
        Err(NetnsError::NotFound { .. }) => Ok(format!("namespace {name} is already gone")),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
