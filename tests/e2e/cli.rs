//! The CLI's contract: exit status (0 all hosts fine, 1 a host failed, 2 usage), one JSON line per host
//! in `--host` order, global options on either side of the subcommand, `NSFLEET_HOSTS`, and the text
//! format of errors and of several hosts' output.

use nsfleet_tests::{CliRun, Lab, Nsfleet, SimHost};

/// A `--host` that nobody listens on: a socket path inside the lab's own temporary directory.
fn unreachable_endpoint(host: &SimHost) -> String {
    format!("unix:{}", host.dir().join("nobody-listens.sock").display())
}

fn namespace_names(run: &CliRun, line: usize) -> Vec<String> {
    let namespaces = run.lines[line]["result"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    namespaces
        .iter()
        .filter_map(|ns| ns["name"].as_str().map(String::from))
        .collect()
}

#[test]
fn every_host_succeeding_exits_0_with_one_line_per_host_in_order() {
    let lab = Lab::start(2);
    lab.host(0)
        .run_ok("", &["ip", "netns", "add", "only-on-host1"]);
    let run = lab.cli("netns list");
    assert_eq!(run.results().len(), 2, "{run}");
    assert_eq!(
        namespace_names(&run, 0),
        ["only-on-host1"],
        "line 1 is host1's\n{run}"
    );
    assert_eq!(
        namespace_names(&run, 1),
        Vec::<String>::new(),
        "line 2 is host2's\n{run}"
    );

    let reversed = Nsfleet::new()
        .host(lab.host(1))
        .host(lab.host(0))
        .line("netns list")
        .run();
    reversed.results();
    assert_eq!(
        namespace_names(&reversed, 1),
        ["only-on-host1"],
        "lines follow the --host order\n{reversed}"
    );
}

#[test]
fn an_unreachable_host_exits_1_and_the_others_still_run() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let bad = unreachable_endpoint(host);
    let run = Nsfleet::on(host)
        .endpoint(&bad)
        .line("netns add netns1")
        .run();
    assert_eq!(run.exit_code(), Some(1), "{run}");
    run.assert_one_line_per_host();
    assert_eq!(
        run.lines[0]["ok"], true,
        "the reachable host succeeds\n{run}"
    );
    assert_eq!(run.lines[1]["ok"], false, "{run}");
    assert_eq!(run.lines[1]["error"]["code"], "UNAVAILABLE", "{run}");
    assert_eq!(
        host.ip_netns_list(),
        ["netns1"],
        "the reachable host did the work"
    );

    let alone = Nsfleet::new().endpoint(&bad).line("netns list").run();
    alone.error("UNAVAILABLE");
}

#[test]
fn a_host_that_refuses_exits_1_and_names_its_error() {
    let lab = Lab::start(2);
    lab.host(0).run_ok("", &["ip", "netns", "add", "netns1"]);
    let run = lab.cli("netns del netns1");
    assert_eq!(run.exit_code(), Some(1), "{run}");
    run.assert_one_line_per_host();
    assert_eq!(run.lines[0]["ok"], true, "{run}");
    assert_eq!(run.lines[1]["error"]["code"], "NOT_FOUND", "{run}");
    assert!(run.lines[1]["error"]["message"].is_string(), "{run}");
}

#[test]
fn usage_errors_exit_2() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    for line in [
        "frobnicate",
        "link add",
        "link add veth1 type",
        "link set veth1 mtu not-a-number",
        "netns add a b c d",
        "-o yaml netns list",
    ] {
        let run = Nsfleet::on(host).line(line).run();
        assert_eq!(run.exit_code(), Some(2), "`{line}` is a usage error\n{run}");
        assert!(
            !run.stderr().is_empty(),
            "a usage error explains itself on stderr\n{run}"
        );
    }
    let no_host = Nsfleet::new()
        .args([
            "--timeout",
            "soon",
            "--host",
            &host.endpoint(),
            "netns",
            "list",
        ])
        .run();
    assert_eq!(no_host.exit_code(), Some(2), "{no_host}");
    assert_eq!(
        host.ip_netns_list(),
        Vec::<String>::new(),
        "usage errors must not reach the host"
    );
}

#[test]
fn global_options_may_follow_the_subcommand() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.run_ok("", &["ip", "netns", "add", "netns1"]);
    let endpoint = host.endpoint();
    let run = Nsfleet::new()
        .args([
            "link", "list", "-n", "netns1", "--host", &endpoint, "-o", "json",
        ])
        .run();
    let links = run
        .lines
        .first()
        .map(|line| line["result"]["links"].clone())
        .unwrap_or_default();
    assert_eq!(run.exit_code(), Some(0), "{run}");
    assert_eq!(links[0]["name"], "lo", "netns1 holds only lo\n{run}");
    assert_eq!(
        links[0]["namespace"], "netns1",
        "-n after the subcommand applies\n{run}"
    );
}

#[test]
fn nsfleet_hosts_env_names_several_hosts() {
    let lab = Lab::start(2);
    let hosts = format!("{},{}", lab.host(0).endpoint(), lab.host(1).endpoint());
    let run = Nsfleet::new()
        .env("NSFLEET_HOSTS", &hosts)
        .line("netns add netns1")
        .run();
    assert_eq!(run.exit_code(), Some(0), "{run}");
    assert_eq!(run.lines.len(), 2, "{run}");
    for host in lab.hosts() {
        assert_eq!(host.ip_netns_list(), ["netns1"], "{}", host.label());
    }
}

#[test]
fn text_errors_name_host_and_code_on_stderr() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let run = Nsfleet::on(host).text().line("netns del nosuch").run();
    assert_eq!(run.exit_code(), Some(1), "{run}");
    let prefix = format!("nsfleet: {}: NOT_FOUND: ", host.endpoint());
    assert!(
        run.stderr().lines().any(|line| line.starts_with(&prefix)),
        "stderr should have {prefix:?}...\n{run}"
    );
}

#[test]
fn text_output_of_several_hosts_is_one_block_per_host() {
    let lab = Lab::start(2);
    lab.host(0).run_ok("", &["ip", "netns", "add", "on-host1"]);
    lab.host(1).run_ok("", &["ip", "netns", "add", "on-host2"]);
    let run = lab.nsfleet().text().line("netns list").run();
    assert_eq!(run.exit_code(), Some(0), "{run}");
    let stdout = run.stdout();
    let header = |i: usize| format!("{}:", lab.host(i).endpoint());
    let first = stdout
        .lines()
        .position(|l| l.trim() == header(0))
        .unwrap_or_else(|| panic!("no {} block\n{run}", header(0)));
    let second = stdout
        .lines()
        .position(|l| l.trim() == header(1))
        .unwrap_or_else(|| panic!("no {} block\n{run}", header(1)));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(first < second, "blocks follow the --host order\n{run}");
    assert!(
        lines[first..second].iter().any(|l| l.contains("on-host1")),
        "host1's block\n{run}"
    );
    assert!(
        lines[second..].iter().any(|l| l.contains("on-host2")),
        "host2's block\n{run}"
    );
}
