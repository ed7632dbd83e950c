//! `nsfleet graph` through the real binary: a live picture from a fake agent, and every kind of bad
//! input refused before any agent is contacted, with exit status 2 and a message naming the fault.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;

use support::{nsfleet, FakeAgent, Mode};

const FILE: &str = "name: t
hosts:
  alpha:
    namespaces:
      ns1: {}
  beta: {}
";

fn topology_file() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(FILE.as_bytes()).unwrap();
    file
}

#[test]
fn a_live_picture_shows_the_links_addresses_and_nat_the_agent_lists() {
    let agent = FakeAgent::start(Mode::Healthy);
    let run = nsfleet(&["--host", &agent.endpoint, "graph", "--format", "dot"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let host = format!("cluster_host__{}", {
        // The label is the endpoint; its id escapes every byte that is not a letter or digit.
        agent
            .endpoint
            .bytes()
            .map(|byte| {
                if byte.is_ascii_alphanumeric() {
                    char::from(byte).to_string()
                } else {
                    format!("_{byte:02x}")
                }
            })
            .collect::<String>()
    });
    assert!(run.stdout.contains(&host), "{}", run.stdout);
    // The fake's rule names eth0, which it does not list: the rule is drawn on the namespace.
    for expected in [
        "label=\"veth1\\n172.20.0.1/16\"",
        "namespace\\nNAT masquerade from 172.20.0.0/16 oif eth0",
        "label=\"netns1",
    ] {
        assert!(
            run.stdout.contains(expected),
            "no {expected}\n{}",
            run.stdout
        );
    }
}

#[test]
fn an_unreachable_host_draws_nothing() {
    let run = nsfleet(&[
        "--host",
        "unix:/nonexistent/agent.sock",
        "graph",
        "--timeout",
        "2",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("no picture drawn"), "{}", run.stderr);
}

#[test]
fn bad_input_is_refused_with_what_is_wrong() {
    let file = topology_file();
    let path = file.path().to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["graph", "--declared"], "--declared draws a topology file"),
        (
            &["graph", path, "--declared", "--host", "alpah"],
            "--host alpah: ",
        ),
        (
            &["graph", path, "--declared", "--host", "@web"],
            "--host @web",
        ),
        (
            &["-o", "json", "graph", path, "--declared"],
            "-o json: a picture has no JSON form",
        ),
        (
            &["graph", path, "--declared", "--format", "png"],
            "invalid value 'png' for '--format",
        ),
        (
            &["graph", "--endpoint", "alpha=unix:/x"],
            "--endpoint NAME=ENDPOINT names hosts of a topology file",
        ),
    ];
    for (args, expected) in cases {
        let run = nsfleet(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    let unknown = nsfleet(&["graph", path, "--declared", "--host", "alpah"]);
    assert!(
        unknown
            .stderr
            .contains(&format!("{path} has no host \"alpah\""))
            && unknown.stderr.contains("alpha"),
        "names the file and suggests the host: {}",
        unknown.stderr
    );
}

#[test]
fn declared_with_host_draws_only_that_host_into_the_file_given() {
    let file = topology_file();
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("picture.svg");
    let run = nsfleet(&[
        "graph",
        file.path().to_str().unwrap(),
        "--declared",
        "--host",
        "beta",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(
        svg.starts_with("<?xml"),
        "the .svg extension chose SVG: {svg}"
    );
    assert!(svg.contains("<title>host beta</title>"), "{svg}");
    assert!(!svg.contains("alpha"), "{svg}");
}
