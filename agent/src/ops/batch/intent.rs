//! What a batch writes to the intent journal, and the one place where operations and their undo steps
//! are turned into records and back.
//!
//! A record holds, after the journal's header: an [`Entry::Intent`] with every operation (as text, for
//! people), then per operation a [`Entry::Before`] written before it runs, when it may change something
//! (the step that would take it back, worked out from the state read just before), an [`Entry::After`]
//! once it changed something (the step it returned, with the identity of what it created), and
//! [`Entry::Undone`] when the batch itself took it back. An operation the pre-check finds has nothing to
//! do (its object is already there) gets no `Before`: should it change something anyway, because someone
//! removed the object in between, only its `After` can prove the batch made it, and without one recovery
//! leaves the object alone. That is the conservative side: a leak, never the loss of someone else's object.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::domain::{
    Family, FieldError, IpPrefix, LinkName, MacAddr, NamespaceName, NamespaceRef, Scope,
};
use crate::kernel::route::{Route, RouteProtocol, RouteType};
use crate::nat::NatBackend;
use crate::netns::{NamespaceRegistry, NetnsError};

use super::super::link::{self as link_ops, LinkKindSpec, MasterChange, SetLink};
use super::super::operation::{Operation, Undo};
use super::super::route::RouteRequest;
use super::super::{
    address as address_ops, forwarding, nat as nat_ops, route as route_ops, OpError,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    Intent { operations: Vec<String> },
    Before { op: usize, undo: UndoRecord },
    After { op: usize, undo: UndoRecord },
    Undone { op: usize },
}

/// An undo step as stored: names as the API spells them ("" is the host namespace), parsed back with the
/// same validating parsers as a request. Identities (`cookie`, `ifindex`) are known only once the object
/// exists, so only `After` entries carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum UndoRecord {
    Nothing,
    Impossible {
        why: String,
    },
    DeleteNamespace {
        name: String,
        cookie: Option<u64>,
    },
    DeleteLink {
        namespace: String,
        name: String,
        /// The namespace's cookie and the link's index, when the link was created: another link of the
        /// same name later is not this one.
        namespace_cookie: Option<u64>,
        ifindex: Option<u32>,
    },
    SetLink {
        namespace: String,
        name: String,
        up: Option<bool>,
        mtu: Option<u32>,
        mac: Option<String>,
        master: Option<String>,
        release_master: bool,
        move_to: Option<String>,
    },
    DeleteAddress {
        namespace: String,
        link: String,
        address: String,
        prefix_len: u8,
    },
    DeleteRoute {
        namespace: String,
        destination: String,
        prefix_len: u8,
        gateway: Option<String>,
        device: Option<String>,
        metric: Option<u32>,
        table: Option<u32>,
        scope: Option<u8>,
        source: Option<String>,
    },
    /// A replaced route, put back exactly as the kernel reported it. `device_index` is the index in that
    /// namespace, as the kernel takes it back.
    RestoreRoute {
        namespace: String,
        destination: String,
        prefix_len: u8,
        gateway: Option<String>,
        device_index: Option<u32>,
        metric: Option<u32>,
        table: u32,
        scope: u8,
        protocol: u8,
        route_type: u8,
        source: Option<String>,
    },
    SetForwarding {
        namespace: String,
        ipv6: bool,
        enabled: bool,
    },
    DeleteNatRule {
        namespace: String,
        id: String,
    },
}

impl UndoRecord {
    pub fn is_nothing(&self) -> bool {
        matches!(self, Self::Nothing)
    }

    /// The namespace the step acts in, if a named one.
    pub fn named_namespace(&self) -> Option<&str> {
        let namespace = match self {
            Self::Nothing | Self::Impossible { .. } | Self::DeleteNamespace { .. } => return None,
            Self::DeleteLink { namespace, .. }
            | Self::SetLink { namespace, .. }
            | Self::DeleteAddress { namespace, .. }
            | Self::DeleteRoute { namespace, .. }
            | Self::RestoreRoute { namespace, .. }
            | Self::SetForwarding { namespace, .. }
            | Self::DeleteNatRule { namespace, .. } => namespace,
        };
        (!namespace.is_empty()).then_some(namespace.as_str())
    }

