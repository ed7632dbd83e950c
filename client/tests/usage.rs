//! Usage errors: exit status 2, a message naming the bad word, and no host contacted.

#![allow(clippy::unwrap_used)]

mod support;

use support::{nsfleet, FakeAgent, Mode};

#[test]
fn usage_errors_exit_2_before_contacting_hosts() {
    let agent = FakeAgent::start(Mode::Healthy);
    let cases: [(&[&str], &str); 11] = [
        (
            &["link", "add", "vx0", "type", "vxlan", "id", "0"],
            "nsfleet: link add: invalid VNI \"0\" after \"id\"",
        ),
        (
            &["route", "add", "default", "via", "gw1"],
            "nsfleet: route add: invalid address \"gw1\" after \"via\"",
        ),
        (
            &[
                "nat", "add", "dnat", "proto", "tcp", "dport", "http", "to", "10.0.0.1",
            ],
            "nsfleet: nat add: invalid port \"http\"",
        ),
        (
            &["addr", "add", "172.20.0.11/16", "dev", "ceth1", "bogus"],
            "nsfleet: address add: unexpected word \"bogus\"",
        ),
        (
            &["frobnicate"],
            "error: unrecognized subcommand 'frobnicate'",
        ),
        (
            &["ping", "example.com"],
            "error: invalid value 'example.com'",
        ),
        // Values the CLI can range-check itself, rather than leaving them to the agent.
        (
            &["link", "add", "br0", "type", "bridge", "mtu", "0"],
            "nsfleet: link add: invalid MTU \"0\" after \"mtu\": veth and bridge MTUs are 68-65535",
        ),
        (
            &["route", "add", "10.0.0.0/8", "dev", "br0", "table", "0"],
            "nsfleet: route add: invalid table \"0\"",
        ),
        (
            &["ping", "10.0.0.1", "-c", "0"],
            "error: invalid value '0' for '-c <COUNT>'",
        ),
        (
            &["--timeout", "0", "netns"],
            "error: invalid value '0' for '--timeout <SECONDS>'",
        ),
        (
            &["neigh", "show", "nud", "sleepy"],
            "nsfleet: neighbour list: invalid state \"sleepy\" after \"nud\"",
        ),
    ];
    for (args, expected) in cases {
        let run = nsfleet(&[&["--host", agent.endpoint.as_str()][..], args].concat());
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(run.stderr.starts_with(expected), "{args:?}: {}", run.stderr);
    }
    assert_eq!(agent.calls(), 0);
    let run = nsfleet(&["--host", "[::1", "netns"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("nsfleet: --host \"[::1\""),
        "{}",
        run.stderr
    );
}

#[test]
fn help_exits_0() {
    let run = nsfleet(&["route", "add", "--help"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("default|PREFIX[/PLEN] [via GW]"),
        "{}",
        run.stdout
    );
}
