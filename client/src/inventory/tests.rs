use std::path::Path;

use super::*;
use crate::connect::SecurityOptions;

const FILE: &str = "\
hosts:
  web1:
    endpoint: 10.0.0.1:50051
    tls: {ca: ca.pem, server_name: web1.example}
    token_env: WEB_TOKEN
  web2:
    endpoint: unix:/run/web2.sock
  db1:
    endpoint: 10.0.0.3
groups:
  web:
    members: [web1, web2]
  all:
    members: [web, db1, web2]
";

fn inventory(text: &str) -> Result<Inventory, InventoryError> {
    parse("hosts.yaml", text, Path::new("/etc/nsfleet"))
}

fn error(text: &str) -> String {
    inventory(text).unwrap_err().to_string()
}

fn names(hosts: &[crate::connect::Host]) -> Vec<&str> {
    hosts.iter().map(|host| host.label.as_str()).collect()
}

fn resolve(
    given: &[&str],
    inventory: Option<&Inventory>,
) -> Result<Vec<crate::connect::Host>, ResolveError> {
    let given: Vec<String> = given.iter().map(|text| (*text).to_owned()).collect();
    resolve_hosts(
        &given,
        inventory,
        &SecurityOptions::default(),
        Some("/nowhere/hosts.yaml"),
    )
}

#[test]
fn hosts_and_nested_groups() {
    let inventory = inventory(FILE).unwrap();
    let all: Vec<&str> = inventory
        .group("all")
        .unwrap()
        .iter()
        .map(|host| host.name.as_str())
        .collect();
    assert_eq!(all, ["web1", "web2", "db1"]);
    let web1 = inventory.host("web1").unwrap();
    assert_eq!(web1.endpoint, "10.0.0.1:50051");
    let tls = web1.access.tls.as_ref().unwrap();
    assert_eq!(
        tls.ca,
        Path::new("/etc/nsfleet/ca.pem"),
        "relative to the file"
    );
    assert_eq!(tls.server_name.as_deref(), Some("web1.example"));
    assert_eq!(
        web1.access.token,
        Some(TokenSource::Env("WEB_TOKEN".into()))
    );
    assert_eq!(inventory.host("db1").unwrap().access, Access::default());
}

#[test]
fn group_settings_reach_member_hosts_that_set_none() {
    let inventory = inventory(
        "hosts:\n  a: {endpoint: 'unix:/a'}\n  b: {endpoint: 'unix:/b', token_file: own}\n\
         groups:\n  g:\n    members: [a, b]\n    token_file: /shared/token\n",
    )
    .unwrap();
    assert_eq!(
        inventory.host("a").unwrap().access.token,
        Some(TokenSource::File("/shared/token".into()))
    );
    assert_eq!(
        inventory.host("b").unwrap().access.token,
        Some(TokenSource::File("/etc/nsfleet/own".into()))
    );
}

#[test]
fn unknown_keys_name_their_line_and_the_key_meant() {
    assert_eq!(
        error("hosts:\n  a:\n    endpoint: unix:/a\n    tokn_file: t\n"),
        "hosts.yaml:4:5: unknown key \"tokn_file\"; did you mean \"token_file\"?"
    );
    assert_eq!(
        error("hosts:\n  a:\n    endpoint: unix:/a\n    token: s3cret\n"),
        "hosts.yaml:4:12: a token is not written in the inventory (it is copied around; a token is a secret): give token_file or token_env"
    );
    let top = error("host:\n  a: {endpoint: 'unix:/a'}\n");
    assert!(
        top.starts_with("hosts.yaml:1:1: unknown key \"host\"; did you mean \"hosts\"?"),
        "{top}"
    );
}

#[test]
fn groups_that_name_themselves_or_loop_are_refused() {
    assert_eq!(
        error("hosts:\n  a: {endpoint: 'unix:/a'}\ngroups:\n  g:\n    members: [a, g]\n"),
        "hosts.yaml:5:18: group g names itself"
    );
    assert_eq!(
        error("hosts:\n  a: {endpoint: 'unix:/a'}\ngroups:\n  g1:\n    members: [a, g2]\n  g2:\n    members: [g3]\n  g3:\n    members: [g1]\n"),
        "hosts.yaml:9:15: groups form a cycle: g1 -> g2 -> g3 -> g1"
    );
    assert_eq!(
        error("hosts:\n  a: {endpoint: 'unix:/a'}\ngroups:\n  g:\n    members: [ab]\n"),
        "hosts.yaml:5:15: group g: no host or group \"ab\"; did you mean \"a\"?"
    );
    assert_eq!(
        error("hosts:\n  a: {endpoint: 'unix:/a'}\ngroups:\n  g:\n    members: []\n"),
        "hosts.yaml:4:3: group g has no members"
    );
}

#[test]
fn two_groups_with_different_tls_for_one_host_are_refused() {
    let text = "hosts:\n  a: {endpoint: '10.0.0.1:1'}\n  b: {endpoint: '10.0.0.2:1'}\ngroups:\n  \
                east:\n    members: [a]\n    tls: {ca: east.pem}\n  \
                west:\n    members: [a, b]\n    tls: {ca: west.pem}\n";
    assert_eq!(
        error(text),
        "hosts.yaml:2:3: host a is in groups east (line 5) and west (line 8), whose tls settings differ: set tls on the host to choose"
    );
    // The host's own setting decides.
    let chosen = text.replace(
        "a: {endpoint: '10.0.0.1:1'}",
        "a: {endpoint: '10.0.0.1:1', tls: {ca: own.pem}}",
    );
    let inventory = inventory(&chosen).unwrap();
    assert_eq!(
        inventory.host("a").unwrap().access.tls.as_ref().unwrap().ca,
        Path::new("/etc/nsfleet/own.pem")
    );
    assert_eq!(
        inventory.host("b").unwrap().access.tls.as_ref().unwrap().ca,
        Path::new("/etc/nsfleet/west.pem")
    );
}

