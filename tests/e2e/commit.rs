//! Confirmed commits end to end: TopologyService's Apply with `confirm`, Confirm, Rollback and GetCommit
//! over gRPC on simulated hosts, `nsfleet confirm|rollback|commit status`, and `kill -9` of a pending
//! agent. The kernel is checked with `ip -j` inside the host; waits for a deadline are polls with a
//! generous bound, never assertions on how fast the agent is.
//!
//! Run alone with `cargo test -p nsfleet-tests --test commit`.

use std::collections::BTreeMap;
use std::time::Duration;

use nsfleet_proto::v1 as pb;
use nsfleet_tests::{poll_until, Lab, Nsfleet, SimHost};
use pb::topology_service_client::TopologyServiceClient;
use tonic::transport::Channel;
use tonic::Code;

const TOPOLOGY: &str = "pending";
/// How long a rollback by itself may take before the test gives up (on a loaded 2-core machine).
const ROLLBACK_BOUND: Duration = Duration::from_secs(60);

// ---- desired states ----

fn link(namespace: &str, name: &str, kind: pb::create_link_request::Kind) -> pb::CreateLinkRequest {
    pb::CreateLinkRequest {
        namespace: namespace.into(),
        name: name.into(),
        kind: Some(kind),
        mtu: 0,
    }
}

fn port(name: &str, peer: &str, peer_namespace: &str) -> pb::TopologyLink {
    pb::TopologyLink {
        link: Some(link(
            "",
            name,
            pb::create_link_request::Kind::Veth(pb::VethSpec {
                peer_name: peer.into(),
                peer_namespace: Some(peer_namespace.into()),
            }),
        )),
        up: true,
        peer_up: true,
        master: "br0".into(),
        peer_master: String::new(),
    }
}

fn address(namespace: &str, link: &str, address: &str) -> pb::AddAddressRequest {
    pb::AddAddressRequest {
        namespace: namespace.into(),
        link: link.into(),
        address: address.into(),
        prefix_len: 16,
        broadcast_mode: pb::BroadcastMode::Computed as i32,
        ..Default::default()
    }
}

/// Version 1: one namespace on br0.
fn version_one() -> pb::HostTopology {
    pb::HostTopology {
        name: TOPOLOGY.into(),
        namespaces: vec![pb::CreateNamespaceRequest { name: "n1".into() }],
        links: vec![
            pb::TopologyLink {
                link: Some(link(
                    "",
                    "br0",
                    pb::create_link_request::Kind::Bridge(pb::BridgeSpec {}),
                )),
                up: true,
                ..Default::default()
            },
            port("v1", "c1", "n1"),
        ],
        addresses: vec![
            address("", "br0", "172.20.0.1"),
            address("n1", "c1", "172.20.0.11"),
        ],
        ..Default::default()
    }
}

/// Version 2: a second namespace, and the first one's address and the bridge's changed.
fn version_two() -> pb::HostTopology {
    let mut two = version_one();
    two.namespaces
        .push(pb::CreateNamespaceRequest { name: "n2".into() });
    two.links.push(port("v2", "c2", "n2"));
    two.addresses = vec![
        address("", "br0", "172.20.0.254"),
        address("n1", "c1", "172.20.0.21"),
        address("n2", "c2", "172.20.0.22"),
    ];
    two
}

// ---- the oracle ----

