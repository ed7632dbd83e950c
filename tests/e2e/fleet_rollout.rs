//! Issue #12's "done when", end to end on three simulated hosts: a staged rollout with a canary applies a
//! topology with a two-host VXLAN overlay, and its probes pass; an apply that cuts the overlay is left
//! unconfirmed and every host it changed rolls it back by itself, one of them after its agent was killed
//! and restarted while pending; `nsfleet graph` then draws every object the hosts hold.
//!
//! Hosts 1 and 2 are joined by a veth "wire" (192.0.2.0/24), the overlay's underlay; host 3 stands alone.
//! The kernel is checked with `ip -d -j link` and real pings inside the hosts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nsfleet_tests::{assert_reaches, poll_until, CliRun, Lab, Nsfleet, SimHost, Wire};
use serde_json::Value;

/// Long enough for a debug agent on a loaded machine to apply every stage before the deadline.
const DEADLINE: &str = "20s";

/// The topology; `host2_local` is host 2's overlay address, the one thing the breaking edit changes.
fn topology(host2_local: &str, with_probes: bool) -> String {
    let probes = if with_probes {
        "probes:
  - {host: host1, namespace: left, ping: 172.20.7.2}
  - {host: host2, namespace: right, ping: 172.20.7.1}
  - {agent: host3}
"
    } else {
        ""
    };
    format!(
        "name: fleet
hosts:
  host1:
    bridges: {{br0: {{}}}}
    namespaces:
      left:
        veths:
          c1:
            peer: {{name: v1, bridge: br0}}
            addresses: [172.20.7.1/24]
  host2:
    bridges: {{br0: {{}}}}
    namespaces:
      right:
        veths:
          c2:
            peer: {{name: v2, bridge: br0}}
            addresses: [172.20.7.2/24]
  host3:
    namespaces:
      solo:
        veths:
          c3:
            peer: {{name: v3, addresses: [198.51.100.1/24]}}
            addresses: [198.51.100.2/24]
overlays:
  ov0:
    vni: 42
    link: vx42
    members:
      host1: {{bridge: br0, underlay: wire0, local: 192.0.2.1}}
      host2: {{bridge: br0, underlay: wire0, local: {host2_local}}}
{probes}"
    )
}

fn endpoints(hosts: &[&SimHost]) -> Vec<String> {
    hosts
        .iter()
        .flat_map(|host| {
            [
                "--endpoint".to_string(),
                format!("{}={}", host.label(), host.endpoint()),
            ]
        })
        .collect()
}

/// `nsfleet -o json WORDS FILE --endpoint ...`.
fn run(words: &[&str], file: &Path, hosts: &[&SimHost]) -> CliRun {
    command(words, file, hosts).run()
}

fn command(words: &[&str], file: &Path, hosts: &[&SimHost]) -> Nsfleet {
    let mut args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    args.push(file.display().to_string());
    args.extend(endpoints(hosts));
    Nsfleet::new().args(args)
}

/// One JSON object per output line, by its `host`.
fn lines_by_host(run: &CliRun) -> Vec<(String, Value)> {
    run.stdout()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{run}"));
            (
                value["host"].as_str().unwrap_or_default().to_string(),
                value,
            )
        })
        .collect()
}