    pub fn from_undo(undo: &Undo) -> UndoRecord {
        let ns = |namespace: &NamespaceRef| namespace.as_api_str().to_string();
        match undo {
            Undo::Nothing => Self::Nothing,
            Undo::Impossible(why) => Self::Impossible {
                why: (*why).to_string(),
            },
            Undo::DeleteNamespace(name) => Self::DeleteNamespace {
                name: name.to_string(),
                cookie: None,
            },
            Undo::DeleteLink { namespace, name } => Self::DeleteLink {
                namespace: ns(namespace),
                name: name.to_string(),
                namespace_cookie: None,
                ifindex: None,
            },
            Undo::SetLink {
                namespace,
                name,
                change,
            } => Self::SetLink {
                namespace: ns(namespace),
                name: name.to_string(),
                up: change.up,
                mtu: change.mtu,
                mac: change.mac.map(|mac| mac.to_string()),
                master: match &change.master {
                    Some(MasterChange::Set(master)) => Some(master.to_string()),
                    _ => None,
                },
                release_master: change.master == Some(MasterChange::Release),
                move_to: change.move_to.as_ref().map(ns),
            },
            Undo::DeleteAddress {
                namespace,
                link,
                prefix,
            } => Self::DeleteAddress {
                namespace: ns(namespace),
                link: link.to_string(),
                address: prefix.address.to_string(),
                prefix_len: prefix.prefix_len,
            },
            Undo::DeleteRoute(request) => Self::DeleteRoute {
                namespace: ns(&request.namespace),
                destination: request.destination.address.to_string(),
                prefix_len: request.destination.prefix_len,
                gateway: request.gateway.map(|g| g.to_string()),
                device: request.device.as_ref().map(|d| d.to_string()),
                metric: request.metric,
                table: request.table,
                scope: request.scope.map(Scope::to_kernel),
                source: request.source.map(|s| s.to_string()),
            },
            Undo::RestoreRoute {
                namespace,
                previous,
            } => Self::RestoreRoute {
                namespace: ns(namespace),
                destination: previous.destination.address.to_string(),
                prefix_len: previous.destination.prefix_len,
                gateway: previous.gateway.map(|g| g.to_string()),
                device_index: previous.device_index,
                metric: previous.metric,
                table: previous.table,
                scope: previous.scope.to_kernel(),
                protocol: previous.protocol.into(),
                route_type: previous.kind.into(),
                source: previous.source.map(|s| s.to_string()),
            },
            Undo::SetForwarding {
                namespace,
                family,
                enabled,
            } => Self::SetForwarding {
                namespace: ns(namespace),
                ipv6: *family == Family::V6,
                enabled: *enabled,
            },
            Undo::DeleteNatRule { namespace, id } => Self::DeleteNatRule {
                namespace: ns(namespace),
                id: id.clone(),
            },
        }
    }

