//! One change the agent can make: what it touches, how it is applied, and what takes it back. Every
//! mutating request, a single call or one operation of a batch, is parsed once into an [`Operation`] and
//! applied by [`Operation::apply`], so the two paths cannot drift apart.

use std::sync::Arc;

use crate::domain::{Family, IpPrefix, LinkName, NamespaceName, NamespaceRef};
use crate::kernel::route::{Mode, Route};
use crate::nat::{NatBackend, NatRule};
use crate::netns::{NamespaceInfo, NamespaceRegistry, NetnsError};

use super::address::{self as address_ops, AddAddress, AddressChange, AddressView};
use super::batch::Footprint;
use super::gate::Permit;
use super::link::{self as link_ops, CreateLink, LinkKindSpec, SetLink};
use super::nat::{self as nat_ops, NatRuleRequest};
use super::route::{self as route_ops, RouteRequest};
use super::{forwarding, OpError, Warning};

/// A parsed request: the operation it asks for, and whether it overrides the management-path guard.
#[derive(Debug, Clone)]
pub struct Requested {
    pub operation: Operation,
    pub force: bool,
}

/// A validated operation: exactly what the single-call RPC of the same name takes.
#[derive(Debug, Clone)]
pub enum Operation {
    CreateNamespace(NamespaceName),
    DeleteNamespace {
        name: NamespaceName,
        ignore_missing: bool,
    },
    CreateLink(CreateLink),
    DeleteLink {
        namespace: NamespaceRef,
        name: LinkName,
        ignore_missing: bool,
    },
    SetLink {
        namespace: NamespaceRef,
        name: LinkName,
        change: SetLink,
    },
    AddAddress(AddAddress),
    DeleteAddress {
        namespace: NamespaceRef,
        link: LinkName,
        prefix: IpPrefix,
        ignore_missing: bool,
    },
    AddRoute {
        request: RouteRequest,
        replace: bool,
    },
    DeleteRoute {
        request: RouteRequest,
        ignore_missing: bool,
    },
    SetForwarding {
        namespace: NamespaceRef,
        family: Family,
        enabled: bool,
    },
    AddNatRule(NatRuleRequest),
    DeleteNatRule {
        namespace: NamespaceRef,
        id: String,
        ignore_missing: bool,
    },
}

/// What applying an operation did.
pub struct Applied {
    pub changed: bool,
    pub warnings: Vec<Warning>,
    pub undo: Undo,
    pub detail: Detail,
}

/// What some operations give back besides `changed` and warnings, for the single call's answer.
#[derive(Debug, Clone)]
pub enum Detail {
    None,
    Namespace(NamespaceInfo),
    /// Where the created or changed link is now, to read it back.
    Link {
        namespace: NamespaceRef,
        name: LinkName,
    },
    Address(AddressView),
    /// Forwarding before the change.
    Forwarding {
        previous: bool,
    },
    NatRule(NatRule),
}

