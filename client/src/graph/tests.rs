//! The model, each format and the escaping, on small topologies made here: two hosts joined by a
//! VXLAN tunnel, with bridges, veths into namespaces and NAT at an uplink. The golden files in
//! `testdata/` pin the exact output; `NSFLEET_BLESS=1 cargo test -p nsfleet-client --lib graph`
//! rewrites them after a deliberate change (read the diff before committing it).

use std::path::Path;

use nsfleet_proto::v1::{
    create_link_request::Kind, nat_rule, Address, BridgeSpec, CreateLinkRequest, HostTopology,
    Link, Masquerade, NatRule, Scope, TopologyLink, VethPeer, VethSpec, VxlanSpec,
};

use super::{
    declared, dot,
    live::{self, Snapshot},
    mermaid,
    model::{identifier, EdgeKind, End, Graph},
    svg,
};

fn link(namespace: &str, name: &str, kind: &str) -> Link {
    Link {
        namespace: namespace.into(),
        name: name.into(),
        kind: kind.into(),
        admin_up: true,
        // What the picture must never show: it changes from run to run.
        index: 17,
        mac: "02:00:00:00:00:01".into(),
        ..Link::default()
    }
}

fn veth(namespace: &str, name: &str, peer_namespace: &str, peer: &str) -> Link {
    Link {
        peer: Some(VethPeer {
            index: 9,
            name: peer.into(),
            namespace: peer_namespace.into(),
            known: true,
        }),
        ..link(namespace, name, "veth")
    }
}

fn vxlan(local: &str, remotes: &[&str]) -> Link {
    Link {
        vxlan: Some(VxlanSpec {
            vni: 42,
            local: local.into(),
            remotes: remotes.iter().map(|remote| (*remote).to_owned()).collect(),
            port: 0,
            device: "wire0".into(),
            learning: None,
        }),
        master: "br0".into(),
        ..link("", "vx0", "vxlan")
    }
}

fn address(
    namespace: &str,
    link: &str,
    address: &str,
    prefix_len: u32,
    scope: Scope,
) -> (String, Address) {
    (
        namespace.to_owned(),
        Address {
            namespace: namespace.into(),
            link: link.into(),
            address: address.into(),
            prefix_len,
            scope: scope.into(),
            ..Address::default()
        },
    )
}

fn masquerade(interface: &str) -> NatRule {
    NatRule {
        id: "r1".into(),
        kind: Some(nat_rule::Kind::Masquerade(Masquerade {
            source: "172.20.0.0".into(),
            source_prefix_len: 16,
            output_interface: interface.into(),
        })),
        ..NatRule::default()
    }
}

/// A host as its agent lists it: `wire0` (the underlay, holding `underlay`), a bridge with a VXLAN
/// port towards `remote`, a veth into namespace `ns1`, and `lo`.
fn overlay_host(underlay: &str, remote: &str, nat_interface: &str) -> Snapshot {
    let mut bridge_end = veth("", "veth1", "ns1", "ceth1");
    bridge_end.master = "br0".into();
    Snapshot {
        namespaces: vec!["ns1".into()],
        links: vec![
            link("", "lo", ""),
            link("", "wire0", "veth"),
            link("", "br0", "bridge"),
            vxlan(underlay, &[remote]),
            bridge_end,
            link("ns1", "lo", ""),
            veth("ns1", "ceth1", "", "veth1"),
        ],
        addresses: vec![
            address("", "lo", "127.0.0.1", 8, Scope::Host),
            address("", "wire0", underlay, 24, Scope::Global),
            address("", "wire0", "fe80::1", 64, Scope::Link),
            address("ns1", "ceth1", "172.20.0.11", 16, Scope::Global),
        ],
        nat_rules: vec![(String::new(), masquerade(nat_interface))],
        nat_unavailable: None,
    }
}