    /// The step as the agent runs it. Identity checks are the caller's (see `ops::recovery`); a record
    /// whose names do not parse is refused, field by field.
    pub fn to_undo(&self) -> Result<Undo, FieldError> {
        let ns = |field: &str, value: &str| NamespaceRef::parse(field, value);
        let prefix = |field: &str, address: &str, len: u8| {
            IpPrefix::parse(field, address, "prefix_len", u32::from(len))
        };
        let ip = |field: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| crate::domain::parse_ip(field, v))
                .transpose()
        };
        Ok(match self {
            Self::Nothing => Undo::Nothing,
            Self::Impossible { .. } => Undo::Impossible("recorded as impossible to take back"),
            Self::DeleteNamespace { name, .. } => {
                Undo::DeleteNamespace(NamespaceName::parse("name", name)?)
            }
            Self::DeleteLink {
                namespace, name, ..
            } => Undo::DeleteLink {
                namespace: ns("namespace", namespace)?,
                name: LinkName::parse("name", name)?,
            },
            Self::SetLink {
                namespace,
                name,
                up,
                mtu,
                mac,
                master,
                release_master,
                move_to,
            } => Undo::SetLink {
                namespace: ns("namespace", namespace)?,
                name: LinkName::parse("name", name)?,
                change: SetLink {
                    up: *up,
                    mtu: *mtu,
                    mac: mac
                        .as_deref()
                        .map(|m| m.parse::<MacAddr>().map_err(|e| FieldError::new("mac", e)))
                        .transpose()?,
                    master: match (master, release_master) {
                        (Some(master), _) => {
                            Some(MasterChange::Set(LinkName::parse("master", master)?))
                        }
                        (None, true) => Some(MasterChange::Release),
                        (None, false) => None,
                    },
                    move_to: move_to.as_deref().map(|m| ns("move_to", m)).transpose()?,
                },
            },
            Self::DeleteAddress {
                namespace,
                link,
                address,
                prefix_len,
            } => Undo::DeleteAddress {
                namespace: ns("namespace", namespace)?,
                link: LinkName::parse("link", link)?,
                prefix: prefix("address", address, *prefix_len)?,
            },
            Self::DeleteRoute {
                namespace,
                destination,
                prefix_len,
                gateway,
                device,
                metric,
                table,
                scope,
                source,
            } => Undo::DeleteRoute(RouteRequest {
                namespace: ns("namespace", namespace)?,
                destination: prefix("destination", destination, *prefix_len)?,
                gateway: ip("gateway", gateway)?,
                device: device
                    .as_deref()
                    .map(|d| LinkName::parse("device", d))
                    .transpose()?,
                metric: *metric,
                table: *table,
                scope: scope.map(Scope::from_kernel),
                source: ip("source", source)?,
                // A delete matches the route as the kernel holds it, whatever its protocol.
                marked: false,
            }),
            Self::RestoreRoute {
                namespace,
                destination,
                prefix_len,
                gateway,
                device_index,
                metric,
                table,
                scope,
                protocol,
                route_type,
                source,
            } => Undo::RestoreRoute {
                namespace: ns("namespace", namespace)?,
                previous: Route {
                    destination: prefix("destination", destination, *prefix_len)?,
                    gateway: ip("gateway", gateway)?,
                    device_index: *device_index,
                    metric: *metric,
                    table: *table,
                    scope: Scope::from_kernel(*scope),
                    protocol: RouteProtocol::from(*protocol),
                    kind: RouteType::from(*route_type),
                    source: ip("source", source)?,
                    // Only reported, never sent.
                    flags: Vec::new(),
                },
            },
            Self::SetForwarding {
                namespace,
                ipv6,
                enabled,
            } => Undo::SetForwarding {
                namespace: ns("namespace", namespace)?,
                family: if *ipv6 { Family::V6 } else { Family::V4 },
                enabled: *enabled,
            },
            Self::DeleteNatRule { namespace, id } => Undo::DeleteNatRule {
                namespace: ns("namespace", namespace)?,
                id: id.clone(),
            },
        })
    }
}

