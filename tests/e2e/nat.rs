//! NAT through `nsfleet` on simulated hosts: masquerade, SNAT and port forwards translate what they
//! should and nothing else, flows tried before a rule are translated once it exists, a deleted forward
//! stops at once, and a rule of someone else's in `ip nat` is never touched.
//!
//! The world: the tutorial's topology (netns1 and netns2 on br0 of the host, port addresses removed;
//! see tests/src/tutorial.rs) plus an `upstream` namespace standing in for the internet. The host
//! reaches it over the uplink veth up0 (203.0.113.1/24) <-> up1 (203.0.113.2/24) and routes default via
//! 203.0.113.2; upstream has no route back to 172.20.0.0/16, so only NAT lets the namespaces talk to
//! it. Everything nsfleet does is done through `nsfleet`; the oracle (ping, nft, iptables, conntrack
//! and a python echo server that reports the peer address it saw) runs inside the simulated host.
//!
//! Before nsfleet's first NAT call each host gets an iptables rule of the test's own in `ip nat`; every
//! test ends by checking it is still there, unchanged. That table also keeps the kernel translating
//! after nsfleet's table is gone: with no NAT table left at all, existing flows lose their translation
//! without any conntrack flush (measured), which would hide a missing flush.
//!
//! "Cannot reach" is one attempt that gets no answer within [`ATTEMPT_TIMEOUT`] (or `ping -W 1`):
//! upstream drops its replies for lack of a route. Successes are polled, within [`SETTLE`].
//!
//! Run alone with `cargo test -p nsfleet-tests --test nat`.
//!
//! `nat/world.rs` builds the world and holds the oracle's helpers; `nat/rules.rs` covers listing, ids and
//! idempotence; `nat/bad_input.rs` the refusals; `nat/batches.rs` rules in batches (one transaction);
//! `nat/drift.rs` what `nat list` reports about changes made behind nsfleet's back.

#[path = "nat/bad_input.rs"]
mod bad_input;
#[path = "nat/batches.rs"]
mod batches;
#[path = "nat/drift.rs"]
mod drift;
#[path = "nat/rules.rs"]
mod rules;
#[path = "nat/world.rs"]
mod world;

use nsfleet_tests::{assert_reaches, poll_until};

use world::*;

