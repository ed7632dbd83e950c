use clap::Parser;
use nsfleet_proto::v1::{create_link_request::Kind, Scope};

use super::*;

fn plan_of(line: &str) -> Result<Plan, UsageError> {
    let cli =
        Cli::try_parse_from(std::iter::once("nsfleet").chain(line.split_whitespace())).unwrap();
    plan(cli)
}

fn action_of(line: &str) -> Action {
    plan_of(line).unwrap().action
}

#[test]
fn global_options_before_and_after_the_subcommand() {
    for line in [
        "-o json --host a:1 --host b:2 -n ns1 link list",
        "link list -n ns1 -o json --host a:1 --host b:2",
    ] {
        let plan = plan_of(line).unwrap();
        assert_eq!(plan.format, OutputFormat::Json);
        let labels: Vec<&str> = plan.hosts.iter().map(|host| host.label.as_str()).collect();
        assert_eq!(labels, ["a:1", "b:2"]);
        let Action::Link(LinkAction::List(request)) = plan.action else {
            panic!("{line}")
        };
        assert_eq!(request.namespace, "ns1");
    }
}

#[test]
fn defaults() {
    let plan = plan_of("netns").unwrap();
    assert_eq!(plan.hosts.len(), 1);
    assert_eq!(plan.hosts[0].label, "unix:/run/nsfleet/agent.sock");
    assert_eq!(plan.format, OutputFormat::Text);
    assert_eq!(plan.timeout, Duration::from_secs(30));
    assert!(matches!(plan.action, Action::Netns(NetnsAction::List)));
}

#[test]
fn comma_separated_hosts_and_empty_entries() {
    let plan = plan_of("--host a:1,b:2, --timeout 2.5 link").unwrap();
    assert_eq!(plan.hosts.len(), 2);
    assert_eq!(plan.timeout, Duration::from_millis(2500));
}

#[test]
fn bad_host_is_a_usage_error() {
    let error = plan_of("--host ::1 link").err().unwrap();
    assert_eq!(
        error.to_string(),
        "--host \"::1\": write IPv6 endpoints as [ADDRESS]:PORT"
    );
    assert!(error.help_hint().is_none());
}

#[test]
fn aliases_and_abbreviations() {
    assert!(matches!(
        action_of("a"),
        Action::Address(AddressAction::List(_))
    ));
    assert!(
        matches!(action_of("addr show dev br0"), Action::Address(AddressAction::List(request)) if request.link == "br0")
    );
    assert!(matches!(
        action_of("r sh"),
        Action::Route(RouteAction::List(_))
    ));
    assert!(
        matches!(action_of("ro ls table all"), Action::Route(RouteAction::List(request)) if request.all_tables)
    );
    assert!(matches!(action_of("neighbor show"), Action::Neighbor(_)));
    assert!(matches!(action_of("neigh"), Action::Neighbor(_)));
    assert!(matches!(
        action_of("l delete veth1"),
        Action::Link(LinkAction::Delete(_))
    ));
    assert!(
        matches!(action_of("link sh veth1"), Action::Link(LinkAction::Get(request)) if request.name == "veth1")
    );
    assert!(
        matches!(action_of("netns delete ns1"), Action::Netns(NetnsAction::Delete(request)) if request.name == "ns1")
    );
    assert!(matches!(
        action_of("fo"),
        Action::Forwarding(ForwardingAction::Get(_))
    ));
    assert!(matches!(
        action_of("nat ls"),
        Action::Nat(NatAction::List(_))
    ));
}

