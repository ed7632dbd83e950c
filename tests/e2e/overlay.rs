//! Issue #12 item 5: VXLAN links and overlays between hosts. Two simulated hosts joined by a veth
//! "wire" (192.0.2.0/24) as their underlay, a namespace on each host's bridge in 172.20.0.0/16, one
//! overlay applied through the real CLI, and real pings between the namespaces of different hosts.
//! The kernel is checked with `ip -j -d link`, `bridge -j fdb` and `ping` inside each host.
//!
//! Run alone with `cargo test -p nsfleet-tests --test overlay`.

use std::path::PathBuf;
use std::time::Duration;

use nsfleet_tests::{assert_reaches, poll_until, CliRun, Lab, Nsfleet, SimHost, Wire};
use serde_json::Value;

const SETTLE: Duration = Duration::from_secs(15);

fn topology(vni: u32) -> String {
    format!(
        "name: stretched
hosts:
  host1:
    bridges: {{br0: {{}}}}
    namespaces:
      left:
        veths:
          c1:
            peer: {{name: v1, bridge: br0}}
            addresses: [172.20.0.11/16]
  host2:
    bridges: {{br0: {{}}}}
    namespaces:
      right:
        veths:
          c2:
            peer: {{name: v2, bridge: br0}}
            addresses: [172.20.0.12/16]
overlays:
  ov0:
    vni: {vni}
    link: vx0
    members:
      host1: {{bridge: br0, underlay: wire0, local: 192.0.2.1}}
      host2: {{bridge: br0, underlay: wire0, local: 192.0.2.2}}
"
    )
}

struct Fleet<'a> {
    hosts: Vec<&'a SimHost>,
    file: PathBuf,
}

impl Fleet<'_> {
    fn text(&self, verb: &str, extra: &[&str]) -> CliRun {
        let mut words = vec![verb.to_string(), self.file.display().to_string()];
        for host in &self.hosts {
            words.push("--endpoint".into());
            words.push(format!("{}={}", host.label(), host.endpoint()));
        }
        words.extend(extra.iter().map(|w| w.to_string()));
        Nsfleet::new().text().args(words).run()
    }
}

/// The kernel's VXLAN parameters of `name` (`ip -d -j link`), or Null.
fn vxlan_data(host: &SimHost, name: &str) -> Value {
    host.ip_link("", name)
        .map(|link| link["linkinfo"]["info_data"].clone())
        .unwrap_or(Value::Null)
}

