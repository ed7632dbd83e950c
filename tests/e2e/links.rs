//! `nsfleet link`: idempotent creates and sets, conflicts, bad names, missing links, and creates that
//! fail half-way leaving nothing behind. Every outcome is checked with `ip` inside the simulated host.

use nsfleet_tests::json::{changed, has_flag, ip_kind};
use nsfleet_tests::{CliRun, Lab, Nsfleet};

fn assert_changed(run: &CliRun, expected: bool) {
    assert_eq!(
        changed(run.result()),
        expected,
        "expected \"changed\": {expected}\n{run}"
    );
}

#[test]
fn creating_the_same_links_again_is_unchanged() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("netns add netns2").result();
    for line in [
        "link add veth1 type veth peer ceth1",
        "link add veth2 type veth peer ceth2 netns netns2",
        "link add br0 type bridge",
    ] {
        assert_changed(&host.cli(line), true);
        assert_changed(&host.cli(line), false);
    }
    assert_eq!(
        host.ip_link_names(""),
        ["br0", "ceth1", "lo", "veth1", "veth2"]
    );
    assert_eq!(host.ip_link_names("netns2"), ["ceth2", "lo"]);
}

#[test]
fn setting_the_same_state_again_is_unchanged() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("link add veth1 type veth peer ceth1").result();
    host.cli("link add br0 type bridge").result();
    for line in [
        "link set veth1 up",
        "link set veth1 master br0",
        "link set veth1 mtu 1400",
        "link set veth1 down",
    ] {
        assert_changed(&host.cli(line), true);
        assert_changed(&host.cli(line), false);
    }
    let veth1 = host.ip_link("", "veth1").expect("veth1");
    assert!(
        !has_flag(&veth1, "UP") && veth1["master"] == "br0" && veth1["mtu"] == 1400,
        "ip: {veth1:#}"
    );
}

#[test]
fn new_links_start_down_as_with_ip_link_add() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("link add veth1 type veth peer ceth1").result();
    host.cli("link add br0 type bridge").result();
    for name in ["veth1", "ceth1", "br0"] {
        let link = host.ip_link("", name).expect(name);
        assert!(
            !has_flag(&link, "UP"),
            "{name} should be down until `link set {name} up`: {link:#}"
        );
    }
    assert_changed(&host.cli("link set br0 up"), true);
}

#[test]
fn link_set_changes_what_ip_shows() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("netns add netns1").result();
    host.cli("link add veth1 type veth peer ceth1").result();
    host.cli("link add br0 type bridge").result();

    for line in [
        "link set veth1 address 02:00:00:00:00:01",
        "link set veth1 mtu 1280",
        "link set veth1 up",
    ] {
        assert_changed(&host.cli(line), true);
    }
    let veth1 = host.ip_link("", "veth1").expect("veth1");
    assert_eq!(veth1["address"], "02:00:00:00:00:01", "ip: {veth1:#}");
    assert_eq!(veth1["mtu"], 1280, "ip: {veth1:#}");
    assert!(has_flag(&veth1, "UP"), "ip: {veth1:#}");

    host.cli("link set veth1 master br0").result();
    assert_eq!(host.ip_link("", "veth1").expect("veth1")["master"], "br0");
    host.cli("link set veth1 nomaster").result();
    let veth1 = host.ip_link("", "veth1").expect("veth1");
    assert!(veth1.get("master").is_none(), "nomaster left {veth1:#}");
    host.cli("link set veth1 down").result();
    assert!(!has_flag(&host.ip_link("", "veth1").expect("veth1"), "UP"));

    let moved = host.cli("link set ceth1 netns netns1");
    assert_eq!(
        moved.result()["link"]["namespace"],
        "netns1",
        "the response shows the moved link\n{moved}"
    );
    assert_eq!(host.ip_link_names(""), ["br0", "lo", "veth1"]);
    assert_eq!(host.ip_link_names("netns1"), ["ceth1", "lo"]);
}

/// A bridge whose address followed its lowest port would change it when that port leaves, and the
/// namespaces still on it would keep sending to the old one until their ARP entries expire.
#[test]
fn a_bridge_keeps_its_address_as_ports_come_and_go() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("link add br0 type bridge").result();
    let address = |name: &str| host.ip_link("", name).expect(name)["address"].clone();
    let created = address("br0");
    host.cli("link add veth1 type veth peer ceth1").result();
    // The lowest unicast address of the documentation range (RFC 7042): below any random local one.
    host.cli("link set veth1 address 00:00:5e:00:53:01 master br0 up")
        .result();
    assert_eq!(address("br0"), created, "after veth1 joined br0");
    host.cli("link del veth1").result();
    assert_eq!(address("br0"), created, "after veth1 left br0");
}

#[test]
fn one_link_set_applies_several_changes_like_ip() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("link add veth1 type veth peer ceth1").result();
    let set = host.cli("link set veth1 address 02:00:00:00:00:02 mtu 1300 up");
    assert_changed(&set, true);
    let veth1 = host.ip_link("", "veth1").expect("veth1");
    assert!(
        veth1["address"] == "02:00:00:00:00:02" && veth1["mtu"] == 1300 && has_flag(&veth1, "UP"),
        "ip: {veth1:#}\n{set}"
    );
}

#[test]
fn deleting_one_end_of_a_veth_deletes_both() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("netns add netns2").result();
    host.cli("link add veth2 type veth peer ceth2 netns netns2")
        .result();
    assert_changed(&host.cli("-n netns2 link del ceth2"), true);
    assert_eq!(host.ip_link_names(""), ["lo"]);
    assert_eq!(host.ip_link_names("netns2"), ["lo"]);
}

