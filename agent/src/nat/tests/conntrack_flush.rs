//! Deleting a rule flushes the conntrack entries it NATed, and only those. Real traffic makes the
//! entries; the conntrack tool (not the backend's ctnetlink code) is the oracle.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;

use super::netns::{conntrack_udp_dports, sh, wait_until, NetnsThread};
use crate::nat::conntrack::no_tracked_flows;
use crate::nat::{IpPrefix, NatBackend, NatProtocol, NatRuleSpec, NftBackend, PortRange};

fn send_udp(from: &str, to: &str) {
    let from: std::net::IpAddr = from.parse().unwrap();
    let to: SocketAddr = to.parse().unwrap();
    let socket = UdpSocket::bind((from, 0)).unwrap();
    socket.send_to(b"nsfleet", to).unwrap();
}

fn prefix(addr: &str, len: u8) -> IpPrefix {
    IpPrefix::new(addr.parse().unwrap(), len)
}

/// Locally generated traffic leaving through a veth (whose peer stays in the same namespace) crosses
/// postrouting, so one namespace is enough for source NAT.
#[test]
fn nat_deleting_source_nat_rules_flushes_their_conntrack_entries() {
    let namespace = NetnsThread::new();
    namespace.run(|| {
        sh("ip link set lo up
            ip link add va type veth peer name vb
            ip link set va up
            ip link set vb up
            ip addr add 192.0.2.1/24 dev va
            ip -6 addr add 2001:db8:2::1/64 dev va nodad
            ip addr add 203.0.113.9/32 dev lo
            ip addr add 203.0.113.10/32 dev lo
            ip -6 addr add 2001:db8:9::9/128 dev lo");
        // The count is this namespace's: other tests' flows, in parallel, do not show here.
        assert!(
            no_tracked_flows(),
            "a new namespace tracks nothing, so a flush skips its dump"
        );
        let backend = NftBackend::new();
        let masquerade = NatRuleSpec::Masquerade {
            source: prefix("203.0.113.9", 32),
            output_interface: Some("va".into()),
        };
        let snat = NatRuleSpec::Snat {
            source: prefix("203.0.113.10", 32),
            output_interface: "va".into(),
            to_address: "192.0.2.1".parse().unwrap(),
        };
        let masquerade_v6 = NatRuleSpec::Masquerade {
            source: prefix("2001:db8:9::", 64),
            output_interface: None,
        };
        for spec in [&masquerade, &snat, &masquerade_v6] {
            backend.add(spec, "").unwrap();
        }

        send_udp("203.0.113.9", "192.0.2.99:7000");
        send_udp("203.0.113.10", "192.0.2.99:7001");
        send_udp("192.0.2.1", "192.0.2.99:7002"); // no rule: must survive every flush
        send_udp("2001:db8:9::9", "[2001:db8:2::99]:7003");
        let entries = |family| {
            let mut ports = conntrack_udp_dports(family);
            ports.sort_unstable();
            ports
        };
        wait_until("the four conntrack entries", || {
            entries("ipv4") == [7000, 7001, 7002] && entries("ipv6") == [7003]
        });
        assert!(!no_tracked_flows(), "flows are tracked: a flush must dump");
        let packets_of = |spec: &NatRuleSpec| {
            let rules = backend.list().unwrap();
            rules
                .iter()
                .find(|rule| rule.id == spec.id())
                .unwrap()
                .packets
        };
        assert_eq!(
            packets_of(&masquerade),
            1,
            "a NAT chain sees the first packet of each flow"
        );
        assert!(backend.list().unwrap().iter().all(|rule| rule.bytes > 0));

        let outcome = backend.delete(&masquerade.id()).unwrap();
        assert!(
            outcome.conntrack_error.is_none(),
            "{:?}",
            outcome.conntrack_error
        );
        assert_eq!(outcome.conntrack_entries_flushed, 1);
        assert_eq!(entries("ipv4"), [7001, 7002]);
        assert_eq!(
            entries("ipv6"),
            [7003],
            "another family is another rule's business"
        );

        assert_eq!(
            backend
                .delete(&snat.id())
                .unwrap()
                .conntrack_entries_flushed,
            1
        );
        assert_eq!(entries("ipv4"), [7002]);
        assert_eq!(
            backend
                .delete(&masquerade_v6.id())
                .unwrap()
                .conntrack_entries_flushed,
            1
        );
        assert_eq!(entries("ipv6"), Vec::<u16>::new());
        assert_eq!(entries("ipv4"), [7002], "untouched by every flush");
    });
}

/// Port forwarding needs traffic arriving from outside: a client namespace sends to the gateway's
/// veth, the gateway forwards to an address of its own.
#[test]
fn nat_deleting_a_port_forward_flushes_only_its_conntrack_entries() {
    let gateway = NetnsThread::new();
    let client = NetnsThread::new();
    let client_tid = client.tid;
    gateway.run(move || {
        sh(&format!(
            "ip link set lo up
             ip link add va type veth peer name vb netns {client_tid}
             ip addr add 192.0.2.1/24 dev va
             ip link set va up
             ip addr add 203.0.113.9/32 dev lo"
        ))
    });
    client.run(|| sh("ip link set lo up; ip addr add 192.0.2.2/24 dev vb; ip link set vb up"));

    let backend = Arc::new(NftBackend::new());
    let forward_range = NatRuleSpec::Dnat {
        protocol: NatProtocol::Udp,
        ports: PortRange {
            first: 5000,
            last: 5001,
        },
        input_interface: Some("va".into()),
        destination: Some("192.0.2.1".parse().unwrap()),
        to_address: "203.0.113.9".parse().unwrap(),
        to_port: None,
    };
    let forward_shifted = NatRuleSpec::Dnat {
        protocol: NatProtocol::Udp,
        ports: PortRange {
            first: 6000,
            last: 6001,
        },
        input_interface: None,
        destination: None,
        to_address: "203.0.113.9".parse().unwrap(),
        to_port: Some(6100),
    };
    {
        let (backend, specs) = (
            backend.clone(),
            [forward_range.clone(), forward_shifted.clone()],
        );
        gateway.run(move || {
            for spec in &specs {
                backend.add(spec, "").unwrap();
            }
        });
    }

    client.run(|| {
        for port in [5001, 6001, 7000] {
            send_udp("192.0.2.2", &format!("192.0.2.1:{port}"));
        }
    });
    let dports = || {
        let mut ports = conntrack_udp_dports("ipv4");
        ports.sort_unstable();
        ports
    };
    gateway.run(move || wait_until("three forwarded flows", || dports() == [5001, 6001, 7000]));

    gateway.run(move || {
        let outcome = backend.delete(&forward_range.id()).unwrap();
        assert!(
            outcome.conntrack_error.is_none(),
            "{:?}",
            outcome.conntrack_error
        );
        assert_eq!(outcome.conntrack_entries_flushed, 1);
        assert_eq!(dports(), [6001, 7000]);

        assert_eq!(
            backend
                .delete(&forward_shifted.id())
                .unwrap()
                .conntrack_entries_flushed,
            1
        );
        assert_eq!(dports(), [7000], "traffic no rule touched keeps its entry");
    });
}
