//! The tutorial (shared/seeds) as `nsfleet` command lines, the one list every test that follows it
//! uses: netns1 (172.20.0.11) and netns2 (172.20.0.12) on bridge br0 (172.20.0.10) of the host, default
//! routes via the bridge, forwarding on. Its iptables step is left to the caller (NAT tests add their
//! own rule). `tests/e2e/tutorial.rs` runs it step by step with the tutorial's checks; the README's
//! table is checked against it in `tests/e2e/readme.rs`.
//!
//! One deviation: the tutorial leaves 172.20.0.1/16 on veth1 and 172.20.0.2/16 on veth2 after they
//! become bridge ports, and their prefix routes break host<->namespace traffic.
//! [`REMOVE_PORT_ADDRESSES`] removes them.

/// a. netns1 with ceth1 moved in, addresses on both ends, everything up.
pub const NETNS1: &[&str] = &[
    "netns add netns1",
    "link add veth1 type veth peer ceth1",
    "link set ceth1 netns netns1",
    "-n netns1 addr add 172.20.0.11/16 dev ceth1",
    "-n netns1 link set ceth1 up",
    "-n netns1 link set lo up",
    "addr add 172.20.0.1/16 dev veth1",
    "link set veth1 up",
];

/// b. netns2 with ceth2 created inside it.
pub const NETNS2: &[&str] = &[
    "netns add netns2",
    "link add veth2 type veth peer ceth2 netns netns2",
    "-n netns2 addr add 172.20.0.12/16 dev ceth2",
    "-n netns2 link set ceth2 up",
    "-n netns2 link set lo up",
    "addr add 172.20.0.2/16 dev veth2",
    "link set veth2 up",
];

/// c. The bridge itself.
pub const BRIDGE: &[&str] = &["link add br0 type bridge", "link set br0 up"];

/// c. The two host ends become ports, in this order; each still holds its address from a and b.
pub const BRIDGE_PORTS: &[&str] = &["link set veth1 master br0", "link set veth2 master br0"];

/// c. The bridge's address and the namespaces' default routes through it.
pub const BRIDGE_ADDRESS_AND_DEFAULT_ROUTES: &[&str] = &[
    "addr add 172.20.0.10/16 brd + dev br0",
    "-n netns1 route add default via 172.20.0.10",
    "-n netns2 route add default via 172.20.0.10",
];

/// The fix for the tutorial's flaw (not one of its steps).
pub const REMOVE_PORT_ADDRESSES: &[&str] = &[
    "addr del 172.20.0.1/16 dev veth1",
    "addr del 172.20.0.2/16 dev veth2",
];

/// The last step: `sysctl -w net.ipv4.ip_forward=1`.
pub const ENABLE_FORWARDING: &str = "forwarding set ipv4 on";

/// Every step in the tutorial's order, the port addresses removed after the bridge is set up.
pub const STEPS: &[&[&str]] = &[
    NETNS1,
    NETNS2,
    BRIDGE,
    BRIDGE_PORTS,
    BRIDGE_ADDRESS_AND_DEFAULT_ROUTES,
    REMOVE_PORT_ADDRESSES,
    &[ENABLE_FORWARDING],
];

/// [`STEPS`] as one list of lines.
pub fn tutorial_lines() -> Vec<&'static str> {
    STEPS.iter().flat_map(|step| step.iter().copied()).collect()
}

/// The lines that build the tutorial's link layer (namespaces, links, bridge ports, up), in the
/// tutorial's order: everything but addresses, routes and forwarding.
pub fn link_layer_lines() -> Vec<&'static str> {
    tutorial_lines()
        .into_iter()
        .filter(|line| matches!(command_word(line), "netns" | "link"))
        .collect()
}

/// The object a line acts on: its first word after any `-n NETNS`.
fn command_word(line: &str) -> &str {
    let mut words = line.split_whitespace();
    match words.next() {
        Some("-n") => words.nth(1).unwrap_or(""),
        first => first.unwrap_or(""),
    }
}
