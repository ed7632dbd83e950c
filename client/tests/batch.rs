//! `nsfleet batch`: one ApplyBatch call per host for a whole file, line numbers in every message, the
//! JSON line per host, exit statuses.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::process::Stdio;

use support::{command, nsfleet, on_a_terminal, FakeAgent, Mode, Run};

const SETUP: &str = "# two namespaces on a bridge\n\
                     netns add n1\n\
                     link add veth1 type veth peer name ceth1 netns n1\n\
                     \n\
                     -n n1 addr add 172.20.0.11/16 dev ceth1\n\
                     -n n1 route add default via 172.20.0.10\n";

fn script(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn batch(agents: &[&FakeAgent], extra: &[&str], text: &str) -> Run {
    let file = script(text);
    let mut args: Vec<&str> = Vec::new();
    for agent in agents {
        args.extend(["--host", agent.endpoint.as_str()]);
    }
    args.extend(extra);
    args.extend(["batch", file.path().to_str().unwrap()]);
    nsfleet(&args)
}

#[test]
fn a_file_is_one_call_per_host_and_silent_but_for_warnings() {
    let (a, b) = (
        FakeAgent::start(Mode::Healthy),
        FakeAgent::start(Mode::Healthy),
    );
    let run = batch(&[&a, &b], &[], SETUP);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "warning: {0}: line 5: ceth1 is a port of br0 (fix: nsfleet addr del ...)\n\
             warning: {1}: line 5: ceth1 is a port of br0 (fix: nsfleet addr del ...)\n",
            a.endpoint, b.endpoint
        )
    );
    assert_eq!((a.calls(), b.calls()), (1, 1));
}

#[test]
fn a_failed_line_is_named_with_what_was_undone_and_exits_1() {
    let agent = FakeAgent::start(Mode::Healthy);
    let text = "netns add n1\nnetns del old\n# taken\nnetns add taken\nnetns add n3\n";
    let run = batch(&[&agent], &[], text);
    assert_eq!(run.code, 1);
    let host = &agent.endpoint;
    assert_eq!(
        run.stderr,
        format!(
            "nsfleet: {host}: line 4: ALREADY_EXISTS: namespace taken already exists\n\
             nsfleet: {host}: 1 operation undone\n\
             nsfleet: {host}: 1 operation applied and not undone (line 2: a deleted namespace cannot be restored)\n\
             nsfleet: {host}: 1 operation skipped\n"
        )
    );
}

#[test]
fn continue_keeps_going_and_still_exits_1() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = batch(
        &[&agent],
        &["-o", "json"],
        "netns add taken\nnetns add n2\n",
    );
    let skipped = &run.json_lines()[0]["result"]["results"][1]["outcome"];
    assert_eq!(skipped, "skipped");
    let file = script("netns add taken\nnetns add n2\n");
    let path = file.path().to_str().unwrap();
    let run = nsfleet(&[
        "--host",
        &agent.endpoint,
        "-o",
        "json",
        "batch",
        "--continue",
        path,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let line = &run.json_lines()[0];
    assert_eq!(line["result"]["results"][1]["outcome"], "applied");
}

#[test]
fn json_is_one_line_per_host_with_the_response() {
    let (good, failing) = (
        FakeAgent::start(Mode::Healthy),
        FakeAgent::start(Mode::Failing),
    );
    let run = batch(&[&good, &failing], &["-o", "json"], SETUP);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["host"], good.endpoint.as_str());
    assert_eq!(lines[0]["ok"], true);
    let result = &lines[0]["result"];
    assert_eq!(result["ok"], true);
    assert_eq!(result["results"].as_array().unwrap().len(), 4);
    // results[i].index is the i-th operation line of the file (lines 2, 3, 5, 6 here).
    assert_eq!(result["results"][2]["index"], 2);
    assert_eq!(
        result["results"][2]["warnings"][0]["code"],
        "ADDRESS_ON_BRIDGE_PORT"
    );
    assert_eq!(lines[1]["ok"], false);
    assert_eq!(lines[1]["error"]["code"], "PERMISSION_DENIED");

    let run = batch(&[&good], &["-o", "json"], "netns add n1\nnetns add taken\n");
    assert_eq!(run.code, 1);
    let line = &run.json_lines()[0];
    assert_eq!(line["ok"], false);
    assert_eq!(line["error"]["code"], "ALREADY_EXISTS");
    assert_eq!(
        line["error"]["message"],
        "line 2: namespace taken already exists"
    );
    assert_eq!(line["result"]["results"][0]["outcome"], "undone");
}

#[test]
fn stdin_is_read_for_a_dash() {
    let agent = FakeAgent::start(Mode::Healthy);
    let mut child = command()
        .args(["--host", &agent.endpoint, "-o", "json", "batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"netns add a\nnetns add b\n")
        .unwrap();
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json_lines()[0]["result"]["results"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn usage_errors_name_the_line_and_contact_no_host() {
    let agent = FakeAgent::start(Mode::Healthy);
    let cases = [
        (
            "netns add a\nlink show veth1\n",
            "nsfleet: batch: line 2: link list is not a change",
        ),
        (
            "netns add a\n\n--host x:1 netns add b\n",
            "nsfleet: batch: line 3: --host belongs to the batch command",
        ),
        (
            "-o json netns add b\n",
            "nsfleet: batch: line 1: -o/--output belongs",
        ),
        (
            "route add default via gw1\n",
            "nsfleet: batch: line 1: route add: invalid address \"gw1\"",
        ),
        ("# nothing\n\n", "nsfleet: batch: "),
    ];
    for (text, expected) in cases {
        let run = batch(&[&agent], &[], text);
        assert_eq!(run.code, 2, "{text:?}: {}", run.stderr);
        assert!(run.stderr.starts_with(expected), "{text:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
    let run = nsfleet(&["--host", &agent.endpoint, "batch", "/nonexistent/setup.txt"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("nsfleet: batch: cannot read /nonexistent/setup.txt"),
        "{}",
        run.stderr
    );
    assert_eq!(agent.calls(), 0);
}

/// On a terminal a batch on several hosts says when each host starts and ends (as `apply` does); piped,
/// the first test above shows nothing of it.
#[test]
fn on_a_terminal_a_batch_on_several_hosts_shows_per_host_progress() {
    let (a, b) = (
        FakeAgent::start(Mode::Healthy),
        FakeAgent::start(Mode::Healthy),
    );
    let file = script(SETUP);
    let run = on_a_terminal(
        &[
            "--host",
            &a.endpoint,
            "--host",
            &b.endpoint,
            "batch",
            file.path().to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    for endpoint in [&a.endpoint, &b.endpoint] {
        for progress in [
            format!("{endpoint}: applying 4 operations"),
            format!("{endpoint}: done"),
        ] {
            assert!(run.stdout.contains(&progress), "{progress}\n{}", run.stdout);
        }
    }
    let one = on_a_terminal(
        &[
            "--host",
            &a.endpoint,
            "batch",
            file.path().to_str().unwrap(),
        ],
        "",
    );
    assert!(!one.stdout.contains("applying"), "{}", one.stdout);
}
