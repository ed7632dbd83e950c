//! The tutorial (shared/seeds) as `nsfleet` command lines, for tests that start from its topology:
//! netns1 (172.20.0.11) and netns2 (172.20.0.12) on bridge br0 (172.20.0.10) of the host, default
//! routes via the bridge, forwarding on. Its iptables step is left to the caller (NAT tests add their
//! own rule). `tests/e2e/tutorial.rs` checks every step as it goes; this only runs them.
//!
//! One deviation, found by issue 3: the tutorial leaves 172.20.0.1/16 on veth1 and 172.20.0.2/16 on
//! veth2 after they become bridge ports, and their prefix routes break host<->namespace traffic. These
//! lines remove them, as that test does.

use crate::cli::Nsfleet;
use crate::sim_host::SimHost;

/// Every step, in the tutorial's order, with the port addresses removed after the bridge is set up.
pub const TUTORIAL_LINES: &[&str] = &[
    "netns add netns1",
    "link add veth1 type veth peer ceth1",
    "link set ceth1 netns netns1",
    "-n netns1 addr add 172.20.0.11/16 dev ceth1",
    "-n netns1 link set ceth1 up",
    "-n netns1 link set lo up",
    "addr add 172.20.0.1/16 dev veth1",
    "link set veth1 up",
    "netns add netns2",
    "link add veth2 type veth peer ceth2 netns netns2",
    "-n netns2 addr add 172.20.0.12/16 dev ceth2",
    "-n netns2 link set ceth2 up",
    "-n netns2 link set lo up",
    "addr add 172.20.0.2/16 dev veth2",
    "link set veth2 up",
    "link add br0 type bridge",
    "link set br0 up",
    "link set veth1 master br0",
    "link set veth2 master br0",
    "addr add 172.20.0.10/16 brd + dev br0",
    "-n netns1 route add default via 172.20.0.10",
    "-n netns2 route add default via 172.20.0.10",
    "addr del 172.20.0.1/16 dev veth1",
    "addr del 172.20.0.2/16 dev veth2",
    "forwarding set ipv4 on",
];

/// Runs each line once, addressed to all `hosts`; every host must succeed.
pub fn run_lines(hosts: &[&SimHost], lines: &[&str]) {
    for line in lines {
        Nsfleet::on_all(hosts).line(line).run().results();
    }
}
