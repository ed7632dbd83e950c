//! The plan: desired state against what the kernel holds and what the ledger says the topology owns,
//! as ordered changes with their exact operations. Pure: no kernel access, so it is tested in memory.
//!
//! Order: namespaces and links (bridges first, so ports find their master) are created; NAT rules,
//! forwarding, routes and addresses that left the topology are deleted ([`deletes`]); addresses, routes,
//! forwarding and NAT are created; links and namespaces that left are deleted. Objects inside a
//! namespace that is deleted go with it and get no operation of their own.

mod deletes;
mod link_settings;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{Debug, Write as _};

use sha2::{Digest, Sha256};

use crate::domain::{Family, IpPrefix, NamespaceRef};
use crate::ops::address::AddAddress;
use crate::ops::link::LinkKindSpec;
use crate::ops::marker::NSFLEET_PROTOCOL;
use crate::ops::route::RouteRequest;
use crate::ops::Operation;

use super::desired::{route_table, Desired, DesiredLink};
use super::ledger::{Owned, Record};
use super::object::{ObjectId, ObjectKind};
use super::observe::{Observed, ObservedLink, Space};
use link_settings::{delete_link, lo_up_operation, settings, vxlan_change};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
    Replace,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Create => "+",
            Self::Update => "~",
            Self::Delete => "-",
            Self::Replace => "-/+",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Change {
    pub action: Action,
    pub object: ObjectId,
    pub reason: String,
    pub operations: Vec<Operation>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({})",
            self.action.symbol(),
            self.object,
            self.reason
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OwnershipError {
    #[error("{object} exists on the host but topology {topology} does not own it: delete it, or list it under adopt to take it over")]
    NotOwned {
        object: Box<ObjectId>,
        topology: String,
    },
    #[error("{object} belongs to topology {owner}; topology {topology} may not touch it")]
    OwnedByOther {
        object: Box<ObjectId>,
        owner: String,
        topology: String,
    },
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub fingerprint: String,
    /// What the topology owns once the plan is applied.
    pub owned_after: Vec<Owned>,
}

/// What a present kernel object says about who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The kind has no marker (namespaces, forwarding) or nsfleet's table is the marker (NAT).
    NoSlot,
    /// It could carry a marker and carries none.
    Unmarked,
    /// nsfleet's protocol number (routes, addresses): nsfleet made it, for some topology.
    Nsfleet,
    /// A link's alternative name: nsfleet made it for this topology.
    Topology(String),
}

impl Mark {
    fn is_ours(&self, topology: &str) -> bool {
        match self {
            Self::Topology(owner) => owner == topology,
            _ => false,
        }
    }

    /// Whether the object carries nsfleet's marker (for a kind that can).
    fn marked(&self) -> bool {
        matches!(self, Self::Nsfleet | Self::Topology(_))
    }

    fn of_link(link: &ObservedLink) -> Self {
        link.marker.clone().map_or(Self::Unmarked, Self::Topology)
    }

    fn of_protocol(protocol: u8) -> Self {
        if protocol == NSFLEET_PROTOCOL {
            Self::Nsfleet
        } else {
            Self::Unmarked
        }
    }
}

/// Who owns what among the other topologies of the host.
pub type OtherOwners = BTreeMap<ObjectId, String>;

const NOT_ON_HOST: &str = "not on the host";
const DELETED_BEHIND: &str = "deleted behind nsfleet's back";
const DROPPED: &str = "no longer in the topology";

