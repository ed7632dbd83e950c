//! `nsfleet validate` on real files, through the real binary: the README's topology passes and shows
//! both hosts; a bad file fails with exit status 1 and every problem at its FILE:LINE:COL, in text and
//! in JSON; the verbs that need agents say which host has no endpoint before contacting any.

use std::path::{Path, PathBuf};

use nsfleet_tests::Nsfleet;
use serde_json::Value;

/// The README's `<!-- topology-example -->` block, as a file in `dir`.
fn readme_topology(dir: &Path) -> PathBuf {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let block = readme
        .split_once("<!-- topology-example -->\n```yaml\n")
        .expect("the README has the topology example")
        .1
        .split_once("\n```")
        .expect("the example's block ends")
        .0;
    write(dir, "tutorial.yaml", block)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the topology file");
    path
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

#[test]
fn the_readme_topology_validates_with_both_hosts() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = readme_topology(dir.path());
    let run = Nsfleet::new().args(["validate", path_text(&file)]).run();
    assert_eq!(run.exit_code(), Some(0), "{run}");
    let hosts: Vec<&Value> = run.lines.iter().map(|line| &line["host"]).collect();
    assert_eq!(hosts, ["host1", "host2"], "{run}");
    for line in &run.lines {
        assert_eq!(line["ok"], true, "{run}");
        let namespaces: Vec<&str> = line["result"]["namespaces"]
            .as_array()
            .expect("namespaces")
            .iter()
            .filter_map(|namespace| namespace["name"].as_str())
            .collect();
        assert_eq!(namespaces, ["netns1", "netns2", "upstream"], "{run}");
        assert_eq!(line["result"]["name"], "tutorial", "{run}");
    }
    let text = Nsfleet::new()
        .text()
        .args(["validate", path_text(&file)])
        .run();
    assert_eq!(text.exit_code(), Some(0), "{text}");
    assert!(
        text.stdout()
            .starts_with("host1: 3 namespaces, 4 links, 5 addresses"),
        "{text}"
    );
}

#[test]
fn a_bad_file_fails_with_each_problem_at_its_place() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = write(
        dir.path(),
        "bad.yaml",
        "name: t\nhosts:\n  h1:\n    bridgs: {br0: {}}\n    namespaces:\n      n1:\n        veths:\n          c1: {peer: {name: v1, namespace: n2}}\n",
    );
    let path = path_text(&file);
    let text = Nsfleet::new().text().args(["validate", path]).run();
    assert_eq!(text.exit_code(), Some(1), "{text}");
    assert!(
        text.stderr().contains(&format!(
            "{path}:4:5: unknown key \"bridgs\"; did you mean \"bridges\"?"
        )),
        "{text}"
    );
    assert!(text.stdout().is_empty(), "{text}");

    let json = Nsfleet::new().args(["validate", path]).run();
    assert_eq!(json.exit_code(), Some(1), "{json}");
    assert_eq!(json.lines.len(), 1, "{json}");
    let line = &json.lines[0];
    assert_eq!(line["ok"], false, "{json}");
    assert_eq!(line["file"], path, "{json}");
    assert_eq!(line["error"]["code"], "INVALID_ARGUMENT", "{json}");
    assert_eq!(line["error"]["problems"][0]["line"], 4, "{json}");
    assert_eq!(line["error"]["problems"][0]["column"], 5, "{json}");
}

#[test]
fn semantic_problems_are_found_without_an_agent() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = write(
        dir.path(),
        "refs.yaml",
        "name: t\nhosts:\n  h1:\n    namespaces:\n      n1:\n        veths:\n          c1: {peer: {name: v1, namespace: n2}}\n",
    );
    let path = path_text(&file);
    let run = Nsfleet::new().text().args(["validate", path]).run();
    assert_eq!(run.exit_code(), Some(1), "{run}");
    assert!(
        run.stderr().contains(&format!(
            "{path}:7:44: the peer's namespace \"n2\" is not declared on host h1"
        )),
        "{run}"
    );
}