#[test]
fn namespace_reaches_every_request() {
    let Action::Link(LinkAction::Create(request)) =
        action_of("-n ns1 link add veth2 type veth peer name ceth2 netns netns2")
    else {
        panic!("not a link add")
    };
    assert_eq!(request.namespace, "ns1");
    assert!(
        matches!(request.kind, Some(Kind::Veth(ref spec)) if spec.peer_namespace.as_deref() == Some("netns2"))
    );
    let Action::Address(AddressAction::Add(request)) =
        action_of("addr add 172.20.0.11/16 dev ceth1 scope link -n netns1")
    else {
        panic!("not an addr add")
    };
    assert_eq!(
        (request.namespace.as_str(), request.scope()),
        ("netns1", Scope::Link)
    );
    let Action::Route(RouteAction::Add(request)) =
        action_of("-n netns1 route add default via 172.20.0.1")
    else {
        panic!("not a route add")
    };
    assert_eq!(request.namespace, "netns1");
    assert_eq!(request.route.unwrap().gateway, "172.20.0.1");
    let Action::Nat(NatAction::Delete(request)) = action_of("nat del r7 -n gw") else {
        panic!("not a nat del")
    };
    assert_eq!(
        (request.namespace.as_str(), request.id.as_str()),
        ("gw", "r7")
    );
    let Action::Forwarding(ForwardingAction::Set(request)) =
        action_of("-n gw forwarding set ipv4 on")
    else {
        panic!("not a forwarding set")
    };
    assert_eq!(request.namespace, "gw");
}

#[test]
fn family_flags() {
    let Action::Route(RouteAction::List(request)) = action_of("-6 route") else {
        panic!()
    };
    assert_eq!(request.family(), AddressFamily::Ipv6);
    let Action::Route(RouteAction::Add(request)) = action_of("route add default dev br0 -6") else {
        panic!()
    };
    assert_eq!(request.route.unwrap().family(), AddressFamily::Ipv6);
    let Action::Address(AddressAction::List(request)) = action_of("-4 addr") else {
        panic!()
    };
    assert_eq!(request.family(), AddressFamily::Ipv4);
    assert!(Cli::try_parse_from(["nsfleet", "-4", "-6", "route"]).is_err());
}

#[test]
fn grammar_errors_name_the_command() {
    let error = plan_of("route add default via nowhere").err().unwrap();
    assert!(
        error
            .to_string()
            .starts_with("route add: invalid address \"nowhere\" after \"via\""),
        "{error}"
    );
    assert_eq!(
        error.help_hint().as_deref(),
        Some("nsfleet route add --help")
    );
    let error = plan_of("link list --all-namespaces veth1").err().unwrap();
    assert!(
        error.to_string().starts_with("link list: --all-namespaces"),
        "{error}"
    );
}

#[test]
fn ping_options() {
    let Action::Ping(request) =
        action_of("-n netns1 ping 172.20.0.10 -c 2 -i 0.2 -W 3 -s 100 -I ceth1")
    else {
        panic!("not a ping")
    };
    assert_eq!(request.namespace, "netns1");
    assert_eq!(request.target, "172.20.0.10");
    assert_eq!(
        (
            request.count,
            request.interval_ms,
            request.timeout_ms,
            request.payload_size
        ),
        (2, 200, 3000, 100)
    );
    assert_eq!(
        (request.interface.as_str(), request.source.as_str()),
        ("ceth1", "")
    );
    let Action::Ping(request) = action_of("ping 2001:db8::1 -I 2001:db8::2") else {
        panic!("not a ping")
    };
    assert_eq!(
        (request.interface.as_str(), request.source.as_str()),
        ("", "2001:db8::2")
    );
    assert_eq!(
        (
            request.count,
            request.interval_ms,
            request.timeout_ms,
            request.payload_size
        ),
        (4, 0, 0, 0)
    );
    let Action::Ping(request) = action_of("ping 10.0.0.1 -i 0.0101") else {
        panic!("not a ping")
    };
    assert_eq!(request.interval_ms, 10);
}

