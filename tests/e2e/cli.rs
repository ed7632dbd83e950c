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
        let run = host.cli(line);
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

/// A batch file in the simulated host's temporary directory, which the CLI (outside the host) can read.
fn batch_file(host: &SimHost, name: &str, text: &str) -> String {
    let path = host.dir().join(name);
    std::fs::write(&path, text).expect("write a batch file");
    path.display().to_string()
}

#[test]
fn the_batch_commands_netns_applies_to_lines_without_their_own() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.run_ok("", &["ip", "netns", "add", "netns1"]);
    let file = batch_file(
        host,
        "setup.batch",
        "link add br9 type bridge\n-n '' link add br8 type bridge\n",
    );
    Nsfleet::on(host)
        .args(["-n", "netns1", "batch", &file])
        .run()
        .result();
    assert!(
        host.ip_link("netns1", "br9").is_some(),
        "-n netns1 reached line 1"
    );
    assert!(
        host.ip_link("", "br9").is_none(),
        "line 1 went to the host namespace"
    );
    assert!(host.ip_link("", "br8").is_some(), "line 2's own -n '' wins");
}

#[test]
fn deletes_with_ignore_missing_succeed_unchanged_when_it_is_gone() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.run_ok("", &["ip", "link", "set", "lo", "up"]);
    for line in [
        "netns del gone",
        "link del gone0",
        "addr del 192.0.2.9/24 dev lo",
        "route del 198.51.100.0/24",
        "nat del 0123456789abcdef",
    ] {
        let refused = host.cli(line);
        assert_eq!(
            refused.exit_code(),
            Some(1),
            "without --ignore-missing\n{refused}"
        );
        let run = host.cli(&format!("{line} --ignore-missing"));
        assert!(!nsfleet_tests::json::changed(run.result()), "{line}\n{run}");
    }

    // A teardown script runs twice: the second time everything is already gone.
    host.run_ok("", &["ip", "netns", "add", "netns1"]);
    host.run_ok("", &["ip", "link", "add", "br7", "type", "bridge"]);
    let file = batch_file(
        host,
        "teardown.batch",
        "link del br7 --ignore-missing\nnetns del netns1 --ignore-missing\n",
    );
    for (round, changed) in [(1, true), (2, false)] {
        let run = Nsfleet::on(host).args(["batch", &file]).run();
        let results = run.result()["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(results.len(), 2, "round {round}\n{run}");
        assert!(
            results.iter().all(|result| result["changed"] == changed),
            "round {round}: every line changed = {changed}\n{run}"
        );
    }
    assert!(host.ip_link("", "br7").is_none());
    assert_eq!(host.ip_netns_list(), Vec::<String>::new());
}

#[test]
fn neigh_list_hides_noarp_entries_unless_nud_all() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    for argv in [
        &[
            "ip", "link", "add", "va", "type", "veth", "peer", "name", "vb",
        ][..],
        &["ip", "address", "add", "192.0.2.1/24", "dev", "va"],
        &["ip", "link", "set", "va", "up"],
        &[
            "ip",
            "neigh",
            "add",
            "192.0.2.5",
            "lladdr",
            "02:00:00:00:00:05",
            "dev",
            "va",
            "nud",
            "noarp",
        ],
        &[
            "ip",
            "neigh",
            "add",
            "192.0.2.6",
            "lladdr",
            "02:00:00:00:00:06",
            "dev",
            "va",
            "nud",
            "permanent",
        ],
    ] {
        host.run_ok("", argv);
    }
    // The oracle: iproute2 hides NOARP by default too.
    let ip_default = host.run_ok("", &["ip", "neigh", "show", "dev", "va"]);
    assert!(
        !ip_default.contains("192.0.2.5") && ip_default.contains("192.0.2.6"),
        "{ip_default}"
    );
    let addresses = |line: &str| -> Vec<String> {
        let run = host.cli(line);
        let neighbors = run.result()["neighbors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        neighbors
            .iter()
            .filter_map(|n| n["address"].as_str().map(String::from))
            .filter(|address| address.starts_with("192.0.2."))
            .collect()
    };
    assert_eq!(addresses("neigh list dev va"), ["192.0.2.6"]);
    let mut all = addresses("neigh list dev va nud all");
    all.sort();
    assert_eq!(all, ["192.0.2.5", "192.0.2.6"]);
    assert_eq!(addresses("neigh list nud noarp"), ["192.0.2.5"]);
    let text = Nsfleet::on(host).text().line("neigh list").run();
    assert_eq!(text.exit_code(), Some(0), "{text}");
    assert!(!text.stdout().contains("NOARP"), "{text}");
}

