//! `nsfleet monitor` and WatchService end to end: changes made through nsfleet and behind its back on
//! two simulated hosts, in order and marked by who made them; a watcher that never reads does not hold
//! up a large batch and learns that it lost events; an unknown namespace; and a watcher whose client
//! goes away is let go of (the agent's watchers gauge returns to 0).

use std::time::Duration;

use nsfleet_proto::v1 as pb;
use pb::watch_service_client::WatchServiceClient;
use serde_json::Value;

use nsfleet_tests::{binaries, poll_until, Background, Lab, SimHost};

/// Only when to give up waiting for a line; never whether the result is right.
const PATIENCE: Duration = Duration::from_secs(30);

const METRICS: &str = "127.0.0.1:9465";

/// `nsfleet monitor` on `hosts`, started from inside the first host (unix sockets are reached by path).
fn monitor(hosts: &[&SimHost], words: &[&str]) -> Background {
    let client = binaries().client.display().to_string();
    let mut argv: Vec<String> = vec![client];
    for host in hosts {
        argv.push("--host".into());
        argv.push(host.endpoint());
    }
    argv.extend(words.iter().map(|word| word.to_string()));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    hosts[0].spawn_in("", &argv)
}

/// Reads JSON lines until every host said its snapshot is done.
fn wait_for_snapshots(monitor: &mut Background, hosts: &[&SimHost]) {
    let mut done: Vec<String> = Vec::new();
    while done.len() < hosts.len() {
        let line: Value = serde_json::from_str(&monitor.next_line(PATIENCE)).unwrap_or_default();
        if line["snapshot_done"] == Value::Bool(true) {
            done.push(line["host"].as_str().unwrap_or_default().to_string());
        }
    }
}

#[test]
fn monitor_on_two_hosts_shows_nsfleet_s_changes_and_external_ones_in_order() {
    let lab = Lab::start(2);
    let hosts = lab.hosts();
    let mut json = monitor(
        &hosts,
        &["-o", "json", "monitor", "link", "address", "--snapshot"],
    );
    let mut text = monitor(&hosts, &["monitor", "link", "--snapshot"]);
    wait_for_snapshots(&mut json, &hosts);
    // The text monitor prints its snapshot markers too; one per host.
    for _ in 0..hosts.len() {
        text.wait_for_line_containing("[SNAPSHOT DONE]", PATIENCE);
    }

    for host in &hosts {
        host.cli("link add br7 type bridge").result();
        host.cli("addr add 192.0.2.1/24 dev br7").result();
        host.run_ok("", &["ip", "link", "add", "br8", "type", "bridge"]);
    }

    // Per host, the three changes in the order they were made, each with its origin.
    let wanted = [
        ("link", "br7", "nsfleet"),
        ("address", "192.0.2.1/24", "nsfleet"),
        ("link", "br8", "external"),
    ];
    let mut seen: Vec<Vec<(String, String, String)>> = vec![Vec::new(); hosts.len()];
    while seen.iter().any(|host| host.len() < wanted.len()) {
        let line: Value = serde_json::from_str(&json.next_line(PATIENCE)).unwrap_or_default();
        if line["action"] != "new" {
            continue;
        }
        // Hosts given as endpoints are labelled by them.
        let Some(index) = hosts.iter().position(|h| line["host"] == h.endpoint()) else {
            continue;
        };
        let entry = (
            line["kind"].as_str().unwrap_or_default().to_string(),
            line["object"].as_str().unwrap_or_default().to_string(),
            line["origin"].as_str().unwrap_or_default().to_string(),
        );
        if wanted
            .iter()
            .any(|(kind, object, _)| entry.0 == *kind && entry.1 == *object)
        {
            seen[index].push(entry);
        }
    }
    for (host, seen) in hosts.iter().zip(&seen) {
        let expected: Vec<(String, String, String)> = wanted
            .iter()
            .map(|(k, o, by)| (k.to_string(), o.to_string(), by.to_string()))
            .collect();
        assert_eq!(seen, &expected, "{}\n{}", host.label(), json.report());
    }

    // Text: the host first, `ip monitor label` words, the origin last.
    let line = text.wait_for_line_containing("br8:", PATIENCE);
    assert!(
        hosts
            .iter()
            .any(|h| line.starts_with(&format!("{}: [LINK] ", h.endpoint()))),
        "{line}"
    );
    assert!(line.ends_with("(external)"), "{line}");
}

