//! `kill -9` of the agent during a 200-namespace topology apply, a shrinking apply and a destroy, then a
//! restart in the same simulated host. An apply that only creates leaves exactly the state before it or,
//! had it finished, the state after it; a change that deletes keeps its deletions (nothing can bring a
//! deleted namespace back) and takes back everything else, and the ledger still owns every object left,
//! so planning works, the same apply converges and destroy removes everything.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nsfleet_tests::crash::{journal_dir, objects_made, run_netns, settled, start_cli};
use nsfleet_tests::{poll_until, CliRun, Lab, Nsfleet, SimHost};
use serde_json::Value;

const TOPOLOGY: &str = "crashy";
/// Namespaces the topology declares, each with a veth to the bridge, an address and a default route.
const NAMESPACES: usize = 200;
/// The namespaces the shrunk file keeps.
/// Deleting a namespace takes well under a millisecond: the shrink deletes many, so a kill lands among them.
const KEPT: usize = 80;
const KILL_POINTS: usize = 20;
/// The last kill points, once every namespace and veth exists, each at a step the kernel or the
/// journal shows.
const LATE: [&str; 3] = [
    "every object made",
    "the host route made (addresses done; forwarding, NAT to come)",
    "the batch ended (the ledger and the verification to come)",
];

fn threshold_of(point: usize, early: usize, last: usize) -> usize {
    1 + point * (last - 1) / (early - 1)
}

fn late_point_reached(host: &SimHost, late: &str) -> bool {
    if late == LATE[0] {
        return true;
    }
    if late == LATE[1] {
        // 198.51.100.0 as /proc/net/route writes it (little-endian hex).
        return std::fs::read_to_string(format!("/proc/{}/net/route", host.pid()))
            .is_ok_and(|routes| routes.contains("006433C6"));
    }
    std::fs::read_dir(journal_dir(host)).is_ok_and(|mut d| d.next().is_none())
}

fn topology_file(count: usize) -> String {
    format!(
        r#"name: {TOPOLOGY}
hosts:
  host1:
    forwarding: {{ipv4: true}}
    bridges:
      br0:
        addresses: [172.20.0.1/16]
    namespaces:
      "c{{i}}":
        count: {count}
        veths:
          "e{{i}}":
            peer: {{name: "hv{{i}}", bridge: br0}}
            addresses: [{{pool: 172.20.0.0/16, first: 172.20.1.0}}]
        routes: [default via 172.20.0.1]
    routes: [198.51.100.0/24 via 172.20.0.2]
    nat: [masquerade from 172.20.0.0/16 oif br0]
"#
    )
}

/// Something of the host's that no topology owns, which every crash must leave alone.
fn unrelated_objects(host: &SimHost) {
    for line in [
        "netns add keep",
        "link add keepv type veth peer name eth0 netns keep",
        "-n keep link set eth0 up",
        "-n keep addr add 192.0.2.2/24 dev eth0",
    ] {
        let run = host.cli(line);
        assert!(run.finished.success(), "{line}: {run}");
    }
}

/// Everything a mixture could show in: per namespace (the host's is "") its links with their altnames,
/// masters, MTUs and admin state, its addresses, its IPv4 routes of every table; the host's nftables
/// ruleset, forwarding and /run/netns. MACs, ifindexes, link-local addresses and counters differ from
/// run to run and are left out.
type State = BTreeMap<String, Value>;

const SNAPSHOT_SCRIPT: &str = r#"for n in "" $(ip netns list | cut -d' ' -f1 | sort); do
  echo "@ns $n"
  if [ -n "$n" ]; then o="-n $n"; else o=""; fi
  ip -j $o link show
  ip -j $o addr show
  ip -j -4 $o route show table all
done
echo "@nft"
nft -j list ruleset
"#;

fn state(host: &SimHost) -> State {
    let text = host.run_ok("", &["sh", "-c", SNAPSHOT_SCRIPT]);
    let mut state = State::new();
    state.insert("run_netns".into(), run_netns(host).into());
    state.insert(
        "ip_forward".into(),
        host.sysctl("", "net/ipv4/ip_forward").into(),
    );
    let (spaces, nft) = text.split_once("@nft\n").expect("the script's nft marker");
    for block in spaces.split("@ns ").filter(|b| !b.is_empty()) {
        let mut lines = block.lines();
        let name = lines.next().unwrap_or("").trim().to_string();
        let json: Vec<Value> = lines
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let [links, addresses, routes] = json.as_slice() else {
            panic!("three answers for namespace {name:?}: {block}");
        };
        state.insert(format!("{name}: links"), normal_links(links));
        state.insert(format!("{name}: addresses"), normal_addresses(addresses));
        state.insert(format!("{name}: routes"), normal_routes(routes));
    }
    let mut nft: Value = serde_json::from_str(nft.trim()).expect("nft -j");
    strip(&mut nft, &["handle", "packets", "bytes"]);
    state.insert("nft".into(), nft);
    state
}