#[test]
fn plan_names_the_hosts_without_an_endpoint_before_calling_any() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = readme_topology(dir.path());
    let path = path_text(&file);
    let run = Nsfleet::new()
        .text()
        .args([
            "plan",
            path,
            "--endpoint",
            "host1=unix:/nonexistent/agent.sock",
        ])
        .run();
    assert_eq!(run.exit_code(), Some(1), "{run}");
    assert!(
        run.stderr().contains(&format!(
            "no endpoint for host host2: give each an `endpoint:` in {path}, --endpoint NAME=ENDPOINT or an inventory entry"
        )),
        "{run}"
    );
    let run = Nsfleet::new()
        .text()
        .args(["plan", path, "--endpoint", "hots1=unix:/x"])
        .run();
    assert_eq!(run.exit_code(), Some(1), "{run}");
    assert!(run.stderr().contains("did you mean \"host1\"?"), "{run}");
}

#[test]
fn an_unreachable_host_is_an_error_not_a_change() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = readme_topology(dir.path());
    // Two sockets: one endpoint named for two hosts is refused before any call (another test).
    let nobody = |host: &str| {
        format!(
            "unix:{}",
            dir.path().join(format!("{host}-nobody.sock")).display()
        )
    };
    let run = Nsfleet::new()
        .args([
            "plan",
            path_text(&file),
            "--detailed-exitcode",
            "--endpoint",
            &format!("host1={}", nobody("host1")),
            "--endpoint",
            &format!("host2={}", nobody("host2")),
        ])
        .run();
    assert_eq!(run.exit_code(), Some(1), "{run}");
    let hosts: Vec<&Value> = run.lines.iter().map(|line| &line["host"]).collect();
    assert_eq!(hosts, ["host1", "host2"], "{run}");
    for line in &run.lines {
        assert_eq!(line["ok"], false, "{run}");
        assert_eq!(line["error"]["code"], "UNAVAILABLE", "{run}");
    }
}

/// The README's probes appended to the README's topology: they validate; each kind of mistake in a
/// probe is placed at its FILE:LINE:COL, and `apply --confirm` stops there before any agent is called.
#[test]
fn probes_are_checked_against_the_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let tutorial = std::fs::read_to_string(readme_topology(dir.path())).expect("tutorial file");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let probes = readme
        .split_once("<!-- probes-example -->\n```yaml\nprobes:\n")
        .expect("the README has a probes example")
        .1
        .split_once("\n```")
        .expect("the example's block ends")
        .0;
    let good = write(
        dir.path(),
        "probes.yaml",
        &format!("{tutorial}\nprobes:\n{probes}\n"),
    );
    let run = Nsfleet::new().args(["validate", path_text(&good)]).run();
    assert_eq!(run.exit_code(), Some(0), "{run}");

    let first_probe_line = tutorial.lines().count() + 2;
    // Each problem is placed at the value it is about (`at`), 4 columns into `  - ` plus one.
    for (probe, at, message) in [
        (
            "{host: host9, ping: 192.0.2.1}",
            "host9",
            "host \"host9\" is not in this file's hosts",
        ),
        (
            "{host: host1, namespace: netns9, ping: 192.0.2.1}",
            "netns9",
            "namespace \"netns9\" is not declared on host \"host1\" in this file",
        ),
        (
            "{host: host1, ping: 192.0.2.256}",
            "192.0.2.256",
            "ping: \"192.0.2.256\" is not",
        ),
        (
            "{host: host1, tcp: 192.0.2.1}",
            "192.0.2.1",
            "tcp: \"192.0.2.1\" is not ADDRESS:PORT",
        ),
        (
            "{host: host1, tcp: '192.0.2.1:0'}",
            "'192.0.2.1:0'",
            "tcp: port 0 in \"192.0.2.1:0\" is out of range 1-65535",
        ),
    ] {
        let bad = write(
            dir.path(),
            "bad-probe.yaml",
            &format!("{tutorial}\nprobes:\n  - {probe}\n"),
        );
        let path = path_text(&bad);
        let run = Nsfleet::new()
            .text()
            .args([
                "apply",
                path,
                "--confirm",
                "1m",
                "--endpoint",
                "host1=unix:/nonexistent/agent.sock",
                "--endpoint",
                "host2=unix:/nonexistent/agent.sock",
            ])
            .run();
        assert_eq!(run.exit_code(), Some(1), "{probe}: {run}");
        let column = 5 + probe.find(at).expect("the value is in the probe");
        let expected = format!("{path}:{first_probe_line}:{column}: {message}");
        assert!(
            run.stderr().contains(&expected),
            "{probe}: expected {expected}\n{run}"
        );
        assert!(
            !run.stderr().contains("nonexistent"),
            "{probe}: an agent was called\n{run}"
        );
    }
}
