//! Per-object behaviour of the real `nsfleet` binary against a fake agent: what reaches the agent, text
//! output like iproute2, JSON shapes, warnings and agent errors, ping.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::{nsfleet, FakeAgent, Mode};

#[test]
fn veth_peer_namespace_reaches_the_agent() {
    let agent = FakeAgent::start(Mode::Healthy);
    let host = ["--host", agent.endpoint.as_str(), "-o", "json"];
    let with = nsfleet(
        &[
            &host[..],
            &[
                "-n", "ns1", "link", "add", "veth2", "type", "veth", "peer", "name", "ceth2",
                "netns", "netns2",
            ],
        ]
        .concat(),
    );
    assert_eq!(with.code, 0, "{}", with.stderr);
    let created = &with.json_lines()[0]["result"];
    assert_eq!(created["changed"], true);
    assert_eq!(created["link"]["namespace"], "ns1");
    assert_eq!(
        created["link"]["peer"],
        json!({"index": 8, "name": "ceth2", "namespace": "netns2", "known": true})
    );
    let without = nsfleet(
        &[
            &host[..],
            &[
                "link", "add", "veth3", "mtu", "1400", "type", "veth", "peer", "ceth3",
            ],
        ]
        .concat(),
    );
    let created = &without.json_lines()[0]["result"]["link"];
    assert_eq!(created["peer"]["namespace"], "<unset>");
    assert_eq!(created["mtu"], 1400);
}

#[test]
fn mutations_are_silent_in_text_mode_except_warnings() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&[
        "--host",
        &agent.endpoint,
        "link",
        "add",
        "br0",
        "type",
        "bridge",
    ]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );
    let run = nsfleet(&["--host", &agent.endpoint, "netns", "add", "netns1"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "warning: {}: lo is down in netns1 (fix: nsfleet -n netns1 link set lo up)\n",
            agent.endpoint
        )
    );
}

#[test]
fn agent_errors_fail_with_their_code() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&["--host", &agent.endpoint, "netns", "del", "ghost"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "nsfleet: {}: NOT_FOUND: namespace ghost not found\n",
            agent.endpoint
        )
    );
    let run = nsfleet(&[
        "--host",
        &agent.endpoint,
        "-n",
        "netns1",
        "route",
        "add",
        "default",
        "via",
        "192.0.2.99",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains(": FAILED_PRECONDITION: gateway 192.0.2.99 is not reachable"),
        "{}",
        run.stderr
    );
    // A service the agent does not serve.
    let run = nsfleet(&["--host", &agent.endpoint, "-o", "json", "neigh"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json_lines()[0]["error"]["code"], "UNIMPLEMENTED");
}

#[test]
fn link_show_one_has_the_list_shape() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&[
        "--host",
        &agent.endpoint,
        "-o",
        "json",
        "link",
        "show",
        "veth1",
    ]);
    assert_eq!(run.code, 0);
    let result = &run.json_lines()[0]["result"];
    assert_eq!(result["links"].as_array().unwrap().len(), 1);
    assert_eq!(result["links"][0]["name"], "veth1");
    let run = nsfleet(&["--host", &agent.endpoint, "link", "show", "dev", "veth9"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.ends_with(": NOT_FOUND: link veth9 not found\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn text_listings_look_like_iproute2() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&["--host", &agent.endpoint, "link"]);
    assert_eq!(
        run.stdout,
        "3: veth1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state UP\n    \
         link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netns netns1\n"
    );
    let run = nsfleet(&["--host", &agent.endpoint, "a"]);
    assert!(
        run.stdout
            .ends_with("    inet 172.20.0.1/16 brd 172.20.255.255 scope global veth1\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.starts_with("3: veth1@if2: <BROADCAST"),
        "{}",
        run.stdout
    );
    let run = nsfleet(&["--host", &agent.endpoint, "r"]);
    assert_eq!(
        run.stdout,
        "default via 172.20.0.1 dev ceth1 proto static\n"
    );
    let run = nsfleet(&["--host", &agent.endpoint, "nat"]);
    assert_eq!(run.stdout, "r1: ipv4 masquerade from 172.20.0.0/16 oif eth0 comment \"lab\" packets 5000000000 bytes 7\n");
}

#[test]
fn nat_json_has_only_the_chosen_kind() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&["--host", &agent.endpoint, "-o", "json", "nat", "list"]);
    let rule = &run.json_lines()[0]["result"]["rules"][0];
    assert_eq!(
        rule,
        &json!({"id": "r1", "family": "ipv4",
                "masquerade": {"source": "172.20.0.0", "source_prefix_len": 16, "output_interface": "eth0"},
                "comment": "lab", "packets": 5_000_000_000u64, "bytes": 7})
    );
}

#[test]
fn ping_text_and_exit_status() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&[
        "--host",
        &agent.endpoint,
        "-n",
        "netns1",
        "ping",
        "172.20.0.10",
        "-c",
        "2",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "PING 172.20.0.10 (172.20.0.10) 56(84) bytes of data.\n\
         64 bytes from 172.20.0.10: icmp_seq=1 ttl=64 time=0.050 ms\n\
         64 bytes from 172.20.0.10: icmp_seq=2 ttl=64 time=0.050 ms\n\
         \n\
         --- 172.20.0.10 ping statistics ---\n\
         2 packets transmitted, 2 received, 0% packet loss\n\
         rtt min/avg/max/mdev = 0.050/0.050/0.050/0.000 ms\n"
    );
    let run = nsfleet(&["--host", &agent.endpoint, "ping", "172.20.0.99", "-c", "1"]);
    assert_eq!(run.code, 1, "no reply is exit status 1");
    assert!(
        run.stdout
            .contains("1 packets transmitted, 0 received, 100% packet loss\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn ping_json_and_several_hosts() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&[
        "-o",
        "json",
        "--host",
        &agent.endpoint,
        "--host",
        &agent.endpoint,
        "ping",
        "172.20.0.10",
        "-c",
        "1",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["result"],
        json!({"replies": [{"seq": 1, "from": "172.20.0.10", "bytes": 64, "ttl": 64, "rtt_ms": 0.05}],
               "summary": {"target": "172.20.0.10", "transmitted": 1, "received": 1, "loss_percent": 0.0,
                           "rtt_min_ms": 0.05, "rtt_avg_ms": 0.05, "rtt_max_ms": 0.05, "rtt_mdev_ms": 0.0}})
    );
    let run = nsfleet(&[
        "--host",
        &agent.endpoint,
        "--host",
        &agent.endpoint,
        "ping",
        "172.20.0.10",
        "-c",
        "1",
    ]);
    let header = format!("{}:\nPING 172.20.0.10", agent.endpoint);
    assert_eq!(run.stdout.matches(&header).count(), 2, "{}", run.stdout);
}
