//! `kill -9` of the agent in the middle of a large batch, then a restart in the same simulated host: the
//! agent takes the batch back before it serves, so the host is exactly as before the batch every time, and
//! the same batch run again then converges.

use std::time::{Duration, Instant};

use nsfleet_tests::crash::{
    journal_dir, mounted_namespaces, objects_made, run_netns, settled, start_cli, KilledOnDrop,
};
use nsfleet_tests::{poll_until, Lab, Nsfleet, SimHost};
use serde_json::Value;

/// Namespaces the batch makes, each with a veth to the bridge, an address, a default route, `lo` up.
const NAMESPACES: usize = 200;
/// Kill points: each is a count of objects the batch made so far (namespaces plus host-side veths, so at
/// most twice [`NAMESPACES`]), spread over the whole batch. The kernel makes namespaces faster than
/// veths, so the first half of the range falls early in the batch's time and the second half late.
const KILL_POINTS: usize = 20;
/// The largest count killed at: close to the end, but the last operations still to come.
const LAST_KILL_POINT: usize = 2 * NAMESPACES - 20;

fn before_state(host: &SimHost) {
    for line in [
        "link add br0 type bridge",
        // A fixed MAC: a bridge otherwise takes its ports' and keeps it after they leave.
        "link set br0 address 02:00:00:00:10:00",
        "link set br0 up",
        "addr add 172.20.0.1/16 dev br0",
        "netns add keep",
        "link add keepv type veth peer name eth0 netns keep",
        "link set keepv master br0",
        "link set keepv up",
        "-n keep link set eth0 up",
        "-n keep addr add 172.20.0.2/16 dev eth0",
    ] {
        let run = host.cli(line);
        assert!(run.finished.success(), "{line}: {run}");
    }
}

fn batch_text() -> String {
    let mut lines = vec!["link set br0 up".to_string()];
    for i in 0..NAMESPACES {
        let ns = format!("c{i}");
        lines.extend([
            format!("netns add {ns}"),
            format!("link add cv{i} type veth peer name eth0 netns {ns}"),
            format!("link set cv{i} master br0"),
            format!("link set cv{i} up"),
            format!("-n {ns} link set lo up"),
            format!("-n {ns} link set eth0 up"),
            format!("-n {ns} addr add 172.20.1.{}/16 dev eth0", i + 1),
            format!("-n {ns} route add default via 172.20.0.1"),
        ]);
        if i == NAMESPACES / 2 {
            lines.push("forwarding set ipv4 on".to_string());
        }
    }
    lines.join("\n") + "\n"
}

/// What must be identical before the batch and after each recovery.
#[derive(Debug, PartialEq)]
struct State {
    namespaces: Vec<String>,
    run_netns: Vec<String>,
    host_links: Value,
    host_addresses: Value,
    keep_links: Value,
    keep_addresses: Value,
    forwarding: String,
}

fn state(host: &SimHost) -> State {
    let mut namespaces = host.ip_netns_list();
    namespaces.sort();
    State {
        namespaces,
        run_netns: run_netns(host),
        // Without -d: the details of a bridge include its running timers.
        host_links: host.ip_json("", &["link", "show"]),
        host_addresses: host.ip_json("", &["addr", "show"]),
        keep_links: host.ip_json("keep", &["link", "show"]),
        keep_addresses: host.ip_json("keep", &["addr", "show"]),
        forwarding: host.sysctl("", "net/ipv4/ip_forward"),
    }
}

/// How far the batch got: namespaces and host-side veths made so far.
fn progress(host: &SimHost) -> usize {
    objects_made(host, &["keep"], "cv")
}

fn start_batch(host: &SimHost, file: &std::path::Path) -> KilledOnDrop {
    let file = file.to_str().expect("a UTF-8 path");
    start_cli(&["--host", &host.endpoint(), "batch", file])
}

