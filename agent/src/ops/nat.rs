//! NAT rules in a namespace: the backend runs on a thread inside it (`nft` inherits the spawning thread's
//! namespace; the conntrack socket is opened there).

use std::sync::Arc;

use crate::domain::{LinkName, NamespaceRef};
use crate::nat::{NatBackend, NatRule, NatRuleSpec};
use crate::netns::NamespaceRegistry;

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
    let handle = namespace_handle(registry, &request.namespace).await?;
    for (field, name) in &request.interfaces {
        referenced_link(&handle, field, name).await?;
    }
    let NatRuleRequest { spec, comment, .. } = request;
    let added = handle
        .run("add a NAT rule", move || backend.add(&spec, &comment))
        .await??;
    let outcome = if added.changed {
        Outcome::changed(added.rule)
    } else {
        Outcome::unchanged(added.rule)
    };
    Ok(match added.conntrack_error {
        Some(error) => outcome.with_warnings(vec![Warning {
            code: WarningCode::ConntrackFlushFailed,
            message: format!(
                "the rule was added, but flows that started before it could not be flushed ({error}); they \
                 stay untranslated until they expire"
            ),
            fix: "flush them with `conntrack -D` inside the namespace, or restart those flows".to_string(),
        }]),
        None => outcome,
    })
}

pub async fn delete(
    registry: &NamespaceRegistry,
    backend: Arc<dyn NatBackend>,
    namespace: &NamespaceRef,
    id: String,
    ignore_missing: bool,
) -> Result<Outcome<()>, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let deleted = match handle
        .run("delete a NAT rule", move || backend.delete(&id))
        .await?
    {
        Ok(deleted) => deleted,
        Err(crate::nat::NatError::NotFound { .. }) if ignore_missing => {
            return Ok(Outcome::unchanged(()))
        }
        Err(e) => return Err(e.into()),
    };
    let outcome = if deleted.changed {
        Outcome::changed(())
    } else {
        Outcome::unchanged(())
    };
    // The rule is gone either way; failing the call would make a retry NOT_FOUND and nothing would flush
    // the stale entries, so a failed flush is a warning.
    Ok(match deleted.conntrack_error {
        Some(error) => outcome.with_warnings(vec![Warning {
            code: WarningCode::ConntrackFlushFailed,
            message: format!(
                "the rule was deleted, but its conntrack entries could not be flushed ({error}); existing flows \
                 keep the old translation until they expire"
            ),
            fix: "flush them with `conntrack -D` inside the namespace, or wait for the flows to time out".to_string(),
        }]),
        None => outcome,
    })
}

pub async fn list(
    registry: &NamespaceRegistry,
    backend: Arc<dyn NatBackend>,
    namespace: &NamespaceRef,
) -> Result<Vec<NatRule>, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    Ok(handle
        .run("list NAT rules", move || backend.list())
        .await??)
}
