//! `nsfleet netns`: interplay with iproute2 (both directions), idempotency, bad names, missing names.

use nsfleet_tests::json::{changed, find_by, sorted_names};
use nsfleet_tests::{Lab, Nsfleet, SimHost};
use serde_json::Value;

#[test]
fn namespaces_made_by_ip_netns_add_appear_in_nsfleet_netns_list() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.run_ok("", &["ip", "netns", "add", "made-by-ip"]);
    let inode = host.netns_inode("made-by-ip");

    let listed = host.cli("netns list");
    let namespace = find_by(&listed.result()["namespaces"], "name", "made-by-ip")
        .unwrap_or_else(|| panic!("made-by-ip missing from nsfleet's list\n{listed}"));
    assert_eq!(
        namespace["inode"], inode,
        "inode differs from stat /run/netns/made-by-ip\n{listed}"
    );

    // And nsfleet can work inside it.
    host.cli("-n made-by-ip link add br-ip type bridge")
        .result();
    let inside = host.ip_links("made-by-ip");
    assert_eq!(
        sorted_names(&inside, "ifname"),
        ["br-ip", "lo"],
        "ip -n made-by-ip link: {inside:#?}"
    );
}

#[test]
fn namespaces_made_by_nsfleet_work_with_ip_netns_exec() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let created = host.cli("netns add made-by-nsfleet");
    let result = created.result();
    assert!(changed(result), "a new namespace is a change\n{created}");
    assert_eq!(result["namespace"]["name"], "made-by-nsfleet", "{created}");
    assert_eq!(
        result["namespace"]["inode"],
        host.netns_inode("made-by-nsfleet"),
        "{created}"
    );

    assert_eq!(host.ip_netns_list(), ["made-by-nsfleet"]);
    let links = host.run_ok("made-by-nsfleet", &["ip", "-j", "link", "show"]);
    let links: Value = serde_json::from_str(&links).expect("ip -j link");
    assert_eq!(
        sorted_names(links.as_array().expect("array"), "ifname"),
        ["lo"],
        "{links:#}"
    );
    // A different namespace from the simulated host's own.
    let own = host.run_ok("", &["readlink", "/proc/self/ns/net"]);
    let inside = host.run_ok("made-by-nsfleet", &["readlink", "/proc/self/ns/net"]);
    assert_ne!(
        own, inside,
        "ip netns exec made-by-nsfleet ran in the host's own namespace"
    );
}

#[test]
fn netns_list_is_sorted_by_name() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    for name in ["ns-c", "ns-a"] {
        host.cli(&format!("netns add {name}")).result();
    }
    host.run_ok("", &["ip", "netns", "add", "ns-b"]);
    let listed = host.cli("netns list");
    let names: Vec<&str> = listed.result()["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .filter_map(|ns| ns["name"].as_str())
        .collect();
    assert_eq!(names, ["ns-a", "ns-b", "ns-c"], "{listed}");
}

#[test]
fn creating_an_existing_namespace_is_unchanged() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let first = host.cli("netns add netns1");
    assert!(changed(first.result()), "{first}");
    let second = host.cli("netns add netns1");
    assert!(
        !changed(second.result()),
        "re-creating netns1 must report changed: false\n{second}"
    );
    assert_eq!(
        second.result()["namespace"]["inode"],
        first.result()["namespace"]["inode"],
        "{second}"
    );
    assert_eq!(host.ip_netns_list(), ["netns1"]);
}

#[test]
fn deleting_a_namespace_removes_it_and_a_second_delete_is_not_found() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("netns add netns1").result();
    let deleted = host.cli("netns del netns1");
    assert!(changed(deleted.result()), "{deleted}");
    assert_eq!(
        host.ip_netns_list(),
        Vec::<String>::new(),
        "ip netns list after delete"
    );
    host.cli("netns del netns1").error("NOT_FOUND");
}

#[test]
fn malformed_namespace_names_are_invalid_arguments_naming_the_field() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let too_long = "n".repeat(256);
    for name in ["a/b", "..", ".", "", too_long.as_str()] {
        let run = Nsfleet::on(host).args(["netns", "add", name]).run();
        let error = run.error("INVALID_ARGUMENT");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("name")),
            "the message names the field\n{run}"
        );
    }
    // ".." on delete would be /run/netns/.. = /run itself.
    Nsfleet::on(host)
        .args(["netns", "del", ".."])
        .run()
        .error("INVALID_ARGUMENT");
    assert_eq!(
        host.ip_netns_list(),
        Vec::<String>::new(),
        "nothing created"
    );
    assert!(
        host.run_in("", &["test", "-d", "/run/netns"]).success(),
        "/run/netns survived"
    );
}

