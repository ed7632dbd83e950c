//! One host's objects as the `HostTopology` the agent takes. Addresses, routes and NAT rules are
//! written in the file as after `nsfleet addr add`, `route add` and `nat add`, and are parsed by the
//! same grammar as those commands, so a line that works on the command line works in the file.

use nsfleet_proto::v1::{
    create_link_request::Kind, AddNatRuleRequest, AddRouteRequest, AddressFamily, BridgeSpec,
    CreateLinkRequest, CreateNamespaceRequest, HostTopology, ObjectKind, ObjectRef,
    SetForwardingRequest, TopologyLink, VethSpec,
};

use super::{
    error::Problems,
    expand::{Host, Space},
    file::{AdoptKind, Forwarding, Located},
};
use crate::grammar::{
    self,
    values::{parse_ethernet_mtu, parse_prefix},
};

pub fn host_topology(name: &str, host: &Host, problems: &mut Problems) -> HostTopology {
    let mut topology = HostTopology {
        name: name.to_owned(),
        ..HostTopology::default()
    };
    for space in &host.spaces {
        add_space(&mut topology, space, problems);
    }
    topology.adopt = host
        .adopt
        .iter()
        .map(|adopt| ObjectRef {
            kind: object_kind(adopt.kind.value).into(),
            namespace: adopt.namespace.clone().unwrap_or_default(),
            name: adopt.name.value.clone(),
            link: adopt.link.clone().unwrap_or_default(),
        })
        .collect();
    topology
}

fn add_space(topology: &mut HostTopology, space: &Space, problems: &mut Problems) {
    let namespace = space.name.value.clone();
    // The agent brings `lo` up in every namespace a topology creates: the file need not say it.
    if !namespace.is_empty() {
        topology.namespaces.push(CreateNamespaceRequest {
            name: namespace.clone(),
        });
    }
    for bridge in &space.bridges {
        topology.links.push(TopologyLink {
            link: Some(CreateLinkRequest {
                namespace: namespace.clone(),
                name: bridge.name.value.clone(),
                kind: Some(Kind::Bridge(BridgeSpec {})),
                mtu: mtu(bridge.mtu.as_ref(), problems),
            }),
            up: bridge.up,
            ..TopologyLink::default()
        });
    }
    for veth in &space.veths {
        topology.links.push(TopologyLink {
            link: Some(CreateLinkRequest {
                namespace: namespace.clone(),
                name: veth.name.value.clone(),
                kind: Some(Kind::Veth(VethSpec {
                    peer_name: veth.peer_name.value.clone(),
                    peer_namespace: Some(
                        veth.peer_namespace
                            .as_ref()
                            .map_or_else(String::new, |peer| peer.value.clone()),
                    ),
                })),
                mtu: mtu(veth.mtu.as_ref(), problems),
            }),
            up: veth.up,
            peer_up: veth.peer_up,
            master: bridge_name(veth.bridge.as_ref()),
            peer_master: bridge_name(veth.peer_bridge.as_ref()),
        });
    }
    for address in &space.addresses {
        let mut words = split(&address.words.value);
        // The grammar would name its optional `local` keyword, which the file never shows.
        if let Some(Err(error)) = words.first().map(|word| parse_prefix("address", word)) {
            problems.add(address.words.pos(), error.to_string());
            continue;
        }
        words.extend(["dev".to_owned(), address.link.clone()]);
        match grammar::address::parse_add(&words) {
            Ok(mut request) => {
                request.namespace = address.namespace.clone();
                topology.addresses.push(request);
            }
            Err(error) => problems.add(address.words.pos(), format!("address: {error}")),
        }
    }
    for route in &space.routes {
        match grammar::route::parse_spec(&split(&route.value), AddressFamily::Unspecified) {
            Ok(spec) => topology.routes.push(AddRouteRequest {
                namespace: namespace.clone(),
                route: Some(spec),
            }),
            Err(error) => problems.add(route.pos(), format!("route: {error}")),
        }
    }
    for rule in &space.nat {
        match grammar::nat::parse_add(&split(&rule.value)) {
            Ok(request) => topology.nat_rules.push(AddNatRuleRequest {
                namespace: namespace.clone(),
                ..request
            }),
            Err(error) => problems.add(rule.pos(), format!("nat: {error}")),
        }
    }
    if let Some(forwarding) = &space.forwarding {
        topology
            .forwarding
            .extend(forwarding_requests(&namespace, forwarding));
    }
}

fn mtu(mtu: Option<&Located<u32>>, problems: &mut Problems) -> u32 {
    let Some(mtu) = mtu else { return 0 };
    match parse_ethernet_mtu("mtu", &mtu.value.to_string()) {
        Ok(value) => value,
        Err(error) => {
            problems.add(mtu.pos(), error.to_string());
            0
        }
    }
}

fn bridge_name(bridge: Option<&Located<String>>) -> String {
    bridge.map_or_else(String::new, |bridge| bridge.value.clone())
}

fn forwarding_requests(namespace: &str, forwarding: &Forwarding) -> Vec<SetForwardingRequest> {
    [
        (AddressFamily::Ipv4, forwarding.ipv4),
        (AddressFamily::Ipv6, forwarding.ipv6),
    ]
    .into_iter()
    .filter_map(|(family, enabled)| {
        enabled.map(|enabled| SetForwardingRequest {
            namespace: namespace.to_owned(),
            family: family.into(),
            enabled,
        })
    })
    .collect()
}

fn object_kind(kind: AdoptKind) -> ObjectKind {
    match kind {
        AdoptKind::Namespace => ObjectKind::Namespace,
        AdoptKind::Link => ObjectKind::Link,
        AdoptKind::Address => ObjectKind::Address,
        AdoptKind::Route => ObjectKind::Route,
        AdoptKind::Forwarding => ObjectKind::Forwarding,
        AdoptKind::NatRule => ObjectKind::NatRule,
    }
}

fn split(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}
