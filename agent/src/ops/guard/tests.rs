//! The guard's decisions on a fixed protected set: the kernel-reading half is covered by the lab test
//! (tests/e2e/security.rs), which reaches a real agent over a veth.

use super::*;
use crate::domain::Scope;
use crate::kernel::route::{RouteType, PROTOCOL_BOOT};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

fn link_name(name: &str) -> LinkName {
    LinkName::parse("name", name).expect("a link name")
}

fn named(name: &str) -> NamespaceRef {
    NamespaceRef::Named(NamespaceName::parse("namespace", name).expect("a namespace name"))
}

fn prefix(address: &str, len: u8) -> IpPrefix {
    IpPrefix {
        address: ip(address),
        prefix_len: len,
    }
}

/// The lab's picture: the caller 192.0.2.2 reaches the agent's 192.0.2.1 on veth-mgmt, whose peer
/// sits in namespace client.
fn protected() -> Protected {
    Protected {
        links: vec![ProtectedLink {
            name: "veth-mgmt".into(),
            why: "it holds 192.0.2.1, the address the caller connected to".into(),
            veth_peer: Some((named("client"), "eth0".into())),
        }],
        addresses: vec![ProtectedAddress {
            address: ip("192.0.2.1"),
            link: "veth-mgmt".into(),
            why: "192.0.2.1, the address the caller connected to".into(),
        }],
        route: Some(ManagementRoute {
            route: Route {
                destination: prefix("192.0.2.0", 24),
                gateway: None,
                device_index: Some(7),
                metric: None,
                table: MAIN_TABLE,
                scope: Scope::Link,
                protocol: PROTOCOL_BOOT,
                kind: RouteType::Unicast,
                source: Some(ip("192.0.2.1")),
                flags: vec![],
            },
            device: Some("veth-mgmt".into()),
            peer: ip("192.0.2.2"),
        }),
    }
}

fn route_request(
    namespace: NamespaceRef,
    destination: IpPrefix,
    gateway: Option<&str>,
    device: Option<&str>,
) -> RouteRequest {
    RouteRequest {
        namespace,
        destination,
        gateway: gateway.map(ip),
        device: device.map(link_name),
        metric: None,
        table: None,
        scope: None,
        source: None,
        marked: false,
    }
}

#[test]
fn the_management_link_cannot_be_deleted_downed_moved_or_enslaved() {
    let protected = protected();
    let name = link_name("veth-mgmt");
    let refusal = protected
        .refusal(&Change::DeleteLink {
            namespace: &NamespaceRef::Host,
            name: &name,
        })
        .expect("refused");
    assert!(
        refusal.contains("deleting link veth-mgmt") && refusal.contains("192.0.2.1"),
        "{refusal}"
    );
    for (change, words) in [
        (
            SetLink {
                up: Some(false),
                ..Default::default()
            },
            "bringing down",
        ),
        (
            SetLink {
                move_to: Some(named("elsewhere")),
                ..Default::default()
            },
            "moving link veth-mgmt to namespace elsewhere",
        ),
        (
            SetLink {
                master: Some(MasterChange::Set(link_name("br0"))),
                ..Default::default()
            },
            "port of br0",
        ),
    ] {
        let refusal = protected
            .refusal(&Change::SetLink {
                namespace: &NamespaceRef::Host,
                name: &name,
                change: &change,
            })
            .unwrap_or_else(|| panic!("{words} should be refused"));
        assert!(refusal.contains(words), "{refusal}");
    }
}

#[test]
fn harmless_changes_and_other_links_pass() {
    let protected = protected();
    let name = link_name("veth-mgmt");
    for change in [
        SetLink {
            up: Some(true),
            ..Default::default()
        },
        SetLink {
            mtu: Some(1400),
            ..Default::default()
        },
        SetLink {
            move_to: Some(NamespaceRef::Host),
            ..Default::default()
        },
        SetLink {
            master: Some(MasterChange::Release),
            ..Default::default()
        },
    ] {
        assert_eq!(
            protected.refusal(&Change::SetLink {
                namespace: &NamespaceRef::Host,
                name: &name,
                change: &change
            }),
            None
        );
    }
    let other = link_name("veth1");
    assert_eq!(
        protected.refusal(&Change::DeleteLink {
            namespace: &NamespaceRef::Host,
            name: &other
        }),
        None
    );
    // The same name in a named namespace is another link.
    let namespace = named("lab");
    assert_eq!(
        protected.refusal(&Change::DeleteLink {
            namespace: &namespace,
            name: &name
        }),
        None
    );
    let down = SetLink {
        up: Some(false),
        ..Default::default()
    };
    assert_eq!(
        protected.refusal(&Change::SetLink {
            namespace: &namespace,
            name: &name,
            change: &down
        }),
        None
    );
}