/// What the host holds, by namespace ("" = the host's own): links with master, MTU and up/down, IPv4
/// addresses, IPv4 routes. No ifindex: a rollback makes links again.
fn kernel_state(host: &SimHost) -> BTreeMap<String, Vec<String>> {
    let mut namespaces = host.ip_netns_list();
    namespaces.sort();
    let mut state = BTreeMap::new();
    for netns in std::iter::once(String::new()).chain(namespaces) {
        let mut lines = Vec::new();
        for link in host.ip_links(&netns) {
            let up = link["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "UP"));
            lines.push(format!(
                "link {} mtu {} master {} up {up}",
                link["ifname"], link["mtu"], link["master"]
            ));
        }
        for entry in host
            .ip_json(&netns, &["-4", "addr", "show"])
            .as_array()
            .into_iter()
            .flatten()
        {
            for info in entry["addr_info"].as_array().into_iter().flatten() {
                lines.push(format!(
                    "address {} {}/{}",
                    entry["ifname"], info["local"], info["prefixlen"]
                ));
            }
        }
        for route in host.ip_routes(&netns) {
            lines.push(format!(
                "route {} via {} dev {}",
                route["dst"], route["gateway"], route["dev"]
            ));
        }
        lines.sort();
        state.insert(netns, lines);
    }
    state
}

// ---- calling the agent ----

struct Agent {
    runtime: tokio::runtime::Runtime,
    client: TopologyServiceClient<Channel>,
}

impl Agent {
    /// A new connection, as a confirm must make after a change of the path.
    fn on(host: &SimHost) -> Agent {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let client = runtime.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(host.endpoint())
                .expect("endpoint")
                .connect()
                .await
                .expect("connect to the agent");
            TopologyServiceClient::new(channel)
        });
        Agent { runtime, client }
    }

    fn apply(
        &mut self,
        topology: &pb::HostTopology,
        confirm: Option<(u32, &str)>,
    ) -> Result<pb::ApplyTopologyResponse, tonic::Status> {
        let request = pb::ApplyTopologyRequest {
            topology: Some(topology.clone()),
            fingerprint: String::new(),
            force: false,
            confirm: confirm.map(|(timeout_seconds, id)| pb::CommitOptions {
                timeout_seconds,
                commit_id: id.into(),
            }),
        };
        let client = &mut self.client;
        self.runtime
            .block_on(client.apply(request))
            .map(tonic::Response::into_inner)
    }

    fn confirm(&mut self, id: &str) -> Result<pb::ConfirmCommitResponse, tonic::Status> {
        let client = &mut self.client;
        self.runtime
            .block_on(client.confirm(pb::ConfirmCommitRequest {
                commit_id: id.into(),
            }))
            .map(tonic::Response::into_inner)
    }

    fn rollback(&mut self, id: &str) -> Result<pb::RollbackCommitResponse, tonic::Status> {
        let client = &mut self.client;
        self.runtime
            .block_on(client.rollback(pb::RollbackCommitRequest {
                commit_id: id.into(),
            }))
            .map(tonic::Response::into_inner)
    }

    fn commit(&mut self, id: &str) -> Result<pb::CommitStatus, tonic::Status> {
        let client = &mut self.client;
        self.runtime
            .block_on(client.get_commit(pb::GetCommitRequest {
                commit_id: id.into(),
            }))
            .map(|r| r.into_inner().commit.unwrap_or_default())
    }

    fn destroy(&mut self, name: &str) -> Result<pb::DestroyTopologyResponse, tonic::Status> {
        let client = &mut self.client;
        self.runtime
            .block_on(client.destroy(pb::DestroyTopologyRequest {
                name: name.into(),
                ignore_missing: true,
                force: false,
            }))
            .map(tonic::Response::into_inner)
    }
}

fn state_of(commit: &pb::CommitStatus) -> pb::CommitState {
    pb::CommitState::try_from(commit.state).unwrap_or(pb::CommitState::Unspecified)
}

/// Polls GetCommit (on a new connection each time: the agent may be restarting) until `id` is rolled
/// back.
fn await_rollback(host: &SimHost, id: &str) -> pb::CommitStatus {
    poll_until("the commit to roll back by itself", ROLLBACK_BOUND, || {
        let commit = Agent::on(host).commit(id).map_err(|s| format!("{s:?}"))?;
        match state_of(&commit) {
            pb::CommitState::RolledBack => Ok(commit),
            other => Err(format!("{other:?}: {commit:?}")),
        }
    })
}

fn expect_code<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, words: &[&str]) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    for word in words {
        assert!(
            status.message().contains(word),
            "{word:?} missing in {:?}",
            status.message()
        );
    }
}

// ---- tests ----

