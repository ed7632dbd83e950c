//! The management-path guard: the agent must not saw off the branch it sits on.
//!
//! A TCP caller reaches the agent through some link of the host namespace, to some local address, along a
//! route back to the caller. Deleting, downing, moving or enslaving that link, removing that address or
//! deleting/replacing that route would end the conversation half way, and possibly every later one. Such
//! changes are refused with FAILED_PRECONDITION naming what would break, unless the request sets `force`.
//!
//! What is protected is read from the kernel at the time of the request, not guessed: the route to the
//! caller is the kernel's own answer to RTM_GETROUTE for the caller's address (`ip route get`, for the
//! outgoing link), and the routing entry it matched comes from the same query with RTM_F_FIB_MATCH
//! (`ip route get fibmatch`). Listening addresses come from the server's configuration, plus the local
//! address this very connection arrived on (which covers wildcard listeners).
//!
//! Callers on the unix socket are local: nothing is guarded for them. The check runs before the change,
//! once per request (a batch loads the protected set once and checks every operation).

use std::net::IpAddr;
use std::sync::Arc;

use crate::domain::{IpPrefix, LinkName, NamespaceName, NamespaceRef};
use crate::kernel::route::{self, Route, MAIN_TABLE};
use crate::kernel::{address, link};
use crate::netns::NamespaceRegistry;

use super::link::{MasterChange, SetLink};
use super::operation::Operation;
use super::route::RouteRequest;
use super::OpError;

/// The agent's own TCP listening addresses (wildcards left out), as the server configured them.
#[derive(Debug, Clone, Default)]
pub struct ListeningAddresses(pub Arc<Vec<IpAddr>>);

/// How one TCP caller reaches the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementPath {
    /// The caller's address.
    pub peer: IpAddr,
    /// The agent's address the caller connected to.
    pub local: IpAddr,
    pub listening: Vec<IpAddr>,
}

impl ManagementPath {
    pub fn new(peer: IpAddr, local: IpAddr, listening: &ListeningAddresses) -> Self {
        // A dual-stack socket reports IPv4 callers as ::ffff:a.b.c.d; the kernel's tables hold a.b.c.d.
        Self {
            peer: peer.to_canonical(),
            local: local.to_canonical(),
            listening: listening.0.to_vec(),
        }
    }
}