pub fn plan(
    desired: &Desired,
    record: Option<&Record>,
    others: &OtherOwners,
    observed: &Observed,
) -> Result<Plan, OwnershipError> {
    let owned: BTreeMap<ObjectId, Owned> = record
        .map(|r| {
            r.objects
                .iter()
                .map(|o| (o.id.clone(), o.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut planner = Planner {
        desired,
        owned: &owned,
        others,
        observed,
        changes: Vec::new(),
        facts: Sha256::new(),
        fresh_namespaces: BTreeSet::new(),
        fresh_links: BTreeSet::new(),
        lost_subnets: Vec::new(),
        owned_after: Vec::new(),
    };
    planner.namespaces()?;
    planner.links()?;
    // Addresses (and what hangs on them) are deleted before new ones are added: deleting a subnet's
    // primary address takes its secondaries and the routes via that subnet with it, so a new address in
    // the same subnet must come after, and what was taken along is added back.
    planner.deletes(&[
        ObjectKind::NatRule,
        ObjectKind::Forwarding,
        ObjectKind::Route,
        ObjectKind::Address,
    ]);
    planner.addresses()?;
    planner.routes()?;
    planner.forwarding()?;
    planner.nat_rules()?;
    planner.deletes(&[ObjectKind::Link, ObjectKind::Namespace]);
    let mut hasher = std::mem::take(&mut planner.facts);
    // The record's digest covers what it owns and the desired state it was applied with.
    hasher.update(
        record
            .map(|r| r.digest.as_str())
            .unwrap_or_default()
            .as_bytes(),
    );
    let fingerprint = hasher
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Plan {
        changes: planner.changes,
        fingerprint,
        owned_after: planner.owned_after,
    })
}

struct Planner<'a> {
    desired: &'a Desired,
    owned: &'a BTreeMap<ObjectId, Owned>,
    others: &'a OtherOwners,
    observed: &'a Observed,
    changes: Vec<Change>,
    /// What the plan read, as it reads it (the order is the desired state's and the record's).
    facts: Sha256,
    /// Namespaces and links that are created (or re-created) by this plan: what they hold is gone.
    fresh_namespaces: BTreeSet<NamespaceRef>,
    fresh_links: BTreeSet<ObjectId>,
    /// Addresses this plan deletes, (namespace, deleted address): the kernel may take others of the
    /// same subnet and the routes via it along.
    lost_subnets: Vec<(NamespaceRef, IpPrefix)>,
    owned_after: Vec<Owned>,
}

impl Planner<'_> {
    fn fact(&mut self, id: &ObjectId, value: impl Debug) {
        let _ = writeln!(HashWriter(&mut self.facts), "{id:?}={value:?}");
    }

    /// Refuses an object another topology owns, and one on the host this topology does not own: not
    /// recorded (nor adopted, nor carrying this topology's marker), or recorded as marked but carrying
    /// no marker now (someone replaced it).
    fn claim(&self, id: &ObjectId, mark: Option<Mark>) -> Result<(), OwnershipError> {
        let other = |owner: &str| OwnershipError::OwnedByOther {
            object: Box::new(id.clone()),
            owner: owner.to_string(),
            topology: self.desired.name.to_string(),
        };
        if let Some(owner) = self.others.get(id) {
            return Err(other(owner));
        }
        let Some(mark) = mark else {
            return Ok(());
        };
        if let Mark::Topology(owner) = &mark {
            if owner != self.desired.name.as_str() {
                return Err(other(owner));
            }
        }
        let recorded = self.owned.get(id);
        let owned = match recorded {
            Some(owned) => !(owned.marked && mark == Mark::Unmarked),
            None => self.desired.adopt.contains(id) || mark.is_ours(self.desired.name.as_str()),
        };
        if owned {
            Ok(())
        } else {
            Err(OwnershipError::NotOwned {
                object: Box::new(id.clone()),
                topology: self.desired.name.to_string(),
            })
        }
    }

    fn missing_reason(&self, id: &ObjectId) -> &'static str {
        if self.owned.contains_key(id) {
            DELETED_BEHIND
        } else {
            NOT_ON_HOST
        }
    }

    fn push(
        &mut self,
        action: Action,
        object: ObjectId,
        reason: impl Into<String>,
        operations: Vec<Operation>,
    ) {
        self.changes.push(Change {
            action,
            object,
            reason: reason.into(),
            operations,
        });
    }

    /// The namespace's objects as they are, or `None` when it is missing or about to be created.
    fn space(&self, namespace: &NamespaceRef) -> Option<&Space> {
        if self.fresh_namespaces.contains(namespace) {
            return None;
        }
        self.observed.space(namespace)
    }

    fn link(&self, namespace: &NamespaceRef, name: &str) -> Option<&ObservedLink> {
        self.space(namespace).and_then(|s| s.links.get(name))
    }

    fn namespaces(&mut self) -> Result<(), OwnershipError> {
        for name in &self.desired.namespaces {
            let id = ObjectId::namespace(name);
            let namespace = NamespaceRef::Named(name.clone());
            let lo_up = self.observed.link(&namespace, "lo").map(|l| l.up);
            let exists = self.observed.namespace_exists(&namespace);
            self.fact(&id, (exists, lo_up));
            self.claim(&id, exists.then_some(Mark::NoSlot))?;
            self.owned_after.push(Owned::plain(id.clone()));
            if !exists {
                let reason = self.missing_reason(&id);
                let mut operations = vec![Operation::CreateNamespace(name.clone())];
                operations.extend(lo_up_operation(name));
                self.push(Action::Create, id, reason, operations);
                self.fresh_namespaces.insert(namespace);
            } else if lo_up == Some(false) {
                self.push(Action::Update, id, "lo down -> up", lo_up_operation(name));
            }
        }
        Ok(())
    }

    fn links(&mut self) -> Result<(), OwnershipError> {
        // Bridges first: a port's master must exist when the port's settings are applied.
        let ordered: Vec<&DesiredLink> = self
            .desired
            .links
            .iter()
            .filter(|l| l.is_bridge())
            .chain(self.desired.links.iter().filter(|l| !l.is_bridge()))
            .collect();
        for link in ordered {
            self.link_change(link)?;
        }
        Ok(())
    }

    fn link_change(&mut self, link: &DesiredLink) -> Result<(), OwnershipError> {
        let create = &link.create;
        let id = ObjectId::link(&create.namespace, &create.name);
        let observed = self.link(&create.namespace, create.name.as_str()).cloned();
        self.fact(&id, &observed);
        self.claim(&id, observed.as_ref().map(Mark::of_link))?;
        let peer = link.peer().map(|(namespace, name)| {
            let peer_id = ObjectId::link(namespace, name);
            let observed = self.link(namespace, name.as_str()).cloned();
            (namespace.clone(), name.clone(), peer_id, observed)
        });
        if let Some((_, _, peer_id, peer_observed)) = &peer {
            self.fact(peer_id, peer_observed);
            self.claim(peer_id, peer_observed.as_ref().map(Mark::of_link))?;
        }
        let wanted_kind = match &create.kind {
            LinkKindSpec::Bridge => "bridge",
            LinkKindSpec::Veth { .. } => "veth",
            LinkKindSpec::Vxlan(_) => "vxlan",
        };
        let peer_missing = peer.as_ref().is_some_and(|(_, _, _, o)| o.is_none());
        let replace_reason = match (&observed, &peer) {
            (None, None) => None,
            (None, Some((_, _, _, None))) => None,
            (Some(o), _) if o.kind.as_deref() != Some(wanted_kind) => Some(format!(
                "kind {} -> {wanted_kind}",
                o.kind.as_deref().unwrap_or("device")
            )),
            (Some(o), None) => vxlan_change(create, o),
            (Some(_), Some(_)) if peer_missing => Some("its peer is gone".to_string()),
            (None, Some(_)) => Some("one end of the veth is gone".to_string()),
            (Some(o), Some((_, _, _, Some(p)))) if o.peer_index != Some(p.index) => {
                Some("its peer is another link".to_string())
            }
            _ => None,
        };
        let fresh = observed.is_none() && (peer.is_none() || peer_missing);
        let created = fresh || replace_reason.is_some();
        // Recorded as marked when this plan makes it (with the marker) or it carries the marker now.
        let mut owned = Owned::plain(id.clone());
        owned.marked = created || observed.as_ref().is_some_and(|o| o.marker.is_some());
        if let Some((_, _, peer_id, peer_observed)) = &peer {
            owned.peer = Some(peer_id.clone());
            let mut peer_owned = Owned::plain(peer_id.clone());
            peer_owned.peer = Some(id.clone());
            peer_owned.marked =
                created || peer_observed.as_ref().is_some_and(|o| o.marker.is_some());
            self.owned_after.push(peer_owned);
        }
        self.owned_after.push(owned);
        if fresh || replace_reason.is_some() {
            let mut operations = Vec::new();
            let action = if let Some(reason) = &replace_reason {
                if observed.is_some() {
                    operations.push(delete_link(&create.namespace, &create.name));
                }
                if let Some((namespace, name, _, Some(_))) = &peer {
                    operations.push(delete_link(namespace, name));
                }
                (Action::Replace, reason.clone())
            } else {
                (Action::Create, self.missing_reason(&id).to_string())
            };
            let mut marked = create.clone();
            marked.marker = Some(self.desired.name.to_string());
            operations.push(Operation::CreateLink(marked));
            operations.extend(settings(link, None, None).0);
            self.fresh_links.insert(id.clone());
            if let Some((_, _, peer_id, _)) = &peer {
                self.fresh_links.insert(peer_id.clone());
            }
            self.push(action.0, id, action.1, operations);
            return Ok(());
        }
        let peer_observed = peer.as_ref().and_then(|(_, _, _, o)| o.as_ref());
        let (operations, reasons) = settings(link, observed.as_ref(), peer_observed);
        if !reasons.is_empty() {
            self.push(Action::Update, id, reasons.join(", "), operations);
        }
        Ok(())
    }

    fn addresses(&mut self) -> Result<(), OwnershipError> {
        for address in &self.desired.addresses {
            let id = ObjectId::address(&address.namespace, &address.link, &address.prefix);
            let link_id = ObjectId::link(&address.namespace, &address.link);
            let protocol = if self.fresh_links.contains(&link_id) {
                None
            } else {
                self.space(&address.namespace)
                    .and_then(|s| s.address_protocol(address.link.as_str(), &address.prefix))
            };
            let present = protocol.is_some();
            self.fact(&id, protocol);
            let mark = protocol.map(Mark::of_protocol);
            self.claim(&id, mark.clone())?;
            let mut owned = Owned::plain(id.clone());
            owned.marked = mark.is_none_or(|m| m.marked());
            self.owned_after.push(owned);
            let address = &AddAddress {
                marked: true,
                ..address.clone()
            };
            if !present {
                let reason = self.missing_reason(&id);
                self.push(
                    Action::Create,
                    id,
                    reason,
                    vec![Operation::AddAddress(address.clone())],
                );
            } else if let Some(lost) = self.lost_with(&address.namespace, &address.prefix.address) {
                let reason = format!(
                    "added back: deleting {lost} may take the subnet's other addresses along"
                );
                self.push(
                    Action::Update,
                    id,
                    reason,
                    vec![Operation::AddAddress(address.clone())],
                );
            }
        }
        Ok(())
    }

    fn routes(&mut self) -> Result<(), OwnershipError> {
        for route in &self.desired.routes {
            let table = route_table(route);
            let id = ObjectId::route(&route.namespace, &route.destination, table);
            let metric = default_metric(route);
            let device_fresh = route.device.as_ref().is_some_and(|d| {
                self.fresh_links
                    .contains(&ObjectId::link(&route.namespace, d))
            });
            // A route through a link this plan deletes and makes again goes with the old link, also
            // when the file names only its gateway (the kernel picked the device).
            let observed = self
                .space(&route.namespace)
                .and_then(|s| s.route(&route.destination, table, metric))
                .filter(|_| !device_fresh)
                .filter(|o| {
                    !o.device.as_ref().is_some_and(|d| {
                        self.fresh_links
                            .iter()
                            .any(|l| l.namespace == route.namespace.as_api_str() && l.name == *d)
                    })
                })
                .cloned();
            self.fact(&id, &observed);
            let mark = observed.as_ref().map(|o| Mark::of_protocol(o.protocol));
            self.claim(&id, mark.clone())?;
            let mut owned = Owned::plain(id.clone());
            owned.destination = Some(route.destination.to_string());
            owned.table = Some(table);
            owned.marked = mark.is_none_or(|m| m.marked());
            self.owned_after.push(owned);
            let route = &RouteRequest {
                marked: true,
                ..route.clone()
            };
            let add = |replace: bool| Operation::AddRoute {
                request: route.clone(),
                replace,
            };
            let Some(observed) = observed else {
                let reason = self.missing_reason(&id);
                self.push(Action::Create, id, reason, vec![add(false)]);
                continue;
            };
            if let Some(lost) = route
                .gateway
                .and_then(|g| self.lost_with(&route.namespace, &g))
            {
                let reason =
                    format!("added back: deleting {lost} takes the routes via its subnet along");
                self.push(Action::Update, id, reason, vec![add(false)]);
                continue;
            }
            if observed.metric != metric {
                let old = RouteRequest {
                    metric: Some(observed.metric),
                    ..bare_route(&route.namespace, route.destination, table)
                };
                let reason = format!("metric {} -> {metric}", observed.metric);
                let operations = vec![
                    Operation::DeleteRoute {
                        request: old,
                        ignore_missing: true,
                    },
                    add(false),
                ];
                self.push(Action::Replace, id, reason, operations);
                continue;
            }
            let mut reasons = Vec::new();
            if let Some(gateway) = route.gateway {
                if observed.gateway != Some(gateway) {
                    reasons.push(format!("via {} -> {gateway}", shown(&observed.gateway)));
                }
            }
            if let Some(device) = &route.device {
                if observed.device.as_deref() != Some(device.as_str()) {
                    reasons.push(format!("dev {} -> {device}", shown(&observed.device)));
                }
            }
            if !reasons.is_empty() {
                self.push(Action::Update, id, reasons.join(", "), vec![add(true)]);
            }
        }
        Ok(())
    }

    fn forwarding(&mut self) -> Result<(), OwnershipError> {
        for forwarding in &self.desired.forwarding {
            let id = ObjectId::forwarding(&forwarding.namespace, forwarding.family);
            // A new namespace starts with forwarding off.
            let current = match self.space(&forwarding.namespace) {
                Some(space) => space.forwarding.map(|v| pick(v, forwarding.family)),
                None => Some(false),
            };
            self.fact(&id, current);
            // Forwarding always exists: taking it over is no clash, but another topology's is.
            self.claim(&id, None)?;
            let mut owned = Owned::plain(id.clone());
            owned.previous = self
                .owned
                .get(&id)
                .and_then(|o| o.previous)
                .or(current)
                .or(Some(false));
            self.owned_after.push(owned);
            if current != Some(forwarding.enabled) {
                let reason = format!(
                    "{} -> {}",
                    on_off(current),
                    on_off(Some(forwarding.enabled))
                );
                let operation = Operation::SetForwarding {
                    namespace: forwarding.namespace.clone(),
                    family: forwarding.family,
                    enabled: forwarding.enabled,
                };
                self.push(Action::Update, id, reason, vec![operation]);
            }
        }
        Ok(())
    }

    fn nat_rules(&mut self) -> Result<(), OwnershipError> {
        for rule in &self.desired.nat_rules {
            let id = ObjectId::nat_rule(&rule.namespace, &rule.spec.id());
            let nat = self.space(&rule.namespace).and_then(|s| s.nat.as_ref());
            let present = nat.is_some_and(|n| n.ids.contains(&id.name));
            let table_missing = nat.is_some_and(|n| n.table_missing);
            self.fact(&id, (present, table_missing));
            self.claim(&id, present.then_some(Mark::NoSlot))?;
            self.owned_after.push(Owned::plain(id.clone()));
            if !present {
                let reason = if self.owned.contains_key(&id) && table_missing {
                    "deleted behind nsfleet's back (nsfleet's NAT table is gone)"
                } else {
                    self.missing_reason(&id)
                };
                self.push(
                    Action::Create,
                    id,
                    reason,
                    vec![Operation::AddNatRule(rule.clone())],
                );
            }
        }
        Ok(())
    }
}

/// Feeds formatted text straight into a hash, without building the string.
struct HashWriter<'a>(&'a mut Sha256);

impl std::fmt::Write for HashWriter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.update(text.as_bytes());
        Ok(())
    }
}

fn bare_route(namespace: &NamespaceRef, destination: IpPrefix, table: u32) -> RouteRequest {
    RouteRequest {
        namespace: namespace.clone(),
        destination,
        gateway: None,
        device: None,
        metric: None,
        table: Some(table),
        scope: None,
        source: None,
        marked: false,
    }
}

fn default_metric(route: &RouteRequest) -> u32 {
    route.metric.unwrap_or(match route.destination.family() {
        Family::V4 => 0,
        Family::V6 => 1024,
    })
}

fn pick((v4, v6): (bool, bool), family: Family) -> bool {
    match family {
        Family::V4 => v4,
        Family::V6 => v6,
    }
}

fn on_off(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    }
}

fn shown<T: std::fmt::Display>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map_or_else(|| "none".to_string(), ToString::to_string)
}

#[cfg(test)]
mod tests;
