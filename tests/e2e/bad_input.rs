//! Issue 3's bad input: each malformed request fails with its documented status code and a message that
//! names the field, and nothing in the simulated host's kernel changes.

use nsfleet_tests::tables::{ip_address_rows, ip_route_rows, AddressRow, RouteRow};
use nsfleet_tests::{Lab, Nsfleet, SimHost};

/// What a rejected request must leave alone, per namespace (host, "inside"): each link's name, flags,
/// master and MTU; IPv4 addresses; IPv4 routes. Timers and IPv6 DAD flags move on their own and are left
/// out.
#[derive(Debug, PartialEq)]
struct KernelState {
    links: Vec<(String, String, String, u64)>,
    addresses: Vec<AddressRow>,
    routes: Vec<RouteRow>,
}

fn kernel_state(host: &SimHost) -> Vec<KernelState> {
    ["", "inside"]
        .iter()
        .map(|netns| KernelState {
            links: host
                .ip_links(netns)
                .iter()
                .map(|l| {
                    (
                        l["ifname"].to_string(),
                        l["flags"].to_string(),
                        l["master"].to_string(),
                        l["mtu"].as_u64().unwrap_or_default(),
                    )
                })
                .collect(),
            addresses: ip_address_rows(&host.ip_addresses(netns)),
            routes: ip_route_rows(&host.ip_routes(netns)),
        })
        .collect()
}

fn setup(host: &SimHost) {
    for line in [
        "netns add inside",
        "link add br0 type bridge",
        "link set br0 up",
        "addr add 172.20.0.10/16 dev br0",
        "link add veth1 type veth peer name ceth1 netns inside",
        "-n inside link set ceth1 up",
    ] {
        Nsfleet::on(host).line(line).run().result();
    }
}

/// (command line, status code, text the message must contain: the field's name).
const REJECTED_BY_THE_AGENT: &[(&str, &str, &str)] = &[
    (
        "route add 10.0.0.0/8 via 2001:db8::1",
        "INVALID_ARGUMENT",
        "route.gateway",
    ),
    (
        "route add 2001:db8::/32 via 172.20.0.1",
        "INVALID_ARGUMENT",
        "route.gateway",
    ),
    (
        "route add 10.0.0.0/8 dev nope0",
        "NOT_FOUND",
        "route.device",
    ),
    (
        "route add 10.0.0.1/8 dev br0",
        "INVALID_ARGUMENT",
        "route.destination",
    ),
    (
        "route add 10.0.0.0/8 via 172.20.0.1 src 2001:db8::1",
        "INVALID_ARGUMENT",
        "route.source",
    ),
    ("addr add 172.20.0.1/16 dev nope0", "NOT_FOUND", "link"),
    ("ping -c 1 -I nope0 172.20.0.10", "NOT_FOUND", "interface"),
    ("-n nope forwarding show", "NOT_FOUND", "nope"),
    ("-n nope forwarding set ipv4 on", "NOT_FOUND", "nope"),
    (
        "-n nope addr add 172.20.0.1/16 dev ceth1",
        "NOT_FOUND",
        "nope",
    ),
    (
        "-n nope route add default via 172.20.0.10",
        "NOT_FOUND",
        "nope",
    ),
    // Addresses the kernel refuses or silently drops: judged by the agent, never passed on.
    ("addr add ::/0 dev br0", "INVALID_ARGUMENT", "address"),
    ("addr add ff02::1/64 dev br0", "INVALID_ARGUMENT", "address"),
    ("addr add ::1/128 dev br0", "INVALID_ARGUMENT", "address"),
    ("addr add 0.0.0.0/0 dev br0", "INVALID_ARGUMENT", "address"),
    (
        "-n inside route add default via 192.0.2.1",
        "FAILED_PRECONDITION",
        "unreachable",
    ),
];

#[test]
fn malformed_requests_get_their_code_and_name_the_field_and_change_nothing() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    setup(host);
    let before = kernel_state(host);
    for (line, code, field) in REJECTED_BY_THE_AGENT {
        let run = Nsfleet::on(host).line(line).run();
        let error = run.error(code);
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field),
            "`nsfleet {line}`: the message should name {field:?}\n{run}"
        );
    }
    assert_eq!(
        kernel_state(host),
        before,
        "a rejected request changed the kernel's state"
    );
}

/// (command line, text stderr must contain): values out of range that the CLI refuses itself. The agent
/// refuses them too (other clients exist); `service/validate/tests.rs` holds those cases.
const REFUSED_BY_THE_CLI: &[(&str, &str)] = &[
    ("addr add 172.20.0.1/33 dev br0", "prefix"),
    ("addr add 2001:db8::1/129 dev br0", "prefix"),
    ("route add 10.0.0.0/33 dev br0", "prefix"),
    ("route add 10.0.0.0/8 dev br0 table 0", "table"),
    ("ping -c 0 172.20.0.10", "-c <COUNT>"),
    ("ping -c 1 -W 100 172.20.0.10", "-W <SECONDS>"),
    ("link add br1 mtu 0 type bridge", "MTU"),
    ("link add veth-to-netns-one type veth peer c1", "15"),
];

#[test]
fn values_out_of_range_are_usage_errors_before_any_host_is_contacted() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    setup(host);
    let before = kernel_state(host);
    for (line, what) in REFUSED_BY_THE_CLI {
        let run = Nsfleet::on(host).line(line).run();
        assert_eq!(
            run.exit_code(),
            Some(2),
            "`nsfleet {line}` should be a usage error\n{run}"
        );
        assert!(
            run.stderr().contains(what),
            "`nsfleet {line}` should say what is wrong\n{run}"
        );
    }
    assert_eq!(
        kernel_state(host),
        before,
        "a usage error changed the kernel's state"
    );
}
