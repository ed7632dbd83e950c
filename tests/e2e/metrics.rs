//! `--metrics`: a scrape from inside the simulated host shows the calls just made, with their status
//! codes, and what the agent holds; a bad metrics address stops the agent at start with a message
//! naming the flag.
//!
//! The agent runs in the simulated host's own network namespace, so the fixed port below is free there
//! and never touches the machine's loopback.

use nsfleet_tests::{binaries, Lab, Nsfleet, SimHost};

const METRICS: &str = "127.0.0.1:9464";

/// `GET /metrics` with curl, inside the simulated host.
fn scrape(host: &SimHost) -> String {
    let url = format!("http://{METRICS}/metrics");
    host.run_ok(
        "",
        &["curl", "--silent", "--show-error", "--max-time", "5", &url],
    )
}

/// The value of the series line that starts with `series` (name and labels exactly as exposed).
fn value(scraped: &str, series: &str) -> Option<f64> {
    scraped.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[test]
fn a_scrape_shows_the_calls_just_made_with_their_codes() {
    let lab = Lab::start_with_args(1, &["--metrics".into(), METRICS.into()]);
    let host = lab.host(0);
    let before = scrape(host);
    assert_eq!(value(&before, "nsfleet_namespaces"), Some(0.0), "{before}");

    host.cli("netns add blue").result();
    host.cli("-n nosuch link show").error("NOT_FOUND");
    // No route to the gateway: the kernel answers ENETUNREACH.
    host.cli("route add 198.51.100.0/24 via 192.0.2.1")
        .error("FAILED_PRECONDITION");

    let after = scrape(host);
    let created =
        r#"nsfleet_calls_total{method="/nsfleet.v1.NamespaceService/CreateNamespace",code="OK"}"#;
    assert_eq!(value(&after, created), Some(1.0), "{after}");
    let missing =
        r#"nsfleet_calls_total{method="/nsfleet.v1.LinkService/ListLinks",code="NOT_FOUND"}"#;
    assert_eq!(value(&after, missing), Some(1.0), "{after}");
    let latency = r#"nsfleet_call_duration_seconds_count{method="/nsfleet.v1.NamespaceService/CreateNamespace"}"#;
    assert_eq!(value(&after, latency), Some(1.0), "{after}");
    let unreachable = r#"nsfleet_netlink_errors_total{errno="ENETUNREACH"}"#;
    assert_eq!(value(&after, unreachable), Some(1.0), "{after}");
    // Held objects are read at scrape time, from the kernel's side (/run/netns), not from the calls.
    assert_eq!(value(&after, "nsfleet_namespaces"), Some(1.0), "{after}");
    assert!(after.contains("nsfleet_build_info{version=\""), "{after}");

    // Topology objects come from the ledger, also read at scrape time.
    let file = host.dir().join("metrics-topology.yaml");
    let topology = format!(
        "name: watched\nhosts:\n  host1:\n    endpoint: {}\n    namespaces:\n      red: {{}}\n",
        host.endpoint()
    );
    std::fs::write(&file, topology).expect("write the topology file");
    let file = file.to_str().expect("a UTF-8 path");
    let applied = Nsfleet::new().text().args(["apply", file, "--yes"]).run();
    assert_eq!(applied.exit_code(), Some(0), "{applied}");
    let held = scrape(host);
    assert_eq!(value(&held, "nsfleet_topologies"), Some(1.0), "{held}");
    let owned = r#"nsfleet_topology_objects{kind="namespace"}"#;
    assert_eq!(value(&held, owned), Some(1.0), "{held}");
    assert_eq!(value(&held, "nsfleet_namespaces"), Some(2.0), "{held}");
    assert!(after.contains("nsfleet_uptime_seconds "), "{after}");
    assert!(after.trim_end().ends_with("# EOF"), "{after}");

    let elsewhere = host.run_ok(
        "",
        &[
            "curl",
            "--silent",
            "--write-out",
            "%{http_code}",
            &format!("http://{METRICS}/other"),
        ],
    );
    assert!(elsewhere.ends_with("404"), "{elsewhere}");
}

#[test]
fn a_metrics_address_in_use_or_exposed_stops_the_agent_at_start() {
    let lab = Lab::start_with_args(1, &["--metrics".into(), METRICS.into()]);
    let host = lab.host(0);
    let agent = binaries().agent.to_str().expect("a UTF-8 path");
    let socket = host.dir().join("second.sock");
    let socket_arg = format!("unix:{}", socket.display());
    let state = host.dir().join("second-state");
    let state = state.to_str().expect("a UTF-8 path");
    let second = |metrics_args: &[&str]| {
        let mut argv = vec![agent, "--listen", &socket_arg, "--state-dir", state];
        argv.extend_from_slice(metrics_args);
        host.run_in("", &argv)
    };

    let in_use = second(&["--metrics", METRICS]);
    assert_eq!(in_use.status.code(), Some(1), "{in_use}");
    assert!(
        in_use.stderr.contains(&format!("--metrics {METRICS}: "))
            && in_use.stderr.contains("in use"),
        "{in_use}"
    );
    assert!(!socket.exists(), "nothing was served: {in_use}");

    let exposed = second(&["--metrics", "0.0.0.0:9465"]);
    assert_eq!(exposed.status.code(), Some(1), "{exposed}");
    assert!(
        exposed
            .stderr
            .contains("refusing to serve --metrics on 0.0.0.0:9465")
            && exposed.stderr.contains("--metrics-insecure"),
        "{exposed}"
    );

    // The first agent was not disturbed.
    assert!(scrape(host).contains("nsfleet_uptime_seconds "));
}