#[test]
fn the_veth_peer_and_its_namespace_are_protected_too() {
    let protected = protected();
    let client = named("client");
    let eth0 = link_name("eth0");
    let refusal = protected
        .refusal(&Change::DeleteLink {
            namespace: &client,
            name: &eth0,
        })
        .expect("refused");
    assert!(refusal.contains("veth peer veth-mgmt"), "{refusal}");
    let client_name = NamespaceName::parse("name", "client").expect("name");
    assert!(protected
        .refusal(&Change::DeleteNamespace(&client_name))
        .is_some());
    let other = NamespaceName::parse("name", "other").expect("name");
    assert_eq!(protected.refusal(&Change::DeleteNamespace(&other)), None);
}

#[test]
fn the_address_the_caller_uses_cannot_be_removed() {
    let protected = protected();
    let link = link_name("veth-mgmt");
    let change = Change::DeleteAddress {
        namespace: &NamespaceRef::Host,
        link: &link,
        prefix: prefix("192.0.2.1", 24),
    };
    assert!(protected.refusal(&change).is_some());
    let change = Change::DeleteAddress {
        namespace: &NamespaceRef::Host,
        link: &link,
        prefix: prefix("192.0.2.9", 24),
    };
    assert_eq!(protected.refusal(&change), None);
}

#[test]
fn the_route_to_the_caller_cannot_be_deleted_or_replaced_by_another() {
    let protected = protected();
    let network = prefix("192.0.2.0", 24);
    for request in [
        route_request(NamespaceRef::Host, network, None, None),
        route_request(NamespaceRef::Host, network, None, Some("veth-mgmt")),
    ] {
        let refusal = protected
            .refusal(&Change::DeleteRoute(&request))
            .expect("refused");
        assert!(refusal.contains("192.0.2.0/24 dev veth-mgmt"), "{refusal}");
    }
    for request in [
        route_request(NamespaceRef::Host, network, None, Some("veth9")),
        route_request(NamespaceRef::Host, prefix("198.51.100.0", 24), None, None),
        route_request(named("lab"), network, None, None),
        RouteRequest {
            table: Some(100),
            ..route_request(NamespaceRef::Host, network, None, None)
        },
    ] {
        assert_eq!(
            protected.refusal(&Change::DeleteRoute(&request)),
            None,
            "{request:?}"
        );
    }
    let elsewhere = route_request(NamespaceRef::Host, network, Some("203.0.113.1"), None);
    assert!(protected
        .refusal(&Change::ReplaceRoute(&elsewhere))
        .is_some());
    let same = route_request(NamespaceRef::Host, network, None, Some("veth-mgmt"));
    assert_eq!(protected.refusal(&Change::ReplaceRoute(&same)), None);
}

#[test]
fn only_changes_that_can_reach_the_host_namespace_load_the_protected_set() {
    let name = link_name("veth-mgmt");
    assert!(!Change::SetLink {
        namespace: &named("x"),
        name: &name,
        change: &SetLink::default()
    }
    .may_matter());
    assert!(Change::SetLink {
        namespace: &NamespaceRef::Host,
        name: &name,
        change: &SetLink::default()
    }
    .may_matter());
    // Deleting a veth end anywhere deletes its peer, which may be in the host namespace.
    assert!(Change::DeleteLink {
        namespace: &named("x"),
        name: &name
    }
    .may_matter());
}

/// A veth with both ends in the host namespace: the peer of the management link is a host link too, and
/// deleting it takes the management link with it.
#[test]
fn the_host_side_peer_of_a_management_veth_is_protected() {
    let mut protected = protected();
    protected.links[0].veth_peer = Some((NamespaceRef::Host, "veth-other".into()));
    let other = link_name("veth-other");
    let refusal = protected
        .refusal(&Change::DeleteLink {
            namespace: &NamespaceRef::Host,
            name: &other,
        })
        .expect("refused");
    assert!(
        refusal.contains("veth peer veth-mgmt") && refusal.contains("192.0.2.1"),
        "{refusal}"
    );
    // The same name elsewhere is another link.
    assert_eq!(
        protected.refusal(&Change::DeleteLink {
            namespace: &named("lab"),
            name: &other
        }),
        None
    );
}
