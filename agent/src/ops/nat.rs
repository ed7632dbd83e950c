//! NAT rules in a namespace: the backend runs on a thread inside it (`nft` inherits the spawning thread's
//! namespace; the conntrack socket is opened there).

use std::sync::Arc;

use crate::domain::{LinkName, NamespaceRef};
use crate::nat::{NatBackend, NatListing, NatRule, NatRuleSpec};
use crate::netns::NamespaceRegistry;
use crate::watch::{self, Action};

use super::address::referenced_link;
use super::link::namespace_handle;
use super::{OpError, Outcome, Warning, WarningCode};

/// A validated rule to add.
#[derive(Debug, Clone)]
pub struct NatRuleRequest {
    pub namespace: NamespaceRef,
    pub spec: NatRuleSpec,
    /// The interfaces the rule names, with the request field each came from.
    pub interfaces: Vec<(&'static str, LinkName)>,
    pub comment: String,
}

/// Adds a rule; an identical rule already present is success without change. Interfaces the rule names
/// must exist: nft would accept any name, and a typo would silently match nothing.
pub async fn add(
    registry: &NamespaceRegistry,
    backend: Arc<dyn NatBackend>,
    request: NatRuleRequest,
) -> Result<Outcome<NatRule>, OpError> {
    let mut outcomes = add_all(registry, backend, vec![request]).await?;
    outcomes.pop().ok_or(OpError::TaskLost)
}

/// Adds rules of one namespace (that of the first) in one nftables transaction: all of them, or none
/// and the first error. One outcome per request, in order.
pub async fn add_all(
    registry: &NamespaceRegistry,
    backend: Arc<dyn NatBackend>,
    requests: Vec<NatRuleRequest>,
) -> Result<Vec<Outcome<NatRule>>, OpError> {
    let Some(namespace) = requests.first().map(|request| request.namespace.clone()) else {
        return Ok(Vec::new());
    };
    let handle = namespace_handle(registry, &namespace).await?;
    for request in &requests {
        for (field, name) in &request.interfaces {
            referenced_link(&handle, field, name).await?;
        }
    }
    let rules: Vec<_> = requests
        .into_iter()
        .map(|request| (request.spec, request.comment))
        .collect();
    let added = handle
        .run("add NAT rules", move || backend.add_all(&rules))
        .await??;
    for added in added.iter().filter(|added| added.changed) {
        let rule = added.rule.spec.to_string();
        watch::nat_changed(&namespace, Action::New, &added.rule.id, Some(rule));
    }
    Ok(added
        .into_iter()
        .map(|added| {
            let outcome = if added.changed {
                Outcome::changed(added.rule)
            } else {
                Outcome::unchanged(added.rule)
            };
            match added.conntrack_error {
                Some(error) => outcome.with_warnings(vec![Warning {
                    code: WarningCode::ConntrackFlushFailed,
                    message: format!(
                        "the rule was added, but flows that started before it could not be flushed ({error}); they \
                         stay untranslated until they expire"
                    ),
                    fix: "flush them with `conntrack -D` inside the namespace, or restart those flows".to_string(),
                }]),
                None => outcome,
            }
        })
        .collect())
}

pub async fn delete(
    registry: &NamespaceRegistry,
    backend: Arc<dyn NatBackend>,
    namespace: &NamespaceRef,
    id: String,
    ignore_missing: bool,
) -> Result<Outcome<()>, OpError> {
    let context = format!("deleting NAT rule {id}");
    let mut outcomes = delete_all(registry, backend, namespace, vec![id], ignore_missing).await?;
    outcomes.pop().ok_or_else(|| {
        crate::nat::NatError::NftOutput {
            context,
            reason: "the backend reported no outcome".into(),
        }
        .into()
    })
}

/// Deletes rules of one namespace in one nftables transaction: all of them or, on any error (a missing
/// rule without `ignore_missing`), none. One outcome per id, in order.
pub async fn delete_all(
    registry: &NamespaceRegistry,
    backend: Arc<dyn NatBackend>,
    namespace: &NamespaceRef,
    ids: Vec<String>,
    ignore_missing: bool,
) -> Result<Vec<Outcome<()>>, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let deleted = handle
        .run("delete NAT rules", {
            let ids = ids.clone();
            move || backend.delete_all(&ids, ignore_missing)
        })
        .await??;
    for (id, deleted) in ids.iter().zip(&deleted) {
        if deleted.changed {
            watch::nat_changed(namespace, Action::Deleted, id, None);
        }
    }
    Ok(deleted.into_iter().map(delete_outcome).collect())
}

fn delete_outcome(deleted: crate::nat::DeleteOutcome) -> Outcome<()> {
    let outcome = if deleted.changed {
        Outcome::changed(())
    } else {
        Outcome::unchanged(())
    };
    // The rule is gone either way; failing the call would make a retry NOT_FOUND and nothing would flush
    // the stale entries, so a failed flush is a warning.
    match deleted.conntrack_error {
        Some(error) => outcome.with_warnings(vec![Warning {
            code: WarningCode::ConntrackFlushFailed,
            message: format!(
                "the rule was deleted, but its conntrack entries could not be flushed ({error}); existing flows \
                 keep the old translation until they expire"
            ),
            fix: "flush them with `conntrack -D` inside the namespace, or wait for the flows to time out".to_string(),
        }]),
        None => outcome,
    }
}

/// Deletes rules of one namespace in one nftables transaction, ignoring missing ones: how a batch takes
/// its added rules back. Conntrack flush failures are dropped: the rules were new, so they can only have
/// translated the few flows of the batch's own short life.
pub async fn delete_all_quietly(
    registry: &NamespaceRegistry,
    backend: Arc<dyn NatBackend>,
    namespace: &NamespaceRef,
    ids: Vec<String>,
) -> Result<(), OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let deleted = handle
        .run("delete NAT rules", {
            let ids = ids.clone();
            move || backend.delete_all(&ids, true)
        })
        .await??;
    for (id, deleted) in ids.iter().zip(&deleted) {
        if deleted.changed {
            watch::nat_changed(namespace, Action::Deleted, id, None);
        }
    }
    Ok(())
}

pub async fn list(
    registry: &NamespaceRegistry,
    backend: Arc<dyn NatBackend>,
    namespace: &NamespaceRef,
) -> Result<NatListing, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    Ok(handle
        .run("list NAT rules", move || backend.listing())
        .await??)
}