#[test]
fn masquerade_via_the_uplink_lets_netns2_reach_upstream_as_the_uplink_address() {
    let (lab, foreign) = tutorial_with_uplink(1);
    let host = lab.host(0);
    let upstream = host.start_peer_echo("upstream", UPSTREAM_PORT, "upstream");

    // The tutorial's last claim does not hold yet: nothing translates 172.20.0.12 for upstream.
    assert_cannot_reach(host, "netns2", UPSTREAM_ADDRESS);
    expect_no_answer(
        host.tcp_ask("netns2", UPSTREAM_ADDRESS, UPSTREAM_PORT),
        "TCP netns2 -> upstream before the masquerade",
    );

    let added = host.cli(MASQUERADE_VIA_UPLINK);
    let rule = &added.result()["rule"];
    assert_eq!(added.result()["changed"], true, "{added}");
    assert_eq!(rule["family"], "ipv4", "{added}");
    assert_eq!(
        rule["masquerade"],
        serde_json::json!({"source": "172.20.0.0", "source_prefix_len": 16, "output_interface": "up0"}),
        "{added}"
    );
    let id = rule_id(&added);
    assert_nsfleet_table(host, true);

    assert_reaches(&[host], "netns2", UPSTREAM_ADDRESS, None);
    let tcp = poll_answer("TCP netns2 -> upstream after the masquerade", || {
        host.tcp_ask("netns2", UPSTREAM_ADDRESS, UPSTREAM_PORT)
    });
    assert_eq!(
        tcp,
        answer("upstream", HOST_UPLINK_ADDRESS),
        "upstream should see the host's uplink address\n{}",
        upstream.report()
    );
    let udp = poll_answer("UDP netns2:5556 -> upstream after the masquerade", || {
        host.udp_ask("netns2", UPSTREAM_ADDRESS, UPSTREAM_PORT, 5556)
    });
    assert_eq!(udp, answer("upstream", HOST_UPLINK_ADDRESS));
    // The host's own view of the flow: original 172.20.0.12 -> upstream, replies to the uplink address.
    let flows =
        host.conntrack_entries(&["-p", "tcp", "--orig-src", "172.20.0.12", "--dport", "7000"]);
    assert!(
        flows.iter().any(|flow| flow.contains(&format!(
            "src={UPSTREAM_ADDRESS} dst={HOST_UPLINK_ADDRESS} sport={UPSTREAM_PORT}"
        ))),
        "conntrack should show the reply direction rewritten to {HOST_UPLINK_ADDRESS}: {flows:#?}"
    );

    let deleted = host.cli(&format!("nat del {id}"));
    assert_eq!(deleted.result()["changed"], true, "{deleted}");
    // At once, without waiting for conntrack timeouts: new pings and connections fail, and so does the
    // UDP flow that was translated a moment ago (same source port, so the same conntrack tuple).
    assert_cannot_reach(host, "netns2", UPSTREAM_ADDRESS);
    expect_no_answer(
        host.tcp_ask("netns2", UPSTREAM_ADDRESS, UPSTREAM_PORT),
        "TCP netns2 -> upstream after the delete",
    );
    if let Ok(answer) = host.udp_ask("netns2", UPSTREAM_ADDRESS, UPSTREAM_PORT, 5556) {
        panic!(
            "the UDP flow translated before the delete still is ({answer}): its conntrack entry \
             should have been flushed; conntrack: {:#?}",
            host.conntrack_entries(&["-p", "udp"])
        );
    }
    assert_nsfleet_table(host, false);
    foreign[0].assert_untouched(host);
}

/// The Docker/CNI stale-conntrack trap, in its add-time form: a UDP client that tried before the rule
/// existed left an untranslated conntrack entry, which every retry from the same port refreshes (the
/// UDP timeout is 30 s), so the flow never takes the new rule. Adding a rule flushes nothing today.
#[test]
fn a_udp_flow_tried_before_the_masquerade_is_translated_once_the_rule_exists() {
    let (lab, foreign) = tutorial_with_uplink(1);
    let host = lab.host(0);
    let _upstream = host.start_peer_echo("upstream", UPSTREAM_PORT, "upstream");
    expect_no_answer(
        host.udp_ask("netns2", UPSTREAM_ADDRESS, UPSTREAM_PORT, 5555),
        "UDP netns2:5555 -> upstream before the masquerade",
    );
    host.cli(MASQUERADE_VIA_UPLINK).result();
    let udp = poll_until(
        "UDP netns2:5555 -> upstream after the masquerade",
        SETTLE,
        || {
            host.udp_ask("netns2", UPSTREAM_ADDRESS, UPSTREAM_PORT, 5555)
                .map_err(|failed| {
                    let flows = host.conntrack_entries(&["-p", "udp", "--sport", "5555"]);
                    format!("{failed}\nconntrack: {flows:#?}")
                })
        },
    );
    assert_eq!(udp, answer("upstream", HOST_UPLINK_ADDRESS));
    foreign[0].assert_untouched(host);
}

