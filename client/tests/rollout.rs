//! `nsfleet apply FILE --confirm DUR` through the real binary against fake agents that keep confirmed
//! commits in memory and answer probes from a tiny model of the network: 192.0.2.1 always answers,
//! 192.0.2.2 stops answering once its host holds a change, 192.0.2.3 never answers.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;

use nsfleet_proto::v1::CommitState;
use support::{nsfleet, FakeAgent, Mode, Run};

const HOSTS: [&str; 4] = ["h1", "h2", "h3", "h4"];

/// Every host gets a namespace, so each has changes (the fake plans four for it).
fn file(probes: &str) -> tempfile::NamedTempFile {
    let mut text = String::from("name: tutorial\nhosts:\n");
    for host in HOSTS {
        text.push_str(&format!("  {host}:\n    namespaces:\n      netns1: {{}}\n"));
    }
    if !probes.is_empty() {
        text.push_str("probes:\n");
        text.push_str(probes);
    }
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn agents() -> Vec<FakeAgent> {
    HOSTS
        .iter()
        .map(|_| FakeAgent::start(Mode::Healthy))
        .collect()
}

fn apply(agents: &[FakeAgent], probes: &str, extra: &[&str]) -> Run {
    let file = file(probes);
    let endpoints: Vec<String> = HOSTS
        .iter()
        .zip(agents)
        .map(|(host, agent)| format!("{host}={}", agent.endpoint))
        .collect();
    let mut args = vec!["apply", file.path().to_str().unwrap(), "--yes"];
    for endpoint in &endpoints {
        args.extend(["--endpoint", endpoint.as_str()]);
    }
    args.extend(extra);
    nsfleet(&args)
}

/// The state of each agent's only commit (None: it saw no commit).
fn commit_states(agents: &[FakeAgent]) -> Vec<Option<CommitState>> {
    agents
        .iter()
        .map(|agent| {
            let commits = agent.commits();
            assert!(commits.len() <= 1, "{commits:?}");
            commits.first().map(|(_, state)| *state)
        })
        .collect()
}

/// One JSON line per host in file order: (host, state, stage).
fn states(run: &Run) -> Vec<(String, String, Option<u64>)> {
    run.json_lines()
        .iter()
        .map(|line| {
            (
                line["host"].as_str().unwrap().to_owned(),
                line["state"].as_str().unwrap().to_owned(),
                line["stage"].as_u64(),
            )
        })
        .collect()
}

fn row(host: &str, state: &str, stage: Option<u64>) -> (String, String, Option<u64>) {
    (host.to_owned(), state.to_owned(), stage)
}

const PASSING: &str = "  - {host: h1, namespace: netns1, tcp: '192.0.2.1:80'}\n  - {host: h3, ping: 192.0.2.1}\n  - {agent: h4}\n";

#[test]
fn a_canary_then_stages_confirm_every_host_with_one_commit_id() {
    let agents = agents();
    let run = apply(
        &agents,
        PASSING,
        &[
            "--confirm",
            "2m",
            "--canary",
            "1",
            "--max-unavailable",
            "2",
            "-o",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        states(&run),
        [
            row("h1", "confirmed", Some(1)),
            row("h2", "confirmed", Some(2)),
            row("h3", "confirmed", Some(2)),
            row("h4", "confirmed", Some(3)),
        ]
    );
    assert_eq!(commit_states(&agents), [Some(CommitState::Confirmed); 4]);
    let ids: Vec<String> = agents.iter().map(|a| a.commits()[0].0.clone()).collect();
    assert!(
        ids.iter()
            .all(|id| *id == ids[0] && id.starts_with("tutorial-")),
        "{ids:?}"
    );
    let lines = run.json_lines();
    assert_eq!(lines[0]["commit_id"], ids[0].as_str());
    assert_eq!(lines[0]["probes"][0]["outcome"], "passed");
    assert_eq!(lines[3]["probes"][0]["probe"], "agent of h4");
}

#[test]
fn a_failing_probe_rolls_its_stage_back_and_stops_the_rollout() {
    let agents = agents();
    // h2's change breaks 192.0.2.2; h3 shares its stage.
    let probes = "  - {host: h2, tcp: '192.0.2.2:80'}\n";
    let run = apply(
        &agents,
        probes,
        &[
            "--confirm",
            "90s",
            "--canary",
            "1",
            "--max-unavailable",
            "2",
        ],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        "h1: confirmed (stage 1)\n\
         h2: rolled back (stage 2): a probe failed\n\
         \x20 probe tcp 192.0.2.2:80 from h2: failed (connection refused)\n\
         h3: rolled back (stage 2): another host of its stage failed\n\
         h4: not started: the rollout stopped after 1 failed host(s)\n"
    );
    assert_eq!(
        commit_states(&agents),
        [
            Some(CommitState::Confirmed),
            Some(CommitState::RolledBack),
            Some(CommitState::RolledBack),
            None
        ]
    );
    assert_eq!(agents[3].calls(), 1, "h4 was planned, never applied");
}

#[test]
fn a_higher_failure_limit_lets_later_stages_run() {
    let agents = agents();
    let probes = "  - {host: h1, tcp: '192.0.2.2:80'}\n";
    let run = apply(
        &agents,
        probes,
        &[
            "--confirm",
            "1m",
            "--canary",
            "1",
            "--max-failures",
            "2",
            "-o",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        states(&run),
        [
            row("h1", "rolled_back", Some(1)),
            row("h2", "confirmed", Some(2)),
            row("h3", "confirmed", Some(2)),
            row("h4", "confirmed", Some(2)),
        ]
    );
    assert_eq!(run.json_lines()[0]["ok"], false);
}

#[test]
fn a_probe_that_failed_before_the_change_does_not_block_and_says_so() {
    let agents = agents();
    let probes = "  - {host: h1, ping: 192.0.2.3}\n";
    let run = apply(&agents, probes, &["--confirm", "1m"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("probe ping 192.0.2.3 from h1: failed before the change too (not blocking)"),
        "{}",
        run.stdout
    );
    assert_eq!(commit_states(&agents), [Some(CommitState::Confirmed); 4]);
}

#[test]
fn without_auto_confirm_the_hosts_stay_pending_and_the_id_is_printed() {
    let agents = agents();
    let run = apply(&agents, PASSING, &["--confirm", "1m", "--no-auto-confirm"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(commit_states(&agents), [Some(CommitState::Pending); 4]);
    let id = &agents[0].commits()[0].0;
    assert!(
        run.stderr.contains(&format!("nsfleet confirm {id}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.starts_with("h1: pending (stage 1)\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_flags_are_refused_before_any_host_is_called() {
    let agents = agents();
    for (extra, needle) in [
        (&["--confirm", "0s"][..], "below the minimum 1s"),
        (&["--confirm", "2d"][..], "90s, 2m, 1h"),
        (&["--confirm", "2h"][..], "above the maximum 1h"),
        (&["--canary", "1"][..], "--confirm"),
        (&["--max-unavailable", "2"][..], "--confirm"),
        (&["--allow-mgmt-change"][..], "--confirm"),
        (&["--confirm", "1m", "--canary", "0"][..], "--canary"),
    ] {
        let run = apply(&agents, "", extra);
        assert_eq!(run.code, 2, "{extra:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{extra:?}: {}", run.stderr);
    }
    assert!(agents.iter().all(|agent| agent.calls() == 0));
}

/// The fake treats a namespace named "mgmt" as a change of its management path.
fn management_file() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"name: tutorial\nhosts:\n  h1:\n    namespaces:\n      mgmt: {}\n")
        .unwrap();
    file
}

fn apply_management(agent: &FakeAgent, extra: &[&str]) -> Run {
    let file = management_file();
    let endpoint = format!("h1={}", agent.endpoint);
    let mut args = vec![
        "apply",
        file.path().to_str().unwrap(),
        "--yes",
        "--endpoint",
        &endpoint,
    ];
    args.extend(extra);
    nsfleet(&args)
}

#[test]
fn a_management_path_refusal_names_the_flag_that_allows_it_with_a_confirm() {
    let agent = FakeAgent::start(Mode::Healthy);
    for extra in [&[][..], &["--confirm", "1m"][..]] {
        let run = apply_management(&agent, extra);
        assert_eq!(run.code, 1, "{extra:?}: {}", run.stderr);
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(
            said.contains("cut the agent off")
                && said.contains("pass --allow-mgmt-change with --confirm DURATION"),
            "{extra:?}: {said}"
        );
    }
    assert!(agent.commits().is_empty());
    let run = apply_management(&agent, &["--confirm", "1m", "--allow-mgmt-change"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "h1: confirmed (stage 1)\n");
    assert_eq!(agent.commits()[0].1, CommitState::Confirmed);
}
