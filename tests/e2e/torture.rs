//! The torture suite (issue 14): many callers racing on the same names while malformed messages arrive
//! and connections that never call sit on the agent; and `kill -9` at random points of batches. Whatever
//! happens, every answer is a status the API documents for it, the agent's view matches the kernel's, the
//! host converges, and nothing is left behind.
//!
//! Randomness is seeded: `NSFLEET_TORTURE_SEED=N` replays a run (the seed is printed, and named in every
//! failure). Each test prints one `torture figures:` line, which the README's reliability section quotes.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nsfleet_proto::v1 as pb;
use nsfleet_tests::crash::{journal_dir, run_netns, start_cli};
use nsfleet_tests::{poll_until, Lab, Nsfleet, SimHost};
use tonic::transport::Channel;
use tonic::Code;

#[path = "shared/raw_grpc.rs"]
mod raw_grpc;
use raw_grpc::{malformed_protobuf, RawBytes};

/// Callers at once, each on its own connection.
const CLIENTS: usize = 16;
const CALLS_PER_CLIENT: usize = 60;
/// Few names, so that callers collide on them all the time.
const NAMESPACES: usize = 4;
const VETHS: usize = 6;
const BRIDGES: usize = 2;
/// Malformed messages sent while the callers race.
const MALFORMED: usize = 600;
/// Connections that never make a call: silent, half a preface, or a preface trickled a byte at a time.
const HELD_CONNECTIONS: usize = 24;
/// Seconds the agent gives a connection to make its first call.
const FIRST_CALL_TIMEOUT: &str = "2";
/// Batches killed with `kill -9` at a random moment, and the namespaces each batch makes.
const KILLS: usize = 6;
const BATCH_NAMESPACES: usize = 40;

/// Unary methods that take arbitrary bytes safely in a simulated host. Ping and TcpConnect are left out:
/// random bytes could name an address outside the lab.
const METHODS: &[&str] = &[
    "/nsfleet.v1.NamespaceService/CreateNamespace",
    "/nsfleet.v1.NamespaceService/DeleteNamespace",
    "/nsfleet.v1.NamespaceService/ListNamespaces",
    "/nsfleet.v1.NamespaceService/GetNamespace",
    "/nsfleet.v1.LinkService/CreateLink",
    "/nsfleet.v1.LinkService/DeleteLink",
    "/nsfleet.v1.LinkService/ListLinks",
    "/nsfleet.v1.LinkService/GetLink",
    "/nsfleet.v1.LinkService/SetLink",
    "/nsfleet.v1.AddressService/AddAddress",
    "/nsfleet.v1.AddressService/DeleteAddress",
    "/nsfleet.v1.AddressService/ListAddresses",
    "/nsfleet.v1.RouteService/AddRoute",
    "/nsfleet.v1.RouteService/ReplaceRoute",
    "/nsfleet.v1.RouteService/DeleteRoute",
    "/nsfleet.v1.RouteService/ListRoutes",
    "/nsfleet.v1.NeighborService/ListNeighbors",
    "/nsfleet.v1.ForwardingService/GetForwarding",
    "/nsfleet.v1.ForwardingService/SetForwarding",
    "/nsfleet.v1.NatService/AddNatRule",
    "/nsfleet.v1.NatService/DeleteNatRule",
    "/nsfleet.v1.NatService/ListNatRules",
    "/nsfleet.v1.BatchService/ApplyBatch",
    "/nsfleet.v1.TopologyService/Plan",
    "/nsfleet.v1.TopologyService/Apply",
    "/nsfleet.v1.TopologyService/GetState",
    "/nsfleet.v1.TopologyService/Destroy",
    "/nsfleet.v1.TopologyService/ListTopologies",
    "/nsfleet.v1.DiagnosticsService/GetAgentInfo",
];