#[test]
fn kill_9_during_a_batch_then_restart_leaves_the_host_as_before_and_the_batch_converges() {
    let started = Instant::now();
    let mut lab = Lab::start_restartable(1);
    before_state(lab.host(0));
    let before = settled(|| state(lab.host(0)));
    let file = lab.host(0).dir().join("batch.txt");
    std::fs::write(&file, batch_text()).expect("write the batch file");

    let mut killed_at = Vec::new();
    for point in 0..KILL_POINTS {
        let threshold = 1 + point * (LAST_KILL_POINT - 1) / (KILL_POINTS - 1);
        let mut batch = start_batch(lab.host(0), &file);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let reached = progress(lab.host(0));
            if reached >= threshold {
                lab.host_mut(0).kill_agent();
                killed_at.push(reached);
                break;
            }
            if let Some(status) = batch.0.try_wait().expect("wait for the batch") {
                panic!(
                    "the batch ended ({status}) before {threshold} objects existed (had {reached}); \
                     agent log:\n{}",
                    lab.host(0).agent_log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the batch made only {reached} of {threshold} objects in 60 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(batch);
        lab.host_mut(0).restart_agent();
        let host = lab.host(0);
        // Deleted namespaces and the veths in them are destroyed by the kernel a little later.
        let recovered = Instant::now();
        poll_until(
            &format!("the before-state after a kill at {threshold}"),
            Duration::from_secs(20),
            || {
                let now = state(host);
                if now == before {
                    Ok(())
                } else if recovered.elapsed() > Duration::from_secs(15) {
                    Err(format!(
                        "{}; agent log:\n{}",
                        describe_difference(&before, &now),
                        host.agent_log()
                    ))
                } else {
                    Err(describe_difference(&before, &now))
                }
            },
        );
        let log = host.agent_log();
        assert!(
            !log.contains(".unrecovered") && !log.contains(".corrupt"),
            "recovery kept a record after the kill at {threshold}:\n{log}"
        );
    }
    eprintln!(
        "killed at {killed_at:?} objects; {} kill points in {:?}",
        killed_at.len(),
        started.elapsed()
    );

    let host = lab.host(0);
    let run = Nsfleet::on(host)
        .args(["batch", file.to_str().expect("a UTF-8 path")])
        .run();
    assert!(run.finished.success(), "the batch again: {run}");
    let namespaces = host.ip_netns_list();
    assert_eq!(namespaces.len(), NAMESPACES + 1);
    let last = format!("c{}", NAMESPACES - 1);
    let addresses = host.ip_json(&last, &["addr", "show", "dev", "eth0"]);
    assert_eq!(
        addresses[0]["addr_info"][0]["local"],
        format!("172.20.1.{NAMESPACES}")
    );
    let port = host
        .ip_link("", &format!("cv{}", NAMESPACES - 1))
        .expect("the last host-side veth");
    assert_eq!(port["master"], "br0");
    assert_eq!(host.sysctl("", "net/ipv4/ip_forward"), "1");
    let again = Nsfleet::on(host)
        .args(["batch", file.to_str().expect("a UTF-8 path")])
        .run();
    assert!(again.finished.success(), "the batch a third time: {again}");
    let left: Vec<_> = std::fs::read_dir(journal_dir(host))
        .expect("the journal directory")
        .collect();
    assert!(
        left.is_empty(),
        "finished batches leave no record: {left:?}"
    );
    assert!(
        !again.stdout().contains("\"changed\":true"),
        "a converged batch changed something: {}",
        again.stdout()
    );
}

fn describe_difference(before: &State, now: &State) -> String {
    let mut parts = Vec::new();
    if before.namespaces != now.namespaces {
        parts.push(format!("namespaces {:?}", now.namespaces));
    }
    if before.run_netns != now.run_netns {
        parts.push(format!("/run/netns {:?}", now.run_netns));
    }
    if before.host_links != now.host_links {
        parts.push(format!(
            "host links {}",
            difference(&before.host_links, &now.host_links)
        ));
    }
    if before.host_addresses != now.host_addresses {
        parts.push(format!(
            "host addresses {}",
            difference(&before.host_addresses, &now.host_addresses)
        ));
    }
    if before.keep_links != now.keep_links || before.keep_addresses != now.keep_addresses {
        parts.push("namespace keep changed".to_string());
    }
    if before.forwarding != now.forwarding {
        parts.push(format!("ip_forward {}", now.forwarding));
    }
    parts.join("; ")
}

/// The entries of `now` not in `before` and the reverse, shortly.
fn difference(before: &Value, now: &Value) -> String {
    let items = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let (before, now) = (items(before), items(now));
    let added: Vec<_> = now.iter().filter(|i| !before.contains(i)).collect();
    let gone: Vec<_> = before.iter().filter(|i| !now.contains(i)).collect();
    let shown = |list: &[&Value]| {
        let text = format!("{list:?}");
        text.chars().take(600).collect::<String>()
    };
    format!(
        "new/changed {} | gone/changed {}",
        shown(&added),
        shown(&gone)
    )
}

/// Starts the batch and kills the agent once `objects` exist; returns the unfinished record's text.
fn kill_during(lab: &mut Lab, file: &std::path::Path, objects: usize) -> String {
    let batch = start_batch(lab.host(0), file);
    poll_until("the batch under way", Duration::from_secs(60), || {
        if progress(lab.host(0)) >= objects {
            Ok(())
        } else {
            Err(format!("{} objects", progress(lab.host(0))))
        }
    });
    lab.host_mut(0).kill_agent();
    drop(batch);
    let records: Vec<_> = std::fs::read_dir(journal_dir(lab.host(0)))
        .expect("the journal directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(records.len(), 1, "one unfinished record: {records:?}");
    std::fs::read_to_string(&records[0]).expect("the record")
}

/// A namespace the batch made (its creation recorded with its identity) and that someone replaced with
/// one of the same name while the agent was down is not the batch's: recovery leaves it alone.
#[test]
fn recovery_leaves_alone_a_namespace_replaced_behind_its_back() {
    let mut lab = Lab::start_restartable(1);
    before_state(lab.host(0));
    let file = lab.host(0).dir().join("batch.txt");
    std::fs::write(&file, batch_text()).expect("write the batch file");
    let record = kill_during(&mut lab, &file, 40);
    // Namespaces whose creation finished: an `after` entry carries the namespace's cookie.
    let finished: Vec<String> = record
        .lines()
        .filter_map(|line| line.split_once(' ').map(|(_, json)| json))
        .filter_map(|json| serde_json::from_str::<Value>(json).ok())
        .filter(|entry| entry["entry"] == "after" && entry["undo"]["kind"] == "delete_namespace")
        .filter_map(|entry| entry["undo"]["name"].as_str().map(str::to_string))
        .collect();
    assert!(
        !finished.is_empty(),
        "no namespace creation finished: {record}"
    );
    let replaced = &finished[0];
    let host = lab.host(0);
    host.run_ok("", &["ip", "netns", "del", replaced]);
    poll_until(
        "the old namespace's name to be free",
        Duration::from_secs(10),
        || {
            let added = host.run_in("", &["ip", "netns", "add", replaced]);
            if added.success() {
                Ok(())
            } else {
                Err(added.to_string())
            }
        },
    );
    lab.host_mut(0).restart_agent();
    let host = lab.host(0);
    let mut namespaces = host.ip_netns_list();
    namespaces.sort();
    let mut expected = vec!["keep".to_string(), replaced.clone()];
    expected.sort();
    assert_eq!(
        namespaces,
        expected,
        "only the replaced namespace is left, with keep; agent log:\n{}",
        host.agent_log()
    );
    assert!(
        host.agent_log()
            .contains("not the one the transaction created"),
        "{}",
        host.agent_log()
    );
}

/// A record that does not read back (here: cut short, as by a disk that lost its end) is kept aside as
/// `.corrupt`, nothing it names is deleted, and the agent serves.
#[test]
fn a_corrupt_record_is_set_aside_and_nothing_is_deleted() {
    let mut lab = Lab::start_restartable(1);
    before_state(lab.host(0));
    let file = lab.host(0).dir().join("batch.txt");
    std::fs::write(&file, batch_text()).expect("write the batch file");
    let record = kill_during(&mut lab, &file, 40);
    let path = std::fs::read_dir(journal_dir(lab.host(0)))
        .expect("the journal directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .next()
        .expect("the record");
    std::fs::write(&path, &record[..record.len() - 5]).expect("cut the record short");
    let left = mounted_namespaces(lab.host(0));
    assert!(left.len() > 1, "the batch made namespaces: {left:?}");
    lab.host_mut(0).restart_agent();
    let host = lab.host(0);
    assert_eq!(
        mounted_namespaces(host),
        left,
        "recovery acted on a corrupt record"
    );
    assert!(!path.exists());
    assert!(
        path.with_extension("corrupt").exists(),
        "the record is kept as .corrupt"
    );
    assert!(
        host.agent_log().contains("cut short"),
        "{}",
        host.agent_log()
    );
    let run = host.cli("netns list");
    assert!(run.finished.success(), "the agent serves: {run}");
}

/// A route the batch replaced is put back exactly as it was, from what the journal recorded before the
/// replace.
#[test]
fn a_replaced_route_is_put_back_after_a_kill() {
    let mut lab = Lab::start_restartable(1);
    before_state(lab.host(0));
    let host = lab.host(0);
    let run = host.cli("route add 198.51.100.0/24 via 172.20.0.9 metric 7");
    assert!(run.finished.success(), "{run}");
    let routes_before = host.ip_routes("");
    let mut lines = vec!["route replace 198.51.100.0/24 via 172.20.0.8 metric 7".to_string()];
    lines.extend(batch_text().lines().map(str::to_string));
    let file = host.dir().join("batch.txt");
    std::fs::write(&file, lines.join("\n") + "\n").expect("write the batch file");
    let record = kill_during(&mut lab, &file, 60);
    assert!(record.contains("restore_route"), "{record}");
    lab.host_mut(0).restart_agent();
    let host = lab.host(0);
    poll_until(
        "the replaced route back and the batch's veths gone",
        Duration::from_secs(20),
        || {
            let routes = host.ip_routes("");
            if routes == routes_before && progress(host) == 0 {
                Ok(())
            } else {
                Err(format!("routes {routes:?}; {} objects", progress(host)))
            }
        },
    );
}