#[test]
fn ping_timeout_bounds_the_whole_run_when_given() {
    // Default: the time 100 requests a second apart need, plus the usual 30 s for the answer.
    let plan = plan_of("ping 10.0.0.1 -c 100").unwrap();
    assert_eq!(plan.timeout, Duration::from_secs(30 + 99 + 1));
    assert_eq!(plan.action.deadline(plan.timeout), plan.timeout);
    let plan = plan_of("--timeout 2 ping 10.0.0.1 -c 100").unwrap();
    assert_eq!(plan.timeout, Duration::from_secs(2));
    assert_eq!(plan.action.deadline(plan.timeout), Duration::from_secs(2));
    assert_eq!(
        plan_of("--timeout 2 link list").unwrap().timeout,
        Duration::from_secs(2)
    );
}

#[test]
fn ignore_missing_reaches_every_delete() {
    let Action::Netns(NetnsAction::Delete(request)) = action_of("netns del n1 --ignore-missing")
    else {
        panic!()
    };
    assert!(request.ignore_missing);
    let Action::Link(LinkAction::Delete(request)) = action_of("link del --ignore-missing veth0")
    else {
        panic!()
    };
    assert!(request.ignore_missing && request.name == "veth0");
    let Action::Address(AddressAction::Delete(request)) =
        action_of("-n n1 addr del 172.20.0.11/16 dev ceth1 --ignore-missing")
    else {
        panic!()
    };
    assert!(request.ignore_missing && request.namespace == "n1");
    let Action::Route(RouteAction::Delete(request)) =
        action_of("route del default --ignore-missing")
    else {
        panic!()
    };
    assert!(request.ignore_missing);
    let Action::Nat(NatAction::Delete(request)) = action_of("nat del abc --ignore-missing") else {
        panic!()
    };
    assert!(request.ignore_missing);
    let Action::Link(LinkAction::Delete(request)) = action_of("link del veth0") else {
        panic!()
    };
    assert!(!request.ignore_missing);
}

#[test]
fn clap_rejects_bad_ping_values() {
    assert!(Cli::try_parse_from(["nsfleet", "ping", "example.com"]).is_err());
    assert!(Cli::try_parse_from(["nsfleet", "ping", "10.0.0.1", "-c", "many"]).is_err());
    assert!(Cli::try_parse_from(["nsfleet", "ping", "10.0.0.1", "-W", "-1"]).is_err());
    // Out of the range diagnostics.proto gives: usage errors (exit 2) before any host is contacted.
    for (flag, value) in [
        ("-c", "0"),
        ("-c", "10001"),
        ("-i", "0.001"),
        ("-W", "61"),
        ("-s", "0"),
        ("-s", "65001"),
    ] {
        let error = Cli::try_parse_from(["nsfleet", "ping", "10.0.0.1", flag, value]).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{flag} {value}");
    }
    for timeout in ["0", "-1", "soon"] {
        let error = Cli::try_parse_from(["nsfleet", "--timeout", timeout, "netns"]).unwrap_err();
        assert_eq!(error.exit_code(), 2, "--timeout {timeout}");
    }
}

#[test]
fn missing_words_are_clap_usage_errors() {
    for line in [
        ["nsfleet", "link", "add"],
        ["nsfleet", "route", "add"],
        ["nsfleet", "nat", "add"],
    ] {
        let error = Cli::try_parse_from(line).unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }
}

#[test]
fn a_vxlans_netns_is_its_namespace_and_must_agree_with_dash_n() {
    let namespace_of = |line: &str| match action_of(line) {
        Action::Link(LinkAction::Create(request)) => request.namespace,
        _ => panic!("not a link add"),
    };
    assert_eq!(namespace_of("link add vx0 type vxlan id 1 netns n1"), "n1");
    assert_eq!(
        namespace_of("-n n1 link add vx0 type vxlan id 1 netns n1"),
        "n1"
    );
    assert_eq!(namespace_of("-n n2 link add vx0 type vxlan id 1"), "n2");
    let refused = plan_of("-n n2 link add vx0 type vxlan id 1 netns n1")
        .err()
        .expect("a conflict")
        .to_string();
    assert!(refused.contains("\"-n\" and \"netns\""), "{refused}");
}
