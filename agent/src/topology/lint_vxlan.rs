//! The MTU lint of VXLAN links: encapsulation costs 50 bytes over IPv4 and 70 over IPv6, and a bridge
//! drops frames larger than the port they leave by without a word.

use std::collections::BTreeSet;

use crate::domain::{Family, LinkName, NamespaceRef};
use crate::ops::link::LinkKindSpec;
use crate::ops::{Warning, WarningCode};

use super::desired::Desired;
use super::lint::{ports, DEFAULT_MTU};
use super::observe::Observed;

/// Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers; IPv6's is 20 bytes longer.
fn overhead(family: Option<Family>) -> u32 {
    match family {
        Some(Family::V6) => 70,
        _ => 50,
    }
}

/// VXLAN links whose MTU the kernel derives from their underlay (no `mtu` given, a `device` named).
pub(super) fn derived_mtu_links(desired: &Desired) -> BTreeSet<(NamespaceRef, LinkName)> {
    desired
        .links
        .iter()
        .filter(|l| {
            l.create.mtu.is_none()
                && matches!(&l.create.kind, LinkKindSpec::Vxlan(p) if p.device.is_some())
        })
        .map(|l| (l.create.namespace.clone(), l.create.name.clone()))
        .collect()
}

fn set_mtu_command(namespace: &NamespaceRef, link: &LinkName, mtu: u32) -> String {
    match namespace {
        NamespaceRef::Host => format!("nsfleet link set {link} mtu {mtu}"),
        NamespaceRef::Named(name) => format!("nsfleet link set {link} mtu {mtu} netns {name}"),
    }
}

pub(super) fn vxlan_mtus(desired: &Desired, observed: &Observed, warnings: &mut Vec<Warning>) {
    let ports = ports(desired);
    for link in &desired.links {
        let LinkKindSpec::Vxlan(params) = &link.create.kind else {
            continue;
        };
        let create = &link.create;
        let underlay_mtu = params
            .device
            .as_ref()
            .and_then(|device| observed.link(&create.namespace, device.as_str()))
            .map(|device| device.mtu);
        let fits = underlay_mtu.map(|mtu| mtu.saturating_sub(overhead(params.family())));
        // Without a device the kernel assumes a 1500-byte underlay.
        let effective = create
            .mtu
            .or(fits)
            .unwrap_or(DEFAULT_MTU - overhead(params.family()));
        if let (Some(mtu), Some(fits), Some(device)) = (create.mtu, fits, &params.device) {
            if mtu > fits {
                warnings.push(Warning {
                    code: WarningCode::VxlanMtuExceedsUnderlay,
                    message: format!(
                        "{} in {} has MTU {mtu}, but its underlay {device} ({} bytes) carries at most {fits} once encapsulated: larger frames are fragmented or dropped",
                        create.name,
                        create.namespace,
                        underlay_mtu.unwrap_or_default()
                    ),
                    fix: format!(
                        "{} (or drop the link's mtu and let the kernel derive it)",
                        set_mtu_command(&create.namespace, &create.name, fits)
                    ),
                });
            }
        }
        let Some(bridge) = &link.master else {
            continue;
        };
        for ((namespace, port), (master, mtu)) in &ports {
            if namespace != &create.namespace || master != bridge || port == &create.name {
                continue;
            }
            let port_mtu = mtu.unwrap_or(DEFAULT_MTU);
            if port_mtu > effective {
                warnings.push(Warning {
                    code: WarningCode::BridgePortMtuAboveVxlan,
                    message: format!(
                        "{port} (MTU {port_mtu}) and {} (MTU {effective}) are ports of {bridge} in {namespace}: frames larger than {effective} from {port} are dropped silently on their way into the tunnel",
                        create.name
                    ),
                    fix: format!(
                        "{} (and the same on the other end of {port}, where the frames start)",
                        set_mtu_command(namespace, port, effective)
                    ),
                });
            }
        }
    }
}