#[test]
fn a_watcher_that_never_reads_does_not_hold_up_a_batch_and_learns_it_lost_events() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut events = runtime.block_on(async {
        // The smallest HTTP/2 stream window, so that what the transport buffers for a reader that never
        // reads is small next to what the batch announces. The connection window stays large: h2 sizes
        // its budget of buffered small DATA frames by it, and goes away (ENHANCE_YOUR_CALM) past it.
        let channel = tonic::transport::Endpoint::from_shared(host.endpoint())
            .expect("endpoint")
            .initial_stream_window_size(65_535)
            .initial_connection_window_size(1 << 20)
            .connect()
            .await
            .expect("connect to the agent");
        WatchServiceClient::new(channel)
            .watch(pb::WatchRequest {
                all_namespaces: true,
                ..Default::default()
            })
            .await
            .expect("the watch starts")
            .into_inner()
    });

    // 1000 operations, each announced by the kernel at least twice (both ends of a veth): far more than
    // a watcher queues plus what HTTP/2 buffers.
    let lines: String = (0..1000)
        .map(|i| format!("link add va{i} type veth peer name vb{i}\n"))
        .collect();
    let file = host.dir().join("many-bridges.batch");
    std::fs::write(&file, lines).expect("write the batch file");
    let batch = host.cli(&format!("batch {}", file.display()));
    batch.result();
    let links = host.ip_json("", &["link", "show", "type", "veth"]);
    assert_eq!(links.as_array().map(Vec::len), Some(2000));

    // Only now does the watcher read: somewhere in what was kept, one marker says events were lost.
    let lost_at = runtime.block_on(async {
        let mut read = 0usize;
        loop {
            let event = tokio::time::timeout(PATIENCE, events.message())
                .await
                .expect("the marker arrives once the watcher reads")
                .expect("the stream goes on")
                .expect("the stream is not over");
            read += 1;
            if event.lost {
                return read;
            }
        }
    });
    assert!(lost_at > 1, "events queued before the loss come first");
    // And the stream goes on after it: a new change still arrives.
    host.cli("link add after type bridge").result();
    runtime.block_on(async {
        loop {
            let event = tokio::time::timeout(PATIENCE, events.message())
                .await
                .expect("a change after the loss arrives")
                .expect("the stream goes on")
                .expect("the stream is not over");
            if event.object == "after" {
                assert_eq!(event.origin(), pb::WatchOrigin::Nsfleet);
                break;
            }
        }
    });
}

#[test]
fn watching_an_unknown_namespace_is_not_found_naming_it() {
    let lab = Lab::start(1);
    let error = lab
        .host(0)
        .cli("-n nosuch monitor")
        .error("NOT_FOUND")
        .clone();
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("namespace nosuch"), "{message}");
}

#[test]
fn a_watcher_whose_client_goes_away_is_let_go_of() {
    let lab = Lab::start_with_args(1, &["--metrics".into(), METRICS.into()]);
    let host = lab.host(0);
    let watchers = || -> Result<f64, String> {
        let url = format!("http://{METRICS}/metrics");
        let scraped = host.run_ok(
            "",
            &["curl", "--silent", "--show-error", "--max-time", "5", &url],
        );
        scraped
            .lines()
            .find_map(|line| line.strip_prefix("nsfleet_watchers "))
            .and_then(|value| value.trim().parse().ok())
            .ok_or_else(|| format!("no nsfleet_watchers in\n{scraped}"))
    };
    let mut watching = monitor(
        &[host],
        &["-o", "json", "monitor", "--all-namespaces", "--snapshot"],
    );
    wait_for_snapshots(&mut watching, &[host]);
    assert_eq!(watchers(), Ok(1.0));
    drop(watching);
    poll_until(
        "the agent to let go of the watcher",
        PATIENCE,
        || match watchers()? {
            0.0 => Ok(()),
            other => Err(format!("{other} watchers")),
        },
    );
    // The agent still serves.
    host.cli("netns add still").result();
}

#[test]
fn namespaces_appearing_and_disappearing_are_followed_with_their_links() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let mut watching = monitor(
        &[host],
        &[
            "-o",
            "json",
            "monitor",
            "netns",
            "link",
            "--all-namespaces",
            "--snapshot",
        ],
    );
    wait_for_snapshots(&mut watching, &[host]);
    host.cli("netns add blue").result();
    host.run_ok("", &["ip", "netns", "add", "red"]);
    host.run_ok("red", &["ip", "link", "add", "br9", "type", "bridge"]);
    expect_in_order(
        &mut watching,
        &[
            ("netns", "new", "", "blue", "nsfleet"),
            ("netns", "new", "", "red", "external"),
            ("link", "new", "red", "br9", "external"),
        ],
    );
    // Namespaces are found by a poll: one created and deleted between two polls is not reported.
    host.run_ok("", &["ip", "netns", "del", "red"]);
    expect_in_order(
        &mut watching,
        &[("netns", "deleted", "", "red", "external")],
    );
}

/// Reads JSON lines until each of `wanted` (kind, action, namespace, object, origin) was seen, in order;
/// other lines in between are skipped.
fn expect_in_order(watching: &mut Background, wanted: &[(&str, &str, &str, &str, &str)]) {
    for (kind, action, namespace, object, origin) in wanted {
        loop {
            let line: Value =
                serde_json::from_str(&watching.next_line(PATIENCE)).unwrap_or_default();
            if line["kind"] == *kind
                && line["action"] == *action
                && line["namespace"] == *namespace
                && line["object"] == *object
            {
                assert_eq!(line["origin"], *origin, "{line}");
                break;
            }
        }
    }
}