/// A change the guard may have to refuse, in the domain's terms.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    DeleteNamespace(&'a NamespaceName),
    DeleteLink {
        namespace: &'a NamespaceRef,
        name: &'a LinkName,
    },
    SetLink {
        namespace: &'a NamespaceRef,
        name: &'a LinkName,
        change: &'a SetLink,
    },
    DeleteAddress {
        namespace: &'a NamespaceRef,
        link: &'a LinkName,
        prefix: IpPrefix,
    },
    DeleteRoute(&'a RouteRequest),
    ReplaceRoute(&'a RouteRequest),
}

impl<'a> Change<'a> {
    /// The part of a batch operation the guard looks at. Exhaustive on purpose: a new operation has to be
    /// classified here before it compiles.
    pub fn of(operation: &'a Operation) -> Option<Self> {
        match operation {
            Operation::DeleteNamespace { name, .. } => Some(Self::DeleteNamespace(name)),
            Operation::DeleteLink {
                namespace, name, ..
            } => Some(Self::DeleteLink { namespace, name }),
            Operation::SetLink {
                namespace,
                name,
                change,
            } => Some(Self::SetLink {
                namespace,
                name,
                change,
            }),
            Operation::DeleteAddress {
                namespace,
                link,
                prefix,
                ..
            } => Some(Self::DeleteAddress {
                namespace,
                link,
                prefix: *prefix,
            }),
            Operation::DeleteRoute { request, .. } => Some(Self::DeleteRoute(request)),
            Operation::AddRoute {
                request,
                replace: true,
            } => Some(Self::ReplaceRoute(request)),
            Operation::AddRoute { replace: false, .. }
            | Operation::CreateNamespace(_)
            | Operation::CreateLink(_)
            | Operation::AddAddress(_)
            | Operation::SetForwarding { .. }
            | Operation::AddNatRule(_)
            | Operation::DeleteNatRule { .. } => None,
        }
    }

    /// Whether this change could touch the host namespace's links, addresses or routes at all.
    fn may_matter(&self) -> bool {
        match self {
            // Both delete veth peers, wherever they are.
            Self::DeleteNamespace(_) | Self::DeleteLink { .. } => true,
            Self::SetLink { namespace, .. } | Self::DeleteAddress { namespace, .. } => {
                **namespace == NamespaceRef::Host
            }
            Self::DeleteRoute(request) | Self::ReplaceRoute(request) => {
                request.namespace == NamespaceRef::Host
            }
        }
    }
}

/// Checks every change of one request against the caller's management path; `Err` carries the position
/// of the first refused change. Without a path (a unix-socket caller) nothing is refused.
pub async fn check(
    registry: &NamespaceRegistry,
    path: Option<&ManagementPath>,
    changes: &[(Change<'_>, bool)],
) -> Result<(), (usize, OpError)> {
    let Some(path) = path else { return Ok(()) };
    let mut protected = None;
    for (position, (change, force)) in changes.iter().enumerate() {
        if *force || !change.may_matter() {
            continue;
        }
        if protected.is_none() {
            protected = Some(
                Protected::load(registry, path)
                    .await
                    .map_err(|e| (position, e))?,
            );
        }
        if let Some(refusal) = protected.as_ref().and_then(|p| p.refusal(change)) {
            return Err((position, OpError::CutsManagementPath { refusal }));
        }
    }
    Ok(())
}

/// One link the agent's traffic depends on.
#[derive(Debug, Clone)]
struct ProtectedLink {
    name: String,
    /// "it holds 192.0.2.1, the address the caller connected to".
    why: String,
    /// For a veth: its other end, which takes this one with it when deleted.
    veth_peer: Option<(NamespaceRef, String)>,
}

#[derive(Debug, Clone)]
struct ProtectedAddress {
    address: IpAddr,
    link: String,
    why: String,
}

/// The routing entry the kernel uses to answer the caller.
#[derive(Debug, Clone)]
struct ManagementRoute {
    route: Route,
    device: Option<String>,
    peer: IpAddr,
}

/// What the agent's traffic with one caller depends on, read from the host namespace.
#[derive(Debug, Clone, Default)]
struct Protected {
    links: Vec<ProtectedLink>,
    addresses: Vec<ProtectedAddress>,
    route: Option<ManagementRoute>,
}

impl Protected {
    async fn load(registry: &NamespaceRegistry, path: &ManagementPath) -> Result<Self, OpError> {
        let unsure = |what: String| move |source| OpError::ManagementPathUnknown { what, source };
        let host = registry.host();
        let handle = host.route();
        let links = link::list(handle).map_err(unsure("list links".into()))?;
        let addresses = address::list(handle, None).map_err(unsure("list addresses".into()))?;
        let name_of = |index: u32| {
            links
                .iter()
                .find(|l| l.index == index)
                .map(|l| l.name.clone())
        };
        let mut protected = Self::default();

        let mut local_addresses = vec![(
            path.local,
            format!("{}, the address the caller connected to", path.local),
        )];
        for listening in path.listening.iter().filter(|a| **a != path.local) {
            local_addresses.push((
                *listening,
                format!("{listening}, an address the agent listens on"),
            ));
        }
        for (address, why) in local_addresses {
            let Some(held) = addresses.iter().find(|a| a.prefix.address == address) else {
                continue;
            };
            let Some(name) = name_of(held.link_index) else {
                continue;
            };
            protected.addresses.push(ProtectedAddress {
                address,
                link: name.clone(),
                why: why.clone(),
            });
            protected.add_link(name, format!("it holds {why}"));
        }

        let used = route::get(handle, path.peer, false)
            .map_err(unsure(format!("route get {}", path.peer)))?;
        if let Some(device) = used.as_ref().and_then(|r| r.device_index).and_then(name_of) {
            protected.add_link(
                device,
                format!("it carries the route to the caller {}", path.peer),
            );
        }
        let matched = route::get(handle, path.peer, true)
            .map_err(unsure(format!("route get fibmatch {}", path.peer)))?;
        protected.route = matched.map(|route| ManagementRoute {
            device: route.device_index.and_then(name_of),
            route,
            peer: path.peer,
        });

        for protected_link in &mut protected.links {
            let Ok(name) = LinkName::parse("name", &protected_link.name) else {
                continue;
            };
            if let Ok(view) = super::link::get(registry, &NamespaceRef::Host, &name).await {
                protected_link.veth_peer = view.peer.and_then(|p| Some((p.namespace?, p.name?)));
            }
        }
        Ok(protected)
    }

    fn add_link(&mut self, name: String, why: String) {
        match self.links.iter_mut().find(|l| l.name == name) {
            Some(existing) => existing.why = format!("{} and {why}", existing.why),
            None => self.links.push(ProtectedLink {
                name,
                why,
                veth_peer: None,
            }),
        }
    }

    fn link(&self, name: &str) -> Option<&ProtectedLink> {
        self.links.iter().find(|l| l.name == name)
    }

    /// Why `change` would cut the agent off, if it would.
    fn refusal(&self, change: &Change<'_>) -> Option<String> {
        let cut = "would cut the agent off from its caller";
        match change {
            Change::DeleteLink { namespace, name } => {
                if **namespace == NamespaceRef::Host {
                    if let Some(link) = self.link(name.as_str()) {
                        return Some(format!("deleting link {name} {cut}: {}", link.why));
                    }
                }
                // The other end of a protected veth, wherever it is (the host namespace included: a
                // host-to-host veth), takes the protected end with it.
                let link = self.links.iter().find(|l| {
                    l.veth_peer
                        .as_ref()
                        .is_some_and(|(ns, peer)| ns == *namespace && peer == name.as_str())
                })?;
                Some(format!(
                    "deleting link {name} in {namespace} also deletes its veth peer {} in the host namespace, \
                     which {cut}: {}",
                    link.name, link.why
                ))
            }
            Change::DeleteNamespace(namespace) => {
                let link = self.links.iter().find(|l| {
                    l.veth_peer
                        .as_ref()
                        .is_some_and(|(ns, _)| *ns == NamespaceRef::Named((*namespace).clone()))
                })?;
                Some(format!(
                    "deleting namespace {namespace} also deletes the veth {} of the host namespace (its peer is inside), \
                     which {cut}: {}",
                    link.name, link.why
                ))
            }
            Change::SetLink {
                namespace: NamespaceRef::Host,
                name,
                change,
            } => {
                let link = self.link(name.as_str())?;
                let what = match (change.up, &change.move_to, &change.master) {
                    (Some(false), _, _) => format!("bringing down link {name}"),
                    (_, Some(NamespaceRef::Named(target)), _) => {
                        format!("moving link {name} to namespace {target}")
                    }
                    (_, _, Some(MasterChange::Set(master))) => {
                        format!("making link {name} a port of {master}")
                    }
                    _ => return None,
                };
                Some(format!("{what} {cut}: {}", link.why))
            }
            Change::DeleteAddress {
                namespace: NamespaceRef::Host,
                link,
                prefix,
            } => {
                let held = self
                    .addresses
                    .iter()
                    .find(|a| a.address == prefix.address && a.link == link.as_str())?;
                Some(format!(
                    "removing {prefix} from {link} {cut}: it is {}",
                    held.why
                ))
            }
            Change::DeleteRoute(request) if request.namespace == NamespaceRef::Host => {
                let management = self
                    .route
                    .as_ref()
                    .filter(|m| m.would_be_deleted_by(request))?;
                Some(format!(
                    "deleting the route {} {cut}: it carries the traffic to {}",
                    management.describe(),
                    management.peer
                ))
            }
            Change::ReplaceRoute(request) if request.namespace == NamespaceRef::Host => {
                let management = self
                    .route
                    .as_ref()
                    .filter(|m| m.would_be_replaced_by(request))?;
                Some(format!(
                    "replacing the route {} {cut}: it carries the traffic to {}",
                    management.describe(),
                    management.peer
                ))
            }
            _ => None,
        }
    }
}

impl ManagementRoute {
    /// Mirrors `ops::route::delete`: fields the request leaves out match anything.
    fn would_be_deleted_by(&self, request: &RouteRequest) -> bool {
        let route = &self.route;
        request.table.unwrap_or(MAIN_TABLE) == route.table
            && request.destination == route.destination
            && request
                .gateway
                .is_none_or(|gateway| route.gateway == Some(gateway))
            && request
                .device
                .as_ref()
                .is_none_or(|device| self.device.as_deref() == Some(device.as_str()))
            && request
                .metric
                .is_none_or(|metric| route.effective_metric() == metric)
    }

    /// Replace acts on the same key (table, destination, metric); replacing it with the same next hop
    /// changes nothing that matters here.
    fn would_be_replaced_by(&self, request: &RouteRequest) -> bool {
        let route = &self.route;
        let default_metric = Route {
            metric: request.metric,
            ..route.clone()
        }
        .effective_metric();
        let same_key = request.table.unwrap_or(MAIN_TABLE) == route.table
            && request.destination == route.destination
            && default_metric == route.effective_metric();
        let same_next_hop = request.gateway == route.gateway
            && request
                .device
                .as_ref()
                .is_none_or(|device| self.device.as_deref() == Some(device.as_str()));
        same_key && !same_next_hop
    }

    fn describe(&self) -> String {
        let destination = if self.route.destination.prefix_len == 0 {
            "default".to_string()
        } else {
            self.route.destination.to_string()
        };
        let mut text = destination;
        if let Some(gateway) = self.route.gateway {
            text.push_str(&format!(" via {gateway}"));
        }
        if let Some(device) = &self.device {
            text.push_str(&format!(" dev {device}"));
        }
        if self.route.table != MAIN_TABLE {
            text.push_str(&format!(" table {}", self.route.table));
        }
        text
    }
}

#[cfg(test)]
mod tests;
