//! The independent oracle: iproute2 (`ip -j`, `bridge -j`) and `ping`, run inside a simulated host with
//! `nsenter --target AGENT_PID --net --mount`. The mount namespace matters: it holds the host's private
//! `/run/netns`, which `ip -n NS` and `ip netns exec NS` resolve names in.
//!
//! Every `netns` parameter follows the API's convention: "" is the simulated host's own namespace.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::json::sorted_names;
use crate::process::{run_bounded, Finished};
use crate::sim_host::SimHost;

/// `ping -W 1` and iproute2 finish far sooner; the bound only catches a hang.
const ORACLE_LIMIT: Duration = Duration::from_secs(30);

/// The parts of a host's state a test compares before and after: links and named namespaces.
#[derive(Clone, Debug, PartialEq)]
pub struct HostSnapshot {
    /// `ip -j link show` of the host's own namespace.
    pub links: Value,
    /// `ip netns list`, names only.
    pub namespaces: Vec<String>,
}

impl SimHost {
    /// Runs `argv` inside the simulated host, in named namespace `netns` (through `ip netns exec`) or,
    /// for "", in the host's own namespace.
    pub fn run_in(&self, netns: &str, argv: &[&str]) -> Finished {
        let mut command = Command::new("nsenter");
        command
            .arg("--target")
            .arg(self.pid().to_string())
            .args(["--net", "--mount", "--"]);
        if !netns.is_empty() {
            command.args(["ip", "netns", "exec", netns]);
        }
        command.args(argv);
        run_bounded(&mut command, ORACLE_LIMIT)
    }

    /// [`SimHost::run_in`], panicking unless the command succeeds; returns its stdout.
    pub fn run_ok(&self, netns: &str, argv: &[&str]) -> String {
        let finished = self.run_in(netns, argv);
        assert!(
            finished.success(),
            "{}: oracle command failed: {finished}",
            self.label()
        );
        finished.stdout
    }

    /// `ip -j [-n NETNS] ARGS...` parsed; an empty answer is an empty array.
    pub fn ip_json(&self, netns: &str, args: &[&str]) -> Value {
        let mut argv = vec!["ip", "-j"];
        if !netns.is_empty() {
            argv.extend(["-n", netns]);
        }
        argv.extend(args);
        parse_json(self, &argv, &self.run_ok("", &argv))
    }

    /// `ip -j -d link show`: every link of the namespace with details (`linkinfo.info_kind`, ...).
    pub fn ip_links(&self, netns: &str) -> Vec<Value> {
        as_array(self.ip_json(netns, &["-d", "link", "show"]))
    }

    /// One link from [`SimHost::ip_links`], by name.
    pub fn ip_link(&self, netns: &str, name: &str) -> Option<Value> {
        self.ip_links(netns)
            .into_iter()
            .find(|link| link["ifname"] == name)
    }

    /// The names of [`SimHost::ip_links`], sorted.
    pub fn ip_link_names(&self, netns: &str) -> Vec<String> {
        sorted_names(&self.ip_links(netns), "ifname")
    }

    /// Names in `ip netns list`.
    pub fn ip_netns_list(&self) -> Vec<String> {
        as_array(self.ip_json("", &["netns", "list"]))
            .iter()
            .map(|ns| {
                ns["name"]
                    .as_str()
                    .expect("ip netns list: a name")
                    .to_string()
            })
            .collect()
    }

    /// `ip -j addr show`: one entry per link with its `addr_info`.
    pub fn ip_addresses(&self, netns: &str) -> Vec<Value> {
        as_array(self.ip_json(netns, &["addr", "show"]))
    }

    /// `ip -j route show` (the main table).
    pub fn ip_routes(&self, netns: &str) -> Vec<Value> {
        as_array(self.ip_json(netns, &["route", "show"]))
    }

    /// `ip -j neigh show`.
    pub fn ip_neighbours(&self, netns: &str) -> Vec<Value> {
        as_array(self.ip_json(netns, &["neigh", "show"]))
    }

    /// `bridge -j link show`: bridge ports with their master and STP state.
    pub fn bridge_links(&self, netns: &str) -> Vec<Value> {
        let mut argv = vec!["bridge", "-j"];
        if !netns.is_empty() {
            argv.extend(["-n", netns]);
        }
        argv.extend(["link", "show"]);
        as_array(parse_json(self, &argv, &self.run_ok("", &argv)))
    }

    /// One real `ping -c 1 -W 1` from namespace `netns`, optionally `-I interface`.
    pub fn ping(&self, netns: &str, target: &str, interface: Option<&str>) -> Finished {
        let mut argv = vec!["ping", "-n", "-c", "1", "-W", "1"];
        if let Some(interface) = interface {
            argv.extend(["-I", interface]);
        }
        argv.push(target);
        self.run_in(netns, &argv)
    }

    /// Inode of the namespace bound at /run/netns/NAME (what the API reports as `inode`).
    pub fn netns_inode(&self, name: &str) -> u64 {
        let path = format!("/run/netns/{name}");
        let out = self.run_ok("", &["stat", "-L", "-c", "%i", &path]);
        out.trim()
            .parse()
            .unwrap_or_else(|err| panic!("stat {path}: {err}: {out:?}"))
    }

    /// A file under /proc/sys read from inside `netns`, e.g. "net/ipv4/ip_forward".
    pub fn sysctl(&self, netns: &str, key: &str) -> String {
        self.run_ok(netns, &["cat", &format!("/proc/sys/{key}")])
            .trim()
            .to_string()
    }

    pub fn snapshot(&self) -> HostSnapshot {
        HostSnapshot {
            links: self.ip_json("", &["link", "show"]),
            namespaces: self.ip_netns_list(),
        }
    }
}

fn parse_json(host: &SimHost, argv: &[&str], stdout: &str) -> Value {
    if stdout.trim().is_empty() {
        return Value::Array(Vec::new());
    }
    serde_json::from_str(stdout).unwrap_or_else(|err| {
        panic!(
            "{}: `{}` printed no JSON ({err}): {stdout}",
            host.label(),
            argv.join(" ")
        )
    })
}

fn as_array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => panic!("expected a JSON array from the oracle, got {other}"),
    }
}
