//! The deletes of a plan: what the record holds and the desired state no longer lists.

use std::collections::BTreeSet;

use crate::domain::{Family, IpPrefix, LinkName, NamespaceName, NamespaceRef};
use crate::ops::marker::NSFLEET_PROTOCOL;
use crate::ops::route::RouteRequest;
use crate::ops::Operation;

use super::link_settings::delete_link;
use super::{bare_route, pick, Action, Planner, DROPPED};
use crate::topology::desired::{route_table, Desired};
use crate::topology::ledger::Owned;
use crate::topology::object::{ObjectId, ObjectKind};

impl Planner<'_> {
    /// What the ledger holds and the desired state no longer lists, newest kind first.
    /// Whether deleting an address of this plan may have taken `address` (same namespace and subnet)
    /// along; the address deleted, if so.
    pub(super) fn lost_with(
        &self,
        namespace: &NamespaceRef,
        address: &std::net::IpAddr,
    ) -> Option<IpPrefix> {
        self.lost_subnets
            .iter()
            .find(|(n, prefix)| n == namespace && prefix.network().contains(address))
            .map(|(_, prefix)| *prefix)
    }

    pub(super) fn deletes(&mut self, order: &[ObjectKind]) {
        let kept = desired_ids(self.desired);
        let dropped: Vec<&Owned> = self
            .owned
            .values()
            .filter(|o| !kept.contains(&o.id))
            .collect();
        let dropped_namespaces: BTreeSet<&str> = dropped
            .iter()
            .filter(|o| o.id.kind == ObjectKind::Namespace)
            .map(|o| o.id.name.as_str())
            .collect();
        let goes_with_namespace = |id: &ObjectId| {
            id.kind != ObjectKind::Namespace
                && !id.namespace.is_empty()
                && dropped_namespaces.contains(id.namespace.as_str())
        };
        let dropped_links: BTreeSet<&ObjectId> = dropped
            .iter()
            .filter(|o| o.id.kind == ObjectKind::Link)
            .map(|o| &o.id)
            .collect();
        let mut deleted_links: BTreeSet<ObjectId> = BTreeSet::new();
        for &kind in order {
            for owned in dropped.iter().filter(|o| o.id.kind == kind) {
                let id = &owned.id;
                if goes_with_namespace(id) {
                    continue;
                }
                let Some(namespace) = namespace_ref(&id.namespace) else {
                    continue;
                };
                let space = self.observed.space(&namespace);
                let operations = match kind {
                    ObjectKind::NatRule => {
                        let present = space
                            .and_then(|s| s.nat.as_ref())
                            .is_some_and(|n| n.ids.contains(&id.name));
                        self.fact(id, present);
                        if !present {
                            continue;
                        }
                        vec![Operation::DeleteNatRule {
                            namespace,
                            id: id.name.clone(),
                            ignore_missing: true,
                        }]
                    }
                    ObjectKind::Forwarding => {
                        let family = if id.name == "ipv6" {
                            Family::V6
                        } else {
                            Family::V4
                        };
                        let current = space.and_then(|s| s.forwarding).map(|v| pick(v, family));
                        self.fact(id, current);
                        let previous = owned.previous.unwrap_or(false);
                        if current.is_none() || current == Some(previous) {
                            continue;
                        }
                        vec![Operation::SetForwarding {
                            namespace,
                            family,
                            enabled: previous,
                        }]
                    }
                    ObjectKind::Route => {
                        let Some(destination) = owned.destination.as_deref().and_then(parse_prefix)
                        else {
                            continue;
                        };
                        let table = owned.table.unwrap_or(crate::kernel::route::MAIN_TABLE);
                        let observed = space.and_then(|s| {
                            s.routes
                                .iter()
                                .find(|r| r.destination == destination && r.table == table)
                        });
                        self.fact(id, observed);
                        let Some(observed) = observed else { continue };
                        // Re-made by someone else since: not nsfleet's to delete.
                        if owned.marked && observed.protocol != NSFLEET_PROTOCOL {
                            continue;
                        }
                        vec![Operation::DeleteRoute {
                            request: RouteRequest {
                                metric: Some(observed.metric),
                                ..bare_route(&namespace, destination, table)
                            },
                            ignore_missing: true,
                        }]
                    }
                    ObjectKind::Address => {
                        let link_id = ObjectId {
                            kind: ObjectKind::Link,
                            namespace: id.namespace.clone(),
                            name: id.link.clone(),
                            link: String::new(),
                        };
                        if dropped_links.contains(&link_id) {
                            continue;
                        }
                        let (Some(prefix), Ok(link)) =
                            (parse_prefix(&id.name), LinkName::parse("link", &id.link))
                        else {
                            continue;
                        };
                        let protocol = space.and_then(|s| s.address_protocol(&id.link, &prefix));
                        self.fact(id, protocol);
                        let Some(protocol) = protocol else { continue };
                        if owned.marked && protocol != NSFLEET_PROTOCOL {
                            continue;
                        }
                        self.lost_subnets.push((namespace.clone(), prefix));
                        vec![Operation::DeleteAddress {
                            namespace,
                            link,
                            prefix,
                            ignore_missing: true,
                        }]
                    }
                    ObjectKind::Link => {
                        // A veth goes with either end: one delete for the pair, none if the other end's
                        // namespace is deleted anyway.
                        if let Some(peer) = &owned.peer {
                            if deleted_links.contains(peer) || goes_with_namespace(peer) {
                                continue;
                            }
                        }
                        let Ok(name) = LinkName::parse("name", &id.name) else {
                            continue;
                        };
                        let observed = space.and_then(|s| s.links.get(&id.name));
                        self.fact(id, observed);
                        let Some(observed) = observed else { continue };
                        if owned.marked
                            && observed.marker.as_deref() != Some(self.desired.name.as_str())
                        {
                            continue;
                        }
                        deleted_links.insert(id.clone());
                        vec![delete_link(&namespace, &name)]
                    }
                    ObjectKind::Namespace => {
                        let Ok(name) = NamespaceName::parse("name", &id.name) else {
                            continue;
                        };
                        let present = self
                            .observed
                            .namespace_exists(&NamespaceRef::Named(name.clone()));
                        self.fact(id, present);
                        if !present {
                            continue;
                        }
                        vec![Operation::DeleteNamespace {
                            name,
                            ignore_missing: true,
                        }]
                    }
                };
                self.push(Action::Delete, id.clone(), DROPPED, operations);
            }
        }
    }
}

