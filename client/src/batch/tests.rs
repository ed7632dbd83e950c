use nsfleet_proto::v1::{create_link_request::Kind, AddressFamily};

use super::*;

fn parse(text: &str) -> Result<Script, ScriptError> {
    super::parse(text, &RequestOptions::default())
}

fn operations(text: &str) -> Vec<Operation> {
    parse(text)
        .unwrap()
        .operations
        .into_iter()
        .map(|operation| operation.operation.unwrap())
        .collect()
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn tutorial_lines_become_operations_with_their_line_numbers() {
    let text = "# the tutorial, batched\n\
                netns add n1\n\
                \n\
                link add veth1 type veth peer name ceth1 netns n1\n\
                -n n1 addr add 172.20.0.11/16 dev ceth1\n\
                -n n1 link set lo up\n\
                -n n1 route add default via 172.20.0.10\n\
                forwarding set ipv4 on\n\
                nat add masquerade from 172.20.0.0/16 oif up0\n\
                link del veth1   # the peer goes with it\n\
                netns del n1\n";
    let script = parse(text).unwrap();
    assert_eq!(script.lines, [2, 4, 5, 6, 7, 8, 9, 10, 11]);
    let ops = operations(text);
    assert!(matches!(&ops[0], Operation::CreateNamespace(r) if r.name == "n1"));
    let Operation::CreateLink(link) = &ops[1] else {
        panic!("{:?}", ops[1])
    };
    assert_eq!((link.namespace.as_str(), link.name.as_str()), ("", "veth1"));
    let Some(Kind::Veth(veth)) = &link.kind else {
        panic!("{link:?}")
    };
    assert_eq!(veth.peer_namespace.as_deref(), Some("n1"));
    assert!(
        matches!(&ops[2], Operation::AddAddress(r) if r.namespace == "n1" && r.prefix_len == 16)
    );
    assert!(matches!(&ops[3], Operation::SetLink(r) if r.namespace == "n1" && r.name == "lo"));
    assert!(
        matches!(&ops[4], Operation::AddRoute(r) if r.namespace == "n1"
        && r.route.as_ref().is_some_and(|route| route.gateway == "172.20.0.10"))
    );
    assert!(matches!(&ops[5], Operation::SetForwarding(r) if r.enabled));
    assert!(matches!(&ops[6], Operation::AddNatRule(r) if r.namespace.is_empty()));
    assert!(matches!(&ops[7], Operation::DeleteLink(r) if r.name == "veth1"));
    assert!(matches!(&ops[8], Operation::DeleteNamespace(r) if r.name == "n1"));
}

#[test]
fn namespace_and_family_options_apply_per_line() {
    let ops = operations("-n a route add default dev ceth1 -6\nroute add default via 172.20.0.1\n");
    let Operation::AddRoute(first) = &ops[0] else {
        panic!()
    };
    assert_eq!(first.namespace, "a");
    assert_eq!(
        first.route.as_ref().unwrap().family,
        AddressFamily::Ipv6 as i32
    );
    let Operation::AddRoute(second) = &ops[1] else {
        panic!()
    };
    assert_eq!(second.namespace, "");
}

#[test]
fn queries_cannot_be_batched() {
    assert_eq!(
        error("netns add a\nlink list\n"),
        "line 2: link list is not a change: only changes can be batched (run listings and ping on their own)"
    );
    assert!(error("ping 172.20.0.1").starts_with("line 1: ping is not a change"));
    assert!(error("\n\n-n a addr show").starts_with("line 3: address list is not a change"));
    assert!(error("netns").starts_with("line 1: netns list is not a change"));
}

#[test]
fn invocation_options_are_refused_inside_lines() {
    assert_eq!(
        error("netns add a\n--host h:1 netns add b"),
        "line 2: --host belongs to the batch command, not to a line (nsfleet --host ... batch FILE)"
    );
    assert!(error("netns add b -o json")
        .starts_with("line 1: -o/--output belongs to the batch command"));
    assert!(error("--timeout 3 netns add b").starts_with("line 1: --timeout belongs"));
    assert_eq!(
        error("batch other.txt"),
        "line 1: a batch cannot contain batch"
    );
}

#[test]
fn grammar_and_clap_errors_name_the_line() {
    assert_eq!(
        error("netns add a\nlink add vx0 type vxlan"),
        "line 2: link add: missing id VNI"
    );
    assert_eq!(
        error("frobnicate"),
        "line 1: unrecognized subcommand 'frobnicate'"
    );
    assert!(error("link add x --help").starts_with("line 1: help and version cannot"));
    assert_eq!(
        error("nat add masquerade comment \"x"),
        "line 1: unterminated \" quote"
    );
}

#[test]
fn a_grammar_error_points_to_the_command_help() {
    let Err(error) = parse("route add default via gw1") else {
        panic!()
    };
    assert_eq!(
        error.help_hint().as_deref(),
        Some("nsfleet route add --help")
    );
}

fn operations_with(text: &str, defaults: &RequestOptions) -> Vec<Operation> {
    super::parse(text, defaults)
        .unwrap()
        .operations
        .into_iter()
        .map(|operation| operation.operation.unwrap())
        .collect()
}

#[test]
fn the_batch_commands_namespace_applies_to_lines_without_their_own() {
    let defaults = RequestOptions {
        namespace: Some("netns1".to_owned()),
        ..RequestOptions::default()
    };
    let ops = operations_with(
        "addr add 172.20.0.11/16 dev ceth1\n\
         -n other link set lo up\n\
         -n '' link set veth1 up\n",
        &defaults,
    );
    assert!(matches!(&ops[0], Operation::AddAddress(r) if r.namespace == "netns1"));
    assert!(matches!(&ops[1], Operation::SetLink(r) if r.namespace == "other"));
    assert!(matches!(&ops[2], Operation::SetLink(r) if r.namespace.is_empty()));
}

#[test]
fn force_reaches_the_line_that_asks_or_every_line_of_a_forced_file() {
    let text = "--force link del veth0\n\
                link del veth1\n\
                addr del 192.0.2.1/24 dev veth1 --force\n\
                netns del n1\n";
    let ops = operations(text);
    assert!(matches!(&ops[0], Operation::DeleteLink(r) if r.force));
    assert!(matches!(&ops[1], Operation::DeleteLink(r) if !r.force));
    assert!(matches!(&ops[2], Operation::DeleteAddress(r) if r.force));
    assert!(matches!(&ops[3], Operation::DeleteNamespace(r) if !r.force));
    let forced = RequestOptions {
        force: true,
        ..RequestOptions::default()
    };
    let ops = operations_with(text, &forced);
    assert!(matches!(&ops[1], Operation::DeleteLink(r) if r.force));
    assert!(matches!(&ops[3], Operation::DeleteNamespace(r) if r.force));
}

#[test]
fn ignore_missing_inside_lines() {
    let ops = operations(
        "netns del n1 --ignore-missing\n\
         link del veth1 --ignore-missing\n\
         nat del 0123abcd --ignore-missing\n\
         route del 10.0.0.0/8 --ignore-missing\n",
    );
    assert!(matches!(&ops[0], Operation::DeleteNamespace(r) if r.ignore_missing));
    assert!(matches!(&ops[1], Operation::DeleteLink(r) if r.ignore_missing));
    assert!(matches!(&ops[2], Operation::DeleteNatRule(r) if r.ignore_missing));
    assert!(matches!(&ops[3], Operation::DeleteRoute(r) if r.ignore_missing));
}
