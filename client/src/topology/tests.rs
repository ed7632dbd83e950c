use nsfleet_proto::v1::{create_link_request::Kind, AddressFamily, HostTopology};

use super::*;

const FILE: &str = "topo.yaml";

/// The problems of `text`, each as `FILE:LINE:COL: message`.
fn problems(text: &str) -> Vec<String> {
    match parse(FILE, text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(TopologyError::Invalid { file, problems }) => problems
            .iter()
            .map(|problem| format!("{file}:{}: {}", problem.at, problem.message))
            .collect(),
        Err(other) => panic!("{other}"),
    }
}

/// The only problem of `text`; it must be at `line:col` and contain `needle`.
fn assert_problem(text: &str, at: &str, needle: &str) {
    let found = problems(text);
    assert_eq!(found.len(), 1, "{found:#?}");
    let expected_start = format!("{FILE}:{at}: ");
    assert!(
        found[0].starts_with(&expected_start) && found[0].contains(needle),
        "expected {expected_start}...{needle}..., got {}",
        found[0]
    );
}

fn host(text: &str, name: &str) -> HostTopology {
    let loaded = parse(FILE, text).unwrap_or_else(|error| panic!("{error}"));
    loaded
        .hosts
        .into_iter()
        .find(|host| host.name == name)
        .unwrap()
        .topology
}

const MINIMAL: &str = "name: t\nhosts:\n  h1:\n    namespaces:\n      n1: {}\n";

#[test]
fn a_minimal_file_gives_a_namespace() {
    let topology = host(MINIMAL, "h1");
    assert_eq!(topology.name, "t");
    assert_eq!(topology.namespaces.len(), 1);
    assert_eq!(topology.namespaces[0].name, "n1");
    // The agent brings lo up in every namespace it creates for a topology.
    assert!(topology.links.is_empty());
}

#[test]
fn an_entry_with_nothing_after_it_takes_every_default() {
    let topology = host("name: t\nhosts:\n  h1:\n    namespaces:\n      n1:\n", "h1");
    assert_eq!(topology.namespaces[0].name, "n1");
    assert_problem(
        "name: t\nhosts:\n  h1:\n    namespaces:\n      n1:\n        veths:\n          c1:\n",
        "7:13",
        "missing field `peer`",
    );
}

#[test]
fn malformed_yaml_is_placed() {
    assert_problem("name: t\nhosts:\n  h1: [unclosed\n", "4:1", "");
    assert_problem("name: t\nhosts:\n\t- h1\n", "3:2", "tabs");
}

#[test]
fn an_empty_file_and_two_documents_are_refused() {
    assert_problem("", "1:1", "empty");
    assert_problem(
        "name: t\nhosts: {h: {}}\n---\nname: u\n",
        "4:1",
        "second YAML document",
    );
}

#[test]
fn duplicate_keys_are_refused() {
    assert_problem(
        "name: t\nhosts:\n  h1: {}\n  h1: {}\n",
        "4:3",
        "duplicated key",
    );
}

#[test]
fn unknown_keys_say_what_was_meant() {
    assert_problem(
        "name: t\nhosts:\n  h1:\n    bridgs:\n      br0: {}\n",
        "4:5",
        "unknown key \"bridgs\"; did you mean \"bridges\"?",
    );
    assert_problem(
        "name: t\nhosts:\n  h1:\n    namespaces:\n      n1:\n        veths:\n          c1:\n            peer: {nmae: v1}\n",
        "8:20",
        "did you mean \"name\"?",
    );
    assert_problem("nmae: t\nhosts: {}\n", "1:1", "did you mean \"name\"?");
    assert_problem(
        "name: t\nhosts:\n  h1:\n    adopt: [{kind: lnk, name: eth0}]\n",
        "4:20",
        "unknown value \"lnk\"; did you mean \"link\"?",
    );
}