#[test]
fn an_explicit_timeout_bounds_a_whole_ping() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    host.run_ok("", &["ip", "link", "set", "lo", "up"]);
    // 20 requests 0.2 s apart take about 4.8 s; --timeout 1.5 must end the command long before that.
    let started = std::time::Instant::now();
    let run = host.cli("--timeout 1.5 ping 127.0.0.1 -c 20 -i 0.2");
    let elapsed = started.elapsed();
    let error = run.error("DEADLINE_EXCEEDED");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("1.5 s")),
        "{run}"
    );
    assert!(
        elapsed < std::time::Duration::from_secs(4),
        "took {elapsed:?}\n{run}"
    );
    // Without --timeout the same ping has the time it needs.
    let run = host.cli("ping 127.0.0.1 -c 3 -i 0.2");
    assert_eq!(run.result()["summary"]["received"], 3, "{run}");
}

#[test]
fn the_agent_without_privileges_says_it_needs_root_and_exits_1() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let agent = nsfleet_tests::binaries().agent.display().to_string();
    let socket = format!("unix:{}", host.dir().join("unprivileged.sock").display());
    // Inside the simulated host, as nobody with no capabilities; the unix socket keeps it off TCP.
    let run = host.run_in(
        "",
        &[
            "timeout",
            "20",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            &agent,
            "--listen",
            &socket,
        ],
    );
    assert_eq!(run.status.code(), Some(1), "{run}");
    assert!(
        run.stderr
            .contains("needs root, or the capabilities CAP_NET_ADMIN and CAP_SYS_ADMIN"),
        "{run}"
    );
}

/// `--timeout 0.5 netns list` against the agent socket at `path`: the host fails with `code` and a
/// message that says `says`, long before the default timeout of 30 s.
fn fails_at_its_timeout(path: &std::path::Path, code: &str, says: &str) {
    let started = std::time::Instant::now();
    let run = Nsfleet::new()
        .endpoint(&format!("unix:{}", path.display()))
        .line("--timeout 0.5 netns list")
        .run();
    let elapsed = started.elapsed();
    let error = run.error(code);
    assert!(
        error["message"].as_str().is_some_and(|m| m.contains(says)),
        "{run}"
    );
    assert!(
        elapsed < std::time::Duration::from_secs(10),
        "took {elapsed:?}\n{run}"
    );
}

/// One host on a unix socket is called with blocking reads (no timer can interrupt them): an agent that
/// takes the connection and never answers must still end the command at --timeout, as
/// DEADLINE_EXCEEDED, having been sent the whole request.
#[test]
fn a_silent_agent_on_a_unix_socket_ends_the_command_at_its_timeout() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("silent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind the silent socket");
    let silent = std::thread::spawn(move || {
        let (mut connection, _) = listener.accept().expect("the client connects");
        let mut received = Vec::new();
        // Until the client hangs up.
        std::io::Read::read_to_end(&mut connection, &mut received).map(|_| received)
    });
    fails_at_its_timeout(&path, "DEADLINE_EXCEEDED", "0.5 s");
    let received = silent.join().expect("the listener thread").expect("read");
    assert!(
        received.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        "{received:?}"
    );
    let path_sent = b"/nsfleet.v1.NamespaceService/ListNamespaces";
    assert!(
        received.windows(path_sent.len()).any(|w| w == path_sent),
        "the request's header block names its method as a plain literal: {received:?}"
    );
}

/// An agent whose queue of pending connections is full (stuck, not accepting): the dial waits at most
/// the connect timeout, then the host is UNAVAILABLE with the reason, instead of the command hanging.
#[test]
fn a_unix_socket_whose_queue_stays_full_fails_the_dial_at_the_timeout() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("stuck.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind the stuck socket");
    // A backlog of 0 holds one pending connection; a second connect then waits for room.
    // SAFETY: listen(2) on a socket this test owns; listening again only changes the backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let _first = std::os::unix::net::UnixStream::connect(&path).expect("the queue's one place");
    fails_at_its_timeout(&path, "UNAVAILABLE", "stayed full");
    drop(listener);
}