#[test]
fn a_confirmed_commit_keeps_its_state_and_other_changes_wait_for_it() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let mut agent = Agent::on(host);
    let applied = agent
        .apply(&version_one(), Some((600, "first-commit")))
        .expect("applied as a pending commit");
    assert!(applied.changed);
    let commit = applied.commit.expect("a commit status");
    assert_eq!(state_of(&commit), pb::CommitState::Pending);
    assert_eq!(commit.commit_id, "first-commit");
    assert_eq!(commit.topology, TOPOLOGY);
    assert!(
        commit.seconds_left > 0 && commit.seconds_left <= 600,
        "{commit:?}"
    );
    let applied_state = kernel_state(host);
    assert!(applied_state.contains_key("n1"), "{applied_state:?}");

    // Every other mutation, of any service, single or batched, is refused naming the commit.
    let refused = host.cli("netns add intruder");
    let error = refused.error("FAILED_PRECONDITION");
    let message = error["message"].as_str().unwrap_or_default();
    for word in [
        "first-commit",
        TOPOLOGY,
        "nsfleet confirm first-commit",
        "nsfleet rollback",
    ] {
        assert!(message.contains(word), "{word:?} missing in {message}");
    }
    host.cli("link set br0 mtu 1400")
        .error("FAILED_PRECONDITION");
    let batch = host.dir().join("intruder.batch");
    std::fs::write(&batch, "netns add b1\nlink add b2 type bridge\n").expect("a batch file");
    let batched = host.cli_args(&["batch", &batch.to_string_lossy()]);
    assert_eq!(batched.exit_code(), Some(1), "{batched}");
    assert!(batched.stdout().contains("first-commit"), "{batched}");
    expect_code(
        agent.destroy(TOPOLOGY),
        Code::FailedPrecondition,
        &["first-commit"],
    );
    let mut other = version_one();
    other.name = "other".into();
    other.namespaces = vec![pb::CreateNamespaceRequest { name: "o1".into() }];
    other.links.clear();
    other.addresses.clear();
    expect_code(
        agent.apply(&other, None),
        Code::FailedPrecondition,
        &["first-commit"],
    );
    // Reads stay allowed.
    host.cli("netns list").results();
    assert_eq!(
        kernel_state(host),
        applied_state,
        "the refusals changed nothing"
    );

    // Confirmed through the CLI, on a connection of its own.
    let confirmed = host.cli("confirm first-commit").result().clone();
    assert_eq!(confirmed["changed"], true, "{confirmed}");
    assert_eq!(confirmed["commit"]["state"], "confirmed", "{confirmed}");
    let again = Agent::on(host)
        .confirm("first-commit")
        .expect("a retried confirm");
    assert!(!again.changed);
    expect_code(
        Agent::on(host).rollback("first-commit"),
        Code::FailedPrecondition,
        &["confirmed"],
    );
    let status = host.cli("commit status first-commit").result().clone();
    assert_eq!(status["commit"]["state"], "confirmed", "{status}");
    assert_eq!(
        kernel_state(host),
        applied_state,
        "the confirmed state stays"
    );
    host.cli("netns add intruder").results();
}

#[test]
fn an_unconfirmed_commit_rolls_back_at_its_deadline_to_the_previous_version() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let mut agent = Agent::on(host);
    agent.apply(&version_one(), None).expect("version one");
    let before = kernel_state(host);
    let applied = agent
        .apply(&version_two(), Some((2, "")))
        .expect("version two as a pending commit");
    let id = applied.commit.expect("a commit").commit_id;
    assert!(!id.is_empty(), "the host made an id up");
    assert_ne!(kernel_state(host), before, "version two is in place");

    let rolled = await_rollback(host, &id);
    assert_eq!(rolled.reason, "deadline passed");
    assert_eq!(rolled.seconds_left, 0);
    assert_eq!(kernel_state(host), before, "exactly version one again");
    // The ledger holds version one again: no drift against it, and re-applying it changes nothing.
    let reapplied = agent
        .apply(&version_one(), None)
        .expect("version one again");
    assert!(!reapplied.changed, "{reapplied:?}");

    // A late confirm gets the documented answer, a late rollback nothing to do.
    expect_code(
        agent.confirm(&id),
        Code::FailedPrecondition,
        &[&id, "rolled back"],
    );
    let late = agent.rollback(&id).expect("rolling back twice is fine");
    assert!(!late.changed);
    host.cli("netns add free-again").results();
}

