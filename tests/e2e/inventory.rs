//! The host inventory through the real binary: `--host @lab` reaches every host of the group (checked
//! with `ip netns list` inside each), `nsfleet hosts` tells reachable agents (with their version) from
//! an unreachable entry, a topology host without an endpoint is found by name in the inventory, and a
//! bad inventory or `--host` stops with a precise message before any host is contacted.

use std::path::{Path, PathBuf};

use nsfleet_tests::{Lab, Nsfleet};
use serde_json::Value;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the file");
    path
}

/// lab1 and lab2 are the lab's hosts, `gone` a socket nobody serves; group `lab` holds the two agents.
fn lab_inventory(lab: &Lab, dir: &Path) -> PathBuf {
    let gone = dir.join("gone.sock");
    write(
        dir,
        "hosts.yaml",
        &format!(
            "hosts:\n  lab1:\n    endpoint: {}\n  lab2:\n    endpoint: {}\n  gone:\n    endpoint: unix:{}\n\
             groups:\n  lab:\n    members: [lab1, lab2]\n  everything:\n    members: [lab, gone]\n",
            lab.host(0).endpoint(),
            lab.host(1).endpoint(),
            gone.display()
        ),
    )
}

fn with_inventory(inventory: &Path) -> Nsfleet {
    Nsfleet::new().args(["--inventory", &inventory.display().to_string()])
}

#[test]
fn a_group_reaches_each_of_its_hosts() {
    let lab = Lab::start(2);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let inventory = lab_inventory(&lab, dir.path());
    let run = with_inventory(&inventory)
        .line("--host @lab netns add x")
        .run();
    assert_eq!(run.exit_code(), Some(0), "{run}");
    let hosts: Vec<&Value> = run.lines.iter().map(|line| &line["host"]).collect();
    assert_eq!(hosts, ["lab1", "lab2"], "{run}");
    for host in lab.hosts() {
        assert!(
            host.ip_netns_list().contains(&"x".to_string()),
            "{}: no namespace x after --host @lab netns add x",
            host.label()
        );
    }
    // One host by name: only that one.
    let run = with_inventory(&inventory)
        .line("--host lab2 netns add y")
        .run();
    assert_eq!(run.exit_code(), Some(0), "{run}");
    assert!(lab.host(1).ip_netns_list().contains(&"y".to_string()));
    assert!(!lab.host(0).ip_netns_list().contains(&"y".to_string()));
}

#[test]
fn hosts_lists_reachability_and_the_agents_version() {
    let lab = Lab::start(2);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let inventory = lab_inventory(&lab, dir.path());
    let run = with_inventory(&inventory).line("hosts").run();
    assert_eq!(
        run.exit_code(),
        Some(1),
        "an unreachable host fails the listing\n{run}"
    );
    let by_host: Vec<(&str, bool)> = run
        .lines
        .iter()
        .map(|line| {
            (
                line["host"].as_str().unwrap_or_default(),
                line["reachable"] == Value::Bool(true),
            )
        })
        .collect();
    assert_eq!(
        by_host,
        [("lab1", true), ("lab2", true), ("gone", false)],
        "{run}"
    );
    for line in &run.lines[..2] {
        assert_eq!(
            line["version"],
            Value::from(env!("CARGO_PKG_VERSION")),
            "{run}"
        );
        assert!(line["uptime_seconds"].as_u64().is_some(), "{run}");
    }
    assert_eq!(
        run.lines[2]["error"]["code"],
        Value::from("UNAVAILABLE"),
        "{run}"
    );

    let text = with_inventory(&inventory)
        .line("hosts --host @lab")
        .text()
        .run();
    assert_eq!(text.exit_code(), Some(0), "{text}");
    let lines: Vec<&str> = text.stdout().lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (line, name) in lines.iter().zip(["lab1", "lab2"]) {
        let expected = format!(
            "{name}: reachable, nsfleet-agent {} (",
            env!("CARGO_PKG_VERSION")
        );
        assert!(line.starts_with(&expected), "{line:?}\n{text}");
    }
    let gone = with_inventory(&inventory)
        .line("hosts --host gone")
        .text()
        .run();
    assert_eq!(gone.exit_code(), Some(1), "{gone}");
    assert!(
        gone.stdout()
            .starts_with("gone: unreachable: cannot connect to gone: "),
        "{gone}"
    );
}