/// How to take an applied operation back.
#[derive(Debug, Clone)]
pub enum Undo {
    /// It changed nothing.
    Nothing,
    Impossible(&'static str),
    DeleteNamespace(NamespaceName),
    DeleteLink {
        namespace: NamespaceRef,
        name: LinkName,
    },
    SetLink {
        namespace: NamespaceRef,
        name: LinkName,
        change: SetLink,
    },
    DeleteAddress {
        namespace: NamespaceRef,
        link: LinkName,
        prefix: IpPrefix,
    },
    DeleteRoute(RouteRequest),
    RestoreRoute {
        namespace: NamespaceRef,
        previous: Route,
    },
    SetForwarding {
        namespace: NamespaceRef,
        family: Family,
        enabled: bool,
    },
    DeleteNatRule {
        namespace: NamespaceRef,
        id: String,
    },
}

/// Why a batch that fails after a NAT deletion does not put the rule back.
pub const NAT_DELETE_IS_FINAL: &str = "a deleted NAT rule is not re-added";

/// Which NAT operations a batch groups into one transaction: only additions with additions and deletions
/// with deletions, of one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatRunKey<'a> {
    Add(&'a NamespaceRef),
    Delete(&'a NamespaceRef),
}

impl Operation {
    pub fn footprint(&self) -> Footprint {
        let named = |name: &NamespaceName| NamespaceRef::Named(name.clone());
        let namespaces = match self {
            Self::CreateNamespace(name) => vec![named(name)],
            // The namespace's veth ends take their host-side peers with them.
            Self::DeleteNamespace { name, .. } => vec![named(name), NamespaceRef::Host],
            Self::CreateLink(request) => match &request.kind {
                LinkKindSpec::Veth { peer_namespace, .. } => {
                    vec![request.namespace.clone(), peer_namespace.clone()]
                }
                LinkKindSpec::Bridge | LinkKindSpec::Vxlan(_) => vec![request.namespace.clone()],
            },
            // A veth's peer goes too, in a namespace the request does not name.
            Self::DeleteLink { .. } => return Footprint::Barrier,
            Self::SetLink {
                namespace, change, ..
            } => {
                let mut namespaces = vec![namespace.clone()];
                namespaces.extend(change.move_to.clone());
                namespaces
            }
            Self::AddAddress(request) => vec![request.namespace.clone()],
            Self::DeleteAddress { namespace, .. } => vec![namespace.clone()],
            Self::AddRoute { request, .. } | Self::DeleteRoute { request, .. } => {
                vec![request.namespace.clone()]
            }
            Self::SetForwarding { namespace, .. } => vec![namespace.clone()],
            Self::AddNatRule(request) => vec![request.namespace.clone()],
            Self::DeleteNatRule { namespace, .. } => vec![namespace.clone()],
        };
        Footprint::Namespaces(namespaces)
    }

    /// The namespace of a NAT addition, which a batch may apply together with its neighbours; `None` for
    /// every other operation.
    pub fn nat_addition_namespace(&self) -> Option<&NamespaceRef> {
        match self {
            Self::AddNatRule(request) => Some(&request.namespace),
            _ => None,
        }
    }

    /// What a batch may apply in one nftables transaction with its neighbours: NAT additions, or NAT
    /// deletions, of one namespace; `None` for every other operation.
    pub fn nat_run_key(&self) -> Option<NatRunKey<'_>> {
        match self {
            Self::AddNatRule(request) => Some(NatRunKey::Add(&request.namespace)),
            Self::DeleteNatRule { namespace, .. } => Some(NatRunKey::Delete(namespace)),
            _ => None,
        }
    }

    /// `nat` is `None` where the caller has no NAT backend; only NAT operations need one. The permit is
    /// the gate's admission ([`super::gate`]): no change reaches the kernel without one.
    pub async fn apply(
        &self,
        registry: &NamespaceRegistry,
        nat: Option<&Arc<dyn NatBackend>>,
        _admitted: &Permit,
    ) -> Result<Applied, OpError> {
        let applied = |changed: bool, warnings: Vec<Warning>, undo: Undo| Applied {
            changed,
            warnings,
            undo: if changed { undo } else { Undo::Nothing },
            detail: Detail::None,
        };
        let with = |applied: Applied, detail: Detail| Applied { detail, ..applied };
        let nat = || nat.ok_or(OpError::NatUnavailable);
        // Before the kernel announces anything, so a watcher reading the announcement knows it is ours.
        crate::watch::recent::recent().remember(self);
        match self {
            Self::CreateNamespace(name) => {
                let (info, changed) = registry.create(name).await?;
                Ok(with(
                    applied(changed, vec![], Undo::DeleteNamespace(name.clone())),
                    Detail::Namespace(info),
                ))
            }
            Self::DeleteNamespace {
                name,
                ignore_missing,
            } => match registry.delete(name).await {
                Ok(()) => Ok(applied(
                    true,
                    vec![],
                    Undo::Impossible("a deleted namespace cannot be restored"),
                )),
                Err(NetnsError::NotFound { .. }) if *ignore_missing => {
                    Ok(applied(false, vec![], Undo::Nothing))
                }
                Err(other) => Err(other.into()),
            },
            Self::CreateLink(request) => {
                let outcome = link_ops::create(registry, request).await?;
                let undo = Undo::DeleteLink {
                    namespace: request.namespace.clone(),
                    name: request.name.clone(),
                };
                let detail = Detail::Link {
                    namespace: request.namespace.clone(),
                    name: request.name.clone(),
                };
                Ok(with(
                    applied(outcome.changed, outcome.warnings, undo),
                    detail,
                ))
            }
            Self::DeleteLink {
                namespace,
                name,
                ignore_missing,
            } => {
                let outcome = link_ops::delete(registry, namespace, name, *ignore_missing).await?;
                Ok(applied(
                    outcome.changed,
                    outcome.warnings,
                    Undo::Impossible("a deleted link cannot be restored"),
                ))
            }
            Self::SetLink {
                namespace,
                name,
                change,
            } => {
                let outcome = link_ops::set(registry, namespace, name, change).await?;
                let destination = change.destination(namespace).clone();
                let detail = Detail::Link {
                    namespace: destination.clone(),
                    name: name.clone(),
                };
                let undo = Undo::SetLink {
                    namespace: destination,
                    name: name.clone(),
                    change: outcome.value.clone(),
                };
                Ok(with(
                    applied(outcome.changed, outcome.warnings, undo),
                    detail,
                ))
            }
            Self::AddAddress(request) => {
                let outcome = address_ops::add(registry, request).await?;
                let (view, change) = outcome.value;
                let undo = match change {
                    AddressChange::Created => Undo::DeleteAddress {
                        namespace: request.namespace.clone(),
                        link: request.link.clone(),
                        prefix: request.prefix,
                    },
                    _ => Undo::Impossible(
                        "the address existed before; its previous attributes were not kept",
                    ),
                };
                Ok(with(
                    applied(outcome.changed, outcome.warnings, undo),
                    Detail::Address(view),
                ))
            }
            Self::DeleteAddress {
                namespace,
                link,
                prefix,
                ignore_missing,
            } => {
                let outcome =
                    address_ops::delete(registry, namespace, link, *prefix, *ignore_missing)
                        .await?;
                Ok(applied(
                    outcome.changed,
                    outcome.warnings,
                    Undo::Impossible("a deleted address is not re-added"),
                ))
            }
            Self::AddRoute { request, replace } => {
                let mode = if *replace { Mode::Replace } else { Mode::Add };
                let outcome = route_ops::add(registry, request, mode).await?;
                let undo = match outcome.value.clone() {
                    Some(previous) => Undo::RestoreRoute {
                        namespace: request.namespace.clone(),
                        previous,
                    },
                    None => Undo::DeleteRoute(request.clone()),
                };
                Ok(applied(outcome.changed, outcome.warnings, undo))
            }
            Self::DeleteRoute {
                request,
                ignore_missing,
            } => {
                let outcome = route_ops::delete(registry, request, *ignore_missing).await?;
                Ok(applied(
                    outcome.changed,
                    outcome.warnings,
                    Undo::Impossible("a deleted route is not re-added"),
                ))
            }
            Self::SetForwarding {
                namespace,
                family,
                enabled,
            } => {
                let outcome = forwarding::set(registry, namespace, *family, *enabled).await?;
                let undo = Undo::SetForwarding {
                    namespace: namespace.clone(),
                    family: *family,
                    enabled: outcome.value,
                };
                let detail = Detail::Forwarding {
                    previous: outcome.value,
                };
                Ok(with(
                    applied(outcome.changed, outcome.warnings, undo),
                    detail,
                ))
            }
            Self::AddNatRule(request) => {
                let outcome = nat_ops::add(registry, nat()?.clone(), request.clone()).await?;
                let undo = Undo::DeleteNatRule {
                    namespace: request.namespace.clone(),
                    id: outcome.value.id.clone(),
                };
                Ok(with(
                    applied(outcome.changed, outcome.warnings, undo),
                    Detail::NatRule(outcome.value),
                ))
            }
            Self::DeleteNatRule {
                namespace,
                id,
                ignore_missing,
            } => {
                let outcome = nat_ops::delete(
                    registry,
                    nat()?.clone(),
                    namespace,
                    id.clone(),
                    *ignore_missing,
                )
                .await?;
                Ok(applied(
                    outcome.changed,
                    outcome.warnings,
                    Undo::Impossible(NAT_DELETE_IS_FINAL),
                ))
            }
        }
    }
}

impl Undo {
    /// Takes the operation back. `Err` carries why it could not be.
    pub async fn run(
        &self,
        registry: &NamespaceRegistry,
        nat: &Arc<dyn NatBackend>,
    ) -> Result<(), String> {
        let result: Result<(), OpError> = match self {
            Self::Nothing => Ok(()),
            Self::Impossible(why) => return Err((*why).to_string()),
            Self::DeleteNamespace(name) => match registry.delete(name).await {
                Ok(()) | Err(NetnsError::NotFound { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            },
            Self::DeleteLink { namespace, name } => {
                link_ops::delete(registry, namespace, name, true)
                    .await
                    .map(drop)
            }
            Self::SetLink {
                namespace,
                name,
                change,
            } => link_ops::set(registry, namespace, name, change)
                .await
                .map(drop),
            Self::DeleteAddress {
                namespace,
                link,
                prefix,
            } => address_ops::delete(registry, namespace, link, *prefix, true)
                .await
                .map(drop),
            Self::DeleteRoute(request) => {
                route_ops::delete(registry, request, true).await.map(drop)
            }
            Self::RestoreRoute {
                namespace,
                previous,
            } => route_ops::restore(registry, namespace, previous).await,
            Self::SetForwarding {
                namespace,
                family,
                enabled,
            } => forwarding::set(registry, namespace, *family, *enabled)
                .await
                .map(drop),
            Self::DeleteNatRule { namespace, id } => {
                nat_ops::delete(registry, nat.clone(), namespace, id.clone(), true)
                    .await
                    .map(drop)
            }
        };
        result.map_err(|e| e.to_string())
    }
}
