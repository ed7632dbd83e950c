//! Issue #11's "Done when", through the real `nsfleet` binary on two simulated hosts, with exactly the
//! README's `<!-- topology-example -->` file: plan, apply and real pings, a plan with nothing to do, an
//! edited file, drift made with `ip`/`nft` behind nsfleet's back and repaired, a name clash refused at
//! plan time, and destroy leaving both hosts as they were. The kernel is checked with `ip -j`, `nft` and
//! `ping` inside each host; nsfleet's own answers are never the oracle.
//!
//! Run alone with `cargo test -p nsfleet-tests --test topology_cli`.

#[path = "topology_cli/walkthrough.rs"]
mod walkthrough;

use std::path::{Path, PathBuf};
use std::time::Duration;

use nsfleet_tests::{assert_reaches, poll_until, CliRun, Lab, Nsfleet, SimHost};
use serde_json::Value;

/// Bounds the wait for what the kernel finishes after a command returns (a namespace's links vanish
/// after `ip netns del`); never a measure of success.
const SETTLE: Duration = Duration::from_secs(15);

/// The README's `<!-- topology-example -->` block, exactly as written.
pub fn readme_topology() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    readme
        .split_once("<!-- topology-example -->\n```yaml\n")
        .expect("the README has the topology example")
        .1
        .split_once("\n```")
        .expect("the example's block ends")
        .0
        .to_string()
}

/// What the README shows a verb printing, in the block after `<!-- MARKER -->`: the lines after its
/// `$ ...` command line.
fn readme_output(marker: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let block = readme
        .split_once(&format!("<!-- {marker} -->\n```\n"))
        .unwrap_or_else(|| panic!("the README has the {marker} block"))
        .1
        .split_once("```")
        .expect("the block ends")
        .0;
    block
        .split_once('\n')
        .filter(|(command, _)| command.starts_with("$ "))
        .unwrap_or_else(|| panic!("the {marker} block starts with its command"))
        .1
        .to_string()
}

/// The topology verbs addressed to the lab's hosts through `--endpoint host1=... --endpoint host2=...`.
struct Fleet<'a> {
    hosts: Vec<&'a SimHost>,
    file: PathBuf,
}

impl Fleet<'_> {
    fn words(&self, verb: &str, extra: &[&str]) -> Vec<String> {
        let mut words = vec![verb.to_string(), self.file.display().to_string()];
        for host in &self.hosts {
            words.push("--endpoint".into());
            words.push(format!("{}={}", host.label(), host.endpoint()));
        }
        words.extend(extra.iter().map(|word| word.to_string()));
        words
    }

    /// `-o json`: one line per host of the file.
    fn json(&self, verb: &str, extra: &[&str]) -> CliRun {
        Nsfleet::new().args(self.words(verb, extra)).run()
    }

    fn text(&self, verb: &str, extra: &[&str]) -> CliRun {
        Nsfleet::new().text().args(self.words(verb, extra)).run()
    }

    fn write(&self, text: &str) {
        std::fs::write(&self.file, text).expect("write the topology file");
    }

    fn apply(&self) {
        let run = self.text("apply", &["--yes"]);
        assert_eq!(run.exit_code(), Some(0), "apply failed\n{run}");
    }

    /// `plan --detailed-exitcode` finds nothing to do and `drift` nothing that differs.
    fn assert_converged(&self) {
        let plan = self.text("plan", &["--detailed-exitcode"]);
        assert_eq!(
            plan.exit_code(),
            Some(0),
            "plan still finds changes\n{plan}"
        );
        for host in &self.hosts {
            assert!(
                plan.stdout()
                    .contains(&format!("{}: no changes", host.label())),
                "{plan}"
            );
        }
        let drift = self.text("drift", &[]);
        assert_eq!(drift.exit_code(), Some(0), "drift after apply\n{drift}");
    }
}

/// One planned change as `(action, kind, namespace, name)`, from a plan's or drift's JSON.
type Change = (String, String, String, String);

