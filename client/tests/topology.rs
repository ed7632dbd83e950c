//! `nsfleet plan|apply|drift|destroy` through the real binary against fake agents with canned plans:
//! the `+ ~ -/+ -` rendering, one JSON line per host in the file's order, the exit statuses, the
//! fingerprint passed from plan to apply, and nothing applied anywhere when one host cannot plan.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;

use support::{nsfleet, on_a_terminal, FakeAgent, Mode, Run};

/// `busy` gets a namespace (the fake plans four changes for it); `idle` gets nothing (no changes).
const FILE: &str = "name: tutorial
hosts:
  busy:
    namespaces:
      netns1: {}
  idle:
    forwarding: {ipv4: true}
";

fn topology_file() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(FILE.as_bytes()).unwrap();
    file
}

fn run(verb: &str, busy: &FakeAgent, idle: &FakeAgent, extra: &[&str]) -> Run {
    let file = topology_file();
    let busy_endpoint = format!("busy={}", busy.endpoint);
    let idle_endpoint = format!("idle={}", idle.endpoint);
    let mut args = vec![
        verb,
        file.path().to_str().unwrap(),
        "--endpoint",
        &busy_endpoint,
        "--endpoint",
        &idle_endpoint,
    ];
    args.extend(extra);
    nsfleet(&args)
}

fn agents() -> (FakeAgent, FakeAgent) {
    (
        FakeAgent::start(Mode::Healthy),
        FakeAgent::start(Mode::Healthy),
    )
}