#[test]
fn a_conflicting_link_of_the_same_name_already_exists() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("netns add netns1").result();
    host.cli("link add veth1 type veth peer ceth1").result();
    host.cli("link add br0 type bridge").result();
    // Without -d: a bridge's details include running timers.
    let before = host.ip_json("", &["link", "show"]);
    for line in [
        "link add veth1 type bridge",
        "link add br0 type veth peer cbr0",
        // Same name and kind, but another peer (name or namespace): not the same object.
        "link add veth1 type veth peer other1",
        "link add veth1 type veth peer ceth1 netns netns1",
    ] {
        host.cli(line).error("ALREADY_EXISTS");
    }
    let after = host.ip_json("", &["link", "show"]);
    assert_eq!(after, before, "a refused create changed the host");
    assert_eq!(host.ip_link_names("netns1"), ["lo"]);
    assert_eq!(ip_kind(&host.ip_link("", "veth1").expect("veth1")), "veth");
}

#[test]
fn a_veth_whose_peer_name_is_taken_leaves_no_half_pair() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("netns add netns1").result();
    host.cli("link add taken type bridge").result();
    host.cli("-n netns1 link add busy type bridge").result();

    host.cli("link add fresh1 type veth peer taken")
        .error("ALREADY_EXISTS");
    host.cli("link add fresh2 type veth peer busy netns netns1")
        .error("ALREADY_EXISTS");

    assert_eq!(
        host.ip_link_names(""),
        ["lo", "taken"],
        "no fresh1/fresh2 may remain"
    );
    assert_eq!(host.ip_link_names("netns1"), ["busy", "lo"]);
}

#[test]
fn malformed_link_names_are_invalid_arguments_naming_the_field() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let sixteen = "abcdefghijklmnop";
    // Too long for a new link: the CLI says so itself (exit 2); the agent still checks names it is sent.
    for words in [
        &["link", "add", sixteen, "type", "bridge"][..],
        &["link", "add", "ok0", "type", "veth", "peer", sixteen],
    ] {
        let run = Nsfleet::on(host).args(words).run();
        assert_eq!(run.exit_code(), Some(2), "{run}");
        assert!(run.stderr().contains("at most 15"), "{run}");
    }
    assert_names_field(
        &Nsfleet::on(host).args(["link", "set", sixteen, "up"]).run(),
        "name",
    );
    for bad in ["a/b", "a b", "tab\there", "", ".", ".."] {
        let as_name = Nsfleet::on(host)
            .args(["link", "add", bad, "type", "bridge"])
            .run();
        assert_names_field(&as_name, "name");
        let as_peer = Nsfleet::on(host)
            .args(["link", "add", "ok0", "type", "veth", "peer", bad])
            .run();
        assert_names_field(&as_peer, "peer");
        let on_set = Nsfleet::on(host).args(["link", "set", bad, "up"]).run();
        assert_names_field(&on_set, "name");
    }
    assert_eq!(host.ip_link_names(""), ["lo"], "nothing may be created");
}

fn assert_names_field(run: &CliRun, field: &str) {
    let error = run.error("INVALID_ARGUMENT");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(field),
        "the message should name the field {field:?}\n{run}"
    );
}

#[test]
fn a_link_name_of_15_bytes_is_accepted() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("link add abcdefghijklmno type veth peer pqrstuvwxyzabcd")
        .result();
    assert_eq!(
        host.ip_link_names(""),
        ["abcdefghijklmno", "lo", "pqrstuvwxyzabcd"]
    );
}

#[test]
fn a_missing_link_is_not_found() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("link add veth1 type veth peer ceth1").result();
    for line in [
        "link del nosuch",
        "link set nosuch up",
        "link show nosuch",
        "link set veth1 master nosuch",
        "-n netns-missing-too link show veth1",
    ] {
        host.cli(line).error("NOT_FOUND");
    }
    assert!(host
        .ip_link("", "veth1")
        .expect("veth1")
        .get("master")
        .is_none());
}

/// The kernel hands a destroyed namespace's inode number to the next namespace created, while the nsid
/// the host gives it depends on which other namespaces hold one. `other` takes the nsid the old `x` had,
/// so the new `x` has the old inode but a new nsid: an identity by inode then names it wrongly.
#[test]
fn a_veth_into_a_namespace_that_reuses_a_deleted_ones_inode_is_still_recognised() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let mut previous_inode = None;
    let mut reuses = 0;
    for cycle in 0..20 {
        host.cli("netns add x").result();
        let inode = host.netns_inode("x");
        if previous_inode == Some(inode) {
            reuses += 1;
        }
        if cycle % 2 == 1 {
            host.cli("netns add other").result();
            host.cli("link add v-other type veth peer p-other netns other")
                .result();
        }
        host.cli("link add v-x type veth peer p-x netns x").result();
        assert_changed(&host.cli("link add v-x type veth peer p-x netns x"), false);
        let shown = host.cli("link show v-x");
        let peer = &shown.result()["links"][0]["peer"];
        assert_eq!(
            (&peer["namespace"], &peer["known"]),
            (&serde_json::json!("x"), &serde_json::json!(true)),
            "cycle {cycle}: v-x's peer\n{shown}"
        );
        host.cli("netns del x").result();
        host.cli("netns del other --ignore-missing").result();
        // The next cycle starts once the kernel has destroyed the namespaces (and with them the veths),
        // so their inode numbers are free again.
        nsfleet_tests::poll_until(
            "the deleted namespaces' veths to go",
            std::time::Duration::from_secs(5),
            || match host.ip_link_names("").as_slice() {
                [lo] if lo == "lo" => Ok(()),
                left => Err(format!("{left:?}")),
            },
        );
        previous_inode = Some(inode);
    }
    assert!(
        reuses > 0,
        "no cycle reused the previous x's inode: the test proved nothing"
    );
}