#[test]
fn port_forward_on_the_uplink_reaches_a_listener_in_netns1_from_upstream() {
    let (lab, foreign) = tutorial_with_uplink(1);
    let host = lab.host(0);
    let listener = host.start_peer_echo("netns1", 80, "netns1");

    let refused = host.tcp_ask("upstream", HOST_UPLINK_ADDRESS, 8080);
    expect_no_answer(
        refused,
        "upstream -> 203.0.113.1:8080 before the port forward",
    );

    let added = host.cli(PORT_FORWARD);
    assert_eq!(added.result()["changed"], true, "{added}");
    assert_eq!(
        added.result()["rule"]["dnat"],
        serde_json::json!({
            "protocol": "tcp", "port": 8080, "port_end": 0, "input_interface": "up0",
            "destination": "", "to_address": "172.20.0.11", "to_port": 80
        }),
        "{added}"
    );
    let id = rule_id(&added);
    assert_nsfleet_table(host, true);

    let forwarded = poll_answer(
        "upstream -> 203.0.113.1:8080 after the port forward",
        || host.tcp_ask("upstream", HOST_UPLINK_ADDRESS, 8080),
    );
    assert_eq!(
        forwarded,
        answer("netns1", UPSTREAM_ADDRESS),
        "the listener in netns1 should answer, seeing upstream itself\n{}",
        listener.report()
    );
    // `iif up0`: the same port reached from the bridge side is not forwarded.
    expect_no_answer(
        host.tcp_ask("netns2", HOST_UPLINK_ADDRESS, 8080),
        "netns2 -> 203.0.113.1:8080 (arrives on br0, not up0)",
    );

    let deleted = host.cli(&format!("nat del {id}"));
    assert_eq!(deleted.result()["changed"], true, "{deleted}");
    expect_no_answer(
        host.tcp_ask("upstream", HOST_UPLINK_ADDRESS, 8080),
        "upstream -> 203.0.113.1:8080 right after the delete",
    );
    assert_nsfleet_table(host, false);
    foreign[0].assert_untouched(host);
}

/// UDP forwarding, and the delete's conntrack flush for it: a datagram from the same source port right
/// after the delete is the same conntrack flow as the forwarded one, and must not reach netns1 again.
#[test]
fn a_udp_port_forward_stops_for_the_forwarded_flow_right_after_the_delete() {
    let (lab, foreign) = tutorial_with_uplink(1);
    let host = lab.host(0);
    let _listener = host.start_peer_echo("netns1", 80, "netns1");

    let added = host.cli("nat add dnat proto udp dport 8080 iif up0 to 172.20.0.11:80");
    assert_eq!(added.result()["rule"]["dnat"]["protocol"], "udp", "{added}");
    let forwarded = poll_answer("UDP upstream:6000 -> 203.0.113.1:8080", || {
        host.udp_ask("upstream", HOST_UPLINK_ADDRESS, 8080, 6000)
    });
    assert_eq!(forwarded, answer("netns1", UPSTREAM_ADDRESS));

    host.cli(&format!("nat del {}", rule_id(&added))).result();
    if let Ok(answer) = host.udp_ask("upstream", HOST_UPLINK_ADDRESS, 8080, 6000) {
        panic!(
            "the forwarded UDP flow still reaches netns1 after the delete ({answer}); conntrack: {:#?}",
            host.conntrack_entries(&["-p", "udp"])
        );
    }
    assert_nsfleet_table(host, false);
    foreign[0].assert_untouched(host);
}

/// SNAT to a second address of the uplink: upstream sees that address, not the interface's first.
#[test]
fn snat_via_the_uplink_rewrites_the_source_to_the_given_address() {
    let (lab, foreign) = tutorial_with_uplink(1);
    let host = lab.host(0);
    let _upstream = host.start_peer_echo("upstream", UPSTREAM_PORT, "upstream");
    host.cli("addr add 203.0.113.5/24 dev up0").result();

    let added = host.cli("nat add snat from 172.20.0.0/16 oif up0 to 203.0.113.5");
    assert_eq!(
        added.result()["rule"]["snat"],
        serde_json::json!({
            "source": "172.20.0.0", "source_prefix_len": 16, "output_interface": "up0",
            "to_address": "203.0.113.5"
        }),
        "{added}"
    );
    let tcp = poll_answer("TCP netns1 -> upstream after the SNAT", || {
        host.tcp_ask("netns1", UPSTREAM_ADDRESS, UPSTREAM_PORT)
    });
    assert_eq!(tcp, answer("upstream", "203.0.113.5"));
    let udp = poll_answer("UDP netns1:5557 -> upstream after the SNAT", || {
        host.udp_ask("netns1", UPSTREAM_ADDRESS, UPSTREAM_PORT, 5557)
    });
    assert_eq!(udp, answer("upstream", "203.0.113.5"));

    host.cli(&format!("nat del {}", rule_id(&added))).result();
    assert_cannot_reach(host, "netns1", UPSTREAM_ADDRESS);
    if let Ok(answer) = host.udp_ask("netns1", UPSTREAM_ADDRESS, UPSTREAM_PORT, 5557) {
        panic!(
            "the SNATed UDP flow still is after the delete ({answer}); conntrack: {:#?}",
            host.conntrack_entries(&["-p", "udp"])
        );
    }
    assert_nsfleet_table(host, false);
    foreign[0].assert_untouched(host);
}