#[test]
fn plan_prints_each_change_with_its_symbol_and_reason() {
    let (busy, idle) = agents();
    let run = run("plan", &busy, &idle, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "busy: 1 to create, 1 to change, 1 to replace, 1 to delete\n\
         \x20 + namespace netns1: not on the host\n\
         \x20 ~ address 172.20.0.11/16 on ceth1 in netns1: scope host -> global\n\
         \x20 -/+ link br0: kind veth -> bridge\n\
         \x20 - route default in netns9: no longer in the topology\n\
         \x20 warning: NAT rules while forwarding is off (fix: forwarding: {ipv4: true})\n\
         idle: no changes\n"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn detailed_exitcode_is_2_for_changes_and_0_for_none() {
    let (busy, idle) = agents();
    let changes = run("plan", &busy, &idle, &["--detailed-exitcode"]);
    assert_eq!(changes.code, 2, "{}", changes.stderr);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "name: t\nhosts:\n  idle: {}\n").unwrap();
    let endpoint = format!("idle={}", idle.endpoint);
    let quiet = nsfleet(&[
        "plan",
        file.path().to_str().unwrap(),
        "--detailed-exitcode",
        "--endpoint",
        &endpoint,
    ]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert_eq!(quiet.stdout, "idle: no changes\n");
}

#[test]
fn plan_json_is_one_line_per_host_in_file_order() {
    let (busy, idle) = agents();
    let run = run("plan", &busy, &idle, &["-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert_eq!(lines[0]["host"], "busy");
    assert_eq!(lines[0]["ok"], true);
    let changes = lines[0]["result"]["changes"].as_array().unwrap();
    let actions: Vec<&str> = changes
        .iter()
        .map(|change| change["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update", "replace", "delete"]);
    assert_eq!(changes[0]["object"]["kind"], "namespace");
    assert_eq!(lines[0]["result"]["fingerprint"], "fp-1");
    assert_eq!(lines[1]["host"], "idle");
    assert_eq!(lines[1]["result"]["changes"], serde_json::json!([]));
}

#[test]
fn a_failing_host_makes_plan_exit_1_even_with_changes_elsewhere() {
    let busy = FakeAgent::start(Mode::Healthy);
    let idle = FakeAgent::start(Mode::Failing);
    let run = run("plan", &busy, &idle, &["--detailed-exitcode"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "nsfleet: idle: PERMISSION_DENIED: the agent lacks CAP_NET_ADMIN\n"
    );
    assert!(
        run.stdout.starts_with("busy: 1 to create"),
        "{}",
        run.stdout
    );
}

#[test]
fn apply_shows_the_plan_then_applies_with_its_fingerprint() {
    let (busy, idle) = agents();
    // Standard input is not a terminal here: apply does not ask.
    let run = run("apply", &busy, &idle, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("busy: 1 to create, 1 to change, 1 to replace, 1 to delete\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with(
            "idle: no changes\n\
             busy: applied 1 to create, 1 to change, 1 to replace, 1 to delete\n\
             idle: no changes\n"
        ),
        "{}",
        run.stdout
    );
    // Plan and apply on busy; plan only on idle, which had nothing to do.
    assert_eq!((busy.calls(), idle.calls()), (2, 1));
}

#[test]
fn apply_json_has_only_the_results_one_line_per_host() {
    let (busy, idle) = agents();
    let run = run("apply", &busy, &idle, &["-o", "json", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert_eq!(lines[0]["host"], "busy");
    assert_eq!(lines[0]["result"]["changed"], true);
    assert_eq!(lines[0]["result"]["fingerprint"], "fp-2");
    assert_eq!(lines[1]["host"], "idle");
    assert_eq!(lines[1]["result"]["changed"], false);
    assert_eq!(run.stderr, "");
}

#[test]
fn apply_changes_nothing_when_a_host_cannot_plan() {
    let busy = FakeAgent::start(Mode::Healthy);
    let idle = FakeAgent::start(Mode::Failing);
    let run = run("apply", &busy, &idle, &["-o", "json"]);
    assert_eq!(run.code, 1);
    let lines = run.json_lines();
    assert_eq!(lines[0]["host"], "busy");
    assert_eq!(lines[0]["error"]["code"], "ABORTED");
    assert_eq!(lines[1]["error"]["code"], "PERMISSION_DENIED");
    // busy was asked for its plan, never for an apply.
    assert_eq!(busy.calls(), 1);
}

#[test]
fn drift_exits_2_when_a_host_differs() {
    let (busy, idle) = agents();
    let run = run("drift", &busy, &idle, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "busy: drifted; applying would: 1 to create\n\
         \x20 + link veth1: deleted behind nsfleet's back\n\
         idle: no drift\n"
    );
}

#[test]
fn destroy_needs_no_file_and_uses_the_hosts_given() {
    let (first, second) = agents();
    let run = nsfleet(&[
        "--host",
        &first.endpoint,
        "--host",
        &second.endpoint,
        "destroy",
        "tutorial",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "{0}: destroyed tutorial: 1 to delete\n  - namespace netns1: destroyed with its topology\n\
             {1}: destroyed tutorial: 1 to delete\n  - namespace netns1: destroyed with its topology\n",
            first.endpoint, second.endpoint
        )
    );
    let missing = nsfleet(&["--host", &first.endpoint, "destroy", "other"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("NOT_FOUND: no topology other"),
        "{}",
        missing.stderr
    );
    let ignored = nsfleet(&[
        "--host",
        &first.endpoint,
        "destroy",
        "other",
        "--ignore-missing",
    ]);
    assert_eq!(ignored.code, 0, "{}", ignored.stderr);
    assert_eq!(
        ignored.stdout,
        format!("{}: nothing of other to destroy\n", first.endpoint)
    );
}

#[test]
fn on_a_terminal_apply_asks_and_a_no_changes_nothing() {
    let (busy, idle) = agents();
    let file = topology_file();
    let (busy_endpoint, idle_endpoint) = (
        format!("busy={}", busy.endpoint),
        format!("idle={}", idle.endpoint),
    );
    let args = [
        "apply",
        file.path().to_str().unwrap(),
        "--endpoint",
        &busy_endpoint,
        "--endpoint",
        &idle_endpoint,
    ];
    let declined = on_a_terminal(&args, "n\n");
    assert_eq!(declined.code, 1, "{}", declined.stdout);
    assert!(
        declined
            .stdout
            .contains("Apply 4 changes on 1 host? [y/N] "),
        "{}",
        declined.stdout
    );
    assert!(
        declined.stdout.contains("nothing applied"),
        "{}",
        declined.stdout
    );
    // A terminal gets colour: the create symbol in green.
    assert!(
        declined
            .stdout
            .contains("\x1b[32m+\x1b[0m namespace netns1"),
        "{}",
        declined.stdout
    );
    assert_eq!(busy.calls(), 1, "only the plan");

    let accepted = on_a_terminal(&args, "y\n");
    assert_eq!(accepted.code, 0, "{}", accepted.stdout);
    for progress in [
        "busy: applying 1 to create, 1 to change, 1 to replace, 1 to delete",
        "busy: done",
    ] {
        assert!(
            accepted.stdout.contains(progress),
            "{progress}\n{}",
            accepted.stdout
        );
    }
    assert!(
        !accepted.stdout.contains("idle: applying"),
        "{}",
        accepted.stdout
    );
    assert_eq!(busy.calls(), 3, "a plan, then a plan and an apply");
}