#[test]
fn rollback_now_undoes_a_first_apply_entirely() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let before = kernel_state(host);
    let mut agent = Agent::on(host);
    agent
        .apply(&version_one(), Some((600, "undo-me")))
        .expect("a pending first apply");
    let rolled = host.cli("rollback undo-me").result().clone();
    assert_eq!(rolled["changed"], true, "{rolled}");
    assert_eq!(rolled["commit"]["state"], "rolled_back", "{rolled}");
    assert_eq!(rolled["commit"]["reason"], "rollback requested", "{rolled}");
    assert_eq!(
        kernel_state(host),
        before,
        "nothing of the topology is left"
    );
    let listed = host.cli("netns list").result().clone();
    assert_eq!(listed["namespaces"], serde_json::json!([]), "{listed}");
    let text = Nsfleet::on(host).text().line("commit status undo-me").run();
    assert_eq!(text.exit_code(), Some(0), "{text}");
    assert!(text.stdout().contains("rolled back"), "{text}");

    // The hosts of a topology file, as `apply` finds them: one line per host, named as in the file.
    let file = host.dir().join("pending.yaml");
    std::fs::write(&file, format!("name: {TOPOLOGY}\nhosts:\n  host1: {{}}\n")).expect("a file");
    let endpoint = format!("host1={}", host.endpoint());
    let file = file.display().to_string();
    for words in [
        vec![
            "commit",
            "status",
            "undo-me",
            &file,
            "--endpoint",
            &endpoint,
        ],
        vec!["rollback", "undo-me", &file, "--endpoint", &endpoint],
    ] {
        let run = Nsfleet::new().args(&words).run();
        assert_eq!(run.exit_code(), Some(0), "{run}");
        assert_eq!(run.lines.len(), 1, "{run}");
        assert_eq!(run.lines[0]["host"], "host1", "{run}");
        assert_eq!(
            run.lines[0]["result"]["commit"]["state"], "rolled_back",
            "{run}"
        );
    }
    let unknown = Nsfleet::new()
        .args(["confirm", "nobody", &file, "--endpoint", &endpoint])
        .run();
    assert_eq!(unknown.exit_code(), Some(1), "{unknown}");
    assert_eq!(unknown.lines[0]["error"]["code"], "NOT_FOUND", "{unknown}");
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let mut agent = Agent::on(host);
    let before = kernel_state(host);
    for (timeout, id, field) in [
        (0, "", "confirm.timeout_seconds"),
        (3601, "", "confirm.timeout_seconds"),
        (86_400 * 3, "", "confirm.timeout_seconds"),
        (60, "no spaces", "confirm.commit_id"),
        (60, "a/b", "confirm.commit_id"),
    ] {
        expect_code(
            agent.apply(&version_one(), Some((timeout, id))),
            Code::InvalidArgument,
            &[field],
        );
    }
    assert_eq!(kernel_state(host), before);
    expect_code(agent.commit(""), Code::NotFound, &["no commit is pending"]);
    expect_code(agent.confirm("nobody"), Code::NotFound, &["nobody"]);
    expect_code(agent.rollback("nobody"), Code::NotFound, &["nobody"]);
    expect_code(agent.confirm(""), Code::InvalidArgument, &["commit_id"]);
    host.cli("confirm nobody").error("NOT_FOUND");

    let first = agent
        .apply(&version_one(), Some((600, "c1")))
        .expect("pending");
    let deadline = first.commit.expect("a commit").deadline;
    // The same desired state with the same id: an idempotent retry, the deadline unchanged.
    let retried = agent
        .apply(&version_one(), Some((5, "c1")))
        .expect("a retry");
    assert!(!retried.changed);
    assert_eq!(retried.commit.expect("a commit").deadline, deadline);
    // Anything else while it is pending is refused naming it.
    expect_code(
        agent.apply(&version_two(), Some((600, "c2"))),
        Code::FailedPrecondition,
        &["c1"],
    );
    expect_code(
        agent.apply(&version_two(), Some((600, "c1"))),
        Code::FailedPrecondition,
        &["c1"],
    );
    assert_eq!(
        state_of(&agent.commit("").expect("the pending one")),
        pb::CommitState::Pending
    );
    agent.rollback("c1").expect("rolled back");
    // A used id cannot name a new commit: a confirm of it would be ambiguous.
    expect_code(
        agent.apply(&version_one(), Some((600, "c1"))),
        Code::FailedPrecondition,
        &["c1", "already used"],
    );
    assert_eq!(kernel_state(host), before);

    // A damaged record is refused, naming the file, and acted upon in no way.
    let record = host.dir().join("state").join("commit").join("commits");
    std::fs::write(&record, "nsfleet-commits v1 sha256=00\n{}\n").expect("damage the record");
    let path = record.display().to_string();
    expect_code(
        agent.commit("c1"),
        Code::FailedPrecondition,
        &[&path, "corrupt"],
    );
    expect_code(
        agent.apply(&version_one(), Some((600, "c3"))),
        Code::FailedPrecondition,
        &[&path],
    );
    assert_eq!(kernel_state(host), before);
    assert_eq!(
        std::fs::read_to_string(&record).expect("left in place"),
        "nsfleet-commits v1 sha256=00\n{}\n"
    );
}

