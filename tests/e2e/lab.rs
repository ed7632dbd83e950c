//! The harness itself: simulated hosts are isolated from the machine and from each other, and leave
//! nothing behind when dropped, also when the test panics. Builds its topology with the oracle's `ip`
//! only, so it checks the lab independently of what the agent implements.

use std::path::{Path, PathBuf};
use std::process::Command;

use nsfleet_tests::{poll_until, Lab, SimHost};

/// What the machine's root namespace looks like, read-only.
#[derive(Debug, PartialEq)]
struct MachineState {
    brief_links: String,
    netns_list: String,
    has_run_netns: bool,
}

fn machine_state() -> MachineState {
    let read = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().expect("running ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    MachineState {
        brief_links: read(&["-br", "link"]),
        netns_list: read(&["netns", "list"]),
        has_run_netns: Path::new("/run/netns").exists(),
    }
}

/// Inode of a process's network namespace, as seen from the machine.
fn net_namespace_inode(pid: u32) -> u64 {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("reading /proc/PID/ns/net");
    parse_ns_link(&link).expect("a net:[INODE] link")
}

fn parse_ns_link(link: &Path) -> Option<u64> {
    let text = link.to_str()?;
    text.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Pids of every process on the machine whose network namespace is `inode`.
fn processes_in_net_namespace(inode: u64) -> Vec<u32> {
    let entries = std::fs::read_dir("/proc").expect("listing /proc");
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/net"))
                .ok()
                .and_then(|l| parse_ns_link(&l))
                == Some(inode)
        })
        .collect()
}

/// The tutorial's shape made with plain `ip` inside the simulated host.
fn build_with_ip(host: &SimHost) {
    for argv in [
        "ip netns add labns1",
        "ip netns add labns2",
        "ip link add lveth1 type veth peer name lceth1 netns labns1",
        "ip link add lveth2 type veth peer name lceth2",
        "ip link set lceth2 netns labns2",
        "ip link add lbr0 type bridge",
        "ip link set lveth1 master lbr0",
        "ip link set lveth2 master lbr0",
        "ip link set lbr0 up",
        "ip link set lveth1 up",
        "ip -n labns1 link set lceth1 up",
    ] {
        host.run_ok("", &argv.split_whitespace().collect::<Vec<_>>());
    }
}

/// Everything that must be gone once a host is dropped.
struct Traces {
    agent_pid: u32,
    net_namespaces: Vec<u64>,
    dir: PathBuf,
}

fn traces(host: &SimHost) -> Traces {
    let mut net_namespaces = vec![net_namespace_inode(host.pid())];
    for name in host.ip_netns_list() {
        net_namespaces.push(host.netns_inode(&name));
    }
    Traces {
        agent_pid: host.pid(),
        net_namespaces,
        dir: host.dir().to_path_buf(),
    }
}

fn assert_gone(traces: &Traces) {
    let pid = traces.agent_pid;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("nsfleet-agent"),
        "agent pid {pid} still runs after the lab was dropped"
    );
    for inode in &traces.net_namespaces {
        let holders = processes_in_net_namespace(*inode);
        assert!(
            holders.is_empty(),
            "net namespace {inode} still held by processes {holders:?}"
        );
    }
    assert!(!traces.dir.exists(), "{} not removed", traces.dir.display());
}

#[test]
fn dropping_a_lab_leaves_the_machine_as_it_was() {
    let before = machine_state();
    let lab = Lab::start(2);
    for host in lab.hosts() {
        build_with_ip(host);
    }
    let bridge_ports = lab.host(0).bridge_links("");
    assert_eq!(
        bridge_ports.len(),
        2,
        "lbr0 should have two ports: {bridge_ports:#?}"
    );
    let all_traces: Vec<Traces> = lab.hosts().into_iter().map(traces).collect();
    assert_eq!(
        machine_state(),
        before,
        "building inside the lab changed the machine's root namespace"
    );

    drop(lab);

    for traces in &all_traces {
        assert_gone(traces);
    }
    assert_eq!(
        machine_state(),
        before,
        "the machine's root namespace differs after the lab was dropped"
    );
}

#[test]
fn a_panicking_test_still_tears_its_lab_down() {
    let mut recorded = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::start(1);
        build_with_ip(lab.host(0));
        recorded = Some(traces(lab.host(0)));
        panic!("a failing test");
    }));
    assert!(outcome.is_err());
    assert_gone(&recorded.expect("the lab started"));
}

#[test]
fn a_simulated_host_starts_empty_with_loopback_up() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let links = host.ip_links("");
    let names: Vec<&str> = links.iter().filter_map(|l| l["ifname"].as_str()).collect();
    assert_eq!(
        names,
        ["lo"],
        "a fresh simulated host has only lo: {links:#?}"
    );
    let flags = &links[0]["flags"];
    assert!(
        flags.as_array().is_some_and(|f| f.contains(&"UP".into())),
        "lo should be up: {links:#?}"
    );
    assert_eq!(
        host.ip_netns_list(),
        Vec::<String>::new(),
        "a fresh simulated host has no named namespace"
    );
    assert_ne!(
        net_namespace_inode(host.pid()),
        net_namespace_inode(std::process::id()),
        "the agent must not run in the machine's network namespace"
    );
}

#[test]
fn simulated_hosts_do_not_see_each_others_namespaces() {
    let lab = Lab::start(2);
    lab.host(0)
        .run_ok("", &["ip", "netns", "add", "only-on-host1"]);
    lab.host(0)
        .run_ok("", &["ip", "link", "add", "br-host1", "type", "bridge"]);
    assert_eq!(lab.host(0).ip_netns_list(), ["only-on-host1"]);
    assert_eq!(
        lab.host(1).ip_netns_list(),
        Vec::<String>::new(),
        "host2 sees host1's /run/netns"
    );
    assert!(
        lab.host(1).ip_link("", "br-host1").is_none(),
        "host2 sees host1's bridge"
    );
    assert_ne!(
        net_namespace_inode(lab.host(0).pid()),
        net_namespace_inode(lab.host(1).pid())
    );
}

#[test]
fn oracle_commands_run_inside_named_namespaces() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.run_ok("", &["ip", "netns", "add", "inner"]);
    host.run_ok("", &["ip", "-n", "inner", "link", "set", "lo", "up"]);
    // Bounded: a just-raised loopback answers at once, but the oracle must not race it.
    poll_until(
        "ping over inner's loopback",
        std::time::Duration::from_secs(10),
        || {
            let ping = host.ping("inner", "127.0.0.1", None);
            if ping.success() {
                Ok(())
            } else {
                Err(ping.to_string())
            }
        },
    );
    let inner_links = host.ip_links("inner");
    assert_eq!(
        inner_links.len(),
        1,
        "a new namespace has only lo: {inner_links:#?}"
    );
}
