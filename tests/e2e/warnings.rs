//! The ADDRESS_ON_BRIDGE_PORT warning outside the tutorial's sequence: when it is given, when it is
//! not, and how the text output prints it.

use nsfleet_tests::json::warning;
use nsfleet_tests::{CliRun, Lab, Nsfleet, SimHost};

fn bridge_with_port(host: &SimHost) {
    for line in [
        "link add veth1 type veth peer ceth1",
        "link add br0 type bridge",
        "link set veth1 master br0",
    ] {
        host.cli(line).result();
    }
}

fn warning_codes(run: &CliRun) -> Vec<String> {
    let warnings = run.result()["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no warnings array\n{run}"));
    warnings
        .iter()
        .filter_map(|w| w["code"].as_str().map(String::from))
        .collect()
}

#[test]
fn adding_an_address_to_a_bridge_port_warns_and_names_the_route() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    bridge_with_port(host);
    let added = host.cli("addr add 172.20.0.1/16 dev veth1");
    let warning = warning(added.result(), "ADDRESS_ON_BRIDGE_PORT")
        .unwrap_or_else(|| panic!("expected ADDRESS_ON_BRIDGE_PORT\n{added}"));
    let message = warning["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("172.20.0.0/16") && message.contains("veth1"),
        "{warning:#}"
    );
    let addresses = host.ip_addresses("");
    let veth1 = addresses
        .iter()
        .find(|l| l["ifname"] == "veth1")
        .expect("veth1");
    assert!(
        veth1["addr_info"].to_string().contains("172.20.0.1"),
        "the address is added anyway: {veth1:#}"
    );
}

#[test]
fn enslaving_a_link_without_addresses_does_not_warn() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("link add veth1 type veth peer ceth1").result();
    host.cli("link add br0 type bridge").result();
    let enslaved = host.cli("link set veth1 master br0");
    assert_eq!(warning_codes(&enslaved), Vec::<String>::new(), "{enslaved}");
    let on_bridge = host.cli("addr add 172.20.0.10/16 brd + dev br0");
    assert_eq!(
        warning_codes(&on_bridge),
        Vec::<String>::new(),
        "an address on the bridge itself is right\n{on_bridge}"
    );
}

#[test]
fn text_output_prints_the_warning_and_its_fix_on_stderr() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("link add veth1 type veth peer ceth1").result();
    host.cli("link add br0 type bridge").result();
    host.cli("addr add 172.20.0.1/16 dev veth1").result();
    let run = Nsfleet::on(host)
        .text()
        .line("link set veth1 master br0")
        .run();
    assert_eq!(
        run.exit_code(),
        Some(0),
        "a warning is not a failure\n{run}"
    );
    let prefix = format!("warning: {}: ", host.endpoint());
    assert!(
        run.stderr()
            .lines()
            .any(|line| line.starts_with(&prefix) && line.contains("(fix: ")),
        "stderr should have `{prefix}... (fix: ...)`\n{run}"
    );
}