#[test]
fn a_missing_key_is_placed_at_its_mapping() {
    assert_problem(
        "name: t\nhosts:\n  h1:\n    namespaces:\n      n1:\n        veths:\n          c1: {addresses: []}\n",
        "7:15",
        "missing field `peer`",
    );
}

#[test]
fn a_value_of_the_wrong_type_is_placed_at_the_value() {
    assert_problem(
        "name: t\nhosts:\n  h1:\n    bridges:\n      br0: {mtu: big}\n",
        "5:18",
        "big",
    );
    assert_problem(
        "name: t\nhosts:\n  h1:\n    routes: default via 1.2.3.4\n",
        "4:13",
        "sequence",
    );
}

#[test]
fn aliases_are_refused_before_they_expand() {
    assert_problem("name: t\nhosts:\n  h1: &a {}\n  h2: *a\n", "4:7", "aliases");
}

#[test]
fn tags_are_refused() {
    assert_problem("name: !x t\nhosts: {h: {}}\n", "1:7", "tags");
}

#[test]
fn duplicate_namespace_names_from_a_series_and_a_plain_entry() {
    assert_problem(
        "name: t\nhosts:\n  h1:\n    namespaces:\n      \"n{i}\": {count: 3}\n      n2: {}\n",
        "6:7",
        "namespace \"n2\" is declared twice (first at 5:7)",
    );
}

#[test]
fn duplicate_link_names_in_one_namespace() {
    assert_problem(
        "name: t\nhosts:\n  h1:\n    bridges: {br0: {}}\n    namespaces:\n      n1:\n        veths:\n          c1: {peer: {name: br0}}\n",
        "8:29",
        "link \"br0\" is declared twice in the host namespace (first at 4:15)",
    );
}

#[test]
fn a_peer_in_an_undeclared_namespace() {
    assert_problem(
        "name: t\nhosts:\n  h1:\n    namespaces:\n      n1:\n        veths:\n          c1: {peer: {name: v1, namespace: n2}}\n      n3: {}\n",
        "7:44",
        "the peer's namespace \"n2\" is not declared on host h1",
    );
}

#[test]
fn a_peer_on_an_undeclared_bridge() {
    assert_problem(
        "name: t\nhosts:\n  h1:\n    bridges: {br0: {}}\n    namespaces:\n      n1:\n        veths:\n          c1: {peer: {name: v1, bridge: br1}}\n",
        "8:41",
        "bridge \"br1\" is not declared in the host namespace; did you mean \"br0\"?",
    );
}

#[test]
fn two_namespaces_given_the_same_address() {
    let text = "name: t\nhosts:\n  h1:\n    namespaces:\n      n1:\n        veths:\n          c1: {peer: {name: v1}, addresses: [10.1.0.1/24]}\n      n2:\n        veths:\n          c2: {peer: {name: v2}, addresses: [10.1.0.1/24]}\n";
    assert_problem(
        text,
        "10:46",
        "address 10.1.0.1 on c2 in namespace n2 is already given to c1 in namespace n1 at 7:46",
    );
}

#[test]
fn an_address_outside_its_pool() {
    // A /30 holds addresses 1 and 2 after the network address, then the broadcast, then nothing.
    let text = "name: t\nhosts:\n  h1:\n    namespaces:\n      \"n{i}\":\n        count: 5\n        veths:\n          \"c{i}\": {peer: {name: \"v{i}\"}, addresses: [{pool: 10.9.0.0/30}]}\n";
    let found = problems(text);
    assert_eq!(found.len(), 2, "{found:#?}");
    for (problem, number) in found.iter().zip([4, 5]) {
        let expected = format!(
            "topo.yaml:8:61: address number {number} of the pool is outside its prefix 10.9.0.0/30"
        );
        assert!(problem.starts_with(&expected), "{problem}");
    }
    assert_problem(
        "name: t\nhosts:\n  h1:\n    bridges:\n      br0: {addresses: [{pool: 10.9.0.0/24, first: 10.8.0.1}]}\n",
        "5:52",
        "first address 10.8.0.1 is outside its prefix 10.9.0.0/24",
    );
    assert_problem(
        "name: t\nhosts:\n  h1:\n    bridges:\n      br0:\n        addresses:\n          - pool: 10.9.0.1/24\n",
        "7:19",
        "host bits set",
    );
}