#[test]
fn a_pending_commit_survives_kill_9_and_rolls_back_at_or_after_its_deadline() {
    let mut lab = Lab::start_restartable(1);
    let before = kernel_state(lab.host(0));

    // Restarted before the deadline: the restarted agent still holds the host, then rolls back.
    Agent::on(lab.host(0))
        .apply(&version_one(), Some((8, "across-restart")))
        .expect("pending");
    lab.host_mut(0).kill_agent();
    lab.host_mut(0).restart_agent();
    let host = lab.host(0);
    let pending = Agent::on(host).commit("").ok().map(|c| state_of(&c));
    if pending == Some(pb::CommitState::Pending) {
        host.cli("netns add intruder").error("FAILED_PRECONDITION");
    }
    let rolled = await_rollback(host, "across-restart");
    assert_eq!(rolled.reason, "deadline passed");
    assert_eq!(kernel_state(host), before);

    // Down past the deadline: rolled back at start, before the agent serves anything.
    Agent::on(lab.host(0))
        .apply(&version_one(), Some((1, "while-down")))
        .expect("pending");
    lab.host_mut(0).kill_agent();
    std::thread::sleep(Duration::from_millis(1500));
    lab.host_mut(0).restart_agent();
    let host = lab.host(0);
    let commit = Agent::on(host).commit("while-down").expect("known");
    assert_eq!(state_of(&commit), pb::CommitState::RolledBack, "{commit:?}");
    assert_eq!(commit.reason, "deadline passed while the agent was down");
    assert_eq!(kernel_state(host), before);
    host.cli("netns add free-again").results();
}

/// `nsfleet_pending_commits` as a scrape inside the simulated host shows it.
fn pending_gauge(host: &SimHost) -> String {
    let scraped = host.run_ok(
        "",
        &[
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "5",
            "http://127.0.0.1:9464/metrics",
        ],
    );
    scraped
        .lines()
        .find(|line| line.starts_with("nsfleet_pending_commits "))
        .unwrap_or_else(|| panic!("no nsfleet_pending_commits in {scraped}"))
        .to_string()
}

#[test]
fn the_pending_commits_gauge_follows_the_commit() {
    let lab = Lab::start_with_args(1, &["--metrics".into(), "127.0.0.1:9464".into()]);
    let host = lab.host(0);
    assert_eq!(pending_gauge(host), "nsfleet_pending_commits 0");
    Agent::on(host)
        .apply(&version_one(), Some((600, "gauged")))
        .expect("pending");
    assert_eq!(pending_gauge(host), "nsfleet_pending_commits 1");
    host.cli("confirm gauged").results();
    assert_eq!(pending_gauge(host), "nsfleet_pending_commits 0");
}
