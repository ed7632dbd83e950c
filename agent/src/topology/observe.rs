//! Reads what the kernel holds, once per namespace: one link dump, one address dump, one route dump, and
//! where the topology has any, one NAT listing and one forwarding read. The plan then looks objects up in
//! memory: no round trip per object, so a no-change plan of many namespaces stays cheap.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use crate::domain::{IpPrefix, NamespaceRef, VxlanParams};
use crate::kernel::{address, link, route, vxlan};
use crate::nat::NatBackend;
use crate::netns::{NamespaceRegistry, NetnsError};
use crate::ops::{forwarding, link as link_ops, marker, nat as nat_ops, OpError};

/// A link as the plan compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedLink {
    pub index: u32,
    pub kind: Option<String>,
    pub up: bool,
    pub mtu: u32,
    pub master: Option<String>,
    /// The veth peer's index in its own namespace.
    pub peer_index: Option<u32>,
    /// The topology whose ownership marker the link carries, if any.
    pub marker: Option<String>,
    /// A VXLAN link's parameters, remotes and device name included.
    pub vxlan: Option<VxlanParams>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRoute {
    pub destination: IpPrefix,
    pub table: u32,
    pub metric: u32,
    pub gateway: Option<IpAddr>,
    pub device: Option<String>,
    pub protocol: u8,
}

#[derive(Debug, Clone, Default)]
pub struct ObservedNat {
    pub ids: BTreeSet<String>,
    pub table_missing: bool,
}

/// One namespace's objects.
#[derive(Debug, Clone, Default)]
pub struct Space {
    pub links: HashMap<String, ObservedLink>,
    /// (link name, address), with the address protocol (0 = none given).
    pub addresses: Vec<(String, IpPrefix, u8)>,
    pub routes: Vec<ObservedRoute>,
    /// (IPv4, IPv6), read only where the topology sets forwarding.
    pub forwarding: Option<(bool, bool)>,
    /// Read only where the topology has NAT rules.
    pub nat: Option<ObservedNat>,
}

impl Space {
    pub fn has_address(&self, link: &str, prefix: &IpPrefix) -> bool {
        self.addresses
            .iter()
            .any(|(l, p, _)| l == link && p == prefix)
    }

    pub fn address_protocol(&self, link: &str, prefix: &IpPrefix) -> Option<u8> {
        self.addresses
            .iter()
            .find(|(l, p, _)| l == link && p == prefix)
            .map(|(_, _, protocol)| *protocol)
    }

    /// The route of this destination and table; with several (different metrics), the one of `metric`.
    pub fn route(&self, destination: &IpPrefix, table: u32, metric: u32) -> Option<&ObservedRoute> {
        let mut candidates = self
            .routes
            .iter()
            .filter(|r| r.destination == *destination && r.table == table);
        let first = candidates.next()?;
        if first.metric == metric {
            return Some(first);
        }
        candidates.find(|r| r.metric == metric).or(Some(first))
    }
}

/// What the plan needs read: which namespaces, and where forwarding and NAT matter.
#[derive(Debug, Default)]
pub struct Scope {
    pub namespaces: BTreeSet<NamespaceRef>,
    pub forwarding: BTreeSet<NamespaceRef>,
    pub nat: BTreeSet<NamespaceRef>,
    /// Whether a route outside the main table matters: then every table is read.
    pub all_tables: bool,
}

/// The host as the plan sees it. A named namespace missing from `spaces` does not exist.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub spaces: BTreeMap<NamespaceRef, Space>,
}

impl Observed {
    pub fn space(&self, namespace: &NamespaceRef) -> Option<&Space> {
        self.spaces.get(namespace)
    }

    pub fn namespace_exists(&self, namespace: &NamespaceRef) -> bool {
        self.spaces.contains_key(namespace)
    }

    pub fn link(&self, namespace: &NamespaceRef, name: &str) -> Option<&ObservedLink> {
        self.space(namespace).and_then(|s| s.links.get(name))
    }
}