#[test]
fn bad_names_and_addresses_use_the_command_line_grammar() {
    assert_problem(
        "name: Tutorial\nhosts: {h1: {}}\n",
        "1:7",
        "topology name \"Tutorial\"",
    );
    assert_problem(
        "name: t\nhosts:\n  h1:\n    bridges: {a-bridge-name-too-long: {}}\n",
        "4:15",
        "the kernel takes at most 15",
    );
    assert_problem(
        "name: t\nhosts:\n  h1:\n    bridges: {br0: {addresses: [172.20.0.300/16]}}\n",
        "4:33",
        "invalid prefix \"172.20.0.300/16\" after \"address\"",
    );
    assert_problem(
        "name: t\nhosts:\n  h1:\n    routes: [default via nowhere]\n",
        "4:14",
        "route: ",
    );
    assert_problem(
        "name: t\nhosts:\n  h1:\n    nat: [masquerade form 10.0.0.0/8]\n",
        "4:11",
        "nat: ",
    );
    assert_problem(
        "name: t\nhosts:\n  h1:\n    endpoint: \"[::1\"\n",
        "4:15",
        "endpoint: ",
    );
    assert_problem(
        "name: t\nhosts:\n  h1:\n    namespaces:\n      n1:\n        veths:\n          lo: {peer: {name: v1}}\n",
        "7:11",
        "loopback",
    );
}

#[test]
fn index_outside_a_series_and_a_count_without_index() {
    assert_problem(
        "name: t\nhosts:\n  h1:\n    namespaces:\n      \"n{i}\": {}\n",
        "5:7",
        "outside a series",
    );
    assert_problem(
        "name: t\nhosts:\n  h1:\n    namespaces:\n      n: {count: 2}\n",
        "5:7",
        "no {i} in its name",
    );
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let text = "name: t\nhosts:\n  h1:\n    bridges: {br0: {}}\n    namespaces:\n      n1:\n        veths:\n          c1: {peer: {name: v1, bridge: br9}}\n      n2:\n        veths:\n          c2: {peer: {name: v2, namespace: n7}}\n";
    let found = problems(text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("topo.yaml:8:"), "{found:#?}");
    assert!(found[1].starts_with("topo.yaml:11:"), "{found:#?}");
}