/// Every object the desired state names.
pub(super) fn desired_ids(desired: &Desired) -> BTreeSet<ObjectId> {
    let mut ids = BTreeSet::new();
    for name in &desired.namespaces {
        ids.insert(ObjectId::namespace(name));
    }
    for link in &desired.links {
        ids.insert(ObjectId::link(&link.create.namespace, &link.create.name));
        if let Some((namespace, peer)) = link.peer() {
            ids.insert(ObjectId::link(namespace, peer));
        }
    }
    for a in &desired.addresses {
        ids.insert(ObjectId::address(&a.namespace, &a.link, &a.prefix));
    }
    for r in &desired.routes {
        ids.insert(ObjectId::route(
            &r.namespace,
            &r.destination,
            route_table(r),
        ));
    }
    for f in &desired.forwarding {
        ids.insert(ObjectId::forwarding(&f.namespace, f.family));
    }
    for rule in &desired.nat_rules {
        ids.insert(ObjectId::nat_rule(&rule.namespace, &rule.spec.id()));
    }
    ids
}

/// The namespace an object id names; for a namespace object, the host (where it is deleted from).
fn namespace_ref(text: &str) -> Option<NamespaceRef> {
    NamespaceRef::parse("namespace", text).ok()
}

fn parse_prefix(text: &str) -> Option<IpPrefix> {
    let (address, len) = text.split_once('/')?;
    let address = address.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    Some(IpPrefix::new(address, len))
}
