//! Lint at plan time: desired states the kernel accepts but that leave traffic broken, each with its
//! fix. Judged on the desired state, with the kernel's current state where the desired one is silent
//! (forwarding not listed, addresses made outside the topology).

use std::collections::BTreeMap;

use crate::domain::{Family, IpPrefix, LinkName, NamespaceRef};
use crate::nat::NatRuleSpec;
use crate::ops::{Warning, WarningCode};

use super::desired::Desired;
use super::observe::Observed;

/// A new link's MTU when none is given.
pub(super) const DEFAULT_MTU: u32 = 1500;

pub fn lint(desired: &Desired, observed: &Observed) -> Vec<Warning> {
    let mut warnings = Vec::new();
    addresses_on_bridge_ports(desired, &mut warnings);
    masquerades_across_bridges(desired, &mut warnings);
    nat_without_forwarding(desired, observed, &mut warnings);
    gateways_not_on_link(desired, observed, &mut warnings);
    bridge_port_mtus(desired, &mut warnings);
    super::lint_vxlan::vxlan_mtus(desired, observed, &mut warnings);
    warnings
}

/// Every link with a master in the desired state: (namespace, link) -> (master, mtu).
pub(super) fn ports(
    desired: &Desired,
) -> BTreeMap<(NamespaceRef, LinkName), (LinkName, Option<u32>)> {
    let mut ports = BTreeMap::new();
    for link in &desired.links {
        let create = &link.create;
        if let Some(master) = &link.master {
            ports.insert(
                (create.namespace.clone(), create.name.clone()),
                (master.clone(), create.mtu),
            );
        }
        if let (Some((namespace, peer)), Some(master)) = (link.peer(), &link.peer_master) {
            ports.insert(
                (namespace.clone(), peer.clone()),
                (master.clone(), create.mtu),
            );
        }
    }
    ports
}

fn addresses_on_bridge_ports(desired: &Desired, warnings: &mut Vec<Warning>) {
    let ports = ports(desired);
    for address in &desired.addresses {
        if let Some((master, _)) = ports.get(&(address.namespace.clone(), address.link.clone())) {
            warnings.push(Warning {
                code: WarningCode::AddressOnBridgePort,
                message: format!(
                    "{} on {} in {}: {} is a port of {master}, and the address's prefix route through the port beats the bridge's",
                    address.prefix, address.link, address.namespace, address.link
                ),
                fix: format!("put the address on {master} instead, or drop it"),
            });
        }
    }
}

fn masquerades_across_bridges(desired: &Desired, warnings: &mut Vec<Warning>) {
    for rule in &desired.nat_rules {
        let NatRuleSpec::Masquerade {
            source,
            output_interface: None,
        } = &rule.spec
        else {
            continue;
        };
        let bridged = desired
            .links
            .iter()
            .any(|l| l.is_bridge() && l.create.namespace == rule.namespace);
        if bridged {
            warnings.push(Warning {
                code: WarningCode::MasqueradeWithoutOutputInterface,
                message: format!(
                    "the masquerade of {source} in {} has no output interface, and bridged traffic passes netfilter (bridge-nf-call-iptables is on in every new namespace): traffic between ports of one bridge is rewritten too",
                    rule.namespace
                ),
                fix: "give the rule the uplink as output interface, or set net.bridge.bridge-nf-call-iptables=0".to_string(),
            });
        }
    }
}

fn nat_without_forwarding(desired: &Desired, observed: &Observed, warnings: &mut Vec<Warning>) {
    let mut seen = Vec::new();
    for rule in &desired.nat_rules {
        let family = rule.spec.family();
        if seen.contains(&(rule.namespace.clone(), family)) {
            continue;
        }
        seen.push((rule.namespace.clone(), family));
        let wanted = desired
            .forwarding
            .iter()
            .find(|f| f.namespace == rule.namespace && f.family == family)
            .map(|f| f.enabled);
        let current = observed
            .space(&rule.namespace)
            .and_then(|s| s.forwarding)
            .map(|(v4, v6)| if family == Family::V4 { v4 } else { v6 });
        if wanted.or(current) == Some(false) {
            warnings.push(Warning {
                code: WarningCode::NatWithoutForwarding,
                message: format!(
                    "NAT rules in {} while {family} forwarding is off there: traffic from other namespaces is not routed through it",
                    rule.namespace
                ),
                fix: format!("add forwarding {family} on for {} to the topology", rule.namespace),
            });
        }
    }
}

fn gateways_not_on_link(desired: &Desired, observed: &Observed, warnings: &mut Vec<Warning>) {
    // By namespace: a thousand namespaces with a route each must not compare every pair.
    let mut prefixes: BTreeMap<&NamespaceRef, Vec<IpPrefix>> = BTreeMap::new();
    for address in &desired.addresses {
        prefixes
            .entry(&address.namespace)
            .or_default()
            .push(address.prefix.network());
    }
    for route in &desired.routes {
        let Some(gateway) = route.gateway else {
            continue;
        };
        let desired_on_link = prefixes
            .get(&route.namespace)
            .is_some_and(|p| p.iter().any(|prefix| prefix.contains(&gateway)));
        let observed_on_link = observed.space(&route.namespace).is_some_and(|s| {
            s.addresses
                .iter()
                .any(|(_, prefix, _)| prefix.network().contains(&gateway))
        });
        if !desired_on_link && !observed_on_link {
            warnings.push(Warning {
                code: WarningCode::GatewayNotOnLink,
                message: format!(
                    "the route to {} in {} goes via {gateway}, which no address of the namespace makes on-link: the kernel refuses it",
                    route.destination, route.namespace
                ),
                fix: format!("add an address whose prefix holds {gateway} to a link of {}", route.namespace),
            });
        }
    }
}

fn bridge_port_mtus(desired: &Desired, warnings: &mut Vec<Warning>) {
    let mut by_bridge: BTreeMap<(NamespaceRef, LinkName), Vec<(LinkName, u32)>> = BTreeMap::new();
    // A VXLAN port without an MTU of its own gets one from its underlay: its own lint judges it.
    let derived = super::lint_vxlan::derived_mtu_links(desired);
    for ((namespace, port), (master, mtu)) in ports(desired) {
        if mtu.is_none() && derived.contains(&(namespace.clone(), port.clone())) {
            continue;
        }
        by_bridge
            .entry((namespace, master))
            .or_default()
            .push((port, mtu.unwrap_or(DEFAULT_MTU)));
    }
    for ((namespace, bridge), ports) in by_bridge {
        let smallest = ports
            .iter()
            .map(|(_, mtu)| *mtu)
            .min()
            .unwrap_or(DEFAULT_MTU);
        let largest = ports
            .iter()
            .map(|(_, mtu)| *mtu)
            .max()
            .unwrap_or(DEFAULT_MTU);
        if smallest != largest {
            let listed: Vec<String> = ports.iter().map(|(p, m)| format!("{p} {m}")).collect();
            warnings.push(Warning {
                code: WarningCode::BridgePortMtuMismatch,
                message: format!(
                    "ports of {bridge} in {namespace} have different MTUs ({}): frames larger than {smallest} are dropped between them",
                    listed.join(", ")
                ),
                fix: format!("give every port of {bridge} the same MTU"),
            });
        }
    }
}