const SERIES: &str = "name: big
hosts:
  h1:
    bridges:
      br0: {addresses: [172.20.0.1/16]}
    namespaces:
      \"ns{i}\":
        count: 1000
        veths:
          \"c{i}\":
            peer: {name: \"v{i}\", bridge: br0}
            addresses: [{pool: 172.20.0.0/16, first: 172.20.1.0}]
        routes: [default via 172.20.0.1]
";

#[test]
fn a_series_of_1000_namespaces_in_a_few_lines() {
    let topology = host(SERIES, "h1");
    assert_eq!(topology.namespaces.len(), 1000);
    assert_eq!(topology.namespaces[0].name, "ns1");
    assert_eq!(topology.namespaces[999].name, "ns1000");
    // The bridge's address, then one per namespace, in order from `first`.
    assert_eq!(topology.addresses.len(), 1001);
    let first = &topology.addresses[1];
    assert_eq!(
        (
            first.namespace.as_str(),
            first.link.as_str(),
            first.address.as_str(),
            first.prefix_len
        ),
        ("ns1", "c1", "172.20.1.0", 16)
    );
    let last = &topology.addresses[1000];
    assert_eq!(
        (
            last.namespace.as_str(),
            last.link.as_str(),
            last.address.as_str()
        ),
        ("ns1000", "c1000", "172.20.4.231")
    );
    assert_eq!(topology.routes.len(), 1000);
    let veth = topology
        .links
        .iter()
        .find(|link| link.link.as_ref().unwrap().name == "c500")
        .unwrap();
    assert_eq!(veth.peer_master, "br0");
    assert_eq!(veth.link.as_ref().unwrap().namespace, "ns500");
}

#[test]
fn expansion_is_deterministic() {
    let first = host(SERIES, "h1");
    let second = host(SERIES, "h1");
    assert_eq!(first, second);
}

#[test]
fn a_series_of_none_is_refused() {
    assert_problem(
        "name: t\nhosts:\n  h1:\n    namespaces:\n      \"n{i}\": {count: 0}\n",
        "5:23",
        "count 0 declares no namespace",
    );
}

#[test]
fn start_numbers_a_series() {
    let text = "name: t\nhosts:\n  h1:\n    namespaces:\n      \"n{i}\": {count: 2, start: 7}\n";
    let names: Vec<String> = host(text, "h1")
        .namespaces
        .into_iter()
        .map(|namespace| namespace.name)
        .collect();
    assert_eq!(names, ["n7", "n8"]);
}

/// The README's topology block, as the README shows it.
pub fn readme_topology() -> String {
    let readme = include_str!("../../../README.md");
    let after = readme
        .split_once("<!-- topology-example -->\n```yaml\n")
        .expect("README has the topology example")
        .1;
    after
        .split_once("\n```")
        .expect("the example's block ends")
        .0
        .to_owned()
}

#[test]
fn the_readme_topology_is_the_tutorial_on_host1_and_host2() {
    let loaded = parse("README.md", &readme_topology()).unwrap_or_else(|error| panic!("{error}"));
    let names: Vec<&str> = loaded.hosts.iter().map(|host| host.name.as_str()).collect();
    assert_eq!(names, ["host1", "host2"]);
    for host in &loaded.hosts {
        let topology = &host.topology;
        let namespaces: Vec<&str> = topology
            .namespaces
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert!(
            namespaces.starts_with(&["netns1", "netns2"]),
            "{namespaces:?}"
        );
        let bridge = topology
            .links
            .iter()
            .find(|link| link.link.as_ref().unwrap().name == "br0")
            .unwrap();
        assert!(bridge.up);
        assert!(matches!(
            bridge.link.as_ref().unwrap().kind,
            Some(Kind::Bridge(_))
        ));
        for (end, peer, namespace, address) in [
            ("ceth1", "veth1", "netns1", "172.20.0.11"),
            ("ceth2", "veth2", "netns2", "172.20.0.12"),
        ] {
            let veth = topology
                .links
                .iter()
                .find(|link| link.link.as_ref().unwrap().name == end)
                .unwrap();
            let link = veth.link.as_ref().unwrap();
            assert_eq!(link.namespace, namespace);
            match &link.kind {
                Some(Kind::Veth(spec)) => {
                    assert_eq!(spec.peer_name, peer);
                    assert_eq!(spec.peer_namespace.as_deref(), Some(""));
                }
                other => panic!("{end}: {other:?}"),
            }
            assert!(veth.up && veth.peer_up);
            assert_eq!(veth.peer_master, "br0");
            assert!(topology.addresses.iter().any(|a| a.namespace == namespace
                && a.link == end
                && a.address == address
                && a.prefix_len == 16));
            // The tutorial's flaw is not in the file: the ports hold no address.
            assert!(!topology.addresses.iter().any(|a| a.link == peer));
            let route = topology
                .routes
                .iter()
                .find(|route| route.namespace == namespace)
                .unwrap();
            let spec = route.route.as_ref().unwrap();
            assert_eq!(
                (spec.destination.as_str(), spec.gateway.as_str()),
                ("", "172.20.0.10")
            );
        }
        let bridge_address = topology.addresses.iter().find(|a| a.link == "br0").unwrap();
        assert_eq!(
            (
                bridge_address.namespace.as_str(),
                bridge_address.address.as_str(),
                bridge_address.prefix_len
            ),
            ("", "172.20.0.10", 16)
        );
        assert_eq!(topology.forwarding.len(), 1);
        assert_eq!(topology.forwarding[0].family, AddressFamily::Ipv4 as i32);
        assert!(topology.forwarding[0].enabled);
        assert_eq!(topology.nat_rules.len(), 1);
        assert!(topology.nat_rules[0].namespace.is_empty());
    }
}

/// With NSFLEET_WRITE_SCHEMA set, writes the schema first (how to regenerate the shipped copy).
#[test]
fn the_shipped_schema_is_what_the_types_generate() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/topology.schema.json");
    if std::env::var_os("NSFLEET_WRITE_SCHEMA").is_some() {
        std::fs::write(path, schema::json()).unwrap();
    }
    let shipped = std::fs::read_to_string(path).unwrap();
    assert!(
        shipped == schema::json(),
        "docs/topology.schema.json is stale: regenerate it with \
         `NSFLEET_WRITE_SCHEMA=1 cargo test -p nsfleet-client --lib schema`"
    );
}

