//! The desired state of one topology on one host, built from the same validated values the single calls
//! take, and the checks that need the whole of it (duplicates, references between objects).

use std::collections::{BTreeSet, HashMap};

use crate::domain::{Family, FieldError, LinkName, NamespaceName, NamespaceRef};
use crate::ops::address::AddAddress;
use crate::ops::link::{CreateLink, LinkKindSpec};
use crate::ops::nat::NatRuleRequest;
use crate::ops::route::RouteRequest;

use super::object::ObjectId;

/// 1 to 32 characters from [a-z0-9-], starting with a letter: it names a file in the ledger directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopologyName(String);

impl TopologyName {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let valid_chars = value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let starts_with_letter = value.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if value.is_empty() || value.len() > 32 || !valid_chars || !starts_with_letter {
            return Err(FieldError::new(
                field,
                format!(
                    "{value:?} is not a topology name: 1 to 32 characters from [a-z0-9-], starting with a letter"
                ),
            ));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TopologyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A link of the topology with the state of it (and of a veth's peer) after creation.
#[derive(Debug, Clone)]
pub struct DesiredLink {
    pub create: CreateLink,
    pub up: bool,
    pub peer_up: bool,
    pub master: Option<LinkName>,
    pub peer_master: Option<LinkName>,
}

impl DesiredLink {
    /// The veth's other end, if it is one.
    pub fn peer(&self) -> Option<(&NamespaceRef, &LinkName)> {
        match &self.create.kind {
            LinkKindSpec::Veth {
                peer,
                peer_namespace,
            } => Some((peer_namespace, peer)),
            LinkKindSpec::Bridge | LinkKindSpec::Vxlan(_) => None,
        }
    }

    pub fn is_bridge(&self) -> bool {
        matches!(self.create.kind, LinkKindSpec::Bridge)
    }
}

#[derive(Debug, Clone)]
pub struct DesiredForwarding {
    pub namespace: NamespaceRef,
    pub family: Family,
    pub enabled: bool,
}

/// Everything one host should hold for one topology. Each list keeps the order (and so the positions)
/// of the request, for error messages.
#[derive(Debug, Clone)]
pub struct Desired {
    pub name: TopologyName,
    pub namespaces: Vec<NamespaceName>,
    pub links: Vec<DesiredLink>,
    pub addresses: Vec<AddAddress>,
    pub routes: Vec<RouteRequest>,
    pub forwarding: Vec<DesiredForwarding>,
    pub nat_rules: Vec<NatRuleRequest>,
    pub adopt: BTreeSet<ObjectId>,
}

impl Desired {
    /// Nothing: what a destroyed topology wants.
    pub fn empty(name: TopologyName) -> Self {
        Self {
            name,
            namespaces: Vec::new(),
            links: Vec::new(),
            addresses: Vec::new(),
            routes: Vec::new(),
            forwarding: Vec::new(),
            nat_rules: Vec::new(),
            adopt: BTreeSet::new(),
        }
    }

    /// What can be judged from the desired state alone: no object twice, and every namespace, link and
    /// bridge an object refers to is part of the topology (or the host namespace).
    pub fn check(&self) -> Result<(), FieldError> {
        let mut seen: HashMap<ObjectId, String> = HashMap::new();
        let mut claim = |id: ObjectId, field: String| match seen.get(&id) {
            Some(first) => Err(FieldError::new(
                field,
                format!("{id} is already declared by {first}"),
            )),
            None => {
                seen.insert(id, field);
                Ok(())
            }
        };
        for (i, name) in self.namespaces.iter().enumerate() {
            claim(ObjectId::namespace(name), format!("namespaces[{i}].name"))?;
        }
        let namespaces: BTreeSet<&NamespaceName> = self.namespaces.iter().collect();
        let declared = |namespace: &NamespaceRef| match namespace {
            NamespaceRef::Host => true,
            NamespaceRef::Named(name) => namespaces.contains(name),
        };
        let undeclared = |field: String, namespace: &NamespaceRef| {
            FieldError::new(
                field,
                format!("namespace {namespace} is not one of the topology's namespaces"),
            )
        };
        for (i, link) in self.links.iter().enumerate() {
            let create = &link.create;
            if !declared(&create.namespace) {
                return Err(undeclared(
                    format!("links[{i}].link.namespace"),
                    &create.namespace,
                ));
            }
            claim(
                ObjectId::link(&create.namespace, &create.name),
                format!("links[{i}].link.name"),
            )?;
            if let Some((peer_namespace, peer)) = link.peer() {
                if !declared(peer_namespace) {
                    return Err(undeclared(
                        format!("links[{i}].link.veth.peer_namespace"),
                        peer_namespace,
                    ));
                }
                claim(
                    ObjectId::link(peer_namespace, peer),
                    format!("links[{i}].link.veth.peer_name"),
                )?;
            } else if link.peer_up || link.peer_master.is_some() {
                return Err(FieldError::new(
                    format!("links[{i}].peer_up"),
                    "only a veth has a peer; leave peer_up and peer_master unset for a bridge",
                ));
            }
        }
        let bridges: BTreeSet<ObjectId> = self
            .links
            .iter()
            .filter(|l| l.is_bridge())
            .map(|l| ObjectId::link(&l.create.namespace, &l.create.name))
            .collect();
        let links: BTreeSet<ObjectId> = self
            .links
            .iter()
            .flat_map(|l| {
                let own = ObjectId::link(&l.create.namespace, &l.create.name);
                std::iter::once(own).chain(l.peer().map(|(ns, peer)| ObjectId::link(ns, peer)))
            })
            .collect();
        for (i, link) in self.links.iter().enumerate() {
            let sides = [
                ("master", &link.create.namespace, link.master.as_ref()),
                (
                    "peer_master",
                    link.peer().map_or(&link.create.namespace, |(ns, _)| ns),
                    link.peer_master.as_ref(),
                ),
            ];
            for (field, namespace, master) in sides {
                if let Some(master) = master {
                    if !bridges.contains(&ObjectId::link(namespace, master)) {
                        return Err(FieldError::new(
                            format!("links[{i}].{field}"),
                            format!(
                                "{master} is not a bridge of the topology in namespace {namespace}"
                            ),
                        ));
                    }
                }
            }
        }
        // A topology's namespace holds only what the topology puts there (and `lo`); the host namespace
        // has links of its own (an uplink, a physical port), which the apply finds or reports missing.
        let known_link = |namespace: &NamespaceRef, link: &LinkName| {
            *namespace == NamespaceRef::Host
                || link.as_str() == "lo"
                || links.contains(&ObjectId::link(namespace, link))
        };
        for (i, address) in self.addresses.iter().enumerate() {
            if !declared(&address.namespace) {
                return Err(undeclared(
                    format!("addresses[{i}].namespace"),
                    &address.namespace,
                ));
            }
            if !known_link(&address.namespace, &address.link) {
                return Err(FieldError::new(
                    format!("addresses[{i}].link"),
                    format!(
                        "{} is not a link of the topology's namespace {}",
                        address.link, address.namespace
                    ),
                ));
            }
            claim(
                ObjectId::address(&address.namespace, &address.link, &address.prefix),
                format!("addresses[{i}].address"),
            )?;
        }
        for (i, route) in self.routes.iter().enumerate() {
            if !declared(&route.namespace) {
                return Err(undeclared(
                    format!("routes[{i}].namespace"),
                    &route.namespace,
                ));
            }
            if let Some(device) = &route.device {
                if !known_link(&route.namespace, device) {
                    return Err(FieldError::new(
                        format!("routes[{i}].route.device"),
                        format!(
                            "{device} is not a link of the topology's namespace {}",
                            route.namespace
                        ),
                    ));
                }
            }
            claim(
                ObjectId::route(&route.namespace, &route.destination, route_table(route)),
                format!("routes[{i}].route.destination"),
            )?;
        }
        for (i, forwarding) in self.forwarding.iter().enumerate() {
            if !declared(&forwarding.namespace) {
                return Err(undeclared(
                    format!("forwarding[{i}].namespace"),
                    &forwarding.namespace,
                ));
            }
            claim(
                ObjectId::forwarding(&forwarding.namespace, forwarding.family),
                format!("forwarding[{i}].family"),
            )?;
        }
        for (i, rule) in self.nat_rules.iter().enumerate() {
            if !declared(&rule.namespace) {
                return Err(undeclared(
                    format!("nat_rules[{i}].namespace"),
                    &rule.namespace,
                ));
            }
            claim(
                ObjectId::nat_rule(&rule.namespace, &rule.spec.id()),
                format!("nat_rules[{i}]"),
            )?;
        }
        Ok(())
    }
}

pub fn route_table(route: &RouteRequest) -> u32 {
    route.table.unwrap_or(crate::kernel::route::MAIN_TABLE)
}