#[test]
fn names_and_endpoints_are_checked() {
    assert_eq!(
        error("hosts:\n  a: {endpoint: 'unix:/a'}\ngroups:\n  a:\n    members: [a]\n"),
        "hosts.yaml:4:3: \"a\" is already a host or group (line 2): --host NAME must say which"
    );
    assert!(error("hosts:\n  'x:1': {endpoint: 'unix:/a'}\n")
        .starts_with("hosts.yaml:2:3: \"x:1\" is not a host or group name"));
    assert_eq!(
        error("hosts:\n  a: {endpoint: 'host:http'}\n"),
        "hosts.yaml:2:17: host a: endpoint \"host:http\": \"http\" is not a port number"
    );
    assert_eq!(
        error("hosts:\n  a: {}\n"),
        "hosts.yaml:2:6: missing field `endpoint`"
    );
    assert_eq!(
        error("hosts:\n  a: {endpoint: 'unix:/a', token_file: t, token_env: T}\n"),
        "hosts.yaml:2:54: give token_file or token_env, not both"
    );
    assert_eq!(
        error("hosts:\n  a: {endpoint: 'unix:/a', tls: {ca: c, cert: c}}\n"),
        "hosts.yaml:2:33: tls: cert and key go together"
    );
}

const PLAIN: &str = "\
hosts:
  web1: {endpoint: 'unix:/run/web1.sock'}
  web2: {endpoint: 'unix:/run/web2.sock'}
  db1: {endpoint: '10.0.0.3'}
groups:
  web: {members: [web1, web2]}
";

#[test]
fn host_entries_resolve_in_order_once_each() {
    let inventory = inventory(PLAIN).unwrap();
    let hosts = resolve(
        &[
            "db1",
            "@web",
            "web2",
            "unix:/tmp/x.sock",
            "192.0.2.1",
            "agent:7",
        ],
        Some(&inventory),
    )
    .unwrap();
    assert_eq!(
        names(&hosts),
        [
            "db1",
            "web1",
            "web2",
            "unix:/tmp/x.sock",
            "192.0.2.1",
            "agent:7"
        ]
    );
}

#[test]
fn unknown_names_and_groups_are_refused() {
    let inventory = inventory(PLAIN).unwrap();
    assert_eq!(
        resolve(&["web3"], Some(&inventory)).unwrap_err().to_string(),
        "--host web3: hosts.yaml has no host \"web3\"; did you mean \"web1\"? (an endpoint is written HOST:PORT, [IPV6]:PORT or unix:PATH)"
    );
    assert_eq!(
        resolve(&["@wbe"], Some(&inventory))
            .unwrap_err()
            .to_string(),
        "--host @wbe: hosts.yaml has no group \"wbe\"; did you mean \"web\"?"
    );
    assert_eq!(
        resolve(&["@web"], None).unwrap_err().to_string(),
        "--host @web: groups come from the inventory, and there is none (/nowhere/hosts.yaml does not exist; choose one with --inventory FILE)"
    );
    // Without an inventory a bare word is an endpoint on the default port, as it always was.
    assert_eq!(names(&resolve(&["web3"], None).unwrap()), ["web3"]);
}

#[test]
fn a_host_token_from_an_unset_variable_is_refused() {
    let inventory = inventory(
        "hosts:\n  a: {endpoint: 'unix:/a', token_env: NSFLEET_TEST_SURELY_UNSET_TOKEN}\n",
    )
    .unwrap();
    assert_eq!(
        resolve(&["a"], Some(&inventory)).unwrap_err().to_string(),
        "hosts.yaml: host a: token_env NSFLEET_TEST_SURELY_UNSET_TOKEN is not set"
    );
}

#[test]
fn the_explicit_file_must_exist_and_the_default_may_not() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("hosts.yaml");
    let explicit = InventoryPath::choose(Some(&path)).unwrap();
    assert!(matches!(explicit.load(), Err(InventoryError::Read { .. })));
    let default = InventoryPath {
        path: path.clone(),
        explicit: false,
    };
    assert!(default.load().unwrap().is_none());
    std::fs::write(&path, PLAIN).unwrap();
    assert_eq!(
        default.load().unwrap().unwrap().host_names(),
        ["web1", "web2", "db1"]
    );
}

#[test]
fn the_readme_example_is_a_valid_inventory() {
    let readme = include_str!("../../../README.md");
    let block = readme
        .split_once("<!-- inventory-example -->\n```yaml\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(block, _)| block)
        .expect("the README has the inventory example");
    let inventory = inventory(block).unwrap();
    let everything: Vec<&str> = inventory
        .group("everything")
        .unwrap()
        .iter()
        .map(|host| host.name.as_str())
        .collect();
    assert_eq!(everything, ["web1", "web2", "lab1"]);
    let web2 = inventory.host("web2").unwrap();
    assert_eq!(
        web2.access.tls.as_ref().unwrap().ca,
        Path::new("/etc/nsfleet/ca.pem"),
        "from group web"
    );
    assert_eq!(
        web2.access.token,
        Some(TokenSource::Env("NSFLEET_WEB_TOKEN".into()))
    );
    assert_eq!(
        inventory.host("web1").unwrap().access.token,
        Some(TokenSource::File("/etc/nsfleet/web.token".into()))
    );
}