#[test]
fn garbage_never_panics() {
    // Truncations of a real file at every byte: each is either valid or a placed error.
    let text = readme_topology();
    for end in 0..text.len() {
        if text.is_char_boundary(end) {
            let _ = parse(FILE, &text[..end]);
        }
    }
    for text in [
        "{",
        "[",
        ":",
        "- - -",
        "name: [",
        "\"",
        "? a\n: b",
        "%YAML 9\n---\n",
        "\u{feff}name: t",
    ] {
        let _ = parse(FILE, text);
    }
}

#[test]
fn deep_nesting_is_refused_before_it_can_overflow_the_stack() {
    let mut text = String::from("name: t\nhosts:\n");
    for level in 0..3000 {
        text.push_str(&format!("{}a{level}:\n", " ".repeat(2 + level)));
    }
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("nested deeper than 32 levels"),
        "{}",
        found[0]
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

    /// Any text made of YAML's structural characters, names and addresses is either a topology or a
    /// placed error, never a panic.
    #[test]
    fn random_text_never_panics(text in "([-:{}\\[\\],&*!|>'\"#?% \n\t]|name|hosts|h1|n\\{i\\}|count|pool|10\\.0\\.0\\.1/8|veths|peer|  ){0,60}") {
        if let Err(TopologyError::Invalid { problems, .. }) = parse(FILE, &text) {
            proptest::prop_assert!(problems.iter().all(|problem| problem.at.line >= 1));
        }
    }

    /// Random edits of a valid file.
    #[test]
    fn mutated_files_never_panic(position in 0usize..2000, insert in "[-:{}\\[\\],&*!|>'\"# \n\t]{1,3}") {
        let mut text = readme_topology();
        let at = position % text.len();
        if text.is_char_boundary(at) {
            text.insert_str(at, &insert);
            let _ = parse(FILE, &text);
        }
    }
}

#[test]
fn every_yaml_block_of_the_readme_is_a_valid_topology() {
    let readme = include_str!("../../../README.md");
    let pieces: Vec<&str> = readme.split("```yaml\n").collect();
    // The inventory example is YAML too, but not a topology (inventory/tests.rs checks it); the probes
    // example is a part of the tutorial file (tests/e2e/topology_file.rs checks them together).
    let blocks: Vec<&str> = pieces
        .windows(2)
        .filter(|pair| !pair[0].ends_with("<!-- inventory-example -->\n"))
        .filter(|pair| !pair[0].ends_with("<!-- probes-example -->\n"))
        .filter_map(|pair| pair[1].split_once("\n```").map(|(block, _)| block))
        .collect();
    assert!(blocks.len() >= 2, "the README's topology examples");
    for block in blocks {
        if let Err(error) = parse("README.md", block) {
            panic!("{error}\n{block}");
        }
    }
}