/// What would take `operation` back if it ran now, from the state read just before it runs;
/// [`UndoRecord::Nothing`] when it has nothing to do or is bound to fail (its namespace or link is
/// missing), and for deletions, which nothing takes back (their `After` says so). `created` is what the
/// batch made so far: a veth's peer in a namespace the batch made needs no look.
pub async fn before(
    registry: &NamespaceRegistry,
    nat: &std::sync::Arc<dyn NatBackend>,
    operation: &Operation,
    created: &std::sync::Mutex<Created>,
) -> Result<UndoRecord, OpError> {
    let record = |undo: Undo| UndoRecord::from_undo(&undo);
    Ok(match operation {
        Operation::CreateNamespace(name) => match registry.get(name) {
            Err(NetnsError::NotFound { .. }) => record(Undo::DeleteNamespace(name.clone())),
            // There, or an empty file (a leftover the create may reuse, or someone's creation under
            // way): only an `After` entry can then prove the batch mounted what is there.
            _ => UndoRecord::Nothing,
        },
        Operation::CreateLink(request) => {
            let name_free =
                link_taken(registry, &request.namespace, &request.name).await == Some(false);
            let peer_free = match &request.kind {
                LinkKindSpec::Veth {
                    peer,
                    peer_namespace,
                } => {
                    // A name taken in a namespace the batch made was taken by the batch: the create
                    // then fails, and nothing needs taking back.
                    let new = created
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .namespace(peer_namespace);
                    new || link_taken(registry, peer_namespace, peer).await == Some(false)
                }
                LinkKindSpec::Bridge | LinkKindSpec::Vxlan(_) => true,
            };
            if name_free && peer_free {
                record(Undo::DeleteLink {
                    namespace: request.namespace.clone(),
                    name: request.name.clone(),
                })
            } else {
                UndoRecord::Nothing
            }
        }
        Operation::SetLink {
            namespace,
            name,
            change,
        } => match link_ops::reverse(registry, namespace, name, change).await? {
            Some(reverse) => record(Undo::SetLink {
                namespace: change.destination(namespace).clone(),
                name: name.clone(),
                change: reverse,
            }),
            None => UndoRecord::Nothing,
        },
        Operation::AddAddress(request) => match address_ops::exists(registry, request).await? {
            Some(false) => record(Undo::DeleteAddress {
                namespace: request.namespace.clone(),
                link: request.link.clone(),
                prefix: request.prefix,
            }),
            // Already there: an add may update its attributes, which a restart does not put back.
            Some(true) => UndoRecord::Nothing,
            None => UndoRecord::Nothing,
        },
        Operation::AddRoute { request, replace } => {
            match route_ops::existing(registry, request).await? {
                None => record(Undo::DeleteRoute(request.clone())),
                Some(previous) if *replace => record(Undo::RestoreRoute {
                    namespace: request.namespace.clone(),
                    previous,
                }),
                // A plain add of a taken key changes nothing (same route) or fails.
                Some(_) => UndoRecord::Nothing,
            }
        }
        Operation::SetForwarding {
            namespace,
            family,
            enabled,
        } => match forwarding::get(registry, namespace).await {
            Ok((v4, v6)) => {
                let current = if *family == Family::V6 { v6 } else { v4 };
                if current == *enabled {
                    UndoRecord::Nothing
                } else {
                    record(Undo::SetForwarding {
                        namespace: namespace.clone(),
                        family: *family,
                        enabled: current,
                    })
                }
            }
            Err(_) => UndoRecord::Nothing,
        },
        Operation::AddNatRule(request) => {
            let id = request.spec.id();
            match nat_ops::list(registry, nat.clone(), &request.namespace).await {
                Ok(listing) if listing.rules.iter().any(|rule| rule.id == id) => {
                    UndoRecord::Nothing
                }
                Ok(_) => record(Undo::DeleteNatRule {
                    namespace: request.namespace.clone(),
                    id,
                }),
                Err(_) => UndoRecord::Nothing,
            }
        }
        Operation::DeleteNamespace { .. }
        | Operation::DeleteLink { .. }
        | Operation::DeleteAddress { .. }
        | Operation::DeleteRoute { .. }
        | Operation::DeleteNatRule { .. } => UndoRecord::Nothing,
    })
}

/// Whether a link of that name exists; `None` when the namespace is missing or cannot be read.
async fn link_taken(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    name: &LinkName,
) -> Option<bool> {
    let handle = link_ops::namespace_handle(registry, namespace).await.ok()?;
    crate::kernel::link::get_by_name(handle.route(), name.as_str())
        .map(|link| link.is_some())
        .ok()
}

/// `undo` (returned by an operation that changed something) with the identity of what it created: the
/// namespace's cookie, the link's index and its namespace's cookie. Unreadable identity stays `None`,
/// which recovery treats as it treats an operation in flight.
pub async fn after(registry: &NamespaceRegistry, undo: &Undo) -> UndoRecord {
    let mut record = UndoRecord::from_undo(undo);
    match &mut record {
        UndoRecord::DeleteNamespace { name, cookie } => {
            if let Ok(parsed) = NamespaceName::parse("name", name) {
                if let Ok(handle) = registry.handle(&NamespaceRef::Named(parsed)).await {
                    *cookie = Some(handle.cookie());
                }
            }
        }
        UndoRecord::DeleteLink {
            namespace_cookie,
            ifindex,
            name,
            ..
        } => {
            if let Undo::DeleteLink { namespace, .. } = undo {
                if let Ok(handle) = registry.handle(namespace).await {
                    if let Ok(Some(link)) = crate::kernel::link::get_by_name(handle.route(), name) {
                        *namespace_cookie = Some(handle.cookie());
                        *ifindex = Some(link.index);
                    }
                }
            }
        }
        _ => {}
    }
    record
}