fn items(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

fn normal_links(links: &Value) -> Value {
    items(links)
        .iter()
        .map(|l| {
            let up = l["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "UP"));
            serde_json::json!([l["ifname"], l["altnames"], l["master"], l["mtu"], up])
        })
        .collect()
}

fn normal_addresses(links: &Value) -> Value {
    items(links)
        .iter()
        .flat_map(|l| {
            items(&l["addr_info"])
                .into_iter()
                .filter(|a| a["scope"] != "link")
                .map(|a| {
                    serde_json::json!([l["ifname"], a["local"], a["prefixlen"], a["broadcast"]])
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn normal_routes(routes: &Value) -> Value {
    items(routes)
        .into_iter()
        .map(|mut r| {
            strip(&mut r, &["flags"]);
            r
        })
        .collect()
}

fn strip(value: &mut Value, keys: &[&str]) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !keys.contains(&k.as_str()));
            map.values_mut().for_each(|v| strip(v, keys));
        }
        Value::Array(list) => list.iter_mut().for_each(|v| strip(v, keys)),
        _ => {}
    }
}

/// The keys that differ, with a short look at each.
fn difference(expected: &State, now: &State) -> String {
    let keys: std::collections::BTreeSet<_> = expected.keys().chain(now.keys()).collect();
    let differing: Vec<String> = keys
        .into_iter()
        .filter(|k| expected.get(*k) != now.get(*k))
        .map(|k| {
            let shown = |s: &State| {
                s.get(k)
                    .map(|v| v.to_string().chars().take(300).collect::<String>())
                    .unwrap_or_else(|| "-".into())
            };
            format!("{k}: {} -> {}", shown(expected), shown(now))
        })
        .collect();
    format!(
        "{} keys differ, first: {}",
        differing.len(),
        differing
            .iter()
            .take(6)
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ")
    )
}

/// Waits (the kernel destroys deleted namespaces a little later) until the host is one of `allowed`;
/// returns its index there.
fn settles_into(host: &SimHost, what: &str, allowed: &[&State]) -> usize {
    let started = Instant::now();
    poll_until(what, Duration::from_secs(30), || {
        // Cheap first: while the kernel still destroys namespaces, reading each of them is wasted.
        let files = Value::from(run_netns(host));
        if !allowed.iter().any(|s| s.get("run_netns") == Some(&files)) {
            return Err(format!(
                "/run/netns holds {} entries",
                files.as_array().map_or(0, Vec::len)
            ));
        }
        let now = state(host);
        if let Some(found) = allowed.iter().position(|s| **s == now) {
            return Ok(found);
        }
        let differences: Vec<String> = allowed.iter().map(|s| difference(s, &now)).collect();
        if started.elapsed() > Duration::from_secs(25) {
            Err(format!("{differences:?}; agent log:\n{}", host.agent_log()))
        } else {
            Err(format!("{differences:?}"))
        }
    })
}

fn write(host: &SimHost, name: &str, text: &str) -> String {
    let path = host.dir().join(name);
    std::fs::write(&path, text).expect("write the topology file");
    path.to_str().expect("a UTF-8 path").to_string()
}

fn endpoint(host: &SimHost) -> String {
    format!("host1={}", host.endpoint())
}

/// `nsfleet -o json WORDS...` on the host: `--host` for destroy, `--endpoint host1=` for the verbs
/// that read the file.
fn verb(host: &SimHost, words: &[&str]) -> CliRun {
    Nsfleet::new().args(on_host(host, words)).run()
}

fn on_host(host: &SimHost, words: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    if words[0] == "destroy" {
        all.extend(["--host".to_string(), host.endpoint()]);
    } else {
        all.extend(["--endpoint".to_string(), endpoint(host)]);
    }
    all
}

fn apply(host: &SimHost, file: &str) {
    let run = verb(host, &["apply", file, "--yes"]);
    assert!(
        run.finished.success(),
        "apply {file}: {run}; agent log:\n{}",
        host.agent_log()
    );
}

/// `plan --detailed-exitcode` answers and finds nothing to do.
fn plans_nothing(host: &SimHost, file: &str) {
    let run = verb(host, &["plan", file, "--detailed-exitcode"]);
    assert_eq!(run.exit_code(), Some(0), "plan of {file}: {run}");
}

/// The journal's records: while the agent runs, an unfinished batch; after a recovery, only what it set
/// aside.
fn journal_records(host: &SimHost) -> Vec<String> {
    std::fs::read_dir(journal_dir(host))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Starts `nsfleet ARGS` on the host, kills the agent once `reached` says so, restarts it. Returns the
/// journal's records as the kill left them: the dead agent can no longer finish or remove them.
fn kill_when(
    lab: &mut Lab,
    args: &[&str],
    what: &str,
    mut reached: impl FnMut(&SimHost) -> bool,
) -> Vec<String> {
    let mut client = start_cli(&on_host(lab.host(0), args));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if reached(lab.host(0)) {
            lab.host_mut(0).kill_agent();
            break;
        }
        if let Some(status) = client.0.try_wait().expect("wait for the client") {
            panic!(
                "{args:?} ended ({status}) before {what}; agent log:\n{}",
                lab.host(0).agent_log()
            );
        }
        assert!(Instant::now() < deadline, "{what} not reached in 60 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    let records = journal_records(lab.host(0));
    drop(client);
    lab.host_mut(0).restart_agent();
    records
}

fn progress(host: &SimHost) -> usize {
    objects_made(host, &["keep"], "hv")
}

/// What a kill left: the before- or the after-state, and either way a ledger that plans and converges
/// from there. An after-state is destroyed again, so the next kill starts from the before-state.
fn after_kill(
    host: &SimHost,
    what: &str,
    full: &str,
    [before, after]: [&State; 2],
) -> &'static str {
    let found = settles_into(
        host,
        &format!("the before- or after-state after a kill at {what}"),
        &[before, after],
    );
    let log = host.agent_log();
    assert!(
        journal_records(host).is_empty(),
        "recovery kept a record after the kill at {what}: {:?}\n{log}",
        journal_records(host)
    );
    if found == 1 {
        plans_nothing(host, full);
        let run = verb(host, &["destroy", TOPOLOGY]);
        assert!(
            run.finished.success(),
            "destroy after a finished apply: {run}"
        );
        settles_into(host, "the before-state after destroy", &[before]);
        "after"
    } else {
        let run = verb(host, &["plan", full]);
        assert!(run.finished.success(), "plan after a kill at {what}: {run}");
        "before"
    }
}

#[test]
fn kill_9_during_topology_changes_leaves_a_state_the_ledger_owns_and_reruns_converge() {
    let started = Instant::now();
    let mut lab = Lab::start_restartable(1);
    unrelated_objects(lab.host(0));
    let before = settled(|| state(lab.host(0)));
    let full = write(lab.host(0), "full.yaml", &topology_file(NAMESPACES));
    let shrunk = write(lab.host(0), "shrunk.yaml", &topology_file(KEPT));

    // The after-state, from one apply run to its end; destroy then gives back the before-state.
    apply(lab.host(0), &full);
    let after = state(lab.host(0));
    assert_ne!(after, before);
    let run = verb(lab.host(0), &["destroy", TOPOLOGY]);
    assert!(run.finished.success(), "destroy: {run}");
    settles_into(lab.host(0), "the before-state after destroy", &[&before]);

    let mut outcomes = Vec::new();
    let early = KILL_POINTS - LATE.len();
    let last = 2 * NAMESPACES - 10;
    for point in 0..KILL_POINTS {
        let (what, late) = if point < early {
            (
                format!("{} objects", threshold_of(point, early, last)),
                None,
            )
        } else {
            let late = LATE[point - early];
            (late.to_string(), Some(late))
        };
        // A late point is a few milliseconds before the batch ends; on a loaded machine the test may see
        // it too late and kill after the end. That kill says nothing about the point, so it is tried again.
        let mut missed = 0;
        let outcome = loop {
            let mut all_made = false;
            let unfinished =
                !kill_when(
                    &mut lab,
                    &["apply", "--yes", &full],
                    &what,
                    |host| match late {
                        None => progress(host) >= threshold_of(point, early, last),
                        Some(late) => {
                            all_made = all_made || progress(host) >= 2 * NAMESPACES;
                            all_made && late_point_reached(host, late)
                        }
                    },
                )
                .is_empty();
            let outcome = after_kill(lab.host(0), &what, &full, [&before, &after]);
            // Until the batch ended its record was unfinished, so recovery took it back; after, it is done.
            assert_eq!(
                outcome,
                if unfinished { "before" } else { "after" },
                "the kill at {what} found the batch's record {}",
                if unfinished { "unfinished" } else { "gone" }
            );
            let meant_to_end = late == Some(LATE[LATE.len() - 1]);
            if unfinished != meant_to_end || missed == 4 {
                break outcome;
            }
            missed += 1;
            eprintln!("the kill at {what} landed after the batch ended ({missed}); again");
        };
        outcomes.push(outcome);
    }
    let mut expected = vec!["before"; KILL_POINTS - 1];
    expected.push("after");
    assert_eq!(outcomes, expected, "what each kill point left");
    eprintln!("kill points: {outcomes:?}; {:?} so far", started.elapsed());

    // The apply again converges; then a shrinking apply and a destroy, each killed midway.
    apply(lab.host(0), &full);
    assert_eq!(state(lab.host(0)), after, "the re-run apply converged");
    plans_nothing(lab.host(0), &full);

    let namespaces_left = |host: &SimHost| objects_made(host, &["keep"], "\u{0}");
    kill_when(
        &mut lab,
        &["apply", "--yes", &shrunk],
        "5 namespaces deleted",
        |host| namespaces_left(host) <= NAMESPACES - 5,
    );
    let left = namespaces_left(lab.host(0));
    assert!(
        left < NAMESPACES && left > KEPT,
        "the shrinking apply was killed midway: {left} namespaces"
    );
    owns_everything_left(lab.host(0));
    deletions_are_reported(lab.host(0), 1);
    apply(lab.host(0), &shrunk);
    plans_nothing(lab.host(0), &shrunk);
    assert_eq!(namespaces_left(lab.host(0)), KEPT);

    kill_when(
        &mut lab,
        &["destroy", TOPOLOGY],
        "5 namespaces destroyed",
        |host| namespaces_left(host) <= KEPT - 5,
    );
    assert!(
        namespaces_left(lab.host(0)) > 0,
        "destroy was killed midway"
    );
    owns_everything_left(lab.host(0));
    deletions_are_reported(lab.host(0), 2);
    let run = verb(lab.host(0), &["destroy", TOPOLOGY]);
    assert!(run.finished.success(), "destroy again: {run}");
    settles_into(lab.host(0), "the before-state after destroy", &[&before]);
    eprintln!("took {:?}", started.elapsed());
}

/// After a kill during a change that deletes: every namespace and host-side veth of the topology still
/// on the host is in its record (`nsfleet drift` against the empty topology lists the record's objects).
fn owns_everything_left(host: &SimHost) {
    let empty = write(
        host,
        "empty.yaml",
        &format!("name: {TOPOLOGY}\nhosts:\n  host1: {{}}\n"),
    );
    let run = verb(host, &["plan", &empty]);
    assert!(run.finished.success(), "plan of nothing: {run}");
    let line: Value = serde_json::from_str(run.stdout().trim()).expect("one JSON line");
    let to_delete: Vec<String> = line["result"]["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["object"]["kind"] == "namespace")
        .filter_map(|c| c["object"]["name"].as_str().map(str::to_string))
        .collect();
    for name in run_netns(host).into_iter().filter(|n| n != "keep") {
        assert!(
            to_delete.contains(&name),
            "namespace {name} is on the host but the topology would not delete it: {to_delete:?}"
        );
    }
}

/// A deletion cannot be taken back: the transaction that made it is kept as `.unrecovered` (one more
/// per killed change that deleted), with the reason in the log, and nothing is kept as `.corrupt`.
fn deletions_are_reported(host: &SimHost, expected: usize) {
    let records = journal_records(host);
    eprintln!("set aside after a kill during deletions: {records:?}");
    assert_eq!(
        records
            .iter()
            .filter(|r| r.ends_with(".unrecovered"))
            .count(),
        expected,
        "{records:?}"
    );
    assert_eq!(records.len(), expected, "{records:?}");
    assert!(
        host.agent_log().contains("cannot be restored"),
        "{}",
        host.agent_log()
    );
}