fn kinds(host: &SimHost) -> Vec<String> {
    host.ip_links("")
        .iter()
        .map(|l| {
            format!(
                "{}:{}",
                l["ifname"].as_str().unwrap_or_default(),
                l["linkinfo"]["info_kind"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn an_overlay_joins_bridges_of_two_hosts_and_goes_away_whole() {
    let lab = Lab::start(2);
    let (host1, host2) = (lab.host(0), lab.host(1));
    let _wire = Wire::connect(host1, host2, "wire0", "192.0.2.1/24", "192.0.2.2/24");
    let before: Vec<Vec<String>> = [host1, host2].iter().map(|h| kinds(h)).collect();
    let fleet = Fleet {
        hosts: vec![host1, host2],
        file: host1.dir().join("overlay.yaml"),
    };
    std::fs::write(&fleet.file, topology(100)).expect("write the file");

    let plan = fleet.text("plan", &[]);
    // The veth ports (1500) are larger than the tunnel (1450, derived from the 1500-byte wire).
    assert!(
        plan.stdout()
            .contains("v1 (MTU 1500) and vx0 (MTU 1450) are ports of br0"),
        "{plan}"
    );
    let apply = fleet.text("apply", &["--yes"]);
    assert_eq!(apply.exit_code(), Some(0), "apply failed\n{apply}");

    for (host, local, remote) in [
        (host1, "192.0.2.1", "192.0.2.2"),
        (host2, "192.0.2.2", "192.0.2.1"),
    ] {
        let link = host.ip_link("", "vx0").expect("vx0 exists");
        assert_eq!(link["linkinfo"]["info_kind"], "vxlan", "{link}");
        assert_eq!(link["master"], "br0", "{link}");
        assert_eq!(link["mtu"], 1450, "derived from the underlay: {link}");
        // The ownership marker, as on every link a topology makes.
        assert!(
            link["altnames"]
                .as_array()
                .is_some_and(|names| names.iter().any(|n| n == "nsfleet.stretched.vx0")),
            "{link}"
        );
        let data = &link["linkinfo"]["info_data"];
        assert_eq!(data["id"], 100, "{data}");
        assert_eq!(data["local"], local, "{data}");
        assert_eq!(data["remote"], remote, "{data}");
        assert_eq!(data["port"], 4789, "{data}");
        assert_eq!(data["link"], "wire0", "{data}");
    }

    // Real traffic through the tunnel, both ways.
    assert_reaches(&[host1], "left", "172.20.0.12", None);
    assert_reaches(&[host2], "right", "172.20.0.11", None);

    // Nothing left to do.
    let again = fleet.text("plan", &["--detailed-exitcode"]);
    assert_eq!(again.exit_code(), Some(0), "plan after apply\n{again}");

    // A new VNI cannot be changed in place: the tunnel is made again, on both hosts.
    std::fs::write(&fleet.file, topology(101)).expect("write the file");
    let edited = fleet.text("plan", &[]);
    for host in ["host1", "host2"] {
        assert!(
            edited.stdout().contains(&format!("{host}: 1 to replace"))
                || edited.stdout().contains("-/+ link vx0"),
            "{edited}"
        );
    }
    assert_eq!(
        edited
            .stdout()
            .matches("-/+ link vx0: vxlan vni 100 (wanted 101)")
            .count(),
        2,
        "{edited}"
    );
    let apply = fleet.text("apply", &["--yes"]);
    assert_eq!(apply.exit_code(), Some(0), "apply failed\n{apply}");
    assert_eq!(vxlan_data(host1, "vx0")["id"], 101);
    assert_eq!(vxlan_data(host2, "vx0")["id"], 101);
    assert_reaches(&[host1], "left", "172.20.0.12", None);

    // destroy leaves the hosts as they were: the wire and lo, no tunnel, bridge or veth.
    let destroy = Nsfleet::on_all(&[host1, host2])
        .args(["destroy", "stretched"])
        .run();
    destroy.results();
    for (host, before) in [host1, host2].iter().zip(&before) {
        poll_until(&format!("{} as before", host.label()), SETTLE, || {
            let now = kinds(host);
            if &now == before {
                Ok(())
            } else {
                Err(format!("{now:?} (before: {before:?})"))
            }
        });
    }
}

#[test]
fn vxlan_links_by_command_are_idempotent_and_bad_ones_are_refused() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.run_ok(
        "",
        &[
            "ip", "link", "add", "wire0", "type", "veth", "peer", "name", "wire1",
        ],
    );
    host.run_ok(
        "",
        &["ip", "address", "add", "192.0.2.1/24", "dev", "wire0"],
    );

    // A full mesh by hand: two remotes are two all-zero forwarding entries.
    let mesh =
        "link add vx0 type vxlan id 42 local 192.0.2.1 remote 192.0.2.2 remote 192.0.2.3 dev wire0";
    let created = host.cli(mesh);
    assert_eq!(created.result()["changed"], true, "{created}");
    let link = &created.result()["link"];
    assert_eq!(link["vxlan"]["vni"], 42, "{link}");
    assert_eq!(
        link["vxlan"]["remotes"],
        serde_json::json!(["192.0.2.2", "192.0.2.3"])
    );
    assert_eq!(link["vxlan"]["port"], 4789);
    let fdb = host.run_ok("", &["bridge", "-j", "fdb", "show", "dev", "vx0"]);
    let entries: Value = serde_json::from_str(&fdb).expect("bridge -j");
    let mut destinations: Vec<&str> = entries
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["mac"] == "00:00:00:00:00:00")
        .filter_map(|e| e["dst"].as_str())
        .collect();
    destinations.sort();
    assert_eq!(destinations, vec!["192.0.2.2", "192.0.2.3"], "{fdb}");
    let data = vxlan_data(host, "vx0");
    assert_eq!(data["id"], 42);
    assert_eq!(
        data["port"], 4789,
        "the IANA port, not the kernel's 8472: {data}"
    );

    // The same again changes nothing; another remote is a conflict naming it.
    assert_eq!(host.cli(mesh).result()["changed"], false);
    let other =
        host.cli("link add vx0 type vxlan id 42 local 192.0.2.1 remote 192.0.2.9 dev wire0");
    let message = other.error("ALREADY_EXISTS")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("remotes") && message.contains("192.0.2.9"),
        "{message}"
    );
    // Another name with the same VNI and port.
    let twin = host.cli("link add vx1 type vxlan id 42 dev wire0");
    let message = twin.error("ALREADY_EXISTS")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("vx0") && message.contains("42"),
        "{message}"
    );

    // The text listing reads like ip -d link.
    let shown = Nsfleet::on(host).text().line("link show vx0").run();
    assert!(
        shown.stdout().contains(
            "vxlan id 42 remote 192.0.2.2 remote 192.0.2.3 local 192.0.2.1 dev wire0 dstport 4789"
        ),
        "{shown}"
    );

    // Bad input, each refused with the field named and nothing made.
    let missing_device = host.cli("link add vx2 type vxlan id 7 dev nope0");
    let message = missing_device.error("NOT_FOUND")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.starts_with("vxlan.device:"), "{message}");
    let multicast = host.cli("link add vx2 type vxlan id 7 remote 239.1.1.1");
    let message = multicast.error("INVALID_ARGUMENT")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.starts_with("vxlan.remotes[0]:"), "{message}");
    let mixed = host.cli("link add vx2 type vxlan id 7 local 192.0.2.1 remote 2001:db8::2");
    let message = mixed.error("INVALID_ARGUMENT")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("family"), "{message}");
    assert!(host.ip_link("", "vx2").is_none());
    // The CLI's grammar refuses what it can judge alone, before any call (usage error, exit 2).
    for line in [
        "link add vx2 type vxlan id 0",
        "link add vx2 type vxlan id 7 dstport 0",
        "link add vx2 type vxlan",
    ] {
        let run = host.cli(line);
        assert_eq!(run.exit_code(), Some(2), "{line}\n{run}");
    }
    host.run_ok("", &["ip", "link", "del", "wire0"]);
}