/// Which agent each file host reached: a plan from lab1's agent proves lab1 was found through the
/// inventory, and `gone` failing to connect proves its inventory endpoint was used.
#[test]
fn a_topology_host_without_endpoint_is_found_in_the_inventory() {
    let lab = Lab::start(2);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let inventory = lab_inventory(&lab, dir.path());
    let topology = write(
        dir.path(),
        "t.yaml",
        "name: inv\nhosts:\n  lab1:\n    namespaces:\n      blue: {}\n  gone:\n    namespaces:\n      green: {}\n",
    );
    let run = with_inventory(&inventory)
        .args(["plan", &topology.display().to_string()])
        .run();
    let by_host: Vec<(&str, &str)> = run
        .lines
        .iter()
        .map(|line| {
            let code = line["error"]["code"].as_str().unwrap_or("OK");
            (line["host"].as_str().unwrap_or_default(), code)
        })
        .collect();
    assert_eq!(by_host.len(), 2, "{run}");
    assert_eq!(by_host[0].0, "lab1", "{run}");
    assert_eq!(by_host[0].1, "OK", "lab1's agent did not plan\n{run}");
    assert_eq!(by_host[1], ("gone", "UNAVAILABLE"), "{run}");
    assert!(
        run.lines[1]["error"]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("cannot connect to gone: No such file")),
        "{run}"
    );
    // Without the inventory the file names no agent for either host.
    let run = Nsfleet::new()
        .args(["plan", &topology.display().to_string()])
        .text()
        .run();
    assert_eq!(run.exit_code(), Some(1), "{run}");
    assert!(
        run.stderr().contains("no endpoint for hosts lab1, gone"),
        "{run}"
    );
}

/// Each bad inventory or `--host` exits with status 2 and this one message, before any host is called
/// (the endpoints are sockets nobody serves: a contacted host would say so instead).
#[test]
fn bad_inventories_and_unknown_names_stop_before_any_host() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cases: &[(&str, &str, &str)] = &[
        (
            "hosts:\n  a:\n    endpoint: unix:/nowhere/a.sock\n    tls_ca: ca.pem\n",
            "--host a netns",
            "4:5: unknown key \"tls_ca\"; did you mean \"tls\"?",
        ),
        (
            "hosts:\n  a: {endpoint: 'unix:/nowhere/a.sock'}\ngroups:\n  g:\n    members: [a, g]\n",
            "--host @g netns",
            "5:18: group g names itself",
        ),
        (
            "hosts:\n  a: {endpoint: 'unix:/nowhere/a.sock'}\ngroups:\n  g1: {members: [a, g2]}\n  g2: {members: [g1]}\n",
            "--host a netns",
            "5:18: groups form a cycle: g1 -> g2 -> g1",
        ),
        (
            "hosts:\n  a: {endpoint: '192.0.2.1:1'}\ngroups:\n  east: {members: [a], tls: {ca: east.pem}}\n  west: {members: [a], tls: {ca: west.pem}}\n",
            "--host a netns",
            "2:3: host a is in groups east (line 4) and west (line 5), whose tls settings differ: set tls on the host to choose",
        ),
    ];
    for (index, (text, line, expected)) in cases.iter().enumerate() {
        let file = write(dir.path(), &format!("bad{index}.yaml"), text);
        let run = with_inventory(&file).line(line).text().run();
        assert_eq!(run.exit_code(), Some(2), "{run}");
        assert_eq!(
            run.stderr(),
            format!("nsfleet: {}:{expected}\n", file.display()),
            "{run}"
        );
    }
    let good = write(
        dir.path(),
        "good.yaml",
        "hosts:\n  web1: {endpoint: 'unix:/nowhere/a.sock'}\ngroups:\n  web: {members: [web1]}\n",
    );
    let unknown: &[(&str, String)] = &[
        ("--host web2 netns", format!("nsfleet: --host web2: {} has no host \"web2\"; did you mean \"web1\"? (an endpoint is written HOST:PORT, [IPV6]:PORT or unix:PATH)\n", good.display())),
        ("--host @wbe netns", format!("nsfleet: --host @wbe: {} has no group \"wbe\"; did you mean \"web\"?\n", good.display())),
    ];
    for (line, expected) in unknown {
        let run = with_inventory(&good).line(line).text().run();
        assert_eq!(run.exit_code(), Some(2), "{run}");
        assert_eq!(run.stderr(), expected, "{run}");
    }
    let missing = dir.path().join("absent.yaml");
    let run = with_inventory(&missing)
        .line("--host @web netns")
        .text()
        .run();
    assert_eq!(run.exit_code(), Some(2), "{run}");
    assert!(
        run.stderr()
            .starts_with(&format!("nsfleet: inventory {}: ", missing.display())),
        "{run}"
    );
}
