//! Malformed requests across every service, each with the status code the API documents
//! (common.proto: a malformed field is INVALID_ARGUMENT, named in the message) and the field it names.
//! `validate` is what every handler calls before anything else, so none of these reaches the kernel.

use nsfleet_proto::v1 as pb;
use pb::add_nat_rule_request::Kind as NatKind;
use pb::batch_operation::Operation as Wire;
use pb::create_link_request::Kind as LinkKind;
use proptest::prelude::*;
use tonic::Code;

use super::Validate;
use crate::ops::{Operation, Requested};

struct Case {
    what: &'static str,
    outcome: Result<(), tonic::Status>,
    /// The same request as the only operation of a batch, for requests a batch can carry: the name of its
    /// `oneof` member and the outcome.
    batched: Option<(&'static str, Result<(), tonic::Status>)>,
    code: Code,
    /// The start of the status message: the field it names.
    field: &'static str,
}

/// A request message a batch may carry, or not.
trait InBatch {
    fn in_batch(&self) -> Option<(&'static str, Wire)>;
}

macro_rules! in_batch {
    ($($request:ty => $name:literal $variant:ident),* $(,)?) => {$(
        impl InBatch for $request {
            fn in_batch(&self) -> Option<(&'static str, Wire)> {
                Some(($name, Wire::$variant(self.clone())))
            }
        }
    )*};
    ($($request:ty),* $(,)?) => {$(
        impl InBatch for $request {
            fn in_batch(&self) -> Option<(&'static str, Wire)> {
                None
            }
        }
    )*};
}

in_batch!(
    pb::CreateNamespaceRequest => "create_namespace" CreateNamespace,
    pb::DeleteNamespaceRequest => "delete_namespace" DeleteNamespace,
    pb::CreateLinkRequest => "create_link" CreateLink,
    pb::DeleteLinkRequest => "delete_link" DeleteLink,
    pb::SetLinkRequest => "set_link" SetLink,
    pb::AddAddressRequest => "add_address" AddAddress,
    pb::DeleteAddressRequest => "delete_address" DeleteAddress,
    pb::AddRouteRequest => "add_route" AddRoute,
    pb::ReplaceRouteRequest => "replace_route" ReplaceRoute,
    pb::DeleteRouteRequest => "delete_route" DeleteRoute,
    pb::SetForwardingRequest => "set_forwarding" SetForwarding,
    pb::AddNatRuleRequest => "add_nat_rule" AddNatRule,
    pb::DeleteNatRuleRequest => "delete_nat_rule" DeleteNatRule,
);
in_batch!(
    pb::GetNamespaceRequest,
    pb::ListNamespacesRequest,
    pb::GetLinkRequest,
    pb::ListLinksRequest,
    pb::ListAddressesRequest,
    pb::ListRoutesRequest,
    pb::GetForwardingRequest,
    pb::ListNeighborsRequest,
    pb::PingRequest,
    pb::ListNatRulesRequest,
    pb::ApplyBatchRequest,
);

fn case<R: Validate + InBatch>(
    what: &'static str,
    request: R,
    code: Code,
    field: &'static str,
) -> Case {
    let batched = request
        .in_batch()
        .map(|(name, operation)| (name, batch(vec![operation]).validate().map(drop)));
    Case {
        what,
        outcome: request.validate().map(drop),
        batched,
        code,
        field,
    }
}

fn invalid<R: Validate + InBatch>(what: &'static str, request: R, field: &'static str) -> Case {
    case(what, request, Code::InvalidArgument, field)
}

fn vxlan(spec: pb::VxlanSpec) -> pb::CreateLinkRequest {
    pb::CreateLinkRequest {
        name: "vx0".into(),
        kind: Some(LinkKind::Vxlan(spec)),
        ..Default::default()
    }
}

fn veth(name: &str, peer: &str) -> pb::CreateLinkRequest {
    pb::CreateLinkRequest {
        name: name.into(),
        kind: Some(LinkKind::Veth(pb::VethSpec {
            peer_name: peer.into(),
            peer_namespace: None,
        })),
        ..Default::default()
    }
}

fn address(address: &str, prefix_len: u32) -> pb::AddAddressRequest {
    pb::AddAddressRequest {
        link: "eth0".into(),
        address: address.into(),
        prefix_len,
        ..Default::default()
    }
}

fn route(spec: pb::RouteSpec) -> pb::AddRouteRequest {
    pb::AddRouteRequest {
        namespace: String::new(),
        route: Some(spec),
    }
}

fn spec(destination: &str, prefix_len: u32) -> pb::RouteSpec {
    pb::RouteSpec {
        destination: destination.into(),
        prefix_len,
        ..Default::default()
    }
}

fn ping(target: &str) -> pb::PingRequest {
    pb::PingRequest {
        target: target.into(),
        count: 1,
        ..Default::default()
    }
}

fn dnat(edit: impl FnOnce(&mut pb::Dnat)) -> pb::AddNatRuleRequest {
    let mut rule = pb::Dnat {
        protocol: pb::NatProtocol::Tcp as i32,
        port: 8080,
        to_address: "172.20.0.11".into(),
        ..Default::default()
    };
    edit(&mut rule);
    pb::AddNatRuleRequest {
        kind: Some(NatKind::Dnat(rule)),
        ..Default::default()
    }
}

fn masquerade(source: &str, prefix_len: u32, interface: &str) -> pb::AddNatRuleRequest {
    pb::AddNatRuleRequest {
        kind: Some(NatKind::Masquerade(pb::Masquerade {
            source: source.into(),
            source_prefix_len: prefix_len,
            output_interface: interface.into(),
        })),
        ..Default::default()
    }
}

fn batch(operations: Vec<Wire>) -> pb::ApplyBatchRequest {
    pb::ApplyBatchRequest {
        operations: operations
            .into_iter()
            .map(|o| pb::BatchOperation { operation: Some(o) })
            .collect(),
        continue_on_error: false,
    }
}

fn set_link(edit: impl FnOnce(&mut pb::SetLinkRequest)) -> pb::SetLinkRequest {
    let mut request = pb::SetLinkRequest {
        name: "veth1".into(),
        ..Default::default()
    };
    edit(&mut request);
    request
}

fn malformed() -> Vec<Case> {
    let long = "x".repeat(256);
    vec![
        // NamespaceService
        invalid(
            "empty namespace name",
            pb::CreateNamespaceRequest {
                name: String::new(),
            },
            "name",
        ),
        invalid(
            "namespace name .",
            pb::CreateNamespaceRequest { name: ".".into() },
            "name",
        ),
        invalid(
            "namespace name ..",
            pb::CreateNamespaceRequest { name: "..".into() },
            "name",
        ),
        invalid(
            "namespace name with /",
            pb::CreateNamespaceRequest { name: "a/b".into() },
            "name",
        ),
        invalid(
            "namespace name with a newline",
            pb::CreateNamespaceRequest {
                name: "one\ntwo".into(),
            },
            "name",
        ),
        invalid(
            "namespace name with an escape sequence",
            pb::CreateNamespaceRequest {
                name: "a\u{1b}[31mb".into(),
            },
            "name",
        ),
        invalid(
            "namespace name with a zero-width space",
            pb::CreateNamespaceRequest {
                name: "net\u{200b}ns1".into(),
            },
            "name",
        ),
        invalid(
            "namespace name with a right-to-left override",
            pb::CreateNamespaceRequest {
                name: "a\u{202e}b".into(),
            },
            "name",
        ),
        invalid(
            "namespace name absolute path",
            pb::CreateNamespaceRequest {
                name: "/etc".into(),
            },
            "name",
        ),
        invalid(
            "namespace name with NUL",
            pb::CreateNamespaceRequest {
                name: "a\0b".into(),
            },
            "name",
        ),
        invalid(
            "namespace name of 256 bytes",
            pb::CreateNamespaceRequest { name: long.clone() },
            "name",
        ),
        invalid(
            "delete namespace ../x",
            pb::DeleteNamespaceRequest {
                name: "../x".into(),
                ..Default::default()
            },
            "name",
        ),
        invalid(
            "get namespace ..",
            pb::GetNamespaceRequest { name: "..".into() },
            "name",
        ),
        invalid(
            "get namespace ending in NUL",
            pb::GetNamespaceRequest { name: "x\0".into() },
            "name",
        ),
        // LinkService
        invalid("empty link name", veth("", "ceth1"), "name"),
        invalid(
            "link name of 16 bytes",
            veth("sixteen_bytes_xx", "ceth1"),
            "name",
        ),
        invalid(
            "link name of 8 two-byte letters",
            veth(&"é".repeat(8), "ceth1"),
            "name",
        ),
        invalid("link name with a space", veth("a b", "ceth1"), "name"),
        invalid("link name with a tab", veth("a\tb", "ceth1"), "name"),
        invalid(
            "link name with an ideographic space",
            veth("a\u{3000}b", "ceth1"),
            "name",
        ),
        invalid("link name with a colon", veth("eth0:1", "ceth1"), "name"),
        invalid("link name ..", veth("..", "ceth1"), "name"),
        invalid(
            "link name with a path separator",
            veth("../x", "ceth1"),
            "name",
        ),
        invalid("link name with NUL", veth("a\0", "ceth1"), "name"),
        invalid(
            "link name with an escape sequence",
            veth("a\u{1b}[31mb", "ceth1"),
            "name",
        ),
        invalid(
            "peer name with a zero-width joiner",
            veth("veth1", "c\u{200d}eth1"),
            "veth.peer_name",
        ),
        invalid("link name with DEL", veth("veth\u{7f}", "ceth1"), "name"),
        invalid(
            "link without a kind",
            pb::CreateLinkRequest {
                name: "veth1".into(),
                ..Default::default()
            },
            "kind",
        ),
        invalid(
            "vxlan with VNI 0",
            vxlan(pb::VxlanSpec::default()),
            "vxlan.vni",
        ),
        invalid(
            "vxlan with a port above 65535",
            vxlan(pb::VxlanSpec {
                vni: 1,
                port: 65536,
                ..Default::default()
            }),
            "vxlan.port",
        ),
        invalid(
            "vxlan with a multicast remote",
            vxlan(pb::VxlanSpec {
                vni: 1,
                remotes: vec!["239.1.1.1".into()],
                ..Default::default()
            }),
            "vxlan.remotes[0]",
        ),
        invalid(
            "vxlan with remotes of two families",
            vxlan(pb::VxlanSpec {
                vni: 1,
                remotes: vec!["192.0.2.2".into(), "2001:db8::2".into()],
                ..Default::default()
            }),
            "vxlan.remotes[1]",
        ),
        invalid(
            "vxlan with a device name with /",
            vxlan(pb::VxlanSpec {
                vni: 1,
                device: "a/b".into(),
                ..Default::default()
            }),
            "vxlan.device",
        ),
        invalid(
            "veth without a peer name",
            veth("veth1", ""),
            "veth.peer_name",
        ),
        invalid(
            "veth peer in a namespace with /",
            pb::CreateLinkRequest {
                name: "veth1".into(),
                kind: Some(LinkKind::Veth(pb::VethSpec {
                    peer_name: "c".into(),
                    peer_namespace: Some("a/b".into()),
                })),
                ..Default::default()
            },
            "veth.peer_namespace",
        ),
        invalid(
            "link in namespace ..",
            pb::CreateLinkRequest {
                namespace: "..".into(),
                ..veth("veth1", "c")
            },
            "namespace",
        ),
        invalid(
            "delete link ..",
            pb::DeleteLinkRequest {
                name: "..".into(),
                ..Default::default()
            },
            "name",
        ),
        invalid(
            "delete link in namespace x/y",
            pb::DeleteLinkRequest {
                namespace: "x/y".into(),
                name: "v".into(),
                ..Default::default()
            },
            "namespace",
        ),
        invalid("mtu 0", set_link(|r| r.mtu = Some(0)), "mtu"),
        invalid(
            "mac with a non-hex octet",
            set_link(|r| r.mac = Some("02:00:00:00:00:zz".into())),
            "mac",
        ),
        invalid(
            "multicast mac",
            set_link(|r| r.mac = Some("01:00:5e:00:00:01".into())),
            "mac",
        ),
        invalid(
            "all-zero mac",
            set_link(|r| r.mac = Some("00:00:00:00:00:00".into())),
            "mac",
        ),
        invalid(
            "mac of seven octets",
            set_link(|r| r.mac = Some("02:00:00:00:00:00:01".into())),
            "mac",
        ),
        invalid(
            "master with a space",
            set_link(|r| {
                r.master_change = Some(pb::set_link_request::MasterChange::Master("br 0".into()))
            }),
            "master",
        ),
        invalid(
            "move to namespace ..",
            set_link(|r| r.move_to_namespace = Some("..".into())),
            "move_to_namespace",
        ),
        invalid(
            "get link with empty name",
            pb::GetLinkRequest {
                namespace: String::new(),
                name: String::new(),
            },
            "name",
        ),
        invalid(
            "list links of namespace with NUL",
            pb::ListLinksRequest {
                namespace: "a\0".into(),
                all_namespaces: false,
            },
            "namespace",
        ),
        // AddressService
        invalid("IPv4 octet over 255", address("300.1.1.1", 24), "address"),
        invalid("empty address", address("", 24), "address"),
        invalid(
            "prefix in the address field",
            address("192.0.2.1/24", 24),
            "address",
        ),
        invalid("full-width digits", address("１９２.0.2.1", 24), "address"),
        invalid("IPv6 default as an address", address("::", 0), "address"),
        invalid(
            "IPv4 default as an address",
            address("0.0.0.0", 0),
            "address",
        ),
        invalid("unspecified IPv4 host", address("0.0.0.0", 32), "address"),
        invalid("IPv6 multicast address", address("ff02::1", 64), "address"),
        invalid(
            "label with an escape sequence",
            pb::AddAddressRequest {
                label: "eth0:\u{1b}[2J".into(),
                ..address("192.0.2.1", 24)
            },
            "label",
        ),
        invalid(
            "IPv4 prefix length 33",
            address("192.0.2.1", 33),
            "prefix_len",
        ),
        invalid(
            "IPv6 prefix length 129",
            address("2001:db8::1", 129),
            "prefix_len",
        ),
        invalid(
            "prefix length u32::MAX",
            address("192.0.2.1", u32::MAX),
            "prefix_len",
        ),
        invalid(
            "unknown broadcast mode",
            pb::AddAddressRequest {
                broadcast_mode: 7,
                ..address("192.0.2.1", 24)
            },
            "broadcast_mode",
        ),
        invalid(
            "IPv6 broadcast address (wrong family)",
            pb::AddAddressRequest {
                broadcast_mode: pb::BroadcastMode::Explicit as i32,
                broadcast: "2001:db8::ff".into(),
                ..address("192.0.2.1", 24)
            },
            "broadcast",
        ),
        invalid(
            "broadcast mode on an IPv6 address (wrong family)",
            pb::AddAddressRequest {
                broadcast_mode: pb::BroadcastMode::Computed as i32,
                ..address("2001:db8::1", 64)
            },
            "broadcast_mode",
        ),
        invalid(
            "label of another link",
            pb::AddAddressRequest {
                label: "eth1:0".into(),
                ..address("192.0.2.1", 24)
            },
            "label",
        ),
        invalid(
            "label on an IPv6 address",
            pb::AddAddressRequest {
                label: "eth0:1".into(),
                ..address("2001:db8::1", 64)
            },
            "label",
        ),
        invalid(
            "unknown scope",
            pb::AddAddressRequest {
                scope: 99,
                ..address("192.0.2.1", 24)
            },
            "scope",
        ),
        invalid(
            "address on an unnamed link",
            pb::AddAddressRequest {
                link: String::new(),
                ..address("192.0.2.1", 24)
            },
            "link",
        ),
        invalid(
            "delete a malformed mapped address",
            pb::DeleteAddressRequest {
                link: "eth0".into(),
                address: "::ffff:zz".into(),
                prefix_len: 64,
                ..Default::default()
            },
            "address",
        ),
        invalid(
            "list addresses of an unknown family",
            pb::ListAddressesRequest {
                family: 5,
                ..Default::default()
            },
            "family",
        ),
        invalid(
            "list addresses of link a/b",
            pb::ListAddressesRequest {
                link: "a/b".into(),
                ..Default::default()
            },
            "link",
        ),
        // RouteService
        invalid(
            "route without a spec",
            pb::AddRouteRequest {
                namespace: String::new(),
                route: None,
            },
            "route",
        ),
        invalid(
            "destination with host bits",
            route(spec("10.0.0.1", 24)),
            "route.destination",
        ),
        invalid("route with an empty spec", route(spec("", 0)), "route"),
        invalid(
            "replaced route without gateway or device",
            pb::ReplaceRouteRequest {
                route: Some(spec("10.0.0.0", 8)),
                ..Default::default()
            },
            "route",
        ),
        invalid(
            "default route with a prefix length",
            route(spec("", 8)),
            "route.prefix_len",
        ),
        invalid(
            "IPv4 prefix length 200",
            route(spec("10.0.0.0", 200)),
            "route.prefix_len",
        ),
        invalid(
            "IPv6 gateway for IPv4 (wrong family)",
            route(pb::RouteSpec {
                gateway: "2001:db8::1".into(),
                ..spec("10.0.0.0", 8)
            }),
            "route.gateway",
        ),
        invalid(
            "IPv6 family for an IPv4 destination",
            route(pb::RouteSpec {
                family: 2,
                ..spec("10.0.0.0", 8)
            }),
            "route.family",
        ),
        invalid(
            "unknown address family",
            route(pb::RouteSpec {
                family: 17,
                ..spec("10.0.0.0", 8)
            }),
            "route.family",
        ),
        invalid(
            "table 0",
            route(pb::RouteSpec {
                table: Some(0),
                ..spec("10.0.0.0", 8)
            }),
            "route.table",
        ),
        invalid(
            "device with a path separator",
            route(pb::RouteSpec {
                device: "a/b".into(),
                ..spec("10.0.0.0", 8)
            }),
            "route.device",
        ),
        invalid(
            "source that is no address",
            route(pb::RouteSpec {
                source: "nope".into(),
                ..spec("10.0.0.0", 8)
            }),
            "route.source",
        ),
        invalid(
            "unknown route scope",
            route(pb::RouteSpec {
                scope: 42,
                ..spec("10.0.0.0", 8)
            }),
            "route.scope",
        ),
        invalid(
            "replace with a three-octet gateway",
            pb::ReplaceRouteRequest {
                route: Some(pb::RouteSpec {
                    gateway: "1.2.3".into(),
                    ..spec("10.0.0.0", 8)
                }),
                ..Default::default()
            },
            "route.gateway",
        ),
        invalid(
            "delete a route in namespace ..",
            pb::DeleteRouteRequest {
                namespace: "..".into(),
                route: Some(spec("10.0.0.0", 8)),
                ..Default::default()
            },
            "namespace",
        ),
        invalid(
            "list routes of table 0",
            pb::ListRoutesRequest {
                table: Some(0),
                ..Default::default()
            },
            "table",
        ),
        invalid(
            "list routes of family -1",
            pb::ListRoutesRequest {
                family: -1,
                ..Default::default()
            },
            "family",
        ),
        // ForwardingService
        invalid(
            "forwarding without a family",
            pb::SetForwardingRequest::default(),
            "family",
        ),
        invalid(
            "forwarding for family 3",
            pb::SetForwardingRequest {
                family: 3,
                ..Default::default()
            },
            "family",
        ),
        invalid(
            "forwarding of namespace /",
            pb::GetForwardingRequest {
                namespace: "/".into(),
            },
            "namespace",
        ),
        // NeighborService
        invalid(
            "neighbours of link a:b",
            pb::ListNeighborsRequest {
                link: "a:b".into(),
                ..Default::default()
            },
            "link",
        ),
        invalid(
            "neighbours of family 9",
            pb::ListNeighborsRequest {
                family: 9,
                ..Default::default()
            },
            "family",
        ),
        // DiagnosticsService
        invalid("ping without a target", ping(""), "target"),
        invalid("ping a host name", ping("example.com"), "target"),
        invalid(
            "ping zero times",
            pb::PingRequest {
                count: 0,
                ..ping("192.0.2.1")
            },
            "count",
        ),
        invalid(
            "ping 10001 times",
            pb::PingRequest {
                count: 10_001,
                ..ping("192.0.2.1")
            },
            "count",
        ),
        invalid(
            "ping every 5 ms",
            pb::PingRequest {
                interval_ms: 5,
                ..ping("192.0.2.1")
            },
            "interval_ms",
        ),
        invalid(
            "ping with a 61 s timeout",
            pb::PingRequest {
                timeout_ms: 60_001,
                ..ping("192.0.2.1")
            },
            "timeout_ms",
        ),
        invalid(
            "ping with 70000 payload bytes",
            pb::PingRequest {
                payload_size: 70_000,
                ..ping("192.0.2.1")
            },
            "payload_size",
        ),
        invalid(
            "ping out of interface a b",
            pb::PingRequest {
                interface: "a b".into(),
                ..ping("192.0.2.1")
            },
            "interface",
        ),
        invalid(
            "ping from a non-address",
            pb::PingRequest {
                source: "x".into(),
                ..ping("192.0.2.1")
            },
            "source",
        ),
        invalid(
            "ping an IPv4-mapped address",
            ping("::ffff:192.0.2.1"),
            "target",
        ),
        invalid(
            "ping a link-local address without an interface",
            ping("fe80::1"),
            "target",
        ),
        invalid(
            "ping link-local multicast without an interface",
            ping("ff02::1"),
            "target",
        ),
        invalid(
            "ping from a link-local source without an interface",
            pb::PingRequest {
                source: "fe80::2".into(),
                ..ping("2001:db8::1")
            },
            "source",
        ),
        // NatService
        invalid(
            "NAT rule without a kind",
            pb::AddNatRuleRequest::default(),
            "kind",
        ),
        invalid(
            "masquerade source prefix 33",
            masquerade("10.0.0.0", 33, ""),
            "masquerade.source",
        ),
        invalid(
            "masquerade out of interface a*",
            masquerade("10.0.0.0", 8, "a*"),
            "masquerade.output_interface",
        ),
        invalid(
            "dnat without a protocol",
            dnat(|d| d.protocol = 0),
            "dnat.protocol",
        ),
        invalid("dnat to port 0", dnat(|d| d.port = 0), "dnat.port"),
        invalid("dnat to port 70000", dnat(|d| d.port = 70_000), "dnat.port"),
        invalid(
            "dnat port range ending before it starts",
            dnat(|d| d.port_end = 80),
            "dnat.port",
        ),
        invalid(
            "dnat without a target",
            dnat(|d| d.to_address = String::new()),
            "dnat.to_address",
        ),
        invalid(
            "dnat to port 65536",
            dnat(|d| d.to_port = 65_536),
            "dnat.to_port",
        ),
        invalid(
            "dnat to IPv6 for an IPv4 destination (wrong family)",
            dnat(|d| {
                d.destination = "192.0.2.1".into();
                d.to_address = "2001:db8::1".into();
            }),
            "dnat.to_address",
        ),
        invalid(
            "snat without an output interface",
            pb::AddNatRuleRequest {
                kind: Some(NatKind::Snat(pb::Snat {
                    source: "10.0.0.0".into(),
                    source_prefix_len: 8,
                    output_interface: String::new(),
                    to_address: "192.0.2.1".into(),
                })),
                ..Default::default()
            },
            "snat.output_interface",
        ),
        invalid(
            "comment with a newline",
            pb::AddNatRuleRequest {
                comment: "a\nb".into(),
                ..masquerade("10.0.0.0", 8, "")
            },
            "comment",
        ),
        invalid(
            "comment with a quote",
            pb::AddNatRuleRequest {
                comment: "a\"b".into(),
                ..masquerade("10.0.0.0", 8, "")
            },
            "comment",
        ),
        invalid(
            "delete a NAT rule without an id",
            pb::DeleteNatRuleRequest::default(),
            "id",
        ),
        invalid(
            "list NAT rules of namespace ..",
            pb::ListNatRulesRequest {
                namespace: "..".into(),
            },
            "namespace",
        ),
        // BatchService
        invalid(
            "batch operation without a kind",
            pb::ApplyBatchRequest {
                operations: vec![pb::BatchOperation { operation: None }],
                continue_on_error: false,
            },
            "operations[0].operation",
        ),
        invalid(
            "batch whose second operation is malformed",
            batch(vec![
                Wire::CreateNamespace(pb::CreateNamespaceRequest { name: "ok".into() }),
                Wire::CreateLink(veth("a/b", "c")),
            ]),
            "operations[1].create_link.name",
        ),
        invalid(
            "batch deleting an IPv4 address with an IPv6 prefix length",
            batch(vec![Wire::DeleteAddress(pb::DeleteAddressRequest {
                link: "eth0".into(),
                address: "192.0.2.1".into(),
                prefix_len: 64,
                ..Default::default()
            })]),
            "operations[0].delete_address.prefix_len",
        ),
        invalid(
            "batch of 100001 operations",
            pb::ApplyBatchRequest {
                operations: vec![pb::BatchOperation::default(); 100_001],
                continue_on_error: false,
            },
            "operations",
        ),
    ]
}

#[test]
fn malformed_requests_get_invalid_argument_naming_the_field() {
    let cases = malformed();
    assert!(
        cases.len() >= 60,
        "the table must hold at least 60 cases, it has {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for Case {
        what,
        outcome,
        code,
        field,
        ..
    } in &cases
    {
        match outcome {
            Ok(()) => failures.push(format!("{what}: accepted")),
            Err(status) if status.code() != *code => {
                failures.push(format!("{what}: {:?} {}", status.code(), status.message()))
            }
            Err(status) if !status.message().starts_with(field) => failures.push(format!(
                "{what}: message does not start with {field:?}: {}",
                status.message()
            )),
            Err(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A batch is parsed by the same code as the single calls: each malformed request gets the same code and
/// the same message inside a batch, after its position.
#[test]
fn a_malformed_request_is_refused_alike_alone_and_in_a_batch() {
    let cases = malformed();
    let mut failures = Vec::new();
    let mut compared = 0;
    for Case {
        what,
        outcome,
        batched,
        ..
    } in &cases
    {
        let Some((name, in_batch)) = batched else {
            continue;
        };
        compared += 1;
        let alone = outcome
            .as_ref()
            .err()
            .map(|s| (s.code(), format!("operations[0].{name}.{}", s.message())));
        let batched = in_batch
            .as_ref()
            .err()
            .map(|s| (s.code(), s.message().to_string()));
        if alone != batched {
            failures.push(format!("{what}: alone {alone:?}, in a batch {batched:?}"));
        }
    }
    assert!(compared >= 60, "only {compared} cases can be batched");
    assert!(
        failures.is_empty(),
        "{} of {compared} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn well_formed_requests_pass() {
    veth("veth1", "ceth1").validate().expect("veth");
    address("192.0.2.1", 24).validate().expect("address");
    route(pb::RouteSpec {
        gateway: "192.0.2.254".into(),
        ..spec("", 0)
    })
    .validate()
    .expect("default route");
    ping("2001:db8::1").validate().expect("ping");
    ping("ff05::1")
        .validate()
        .expect("site-local multicast needs no interface");
    pb::PingRequest {
        interface: "veth0".into(),
        source: "fe80::2".into(),
        ..ping("fe80::1")
    }
    .validate()
    .expect("link-local with an interface");
    dnat(|_| {}).validate().expect("dnat");
    pb::CreateNamespaceRequest {
        name: "ünïcode ok".into(),
    }
    .validate()
    .expect("unicode namespace names are files");
}

// Accepted names are exactly what the kernel (links) and /run/netns (namespaces) can hold.
fn well_formed_link_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
}

// A name nsfleet gives to a link it creates.
fn well_formed_new_link_name(name: &str) -> bool {
    well_formed_link_name(name) && !name.chars().any(crate::domain::is_invisible)
}

fn well_formed_namespace(name: &str) -> bool {
    name.is_empty()
        || ((1..=255).contains(&name.len())
            && name != "."
            && name != ".."
            && !name.contains(['/', '\0']))
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,20}",
        ".{0,40}",
        Just("..".to_string()),
        Just("a/b".to_string()),
        "[a-z0-9]{1,20}",
        "[\\x00-\\x20./:]{0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn nothing_panics_and_only_well_formed_links_pass(namespace in text(), name in text(), peer in text(), mtu in any::<u32>()) {
        let request = pb::CreateLinkRequest {
            namespace: namespace.clone(),
            name: name.clone(),
            kind: Some(LinkKind::Veth(pb::VethSpec { peer_name: peer.clone(), peer_namespace: None })),
            mtu,
        };
        if request.validate().is_ok() {
            prop_assert!(well_formed_namespace(&namespace) && well_formed_new_link_name(&name) && well_formed_new_link_name(&peer));
        }
        let delete = pb::DeleteLinkRequest { namespace: namespace.clone(), name: name.clone(), ..Default::default() };
        if delete.validate().is_ok() {
            prop_assert!(well_formed_namespace(&namespace) && well_formed_link_name(&name));
        }
    }

    #[test]
    fn nothing_panics_and_only_real_prefixes_pass(address_text in text(), prefix_len in any::<u32>(), family in any::<i32>(), scope in any::<i32>()) {
        let request = pb::AddAddressRequest { link: "eth0".into(), address: address_text.clone(), prefix_len, scope, ..Default::default() };
        if let Ok(Requested { operation: Operation::AddAddress(spec), .. }) = request.validate() {
            prop_assert_eq!(spec.prefix.address.to_string().parse::<std::net::IpAddr>().ok(), address_text.parse().ok());
            prop_assert!(u32::from(spec.prefix.prefix_len) == prefix_len && prefix_len <= 128);
        }
        let listing = pb::ListRoutesRequest { family, ..Default::default() };
        prop_assert_eq!(listing.validate().is_ok(), (0..=2).contains(&family));
        let route = route(pb::RouteSpec { destination: address_text, prefix_len, family, scope, ..Default::default() });
        if let Ok(Requested { operation: Operation::AddRoute { request, .. }, .. }) = route.validate() {
            prop_assert!(request.destination.is_network());
        }
    }

    #[test]
    fn nothing_panics_on_nat_ping_or_batch_input(
        source in text(), port in any::<u32>(), port_end in any::<u32>(), to_port in any::<u32>(),
        protocol in any::<i32>(), comment in text(), count in any::<u32>(), payload in any::<u32>(), name in text(),
    ) {
        let rule = dnat(|d| {
            d.protocol = protocol;
            d.port = port;
            d.port_end = port_end;
            d.to_port = to_port;
            d.to_address = source.clone();
        });
        if rule.validate().is_ok() {
            prop_assert!((1..=65_535).contains(&port) && to_port <= 65_535);
        }
        let _ = pb::AddNatRuleRequest { comment, ..masquerade(&source, port, &name) }.validate();
        let _ = pb::PingRequest { count, payload_size: payload, interface: name.clone(), ..ping(&source) }.validate();
        let operations = batch(vec![Wire::SetLink(set_link(|r| {
            r.name = name.clone();
            r.mac = Some(source.clone());
            r.mtu = Some(count);
        }))]);
        if operations.validate().is_ok() {
            prop_assert!(well_formed_link_name(&name) && count > 0);
        }
    }
}