#[test]
fn a_namespace_name_of_255_bytes_is_accepted() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let longest = "n".repeat(255);
    Nsfleet::on(host)
        .args(["netns", "add", &longest])
        .run()
        .result();
    assert_eq!(host.ip_netns_list(), [longest.as_str()]);
    Nsfleet::on(host)
        .args(["netns", "del", &longest])
        .run()
        .result();
    assert_eq!(host.ip_netns_list(), Vec::<String>::new());
}

#[test]
fn a_missing_namespace_is_not_found() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("link add veth1 type veth peer ceth1").result();
    let before = host.ip_links("");
    for line in [
        "netns del nosuch",
        "-n nosuch link list",
        "-n nosuch link add br0 type bridge",
        "link set veth1 netns nosuch",
        "link add veth9 type veth peer ceth9 netns nosuch",
    ] {
        host.cli(line).error("NOT_FOUND");
    }
    let after = host.ip_links("");
    assert_eq!(
        sorted_names(&after, "ifname"),
        sorted_names(&before, "ifname"),
        "a failed request must leave no link behind: {after:#?}"
    );
}

#[test]
fn concurrent_creates_of_one_name_all_succeed_and_exactly_one_changes() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let runs: Vec<nsfleet_tests::CliRun> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..12)
            .map(|_| scope.spawn(|| host.cli("netns add raced")))
            .collect();
        callers
            .into_iter()
            .map(|caller| caller.join().expect("a caller thread"))
            .collect()
    });
    let changed_count = runs.iter().filter(|run| changed(run.result())).count();
    assert_eq!(
        changed_count, 1,
        "exactly one of the concurrent creates made the namespace"
    );
    assert_eq!(host.ip_netns_list(), ["raced"]);
}

/// Sets nsfleet's creator mark, as the agent does on the mount points it makes, on an empty file under
/// the simulated host's /run/netns: what an agent killed before its bind mount leaves.
fn leave_marked_mount_point(host: &SimHost, name: &str) {
    let script = format!(
        "import os; p='/run/netns/{name}'; open(p, 'x').close(); os.setxattr(p, 'user.nsfleet.mount-point', b'nsfleet-agent')"
    );
    host.run_ok("", &["python3", "-c", &script]);
}

#[test]
fn an_empty_file_left_by_someone_else_is_refused_by_add_and_removed_by_del() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.run_ok("", &["touch", "/run/netns/stray"]);
    let refused = host.cli("netns add stray");
    let error = refused.error("FAILED_PRECONDITION");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("netns del")),
        "{refused}"
    );
    assert!(changed(host.cli("netns del stray").result()));
    assert!(changed(host.cli("netns add stray").result()));
    assert_eq!(host.ip_netns_list(), ["stray"]);
}

#[test]
fn a_mount_point_left_by_an_interrupted_nsfleet_create_is_reused_by_add() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    leave_marked_mount_point(host, "interrupted");
    assert!(changed(host.cli("netns add interrupted").result()));
    assert_eq!(host.ip_netns_list(), ["interrupted"]);
}

#[test]
fn an_agent_starting_clears_mount_points_its_interrupted_creates_left_and_nothing_else() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    leave_marked_mount_point(host, "interrupted");
    host.run_ok("", &["touch", "/run/netns/someone-elses"]);
    // A second agent in the same simulated host, as after a restart of the first.
    let agent = nsfleet_tests::binaries()
        .agent
        .to_str()
        .expect("a UTF-8 path")
        .to_string();
    let _restarted = host.spawn_in("", &[&agent, "--listen", "unix:/run/restarted.sock"]);
    nsfleet_tests::poll_until(
        "the restarted agent to clear its leftover",
        std::time::Duration::from_secs(20),
        || {
            let left = host.run_ok("", &["ls", "/run/netns"]);
            if left.split_whitespace().eq(["someone-elses"]) {
                Ok(())
            } else {
                Err(left)
            }
        },
    );
}

/// The agent's socket inside a namespace keeps it alive, so after `ip netns del` the kernel destroys it
/// (and the veth with an end on the host) only once the agent lets go, which it must do unasked.
#[test]
fn a_namespace_deleted_by_ip_netns_del_is_let_go_of_without_asking_the_agent() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.cli("netns add r1").result();
    host.cli("link add v-r1 type veth peer p-r1 netns r1")
        .result();
    // Something for the agent to have touched inside r1 after creating it.
    host.cli("-n r1 link set p-r1 up").result();
    host.run_ok("", &["ip", "netns", "del", "r1"]);
    nsfleet_tests::poll_until(
        "the host-side veth of the deleted namespace to go",
        std::time::Duration::from_secs(5),
        || match host.ip_link("", "v-r1") {
            None => Ok(()),
            Some(link) => Err(link.to_string()),
        },
    );
}