fn two_hosts() -> Graph {
    Graph {
        hosts: vec![
            live::host("a", &overlay_host("192.0.2.1", "192.0.2.2", "wire0")),
            live::host("b", &overlay_host("192.0.2.2", "192.0.2.1", "eth9")),
        ],
    }
}

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/graph/testdata")
        .join(name);
    if std::env::var_os("NSFLEET_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error} (NSFLEET_BLESS=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{} differs from the output; NSFLEET_BLESS=1 rewrites it\n--- output:\n{actual}",
        path.display()
    );
}

#[test]
fn one_tunnel_joins_two_hosts_whose_vxlan_links_name_each_other() {
    let graph = two_hosts();
    let tunnels: Vec<_> = graph
        .edges()
        .into_iter()
        .filter(|edge| edge.kind == EdgeKind::Tunnel)
        .collect();
    assert_eq!(tunnels.len(), 1, "{tunnels:?}");
    assert_eq!(
        tunnels[0].title(),
        "vxlan VNI 42 a:vx0 -- b:vx0",
        "both ends list the other: one edge"
    );
}

#[test]
fn a_remote_no_host_holds_ends_at_a_node_of_its_own() {
    let graph = Graph {
        hosts: vec![live::host(
            "a",
            &overlay_host("192.0.2.1", "198.51.100.7", "wire0"),
        )],
    };
    let edges = graph.edges();
    assert_eq!(Graph::remotes(&edges), ["198.51.100.7"]);
    assert!(edges
        .iter()
        .any(|edge| edge.to == End::Remote("198.51.100.7".into())));
}

#[test]
fn a_vxlan_link_without_local_is_found_by_the_address_its_host_holds() {
    let mut b = overlay_host("192.0.2.2", "192.0.2.1", "wire0");
    for link in &mut b.links {
        if let Some(spec) = &mut link.vxlan {
            spec.local.clear();
        }
    }
    let graph = Graph {
        hosts: vec![
            live::host("a", &overlay_host("192.0.2.1", "192.0.2.2", "wire0")),
            live::host("b", &b),
        ],
    };
    let tunnels = graph
        .edges()
        .into_iter()
        .filter(|edge| edge.kind == EdgeKind::Tunnel)
        .count();
    assert_eq!(tunnels, 1);
}

#[test]
fn nat_sits_at_its_uplink_or_on_the_namespace_when_the_link_is_not_there() {
    let graph = two_hosts();
    let wire = &graph.hosts[0].namespaces[0]
        .links
        .iter()
        .find(|link| link.name == "wire0")
        .unwrap();
    assert_eq!(wire.nat, ["masquerade from 172.20.0.0/16"]);
    assert_eq!(
        graph.hosts[1].namespaces[0].nat,
        ["masquerade from 172.20.0.0/16 oif eth9"]
    );
}

#[test]
fn lo_link_scoped_addresses_indexes_and_macs_stay_out() {
    let graph = two_hosts();
    let text = format!(
        "{}{}{}",
        dot::render(&graph),
        mermaid::render(&graph),
        svg::render(&graph)
    );
    assert!(!text.contains("127.0.0.1"));
    assert!(!text.contains(":lo"));
}

#[test]
fn dot_mermaid_and_svg_match_their_golden_files() {
    let graph = two_hosts();
    golden("two_hosts.dot", &dot::render(&graph));
    golden("two_hosts.mmd", &mermaid::render(&graph));
    golden("two_hosts.svg", &svg::render(&graph));
}

#[test]
fn the_svg_is_xml_that_names_every_object() {
    let graph = two_hosts();
    let text = svg::render(&graph);
    let document = roxmltree::Document::parse(&text).unwrap();
    let titles: Vec<String> = document
        .descendants()
        .filter(|node| node.has_tag_name("title"))
        .filter_map(|node| node.text().map(str::to_owned))
        .collect();
    for expected in [
        "host a",
        "host namespace of a",
        "namespace a/ns1",
        "bridge a:br0",
        "vxlan a:vx0",
        "veth a/ns1:ceth1",
        "veth a:veth1 -- a/ns1:ceth1",
        "port a:vx0 -> a:br0",
        "vxlan VNI 42 a:vx0 -- b:vx0",
        "namespace b/ns1",
    ] {
        assert!(
            titles.iter().any(|title| title == expected),
            "no <title>{expected}</title> in {titles:?}"
        );
    }
    let ids: Vec<&str> = document
        .descendants()
        .filter_map(|node| node.attribute("id"))
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "ids repeat: {ids:?}");
}

