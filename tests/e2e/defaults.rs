//! Safe by default: with no listener options the agent serves only its unix socket, which root (and the
//! agent's --socket-group) may open and nobody else, and the CLI with no --host finds it there. A TCP
//! listener needs authentication even on loopback, where every local user could reach it.
//!
//! The unprivileged user is uid/gid 65534 with no supplementary groups (`setpriv`), running a copy of the
//! CLI placed in the simulated host's private /run, so that what refuses it is the agent's socket or the
//! agent, never the permissions of the build directory.

use nsfleet_tests::{binaries, Finished, Lab, SimHost};

const NOBODY: &str = "65534";
/// Where the test puts a world-executable copy of the CLI, inside the simulated host's private /run.
const CLI_IN_HOST: &str = "/run/nsfleet-test/nsfleet";

fn install_cli(host: &SimHost) {
    host.run_ok("", &["mkdir", "-p", "/run/nsfleet-test"]);
    let copy = format!("/proc/{}/root{CLI_IN_HOST}", host.pid());
    std::fs::copy(&binaries().client, &copy).expect("copy the CLI into the simulated host");
    host.run_ok("", &["chmod", "0755", "/run/nsfleet-test", CLI_IN_HOST]);
}

/// The CLI inside the simulated host as the unprivileged user.
fn cli_as_nobody(host: &SimHost, args: &[&str]) -> Finished {
    let mut argv = vec![
        "setpriv",
        "--reuid",
        NOBODY,
        "--regid",
        NOBODY,
        "--clear-groups",
        "--",
        CLI_IN_HOST,
    ];
    argv.extend(args);
    host.run_in("", &argv)
}

/// The CLI inside the simulated host as root, with no --host and no NSFLEET_HOSTS.
fn cli_as_root(host: &SimHost, args: &[&str]) -> Finished {
    let mut argv = vec!["env", "-u", "NSFLEET_HOSTS", CLI_IN_HOST];
    argv.extend(args);
    host.run_in("", &argv)
}

fn assert_refused(finished: &Finished, why: &str) {
    assert!(
        !finished.success(),
        "the unprivileged user was let in: {finished}"
    );
    // The CLI ran and said why: not an exec failure that would pass for a refusal.
    assert!(
        finished.stderr.contains(why),
        "expected {why:?} in: {finished}"
    );
}

#[test]
fn default_socket_serves_root_and_refuses_an_unprivileged_user() {
    let lab = Lab::start_with_default_listener(&[]);
    let host = lab.host(0);
    install_cli(host);

    let root = cli_as_root(host, &["netns", "add", "mine"]);
    assert!(root.success(), "root with the CLI's default host: {root}");
    assert_eq!(host.ip_netns_list(), ["mine"]);

    let socket = format!("unix:{}", nsfleet_proto::DEFAULT_AGENT_SOCKET);
    for args in [
        vec!["netns", "add", "evil"],
        vec!["--host", socket.as_str(), "netns", "del", "mine"],
    ] {
        let refused = cli_as_nobody(host, &args);
        assert_refused(&refused, "Permission denied (os error 13) (the agent's socket admits root and the agent's --socket-group only)");
    }
    assert_eq!(
        host.ip_netns_list(),
        ["mine"],
        "the unprivileged user changed the host"
    );
    let mode = host.run_ok(
        "",
        &[
            "stat",
            "-c",
            "%a %U %G",
            nsfleet_proto::DEFAULT_AGENT_SOCKET,
        ],
    );
    assert_eq!(mode.trim(), "660 root root");
}

#[test]
fn tcp_on_loopback_without_authentication_is_refused_at_start() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let agent = binaries().agent.to_str().expect("a UTF-8 path");
    let started = host.run_in("", &[agent, "--listen", "127.0.0.1:50099"]);
    assert_eq!(started.status.code(), Some(1), "{started}");
    assert!(
        started
            .stderr
            .contains("refusing to listen on 127.0.0.1:50099 without authentication"),
        "{started}"
    );
    assert!(
        started.stderr.contains("--insecure"),
        "the refusal names the way out: {started}"
    );
}

#[test]
fn tcp_on_loopback_with_tokens_refuses_a_local_user_without_one() {
    let dir = tempfile::tempdir().expect("a directory for the tokens file");
    let tokens = dir.path().join("tokens");
    // A digest of a token the unprivileged user does not have.
    std::fs::write(&tokens, format!("ci admin {}\n", "ab".repeat(32)))
        .expect("write the tokens file");
    let lab = Lab::start_with_args(
        1,
        &[
            "--listen".into(),
            "127.0.0.1:50051".into(),
            "--tokens".into(),
            tokens.display().to_string(),
        ],
    );
    let host = lab.host(0);
    install_cli(host);
    let refused = cli_as_nobody(host, &["--host", "127.0.0.1:50051", "netns", "add", "evil"]);
    assert_refused(&refused, "UNAUTHENTICATED");
    assert!(
        host.ip_netns_list().is_empty(),
        "the unprivileged user changed the host"
    );
}