/// br_netfilter hands bridged IPv4 to the IP hooks, so a masquerade without an output interface also
/// rewrites traffic between two ports of br0.
#[test]
fn masquerade_without_oif_rewrites_traffic_between_ports_of_the_bridge() {
    let (lab, foreign) = tutorial_with_uplink(1);
    let host = lab.host(0);
    assert_bridge_netfilter_on(host);
    let _netns2 = host.start_peer_echo("netns2", UPSTREAM_PORT, "netns2");
    let across_the_bridge = || {
        poll_answer("TCP netns1 -> netns2 across br0", || {
            host.tcp_ask("netns1", "172.20.0.12", UPSTREAM_PORT)
        })
    };
    assert_eq!(across_the_bridge(), answer("netns2", "172.20.0.11"));

    let added = host.cli(MASQUERADE_ANYWHERE);
    assert_eq!(added.result()["changed"], true, "{added}");
    assert_eq!(
        added.result()["rule"]["masquerade"]["output_interface"],
        "",
        "{added}"
    );
    assert_eq!(
        across_the_bridge(),
        answer("netns2", "172.20.0.10"),
        "bridged traffic should be masqueraded to br0's address"
    );

    host.cli(&format!("nat del {}", rule_id(&added))).result();
    assert_eq!(
        across_the_bridge(),
        answer("netns2", "172.20.0.11"),
        "right after the delete, bridged traffic should keep its source again"
    );
    assert_nsfleet_table(host, false);
    foreign[0].assert_untouched(host);
}

/// The README's advice: naming the uplink keeps bridged traffic untouched, and still reaches upstream.
#[test]
fn masquerade_via_the_uplink_leaves_traffic_between_ports_of_the_bridge_alone() {
    let (lab, foreign) = tutorial_with_uplink(1);
    let host = lab.host(0);
    assert_bridge_netfilter_on(host);
    let _netns2 = host.start_peer_echo("netns2", UPSTREAM_PORT, "netns2");
    let _upstream = host.start_peer_echo("upstream", UPSTREAM_PORT, "upstream");

    let added = host.cli(MASQUERADE_VIA_UPLINK);
    assert_eq!(added.result()["changed"], true, "{added}");
    let bridged = poll_answer("TCP netns1 -> netns2 across br0", || {
        host.tcp_ask("netns1", "172.20.0.12", UPSTREAM_PORT)
    });
    assert_eq!(
        bridged,
        answer("netns2", "172.20.0.11"),
        "with oif up0, bridged traffic keeps its source"
    );
    // The rule is live, not vacuous: the same namespace going upstream is translated.
    let upstream = poll_answer("TCP netns1 -> upstream", || {
        host.tcp_ask("netns1", UPSTREAM_ADDRESS, UPSTREAM_PORT)
    });
    assert_eq!(upstream, answer("upstream", HOST_UPLINK_ADDRESS));

    host.cli(&format!("nat del {}", rule_id(&added))).result();
    assert_nsfleet_table(host, false);
    foreign[0].assert_untouched(host);
}
