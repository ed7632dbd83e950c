//! The real `nsfleet` binary against in-process fake agents on unix sockets: one host, several hosts
//! (one failing), unreachable hosts and slow hosts; JSON lines, stderr lines and exit statuses.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::{command, nsfleet, FakeAgent, Mode};

#[test]
fn one_host_json() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&["--host", &agent.endpoint, "-o", "json", "netns", "list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.json_lines(),
        [json!({
            "host": agent.endpoint,
            "ok": true,
            "result": {"namespaces": [{"name": "netns1", "inode": 4026532281u64}, {"name": "netns2", "inode": 4026532345u64}]}
        })]
    );
    assert!(
        run.stdout
            .starts_with(&format!("{{\"host\":\"{}\",\"ok\":true,", agent.endpoint)),
        "{}",
        run.stdout
    );
    assert_eq!(agent.calls(), 1);
}

#[test]
fn one_host_text() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&["--host", &agent.endpoint, "netns"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "netns1\nnetns2\n", "")
    );
}

#[test]
fn two_hosts_one_failing_json_in_host_order() {
    let healthy = FakeAgent::start(Mode::Healthy);
    let failing = FakeAgent::start(Mode::Failing);
    for (first, second) in [(&healthy, &failing), (&failing, &healthy)] {
        let run = nsfleet(&[
            "-o",
            "json",
            "--host",
            &first.endpoint,
            "--host",
            &second.endpoint,
            "netns",
            "list",
        ]);
        assert_eq!(run.code, 1);
        assert_eq!(run.stderr, "", "json mode keeps errors in the lines");
        let lines = run.json_lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["host"], first.endpoint.as_str());
        assert_eq!(lines[1]["host"], second.endpoint.as_str());
        let failed = lines
            .iter()
            .find(|line| line["host"] == failing.endpoint.as_str())
            .unwrap();
        assert_eq!(
            failed,
            &json!({"host": failing.endpoint, "ok": false,
                    "error": {"code": "PERMISSION_DENIED", "message": "the agent lacks CAP_NET_ADMIN"}})
        );
        let succeeded = lines
            .iter()
            .find(|line| line["host"] == healthy.endpoint.as_str())
            .unwrap();
        assert_eq!(succeeded["ok"], true);
    }
}

#[test]
fn two_hosts_text_blocks_and_error_lines() {
    let healthy = FakeAgent::start(Mode::Healthy);
    let failing = FakeAgent::start(Mode::Failing);
    let run = nsfleet(&[
        "netns",
        "ls",
        "--host",
        &healthy.endpoint,
        "--host",
        &failing.endpoint,
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        format!("{}:\nnetns1\nnetns2\n", healthy.endpoint)
    );
    assert_eq!(
        run.stderr,
        format!(
            "nsfleet: {}: PERMISSION_DENIED: the agent lacks CAP_NET_ADMIN\n",
            failing.endpoint
        )
    );
}

#[test]
fn unreachable_unix_endpoint_fails_alone() {
    let healthy = FakeAgent::start(Mode::Healthy);
    let directory = tempfile::tempdir().unwrap();
    let missing = format!("unix:{}", directory.path().join("nobody.sock").display());
    let run = nsfleet(&[
        "-o",
        "json",
        "--host",
        &missing,
        "--host",
        &healthy.endpoint,
        "netns",
        "list",
    ]);
    assert_eq!(run.code, 1);
    let lines = run.json_lines();
    assert_eq!(lines[0]["host"], missing.as_str());
    assert_eq!(lines[0]["ok"], false);
    assert_eq!(lines[0]["error"]["code"], "UNAVAILABLE");
    let message = lines[0]["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("cannot connect to {missing}: ")),
        "{message}"
    );
    assert_eq!(lines[1]["ok"], true);
}

#[test]
fn unreachable_tcp_endpoint_in_text_mode() {
    // Nothing listens on the loopback's port 1; the connection is refused at once.
    let run = nsfleet(&["--host", "127.0.0.1:1", "--timeout", "5", "link"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .starts_with("nsfleet: 127.0.0.1:1: UNAVAILABLE: cannot connect to 127.0.0.1:1: "),
        "{}",
        run.stderr
    );
}

#[test]
fn global_options_after_the_subcommand() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&[
        "link",
        "list",
        "-n",
        "netns1",
        "-o",
        "json",
        "--host",
        &agent.endpoint,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = run.json_lines();
    let link = &lines[0]["result"]["links"][0];
    assert_eq!(link["namespace"], "netns1");
    assert_eq!(link["oper_state"], "up");
    assert_eq!(link["peer"]["name"], "ceth1");
}

#[test]
fn hosts_from_the_environment() {
    let first = FakeAgent::start(Mode::Healthy);
    let second = FakeAgent::start(Mode::Healthy);
    let output = command()
        .env(
            "NSFLEET_HOSTS",
            format!("{},{}", first.endpoint, second.endpoint),
        )
        .args(["-o", "json", "netns"])
        .output()
        .unwrap();
    let run = support::Run::from(output);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let hosts: Vec<String> = run
        .json_lines()
        .iter()
        .map(|line| line["host"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hosts, [first.endpoint.clone(), second.endpoint.clone()]);
}

#[test]
fn many_hosts_keep_their_order() {
    let healthy = FakeAgent::start(Mode::Healthy);
    let failing = FakeAgent::start(Mode::Failing);
    let mut args = vec!["-o", "json", "netns"];
    let endpoints: Vec<&str> = (0..12)
        .map(|index| {
            if index % 3 == 0 {
                failing.endpoint.as_str()
            } else {
                healthy.endpoint.as_str()
            }
        })
        .collect();
    for endpoint in &endpoints {
        args.extend(["--host", endpoint]);
    }
    let run = nsfleet(&args);
    assert_eq!(run.code, 1);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 12);
    for (line, endpoint) in lines.iter().zip(&endpoints) {
        assert_eq!(line["host"], *endpoint);
        assert_eq!(line["ok"], *endpoint == healthy.endpoint.as_str());
    }
}

#[test]
fn timeout_gives_deadline_exceeded() {
    let agent = FakeAgent::start(Mode::Healthy);
    let started = std::time::Instant::now();
    let run = nsfleet(&[
        "--host",
        &agent.endpoint,
        "--timeout",
        "0.5",
        "-o",
        "json",
        "route",
        "show",
        "table",
        "99",
    ]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(run.code, 1);
    assert_eq!(
        run.json_lines()[0]["error"],
        json!({"code": "DEADLINE_EXCEEDED", "message": "no answer within 0.5 s"})
    );
}

#[test]
fn tcp_endpoint_next_to_a_unix_one() {
    let over_tcp = FakeAgent::start_tcp(Mode::Healthy);
    let over_unix = FakeAgent::start(Mode::Failing);
    let run = nsfleet(&[
        "-o",
        "json",
        "--host",
        &over_tcp.endpoint,
        "--host",
        &over_unix.endpoint,
        "link",
        "show",
        "veth1",
    ]);
    assert_eq!(run.code, 1);
    let lines = run.json_lines();
    assert_eq!(lines[0]["host"], over_tcp.endpoint.as_str());
    assert_eq!(lines[0]["result"]["links"][0]["name"], "veth1");
    assert_eq!(lines[1]["error"]["code"], "PERMISSION_DENIED");
    assert_eq!(over_tcp.calls(), 1);
}