/// Namespaces read at once: the dumps are synchronous netlink requests, spread over the blocking pool.
const READERS: usize = 4;

pub async fn observe(
    registry: &NamespaceRegistry,
    nat: &Arc<dyn NatBackend>,
    scope: &Scope,
) -> Result<Observed, OpError> {
    let existing: BTreeSet<NamespaceRef> = registry
        .list()?
        .into_iter()
        .map(|info| NamespaceRef::Named(info.name))
        .collect();
    let mut handles = Vec::new();
    for namespace in &scope.namespaces {
        if *namespace != NamespaceRef::Host && !existing.contains(namespace) {
            continue;
        }
        match registry.handle(namespace).await {
            Ok(handle) => handles.push((namespace.clone(), handle)),
            // Deleted while we looked: it does not exist.
            Err(NetnsError::NotFound { .. }) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let chunk = handles.len().div_ceil(READERS).max(1);
    let mut readers = tokio::task::JoinSet::new();
    let all_tables = scope.all_tables;
    for part in handles.chunks(chunk) {
        let part = part.to_vec();
        readers.spawn_blocking(move || {
            part.into_iter()
                .map(|(namespace, handle)| {
                    read_dumps(handle.route(), all_tables).map(|s| (namespace, s))
                })
                .collect::<Result<Vec<_>, OpError>>()
        });
    }
    let mut observed = Observed::default();
    while let Some(joined) = readers.join_next().await {
        let spaces = joined.map_err(|_| OpError::TaskLost)??;
        observed.spaces.extend(spaces);
    }
    for (namespace, space) in &mut observed.spaces {
        if scope.forwarding.contains(namespace) {
            space.forwarding = Some(forwarding::get(registry, namespace).await?);
        }
        if scope.nat.contains(namespace) {
            let listing = nat_ops::list(registry, nat.clone(), namespace).await?;
            space.nat = Some(ObservedNat {
                ids: listing.rules.into_iter().map(|r| r.id).collect(),
                table_missing: listing.table_missing,
            });
        }
    }
    Ok(observed)
}

/// One namespace's links, addresses and routes: three dumps.
fn read_dumps(socket: &crate::kernel::RouteSocket, all_tables: bool) -> Result<Space, OpError> {
    let links = link::list(socket)?;
    let names: HashMap<u32, String> = links.iter().map(|l| (l.index, l.name.clone())).collect();
    // The forwarding entries only matter for VXLAN links' remotes: most namespaces have none.
    let remotes = if links.iter().any(|l| l.vxlan.is_some()) {
        vxlan::remotes(socket)?
    } else {
        Vec::new()
    };
    let mut space = Space {
        links: links
            .iter()
            .map(|l| {
                let observed = ObservedLink {
                    index: l.index,
                    kind: l.kind.clone(),
                    up: l.admin_up,
                    mtu: l.mtu,
                    master: l.master.and_then(|m| names.get(&m).cloned()),
                    peer_index: l.peer.map(|p| p.index),
                    marker: l
                        .alt_names
                        .iter()
                        .find_map(|alt| marker::topology_of_alt_name(alt, &l.name))
                        .map(str::to_string),
                    vxlan: link_ops::vxlan_params(l, &links, &remotes),
                };
                (l.name.clone(), observed)
            })
            .collect(),
        ..Space::default()
    };
    space.addresses = address::list(socket, None)?
        .into_iter()
        .filter_map(|a| {
            names
                .get(&a.link_index)
                .map(|name| (name.clone(), a.prefix, a.protocol))
        })
        .collect();
    let routes = if all_tables {
        route::list(socket, None)?
    } else {
        route::list_table(socket, route::MAIN_TABLE)?
    };
    space.routes = routes
        .into_iter()
        .map(|r| ObservedRoute {
            destination: r.destination,
            table: r.table,
            metric: r.effective_metric(),
            gateway: r.gateway,
            device: r.device_index.and_then(|i| names.get(&i).cloned()),
            protocol: u8::from(r.protocol),
        })
        .collect();
    Ok(space)
}
