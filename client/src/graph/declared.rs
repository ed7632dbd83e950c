//! `--declared`: the picture of what a topology file asks for, from the same per-host
//! `HostTopology` the topology verbs send, so it shows what `apply` would make.

use nsfleet_proto::v1::{
    add_nat_rule_request::Kind as NatKind, create_link_request::Kind, HostTopology,
};

use super::{
    model::{Graph, HostBuilder, LinkKind, LinkNode, Vxlan},
    nat::{self, Rule},
};

/// One host per `(name, topology)`, in the order given.
pub fn graph<'a>(hosts: impl IntoIterator<Item = (&'a str, &'a HostTopology)>) -> Graph {
    Graph {
        hosts: hosts
            .into_iter()
            .map(|(name, topology)| host(name, topology).finish())
            .collect(),
    }
}

fn host(name: &str, topology: &HostTopology) -> HostBuilder {
    let mut builder = HostBuilder::new(name);
    for namespace in &topology.namespaces {
        builder.namespace(&namespace.name);
    }
    for declared in &topology.links {
        let Some(link) = &declared.link else { continue };
        let kind = match &link.kind {
            Some(Kind::Bridge(_)) => LinkKind::Bridge,
            Some(Kind::Vxlan(spec)) => LinkKind::Vxlan(Vxlan {
                vni: spec.vni,
                local: spec.local.clone(),
                remotes: spec.remotes.clone(),
                port: spec.port,
            }),
            Some(Kind::Veth(spec)) => {
                // Unset: the peer is made in the link's own namespace.
                let peer_namespace = spec
                    .peer_namespace
                    .clone()
                    .unwrap_or_else(|| link.namespace.clone());
                let mut peer = LinkNode::new(
                    &spec.peer_name,
                    LinkKind::Veth(Some((link.namespace.clone(), link.name.clone()))),
                );
                peer.up = declared.peer_up;
                peer.master = declared.peer_master.clone();
                builder.link(&peer_namespace, peer);
                LinkKind::Veth(Some((peer_namespace, spec.peer_name.clone())))
            }
            None => LinkKind::Other(String::new()),
        };
        let mut node = LinkNode::new(&link.name, kind);
        node.up = declared.up;
        node.master = declared.master.clone();
        builder.link(&link.namespace, node);
    }
    for address in &topology.addresses {
        builder.address(
            &address.namespace,
            &address.link,
            format!("{}/{}", address.address, address.prefix_len),
        );
    }
    for rule in &topology.nat_rules {
        let Some(kind) = &rule.kind else { continue };
        let rule_of = || match kind {
            NatKind::Masquerade(rule) => Rule::Masquerade(rule),
            NatKind::Snat(rule) => Rule::Snat(rule),
            NatKind::Dnat(rule) => Rule::Dnat(rule),
        };
        let (interface, at_link) = nat::describe(rule_of(), false);
        let (_, alone) = nat::describe(rule_of(), true);
        builder.nat(&rule.namespace, &interface, at_link, alone);
    }
    builder
}