/// splitmix64: small, seedable, good enough to pick operations and bytes.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn seed() -> u64 {
    std::env::var("NSFLEET_TORTURE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

/// The codes a racing call may get: the documented answers to a name taken, missing or busy.
fn documented_for_a_race(code: Code) -> bool {
    matches!(
        code,
        Code::Ok | Code::AlreadyExists | Code::NotFound | Code::FailedPrecondition
    )
}

/// The codes a malformed or random message may get. OK is fine: random bytes can make a valid request.
fn documented_for_random_bytes(code: Code) -> bool {
    documented_for_a_race(code) || code == Code::InvalidArgument
}

fn namespace(i: usize) -> String {
    format!("t{i}")
}

/// One racing call: a description for failures, and the call itself.
async fn race_call(channel: &Channel, random: &mut Random, client: usize) -> (String, Code) {
    let ns = namespace(random.below(NAMESPACES));
    let veth = random.below(VETHS);
    let bridge = format!("tb{}", random.below(BRIDGES));
    let code = |r: Result<(), tonic::Status>| r.err().map_or(Code::Ok, |s| s.code());
    let mut namespaces = pb::namespace_service_client::NamespaceServiceClient::new(channel.clone());
    let mut links = pb::link_service_client::LinkServiceClient::new(channel.clone());
    let mut addresses = pb::address_service_client::AddressServiceClient::new(channel.clone());
    let mut batches = pb::batch_service_client::BatchServiceClient::new(channel.clone());
    match random.below(10) {
        0 => (
            format!("netns add {ns}"),
            code(
                namespaces
                    .create_namespace(pb::CreateNamespaceRequest { name: ns })
                    .await
                    .map(drop),
            ),
        ),
        1 => (
            format!("netns del {ns}"),
            code(
                namespaces
                    .delete_namespace(pb::DeleteNamespaceRequest {
                        name: ns,
                        ignore_missing: true,
                        force: false,
                    })
                    .await
                    .map(drop),
            ),
        ),
        2 => {
            let peer_ns = namespace(veth % NAMESPACES);
            (
                format!("link add tv{veth} type veth peer name te{veth} netns {peer_ns}"),
                code(
                    links
                        .create_link(pb::CreateLinkRequest {
                            name: format!("tv{veth}"),
                            kind: Some(pb::create_link_request::Kind::Veth(pb::VethSpec {
                                peer_name: format!("te{veth}"),
                                peer_namespace: Some(peer_ns),
                            })),
                            ..Default::default()
                        })
                        .await
                        .map(drop),
                ),
            )
        }
        3 => (
            format!("link del tv{veth}"),
            code(
                links
                    .delete_link(pb::DeleteLinkRequest {
                        name: format!("tv{veth}"),
                        ignore_missing: true,
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            ),
        ),
        4 => (
            format!("link add {bridge} type bridge"),
            code(
                links
                    .create_link(pb::CreateLinkRequest {
                        name: bridge,
                        kind: Some(pb::create_link_request::Kind::Bridge(pb::BridgeSpec {})),
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            ),
        ),
        5 => (
            format!("link set tv{veth} up master {bridge}"),
            code(
                links
                    .set_link(pb::SetLinkRequest {
                        name: format!("tv{veth}"),
                        up: Some(true),
                        master_change: Some(pb::set_link_request::MasterChange::Master(bridge)),
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            ),
        ),
        6 => {
            let peer_ns = namespace(veth % NAMESPACES);
            (
                format!(
                    "-n {peer_ns} addr add 172.20.{veth}.{}/16 dev te{veth}",
                    client + 1
                ),
                code(
                    addresses
                        .add_address(pb::AddAddressRequest {
                            namespace: peer_ns,
                            link: format!("te{veth}"),
                            address: format!("172.20.{veth}.{}", client + 1),
                            prefix_len: 16,
                            ..Default::default()
                        })
                        .await
                        .map(drop),
                ),
            )
        }
        7 => (
            "link list --all-namespaces".to_string(),
            code(
                links
                    .list_links(pb::ListLinksRequest {
                        namespace: String::new(),
                        all_namespaces: true,
                    })
                    .await
                    .map(drop),
            ),
        ),
        8 => {
            use pb::batch_operation::Operation;
            let operations = vec![
                Operation::CreateNamespace(pb::CreateNamespaceRequest { name: ns.clone() }),
                Operation::CreateLink(pb::CreateLinkRequest {
                    name: bridge.clone(),
                    kind: Some(pb::create_link_request::Kind::Bridge(pb::BridgeSpec {})),
                    ..Default::default()
                }),
            ];
            (
                format!("batch: netns add {ns}; link add {bridge} type bridge"),
                code(
                    batches
                        .apply_batch(pb::ApplyBatchRequest {
                            operations: operations
                                .into_iter()
                                .map(|operation| pb::BatchOperation {
                                    operation: Some(operation),
                                })
                                .collect(),
                            continue_on_error: false,
                        })
                        .await
                        .map(drop),
                ),
            )
        }
        _ => (
            format!("link del {bridge}"),
            code(
                links
                    .delete_link(pb::DeleteLinkRequest {
                        name: bridge,
                        ignore_missing: true,
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            ),
        ),
    }
}

/// A message no request should trip over: a corpus entry with bytes flipped, or bytes from nowhere.
fn malformed_message(random: &mut Random, corpus: &[(&str, Vec<u8>)]) -> Vec<u8> {
    if random.below(2) == 0 {
        let mut body = corpus[random.below(corpus.len())].1.clone();
        for _ in 0..=random.below(3) {
            if !body.is_empty() {
                let at = random.below(body.len());
                body[at] = random.next() as u8;
            }
        }
        body
    } else {
        let len = random.below(48);
        random.bytes(len)
    }
}

#[derive(Clone, Copy)]
enum Held {
    Silent,
    HalfPreface,
    Trickle,
}

/// Connections that never make a call; each thread reports whether the agent closed its connection.
fn hold_connections(host: &SimHost, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<bool>> {
    let socket = host.dir().join("agent.sock");
    (0..HELD_CONNECTIONS)
        .map(|i| {
            let kind = [Held::Silent, Held::HalfPreface, Held::Trickle][i % 3];
            let mut stream = UnixStream::connect(&socket).expect("connect to the agent's socket");
            let stop = stop.clone();
            std::thread::spawn(move || {
                const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
                match kind {
                    Held::Silent => {}
                    Held::HalfPreface => {
                        if stream.write_all(&PREFACE[..12]).is_err() {
                            return true;
                        }
                    }
                    Held::Trickle => {
                        for byte in PREFACE {
                            if stop.load(Ordering::Relaxed) {
                                return false;
                            }
                            if stream.write_all(&[*byte]).is_err() {
                                return true;
                            }
                            std::thread::sleep(Duration::from_millis(300));
                        }
                    }
                }
                closed_by_agent(&mut stream)
            })
        })
        .collect()
}

/// True once the agent closes the connection; false if it is still open after a generous wait.
fn closed_by_agent(stream: &mut UnixStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return true
            }
            Err(_) => return false,
        }
    }
}

async fn connect(host: &SimHost) -> Channel {
    tonic::transport::Endpoint::from_shared(host.endpoint())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to the agent")
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// The agent's view of namespaces and links against `ip`'s.
fn agent_matches_kernel(host: &SimHost, runtime: &tokio::runtime::Runtime) -> Result<(), String> {
    let (namespaces, links) = runtime.block_on(async {
        let channel = connect(host).await;
        let namespaces = pb::namespace_service_client::NamespaceServiceClient::new(channel.clone())
            .list_namespaces(pb::ListNamespacesRequest {})
            .await
            .map_err(|s| format!("ListNamespaces: {s:?}"))?
            .into_inner()
            .namespaces;
        let links = pb::link_service_client::LinkServiceClient::new(channel)
            .list_links(pb::ListLinksRequest {
                namespace: String::new(),
                all_namespaces: true,
            })
            .await
            .map_err(|s| format!("ListLinks: {s:?}"))?
            .into_inner()
            .links;
        Ok::<_, String>((namespaces, links))
    })?;
    let agent_namespaces = sorted(namespaces.into_iter().map(|n| n.name).collect());
    let kernel_namespaces = sorted(host.ip_netns_list());
    if agent_namespaces != kernel_namespaces {
        return Err(format!(
            "namespaces: agent {agent_namespaces:?}, kernel {kernel_namespaces:?}"
        ));
    }
    for ns in std::iter::once(String::new()).chain(kernel_namespaces) {
        let agent_links = sorted(
            links
                .iter()
                .filter(|l| l.namespace == ns)
                .map(|l| l.name.clone())
                .collect(),
        );
        let kernel_links = sorted(host.ip_link_names(&ns));
        if agent_links != kernel_links {
            return Err(format!(
                "links of {ns:?}: agent {agent_links:?}, kernel {kernel_links:?}"
            ));
        }
    }
    Ok(())
}

#[test]
fn racing_callers_malformed_messages_and_held_connections_leave_a_consistent_host() {
    let seed = seed();
    println!("torture seed: {seed} (replay with NSFLEET_TORTURE_SEED={seed})");
    let lab = Lab::start_with_args(
        1,
        &["--first-call-timeout".into(), FIRST_CALL_TIMEOUT.into()],
    );
    let host = lab.host(0);
    let stop = Arc::new(AtomicBool::new(false));
    let held = hold_connections(host, stop.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime");

    let wrong = Arc::new(Mutex::new(Vec::<String>::new()));
    let codes = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for client in 0..CLIENTS {
            let channel = connect(host).await;
            let (wrong, codes) = (wrong.clone(), codes.clone());
            let mut random = Random(seed ^ (client as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
            tasks.push(tokio::spawn(async move {
                for _ in 0..CALLS_PER_CLIENT {
                    let (what, code) = race_call(&channel, &mut random, client).await;
                    *codes
                        .lock()
                        .expect("codes")
                        .entry(format!("{code:?}"))
                        .or_default() += 1;
                    if !documented_for_a_race(code) {
                        wrong
                            .lock()
                            .expect("wrong")
                            .push(format!("{what}: {code:?}"));
                    }
                }
            }));
        }
        let channel = connect(host).await;
        let wrong_malformed = wrong.clone();
        let mut random = Random(seed.rotate_left(17));
        tasks.push(tokio::spawn(async move {
            let corpus = malformed_protobuf();
            for _ in 0..MALFORMED {
                let method = METHODS[random.below(METHODS.len())];
                let body = malformed_message(&mut random, &corpus);
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                if let Err(e) = grpc.ready().await {
                    wrong_malformed
                        .lock()
                        .expect("wrong")
                        .push(format!("{method}: the connection failed: {e}"));
                    return;
                }
                let path = tonic::codegen::http::uri::PathAndQuery::from_static(method);
                let code = match grpc
                    .unary(tonic::Request::new(body.clone()), path, RawBytes)
                    .await
                {
                    Ok(_) => Code::Ok,
                    Err(status) => status.code(),
                };
                if !documented_for_random_bytes(code) {
                    wrong_malformed
                        .lock()
                        .expect("wrong")
                        .push(format!("{method} with bytes {body:02x?}: {code:?}"));
                }
            }
        }));
        for task in tasks {
            task.await.expect("a caller panicked");
        }
    });
    let raced_for = started.elapsed();
    let wrong = wrong.lock().expect("wrong").clone();
    assert!(
        wrong.is_empty(),
        "seed {seed}: {} wrong answers:\n{}\nagent log:\n{}",
        wrong.len(),
        wrong.join("\n"),
        host.agent_log()
    );

    // The agent reads the kernel back, so its view must match once the callers are done.
    agent_matches_kernel(host, &runtime).unwrap_or_else(|e| panic!("seed {seed}: {e}"));

    // The agent closes every connection that never called, on its own; the callers were served meanwhile.
    stop.store(true, Ordering::Relaxed);
    let closed = held
        .into_iter()
        .map(|h| h.join().expect("a held connection's thread"))
        .filter(|closed| *closed)
        .count();
    assert_eq!(
        closed, HELD_CONNECTIONS,
        "seed {seed}: connections without a call stayed open past the first-call timeout"
    );

    // Teardown through the agent converges to a host without any of the names raced on.
    let mut lines: Vec<String> = (0..NAMESPACES)
        .map(|i| format!("netns del {} --ignore-missing", namespace(i)))
        .collect();
    lines.extend((0..VETHS).map(|i| format!("link del tv{i} --ignore-missing")));
    lines.extend((0..BRIDGES).map(|i| format!("link del tb{i} --ignore-missing")));
    for line in &lines {
        let run = host.cli(line);
        assert!(run.finished.success(), "seed {seed}: {line}: {run}");
    }
    poll_until(
        "the raced-on names to be gone",
        Duration::from_secs(20),
        || {
            let left: Vec<String> = host
                .ip_link_names("")
                .into_iter()
                .chain(run_netns(host))
                .filter(|n| {
                    n.starts_with("tv") || n.starts_with("tb") || n.starts_with('t') && n.len() == 2
                })
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("left: {left:?}"))
            }
        },
    );
    agent_matches_kernel(host, &runtime)
        .unwrap_or_else(|e| panic!("seed {seed}: after teardown: {e}"));
    let log = host.agent_log();
    assert!(
        !log.contains("panicked"),
        "seed {seed}: the agent panicked:\n{log}"
    );

    let codes = codes.lock().expect("codes").clone();
    println!(
        "torture figures: {} racing calls from {CLIENTS} clients on {} shared names in {:.1} s ({}); \
         {MALFORMED} malformed messages over {} methods, 0 wrong codes; {HELD_CONNECTIONS} connections \
         held without a call, all closed by the agent",
        CLIENTS * CALLS_PER_CLIENT,
        NAMESPACES + VETHS + BRIDGES,
        raced_for.as_secs_f64(),
        codes
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        METHODS.len(),
    );
}

fn batch_text() -> String {
    let mut lines = Vec::new();
    for i in 0..BATCH_NAMESPACES {
        lines.extend([
            format!("netns add k{i}"),
            format!("link add kv{i} type veth peer name eth0 netns k{i}"),
            format!("-n k{i} link set lo up"),
            format!("-n k{i} addr add 172.20.2.{}/24 dev eth0", i + 1),
        ]);
    }
    lines.join("\n") + "\n"
}

/// How many of the batch's namespaces exist, and whether each of those is complete (its address on
/// eth0, its host-side veth present).
fn batch_progress(host: &SimHost) -> (usize, bool) {
    let made: Vec<String> = host
        .ip_netns_list()
        .into_iter()
        .filter(|n| n.starts_with('k'))
        .collect();
    let host_links = host.ip_link_names("");
    let complete = made.iter().all(|ns| {
        let i = &ns[1..];
        host_links.contains(&format!("kv{i}"))
            && host
                .ip_addresses(ns)
                .iter()
                .any(|a| a.to_string().contains("172.20.2."))
    });
    (made.len(), complete)
}

#[test]
fn kill_9_at_random_moments_of_batches_leaves_before_or_after_and_reruns_converge() {
    let seed = seed();
    println!("torture seed: {seed} (replay with NSFLEET_TORTURE_SEED={seed})");
    let mut random = Random(seed);
    let mut lab = Lab::start_restartable(1);
    let file = lab.host(0).dir().join("batch.txt");
    std::fs::write(&file, batch_text()).expect("write the batch");
    let endpoint = lab.host(0).endpoint();
    let mut outcomes = Vec::new();
    for round in 0..KILLS {
        let batch = start_cli(&[
            "--host".as_ref(),
            endpoint.as_ref(),
            "batch".as_ref(),
            file.as_os_str(),
        ]);
        // Somewhere from before the first operation to past the last, on this machine's debug build.
        let delay = Duration::from_millis(random.below(1500) as u64);
        std::thread::sleep(delay);
        lab.host_mut(0).kill_agent();
        drop(batch);
        lab.host_mut(0).restart_agent();
        let host = lab.host(0);
        // Recovery runs before the agent serves: by now the host is in one state or the other.
        let (made, complete) = batch_progress(host);
        assert!(
            made == 0 || (made == BATCH_NAMESPACES && complete),
            "seed {seed}, round {round}, killed after {delay:?}: {made} of {BATCH_NAMESPACES} \
             namespaces (complete: {complete}) after the restart:\n{}",
            host.agent_log()
        );
        outcomes.push(if made == 0 { "before" } else { "after" });
        let records: Vec<_> = std::fs::read_dir(journal_dir(host))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            records.is_empty(),
            "seed {seed}, round {round}: recovery left records {records:?}"
        );

        // Re-running converges, and a teardown returns the host to the before-state for the next round.
        let run = Nsfleet::on(host)
            .args(["batch", &file.display().to_string()])
            .run();
        assert!(
            run.finished.success(),
            "seed {seed}, round {round}: rerun: {run}"
        );
        assert_eq!(
            batch_progress(host),
            (BATCH_NAMESPACES, true),
            "seed {seed}: rerun"
        );
        for i in 0..BATCH_NAMESPACES {
            let line = format!("netns del k{i}");
            let run = host.cli(&line);
            assert!(run.finished.success(), "seed {seed}: {line}: {run}");
        }
        poll_until("the batch's veths to go", Duration::from_secs(20), || {
            let left: Vec<_> = host
                .ip_link_names("")
                .into_iter()
                .filter(|n| n.starts_with("kv"))
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("{left:?}"))
            }
        });
    }
    println!(
        "torture figures: {KILLS} kill -9 at random moments of a {}-operation batch: {} found the \
         host as before, {} as after; every re-run converged",
        BATCH_NAMESPACES * 4,
        outcomes.iter().filter(|o| **o == "before").count(),
        outcomes.iter().filter(|o| **o == "after").count(),
    );
}