/// Names are the kernel's (any byte but `/`, NUL and whitespace) or the file's: markup must stay text.
#[test]
fn names_with_markup_characters_are_escaped_in_every_format() {
    let name = "a<&\"'>\\N";
    let graph = Graph {
        hosts: vec![live::host(
            name,
            &Snapshot {
                namespaces: vec![name.into()],
                links: vec![link(name, name, "bridge")],
                addresses: Vec::new(),
                nat_rules: Vec::new(),
                nat_unavailable: None,
            },
        )],
    };
    let text = svg::render(&graph);
    let document = roxmltree::Document::parse(&text).unwrap();
    assert!(document.descendants().any(|node| node.has_tag_name("title")
        && node.text() == Some(&format!("bridge {name}/{name}:{name}"))));
    let dot = dot::render(&graph);
    assert!(dot.contains("label=\"a<&\\\"'>\\\\N\""), "{dot}");
    let mermaid = mermaid::render(&graph);
    assert!(
        mermaid.contains("[\"a#60;#38;#34;#39;#62;#92;N\"]"),
        "{mermaid}"
    );
}

#[test]
fn identifiers_of_different_objects_differ() {
    assert_ne!(
        identifier("link", &["a_", "b"]),
        identifier("link", &["a", "_b"])
    );
    assert_ne!(identifier("link", &["a", ""]), identifier("link", &["a_"]));
    assert_eq!(identifier("ns", &["host-1", ""]), "ns__host_2d1__");
}

#[test]
fn a_declared_topology_draws_both_veth_ends_and_the_tunnel() {
    let topology = |local: &str, remote: &str| HostTopology {
        name: "t".into(),
        links: vec![
            TopologyLink {
                link: Some(CreateLinkRequest {
                    name: "br0".into(),
                    kind: Some(Kind::Bridge(BridgeSpec {})),
                    ..CreateLinkRequest::default()
                }),
                up: true,
                ..TopologyLink::default()
            },
            TopologyLink {
                link: Some(CreateLinkRequest {
                    name: "vx0".into(),
                    kind: Some(Kind::Vxlan(VxlanSpec {
                        vni: 7,
                        local: local.into(),
                        remotes: vec![remote.into()],
                        port: 4790,
                        ..VxlanSpec::default()
                    })),
                    ..CreateLinkRequest::default()
                }),
                up: true,
                master: "br0".into(),
                ..TopologyLink::default()
            },
            TopologyLink {
                link: Some(CreateLinkRequest {
                    namespace: "ns1".into(),
                    name: "ceth1".into(),
                    kind: Some(Kind::Veth(VethSpec {
                        peer_name: "veth1".into(),
                        peer_namespace: Some(String::new()),
                    })),
                    ..CreateLinkRequest::default()
                }),
                up: true,
                peer_up: false,
                peer_master: "br0".into(),
                ..TopologyLink::default()
            },
        ],
        ..HostTopology::default()
    };
    let (a, b) = (
        topology("192.0.2.1", "192.0.2.2"),
        topology("192.0.2.2", "192.0.2.1"),
    );
    let graph = declared::graph([("a", &a), ("b", &b)]);
    let titles: Vec<String> = graph.edges().iter().map(|edge| edge.title()).collect();
    assert!(
        titles.contains(&"vxlan VNI 7 udp/4790 a:vx0 -- b:vx0".to_owned()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"veth a:veth1 -- a/ns1:ceth1".to_owned()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"port a:veth1 -> a:br0".to_owned()),
        "{titles:?}"
    );
    let host_end = graph.hosts[0].namespaces[0]
        .links
        .iter()
        .find(|link| link.name == "veth1")
        .unwrap();
    assert!(!host_end.up, "peer_up: false draws the host end down");
    assert!(svg::render(&graph).contains("class=\"link veth down\""));
}