fn vxlan_local(host: &SimHost) -> String {
    host.ip_link("", "vx42")
        .and_then(|link| {
            link["linkinfo"]["info_data"]["local"]
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// The commit's state on each host, as `nsfleet commit status` reports it, and the run for messages.
fn commit_states(commit: &str, file: &Path, hosts: &[&SimHost]) -> (Vec<(String, String)>, CliRun) {
    let status = run(&["commit", "status", commit], file, hosts);
    let states = lines_by_host(&status)
        .into_iter()
        .map(|(host, line)| {
            let state = line["result"]["commit"]["state"]
                .as_str()
                .unwrap_or("unknown")
                .to_string();
            (host, state)
        })
        .collect();
    (states, status)
}

fn svg_titles(svg: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    document
        .descendants()
        .filter(|node| node.has_tag_name("title"))
        .filter_map(|node| node.text().map(str::to_string))
        .collect()
}

#[test]
fn a_canary_rollout_applies_an_overlay_and_an_unconfirmed_break_rolls_back_everywhere() {
    let mut lab = Lab::start_restartable(3);
    let file: PathBuf = lab.host(0).dir().join("fleet.yaml");
    std::fs::write(&file, topology("192.0.2.2", true)).expect("write the topology");
    let commit = {
        let hosts = [lab.host(0), lab.host(1), lab.host(2)];
        let wire = Wire::connect(hosts[0], hosts[1], "wire0", "192.0.2.1/24", "192.0.2.2/24");

        // 1. The canary stage holds both ends of the overlay (they must change together), then host3.
        let rollout = run(
            &[
                "apply",
                "--confirm",
                DEADLINE,
                "--canary",
                "1",
                "--max-unavailable",
                "1",
            ],
            &file,
            &hosts,
        );
        assert_eq!(rollout.exit_code(), Some(0), "{rollout}");
        let report = lines_by_host(&rollout);
        let stage_of = |name: &str| {
            report
                .iter()
                .find(|(host, _)| host == name)
                .map(|(_, line)| (line["state"].clone(), line["stage"].clone()))
                .unwrap_or_else(|| panic!("no line for {name}\n{rollout}"))
        };
        assert_eq!(
            stage_of("host1"),
            ("confirmed".into(), 1.into()),
            "{rollout}"
        );
        assert_eq!(
            stage_of("host2"),
            ("confirmed".into(), 1.into()),
            "{rollout}"
        );
        assert_eq!(
            stage_of("host3"),
            ("confirmed".into(), 2.into()),
            "{rollout}"
        );
        for (host, line) in &report {
            let probes = line["probes"].as_array().cloned().unwrap_or_default();
            assert!(
                probes.iter().all(|p| p["outcome"] == "passed"),
                "{host}: a probe did not pass\n{rollout}"
            );
        }
        assert_reaches(&[hosts[0]], "left", "172.20.7.2", None);
        assert_reaches(&[hosts[1]], "right", "172.20.7.1", None);

        // 2. A change that cuts the overlay (host2 claims an underlay address nobody has), not confirmed.
        std::fs::write(&file, topology("192.0.2.9", false)).expect("write the breaking edit");
        let pending = run(
            &["apply", "--confirm", DEADLINE, "--no-auto-confirm"],
            &file,
            &hosts,
        );
        assert_eq!(pending.exit_code(), Some(0), "{pending}");
        let report = lines_by_host(&pending);
        let commit = report[0].1["commit_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no commit id\n{pending}"))
            .to_string();
        for (host, line) in &report {
            let expected = if host == "host3" {
                "applied"
            } else {
                "pending"
            };
            assert_eq!(line["state"], expected, "{host}\n{pending}");
        }
        assert_eq!(vxlan_local(hosts[1]), "192.0.2.9");
        // The overlay is cut while pending.
        let cut = hosts[0].ping("left", "172.20.7.2", None);
        assert!(
            !cut.success(),
            "the broken overlay still carries traffic: {cut}"
        );
        // Removing the wire would take the tunnels over it along; it goes with the lab instead.
        wire.leave_in_place();
        commit
    };

    // 3. host2's agent dies while pending and comes back before the deadline: it still rolls back.
    lab.host_mut(1).kill_agent();
    lab.host_mut(1).restart_agent();
    let hosts = [lab.host(0), lab.host(1), lab.host(2)];
    let (states, status) = commit_states(&commit, &file, &hosts);
    assert!(
        states
            .iter()
            .any(|(host, state)| host == "host2" && state == "pending"),
        "host2's agent was meant to restart while the commit is pending\n{status}"
    );
    poll_until(
        "both changed hosts to roll back by themselves",
        Duration::from_secs(90),
        || {
            // host3 had nothing to change, so it holds no commit (NOT_FOUND): only hosts 1 and 2 count.
            let (states, status) = commit_states(&commit, &file, &hosts);
            let rolled_back = |name: &str| {
                states
                    .iter()
                    .any(|(host, state)| host == name && state == "rolled_back")
            };
            if rolled_back("host1") && rolled_back("host2") {
                Ok(())
            } else {
                Err(format!("{states:?}\n{status}"))
            }
        },
    );
    assert_eq!(vxlan_local(hosts[1]), "192.0.2.2", "host2's tunnel is back");
    assert_reaches(&[hosts[0]], "left", "172.20.7.2", None);
    assert_reaches(&[hosts[1]], "right", "172.20.7.1", None);

    // 4. The picture of what the hosts now hold shows every namespace, bridge, veth and the tunnel.
    std::fs::write(&file, topology("192.0.2.2", true)).expect("write the topology back");
    // A picture has no JSON form: text output.
    let graph = command(&["graph", "--format", "svg"], &file, &hosts)
        .text()
        .run();
    assert_eq!(graph.exit_code(), Some(0), "{graph}");
    let titles = svg_titles(graph.stdout());
    for expected in [
        "namespace host1/left",
        "namespace host2/right",
        "namespace host3/solo",
        "bridge host1:br0",
        "bridge host2:br0",
        "veth host1:v1 -- host1/left:c1",
        "veth host2:v2 -- host2/right:c2",
        "veth host3:v3 -- host3/solo:c3",
        "vxlan VNI 42 host1:vx42 -- host2:vx42",
    ] {
        assert!(
            titles.iter().any(|t| t == expected),
            "the SVG has no `{expected}`; its titles: {titles:#?}"
        );
    }
}