fn changes(result: &Value) -> Vec<Change> {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    result["changes"]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .map(|change| {
                    let object = &change["object"];
                    (
                        text(&change["action"]),
                        text(&object["kind"]),
                        text(&object["namespace"]),
                        text(&object["name"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `drift` of a `GetTopologyStateResponse`, in the same form.
fn drift_of(result: &Value) -> Vec<Change> {
    changes(&serde_json::json!({ "changes": result["drift"] }))
}

fn change(action: &str, kind: &str, namespace: &str, name: &str) -> Change {
    (action.into(), kind.into(), namespace.into(), name.into())
}

/// What the README's file makes on an empty host, as the plan lists it.
fn tutorial_creations() -> Vec<Change> {
    let create = |kind, namespace, name| change("create", kind, namespace, name);
    vec![
        create("namespace", "", "netns1"),
        create("namespace", "", "netns2"),
        create("namespace", "", "upstream"),
        create("link", "", "br0"),
        create("link", "netns1", "ceth1"),
        create("link", "netns2", "ceth2"),
        create("link", "upstream", "up1"),
        create("address", "", "172.20.0.10/16"),
        create("address", "netns1", "172.20.0.11/16"),
        create("address", "netns2", "172.20.0.12/16"),
        create("address", "upstream", "203.0.113.2/24"),
        create("address", "", "203.0.113.1/24"),
        create("route", "", "default"),
        create("route", "netns1", "default"),
        create("route", "netns2", "default"),
        change("update", "forwarding", "", "ipv4"),
        create("nat_rule", "", "9c45c40a008e"),
    ]
}

fn sorted(mut changes: Vec<Change>) -> Vec<Change> {
    changes.sort();
    changes
}

// ---- the oracle ----

/// The IPv4 addresses (`A/LEN`) on `dev` in `netns`, per `ip -j addr`.
fn ipv4_addresses(host: &SimHost, netns: &str, dev: &str) -> Vec<String> {
    host.ip_addresses(netns)
        .iter()
        .filter(|link| link["ifname"] == dev)
        .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
        .filter(|address| address["family"] == "inet")
        .map(|address| {
            format!(
                "{}/{}",
                address["local"].as_str().unwrap_or("?"),
                address["prefixlen"]
            )
        })
        .collect()
}

/// The gateway of the default route in `netns`, per `ip -j route`.
fn default_gateway(host: &SimHost, netns: &str) -> Option<String> {
    host.ip_routes(netns)
        .iter()
        .find(|route| route["dst"] == "default")
        .and_then(|route| route["gateway"].as_str().map(String::from))
}

/// What a host holds after applying the README's file, or its edited version (netns2 gone, netns1 at
/// `netns1_address`), checked in the kernel.
fn assert_holds(host: &SimHost, netns1_address: &str, with_netns2: bool) {
    let label = host.label();
    let mut namespaces = host.ip_netns_list();
    namespaces.sort();
    let expected: Vec<&str> = if with_netns2 {
        vec!["netns1", "netns2", "upstream"]
    } else {
        vec!["netns1", "upstream"]
    };
    assert_eq!(namespaces, expected, "{label}: namespaces");
    let br0 = host
        .ip_link("", "br0")
        .unwrap_or_else(|| panic!("{label}: no br0"));
    assert_eq!(br0["linkinfo"]["info_kind"], "bridge", "{label}: {br0}");
    for (port, wanted) in [("veth1", true), ("veth2", with_netns2)] {
        match host.ip_link("", port) {
            Some(link) if wanted => assert_eq!(link["master"], "br0", "{label}: {link}"),
            None if !wanted => {}
            other => panic!("{label}: {port} should exist: {wanted}; found {other:?}"),
        }
    }
    assert_eq!(
        ipv4_addresses(host, "", "br0"),
        ["172.20.0.10/16"],
        "{label}"
    );
    assert_eq!(
        ipv4_addresses(host, "", "up0"),
        ["203.0.113.1/24"],
        "{label}"
    );
    assert_eq!(
        ipv4_addresses(host, "netns1", "ceth1"),
        [netns1_address],
        "{label}"
    );
    if with_netns2 {
        assert_eq!(
            ipv4_addresses(host, "netns2", "ceth2"),
            ["172.20.0.12/16"],
            "{label}"
        );
        assert_eq!(
            default_gateway(host, "netns2").as_deref(),
            Some("172.20.0.10"),
            "{label}"
        );
    }
    assert_eq!(
        ipv4_addresses(host, "upstream", "up1"),
        ["203.0.113.2/24"],
        "{label}"
    );
    assert_eq!(
        default_gateway(host, "netns1").as_deref(),
        Some("172.20.0.10"),
        "{label}"
    );
    assert_eq!(
        default_gateway(host, "").as_deref(),
        Some("203.0.113.2"),
        "{label}"
    );
    // The upstream has no route back to 172.20.0.0/16: only the masquerade lets replies return.
    assert_eq!(default_gateway(host, "upstream"), None, "{label}");
    assert_eq!(host.sysctl("", "net/ipv4/ip_forward"), "1", "{label}");
    let rules = host.nsfleet_table_rules();
    assert_eq!(rules.len(), 1, "{label}: nsfleet's NAT rules: {rules:?}");
    let rule = rules[0].to_string();
    assert!(
        rule.contains("masquerade") && rule.contains("up0") && rule.contains("172.20.0.0"),
        "{label}: not the file's masquerade: {rule}"
    );
}

/// Namespace to namespace across each host's bridge, and each namespace to the upstream through the
/// masquerade, with nsfleet's ping and real ping.
fn assert_pings(hosts: &[&SimHost], with_netns2: bool) {
    if with_netns2 {
        assert_reaches(hosts, "netns1", "172.20.0.12", None);
        assert_reaches(hosts, "netns2", "172.20.0.11", None);
        assert_reaches(hosts, "netns2", "203.0.113.2", None);
    }
    assert_reaches(hosts, "netns1", "203.0.113.2", None);
}

/// Everything applying and destroying may touch in a host's own namespace, as iproute2 and nft see it.
#[derive(Debug, PartialEq)]
struct Baseline {
    links: Value,
    addresses: Value,
    routes: Value,
    namespaces: Vec<String>,
    nft_tables: Vec<String>,
    forwarding: String,
}

fn baseline(host: &SimHost) -> Baseline {
    Baseline {
        links: host.ip_json("", &["link", "show"]),
        addresses: host.ip_json("", &["addr", "show"]),
        routes: host.ip_json("", &["route", "show", "table", "all"]),
        namespaces: host.ip_netns_list(),
        nft_tables: host.nft_tables(),
        forwarding: host.sysctl("", "net/ipv4/ip_forward"),
    }
}

// ---- drift made behind nsfleet's back ----

struct DriftCase {
    what: &'static str,
    /// Commands run in host1's own namespace.
    commands: &'static [&'static [&'static str]],
    /// A link that must be gone before nsfleet looks (the kernel removes a namespace's peers later).
    gone: Option<&'static str>,
    /// Lines `drift` and `plan` must print for host1.
    shown: &'static [&'static str],
}

const DRIFT_CASES: &[DriftCase] = &[
    DriftCase {
        what: "a link deleted",
        commands: &[&["ip", "link", "del", "veth1"]],
        gone: None,
        shown: &["+ link ceth1 in netns1: deleted behind nsfleet's back"],
    },
    DriftCase {
        what: "an address removed",
        commands: &[&["ip", "addr", "del", "172.20.0.10/16", "dev", "br0"]],
        gone: None,
        shown: &["+ address 172.20.0.10/16 on br0: deleted behind nsfleet's back"],
    },
    DriftCase {
        what: "nsfleet's NAT table flushed",
        commands: &[&["nft", "flush", "table", "inet", "nsfleet"]],
        gone: None,
        shown: &["+ nat rule 9c45c40a008e: deleted behind nsfleet's back"],
    },
    DriftCase {
        what: "nsfleet's NAT table deleted",
        commands: &[&["nft", "delete", "table", "inet", "nsfleet"]],
        gone: None,
        shown: &[
            "+ nat rule 9c45c40a008e: deleted behind nsfleet's back (nsfleet's NAT table is gone)",
        ],
    },
    DriftCase {
        what: "a namespace deleted with ip netns del",
        commands: &[&["ip", "netns", "del", "upstream"]],
        gone: Some("up0"),
        shown: &[
            "+ namespace upstream: deleted behind nsfleet's back",
            "+ link up1 in upstream: deleted behind nsfleet's back",
            "+ address 203.0.113.1/24 on up0: deleted behind nsfleet's back",
            "+ route default: deleted behind nsfleet's back",
        ],
    },
];

fn assert_shows_drift(fleet: &Fleet, case: &DriftCase) {
    let drift = fleet.text("drift", &[]);
    assert_eq!(
        drift.exit_code(),
        Some(2),
        "{}: drift must exit 2\n{drift}",
        case.what
    );
    let plan = fleet.text("plan", &["--detailed-exitcode"]);
    assert_eq!(
        plan.exit_code(),
        Some(2),
        "{}: plan must exit 2\n{plan}",
        case.what
    );
    for (verb, run) in [("drift", &drift), ("plan", &plan)] {
        for line in case.shown {
            assert!(
                run.stdout().lines().any(|printed| printed.trim() == *line),
                "{}: {verb} does not show {line:?}\n{run}",
                case.what
            );
        }
        assert!(
            run.stdout().contains("host2: no "),
            "{}: {verb} finds drift on the untouched host2\n{run}",
            case.what
        );
    }
    let json = fleet.json("drift", &[]);
    assert_eq!(json.exit_code(), Some(2), "{json}");
    assert_eq!(json.lines.len(), 2, "one line per host\n{json}");
    assert!(!drift_of(&json.lines[0]["result"]).is_empty(), "{json}");
    assert!(drift_of(&json.lines[1]["result"]).is_empty(), "{json}");
}

/// `ip netns del` returns before the kernel destroys the namespace, and a process inside keeps it (and
/// the host end of its veth) alive: an apply right then re-creates the veth, and must add back the
/// host's default route via the upstream that the old up0 took along (the file names no `dev` for it).
fn namespace_deleted_while_still_held(fleet: &Fleet, host1: &SimHost) {
    let mut holder = host1.spawn_in("upstream", &["sh", "-c", "echo ready; exec sleep 60"]);
    holder.wait_for_line("ready", SETTLE);
    host1.run_ok("", &["ip", "netns", "del", "upstream"]);
    assert!(host1.ip_link("", "up0").is_some(), "the holder keeps up0");
    let plan = fleet.text("plan", &["--detailed-exitcode"]);
    assert_eq!(plan.exit_code(), Some(2), "{plan}");
    for line in [
        "+ namespace upstream: deleted behind nsfleet's back",
        "-/+ link up1 in upstream: one end of the veth is gone",
        "+ route default: deleted behind nsfleet's back",
    ] {
        assert!(
            plan.stdout().lines().any(|printed| printed.trim() == line),
            "plan does not show {line:?}\n{plan}"
        );
    }
    fleet.apply();
    assert_holds(host1, "172.20.0.21/16", false);
    fleet.assert_converged();
    drop(holder);
}

#[test]
fn the_readme_topology_on_two_hosts_plans_applies_drifts_and_destroys() {
    let lab = Lab::start(2);
    let hosts = lab.hosts();
    let (host1, host2) = (lab.host(0), lab.host(1));
    let dir = tempfile::tempdir().expect("temporary directory");
    let fleet = Fleet {
        hosts: hosts.clone(),
        file: dir.path().join("tutorial.yaml"),
    };
    let readme = readme_topology();
    fleet.write(&readme);
    let before: Vec<Baseline> = hosts.iter().map(|host| baseline(host)).collect();

    // plan lists what will be made, on both hosts, in text and in JSON.
    let plan = fleet.text("plan", &["--detailed-exitcode"]);
    assert_eq!(plan.exit_code(), Some(2), "changes to make\n{plan}");
    for expected in [
        "host1: 16 to create, 1 to change",
        "  + namespace netns1: not on the host",
        "  + link br0: not on the host",
        "  + nat rule 9c45c40a008e: not on the host",
    ] {
        assert!(
            plan.stdout().contains(expected),
            "plan lacks {expected:?}\n{plan}"
        );
    }
    let json = fleet.json("plan", &["--detailed-exitcode"]);
    assert_eq!(json.exit_code(), Some(2), "{json}");
    assert_eq!(json.lines.len(), 2, "one line per host\n{json}");
    for (line, host) in json.lines.iter().zip(["host1", "host2"]) {
        assert_eq!(line["host"], host, "{json}");
        assert_eq!(line["ok"], true, "{json}");
        assert_eq!(
            sorted(changes(&line["result"])),
            sorted(tutorial_creations()),
            "{json}"
        );
    }
    assert_eq!(
        before,
        hosts.iter().map(|host| baseline(host)).collect::<Vec<_>>(),
        "plan changed a host"
    );

    // apply makes it; the kernel holds it and traffic flows.
    fleet.apply();
    for host in &hosts {
        assert_holds(host, "172.20.0.11/16", true);
    }
    assert_pings(&hosts, true);
    fleet.assert_converged();

    // The file edited: netns2 leaves host1, netns1's address changes there.
    let host2_at = readme.find("  host2:").expect("the file has host2");
    let (host1_part, host2_part) = readme.split_at(host2_at);
    let netns2_at = host1_part.find("      netns2:").expect("host1 has netns2");
    let upstream_at = host1_part
        .find("      # Stands in")
        .expect("host1 has the upstream comment");
    let edited = format!(
        "{}{}{}",
        host1_part[..netns2_at].replace("172.20.0.11/16", "172.20.0.21/16"),
        &host1_part[upstream_at..],
        host2_part
    );
    fleet.write(&edited);
    let plan = fleet.text("plan", &["--detailed-exitcode"]);
    assert_eq!(plan.exit_code(), Some(2), "{plan}");
    assert_eq!(
        plan.stdout(),
        readme_output("topology-edit-plan"),
        "the README shows another plan"
    );
    let json = fleet.json("plan", &["--detailed-exitcode"]);
    assert_eq!(json.exit_code(), Some(2), "{json}");
    assert_eq!(
        sorted(changes(&json.lines[0]["result"])),
        sorted(vec![
            change("delete", "namespace", "", "netns2"),
            change("delete", "address", "netns1", "172.20.0.11/16"),
            change("create", "address", "netns1", "172.20.0.21/16"),
            // Deleting netns1's old address takes its default route along: the agent adds it back.
            change("update", "route", "netns1", "default"),
        ]),
        "host1's plan for the edited file\n{json}"
    );
    assert_eq!(
        changes(&json.lines[1]["result"]),
        [],
        "host2 is unchanged\n{json}"
    );
    fleet.apply();
    poll_until("veth2 to go with netns2", SETTLE, || {
        match host1.ip_link("", "veth2") {
            None => Ok(()),
            Some(link) => Err(link.to_string()),
        }
    });
    assert_holds(host1, "172.20.0.21/16", false);
    assert_holds(host2, "172.20.0.11/16", true);
    fleet.assert_converged();

    // Drift behind nsfleet's back, one case at a time: shown by drift and plan, repaired by apply.
    for case in DRIFT_CASES {
        for command in case.commands {
            host1.run_ok("", command);
        }
        if let Some(link) = case.gone {
            poll_until(&format!("{link} to vanish"), SETTLE, || {
                match host1.ip_link("", link) {
                    None => Ok(()),
                    Some(found) => Err(found.to_string()),
                }
            });
        }
        assert_shows_drift(&fleet, case);
        if case.what == "a link deleted" {
            let drift = fleet.text("drift", &[]);
            assert_eq!(
                drift.stdout(),
                readme_output("topology-drift"),
                "the README shows other drift"
            );
        }
        fleet.apply();
        assert_holds(host1, "172.20.0.21/16", false);
        fleet.assert_converged();
    }
    namespace_deleted_while_still_held(&fleet, host1);
    assert_pings(&[host1], false);
    assert_pings(&[host2], true);

    // destroy leaves both hosts exactly as before apply.
    let destroy = Nsfleet::on_all(&hosts).args(["destroy", "tutorial"]).run();
    destroy.results();
    for (host, before) in hosts.iter().zip(&before) {
        poll_until(&format!("{} as before apply", host.label()), SETTLE, || {
            let now = baseline(host);
            if &now == before {
                Ok(())
            } else {
                Err(format!("{now:#?}\nbefore: {before:#?}"))
            }
        });
    }

    // A bridge br0 made with ip beforehand: refused at plan time, naming it and adopt; left alone.
    host1.run_ok("", &["ip", "link", "add", "br0", "type", "bridge"]);
    let untouched = baseline(host1);
    let plan = fleet.json("plan", &[]);
    assert_eq!(plan.exit_code(), Some(1), "{plan}");
    let message = plan.lines[0]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        plan.lines[0]["error"]["code"], "FAILED_PRECONDITION",
        "{plan}"
    );
    assert!(
        message.contains("br0") && message.contains("adopt"),
        "{plan}"
    );
    let apply = fleet.text("apply", &["--yes"]);
    assert_eq!(apply.exit_code(), Some(1), "apply must refuse\n{apply}");
    assert!(apply.stderr().contains("br0"), "{apply}");
    assert_eq!(baseline(host1), untouched, "the clash changed host1");
    assert_eq!(baseline(host2), before[1], "a refused apply changed host2");
    let br0 = host1.ip_link("", "br0").expect("br0 left alone");
    assert_eq!(
        br0["altnames"],
        Value::Null,
        "nsfleet marked a bridge it does not own: {br0}"
    );
}