/// What this batch has created so far. An operation that acts only inside it needs no entries of its
/// own: taking back the creation (deleting the namespace or link) takes its effects back too. This keeps
/// the journal's reads and writes off most of a topology's operations (everything inside a new
/// namespace, the enslaving and bringing up of a new veth).
#[derive(Debug, Default)]
pub struct Created {
    namespaces: HashSet<NamespaceName>,
    links: HashSet<(NamespaceRef, LinkName)>,
}

impl Created {
    fn namespace(&self, namespace: &NamespaceRef) -> bool {
        matches!(namespace, NamespaceRef::Named(name) if self.namespaces.contains(name))
    }

    fn link(&self, namespace: &NamespaceRef, name: &LinkName) -> bool {
        self.namespace(namespace) || self.links.contains(&(namespace.clone(), name.clone()))
    }

    /// Whether taking back what the batch created also takes `operation` back.
    pub fn covers(&self, operation: &Operation) -> bool {
        match operation {
            Operation::CreateLink(request) => {
                self.namespace(&request.namespace)
                    && match &request.kind {
                        LinkKindSpec::Veth { peer_namespace, .. } => self.namespace(peer_namespace),
                        LinkKindSpec::Bridge | LinkKindSpec::Vxlan(_) => true,
                    }
            }
            // A link moved elsewhere is no longer where its deletion would look: the move is undone on
            // its own.
            Operation::SetLink {
                namespace,
                name,
                change,
            } => change.move_to.is_none() && self.link(namespace, name),
            Operation::AddAddress(request) => self.link(&request.namespace, &request.link),
            Operation::AddRoute { request, .. } => self.namespace(&request.namespace),
            Operation::SetForwarding { namespace, .. } => self.namespace(namespace),
            Operation::AddNatRule(request) => self.namespace(&request.namespace),
            Operation::CreateNamespace(_)
            | Operation::DeleteNamespace { .. }
            | Operation::DeleteLink { .. }
            | Operation::DeleteAddress { .. }
            | Operation::DeleteRoute { .. }
            | Operation::DeleteNatRule { .. } => false,
        }
    }

    /// Notes what an applied operation created (if it `changed` anything) or removed.
    pub fn note(&mut self, operation: &Operation, changed: bool) {
        match operation {
            Operation::CreateNamespace(name) if changed => {
                self.namespaces.insert(name.clone());
            }
            Operation::CreateLink(request) if changed => {
                self.links
                    .insert((request.namespace.clone(), request.name.clone()));
                if let LinkKindSpec::Veth {
                    peer,
                    peer_namespace,
                } = &request.kind
                {
                    self.links.insert((peer_namespace.clone(), peer.clone()));
                }
            }
            Operation::DeleteNamespace { name, .. } => {
                self.namespaces.remove(name);
                let gone = NamespaceRef::Named(name.clone());
                self.links.retain(|(namespace, _)| namespace != &gone);
            }
            Operation::DeleteLink {
                namespace, name, ..
            } => {
                self.links.remove(&(namespace.clone(), name.clone()));
            }
            Operation::SetLink {
                namespace,
                name,
                change,
            } if change.move_to.is_some() => {
                self.links.remove(&(namespace.clone(), name.clone()));
            }
            _ => {}
        }
    }
}

/// One line per operation for the intent entry: enough for a person reading a kept record.
pub fn describe(operations: &[Operation]) -> Vec<String> {
    operations.iter().map(|op| format!("{op:?}")).collect()
}

#[cfg(test)]
mod tests;
