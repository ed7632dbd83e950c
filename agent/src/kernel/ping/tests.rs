//! Pings for real, each test in a network namespace of its own: a thread that unshared its network
//! namespace opens the socket there and drives the run on a current-thread runtime, as the agent's
//! namespace threads will. Needs root; the machine's own namespace is never touched.

use std::future::Future;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::kernel::fresh_namespace::in_fresh_namespace;

use super::{open_icmp_socket, run_ping, PingError, PingParams, PingReply, PingSummary};

/// Runs `ip` in the calling thread's namespace: a child starts in the namespace of the thread that
/// forked it, not the process's.
fn ip(args: &str) {
    let status = Command::new("ip")
        .args(args.split_whitespace())
        .status()
        .expect("running ip");
    assert!(status.success(), "ip {args}: {status}");
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn params(target: &str) -> PingParams {
    PingParams {
        target: target.parse().unwrap(),
        interface: None,
        source: None,
        count: 3,
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(2),
        payload_size: 56,
    }
}

/// Opens the socket in this thread's namespace and runs to the end, collecting the replies.
async fn ping(params: PingParams) -> (Result<PingSummary, PingError>, Vec<PingReply>) {
    let socket = match open_icmp_socket(&params) {
        Ok(socket) => socket,
        Err(error) => return (Err(error), Vec::new()),
    };
    let (sender, mut receiver) = mpsc::channel(4);
    let collect = async {
        let mut replies = Vec::new();
        while let Some(reply) = receiver.recv().await {
            replies.push(reply);
        }
        replies
    };
    tokio::join!(run_ping(socket, params, sender), collect)
}

fn ping_in_fresh_namespace(
    setup: &'static [&'static str],
    params: PingParams,
) -> (Result<PingSummary, PingError>, Vec<PingReply>) {
    in_fresh_namespace(move || {
        setup.iter().for_each(|args| ip(args));
        block_on(ping(params))
    })
}

fn assert_all_answered(summary: &PingSummary, replies: &[PingReply], from: &str, bytes: u32) {
    let from: IpAddr = from.parse().unwrap();
    assert_eq!(
        (summary.transmitted, summary.received, summary.loss_percent),
        (3, 3, 0.0),
        "{summary:?}"
    );
    let seqs: Vec<u32> = replies.iter().map(|reply| reply.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    for reply in replies {
        assert_eq!(
            (reply.from, reply.bytes, reply.ttl),
            (from, bytes, Some(64)),
            "{reply:?}"
        );
        assert!(reply.rtt > Duration::ZERO, "{reply:?}");
    }
    assert!(Duration::ZERO < summary.rtt_min, "{summary:?}");
    assert!(
        summary.rtt_min <= summary.rtt_avg && summary.rtt_avg <= summary.rtt_max,
        "{summary:?}"
    );
    assert!(
        summary.rtt_mdev <= summary.rtt_max - summary.rtt_min,
        "{summary:?}"
    );
}

#[test]
fn ipv4_loopback_answers_every_request() {
    let (summary, replies) = ping_in_fresh_namespace(&["link set lo up"], params("127.0.0.1"));
    assert_all_answered(&summary.unwrap(), &replies, "127.0.0.1", 64);
}

#[test]
fn ipv6_loopback_answers_every_request_with_the_hop_limit() {
    let (summary, replies) = ping_in_fresh_namespace(&["link set lo up"], params("::1"));
    assert_all_answered(&summary.unwrap(), &replies, "::1", 64);
}

#[test]
fn bound_to_lo_by_interface_and_source() {
    for (target, source) in [("127.0.0.1", "127.0.0.1"), ("::1", "::1")] {
        let mut by_interface = params(target);
        by_interface.interface = Some("lo".to_owned());
        let (summary, replies) = ping_in_fresh_namespace(&["link set lo up"], by_interface);
        assert_all_answered(&summary.unwrap(), &replies, target, 64);

        let mut by_source = params(target);
        by_source.source = Some(source.parse().unwrap());
        let (summary, replies) = ping_in_fresh_namespace(&["link set lo up"], by_source);
        assert_all_answered(&summary.unwrap(), &replies, target, 64);
    }
}

#[test]
fn payload_size_sets_the_reply_size() {
    for (target, payload_size) in [
        ("127.0.0.1", 0),
        ("::1", 0),
        ("127.0.0.1", 65000),
        ("::1", 65000),
    ] {
        let mut sized = params(target);
        sized.payload_size = payload_size;
        let (summary, replies) = ping_in_fresh_namespace(&["link set lo up"], sized);
        let bytes = u32::try_from(payload_size + 8).unwrap();
        assert_all_answered(&summary.unwrap(), &replies, target, bytes);
    }
}

#[test]
fn unknown_interface_is_no_such_interface() {
    let mut missing = params("127.0.0.1");
    missing.interface = Some("nonexistent0".to_owned());
    let (result, _) = ping_in_fresh_namespace(&["link set lo up"], missing);
    match result {
        Err(PingError::NoSuchInterface { interface, .. }) => assert_eq!(interface, "nonexistent0"),
        other => panic!("expected NoSuchInterface, got {other:?}"),
    }
}

#[test]
fn source_not_assigned_here_is_source_not_local() {
    for (target, source) in [("127.0.0.1", "198.51.100.9"), ("::1", "2001:db8::9")] {
        let mut foreign = params(target);
        foreign.source = Some(source.parse().unwrap());
        let (result, _) = ping_in_fresh_namespace(&["link set lo up"], foreign);
        match result {
            Err(PingError::SourceNotLocal { address, .. }) => {
                assert_eq!(address.to_string(), source)
            }
            other => panic!("expected SourceNotLocal, got {other:?}"),
        }
    }
}

fn assert_unreachable(result: Result<PingSummary, PingError>, errno: i32) {
    match result {
        Err(PingError::Unreachable { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(errno))
        }
        other => panic!("expected Unreachable with errno {errno}, got {other:?}"),
    }
}

#[test]
fn no_route_fails_before_anything_is_sent() {
    let (result, replies) = ping_in_fresh_namespace(&["link set lo up"], params("198.51.100.7"));
    assert_unreachable(result, libc::ENETUNREACH);
    assert!(replies.is_empty());
}

#[test]
fn loopback_down_is_unreachable() {
    let (result, _) = ping_in_fresh_namespace(&[], params("127.0.0.1"));
    assert_unreachable(result, libc::ENETUNREACH);
}

#[test]
fn routes_that_refuse_are_unreachable_with_their_errno() {
    let setup = &[
        "link set lo up",
        "route add blackhole 198.51.100.0/26",
        "route add unreachable 198.51.100.64/26",
        "route add prohibit 198.51.100.128/26",
    ];
    for (target, errno) in [
        ("198.51.100.1", libc::EINVAL),
        ("198.51.100.65", libc::EHOSTUNREACH),
        ("198.51.100.129", libc::EACCES),
    ] {
        let (result, _) = ping_in_fresh_namespace(setup, params(target));
        assert_unreachable(result, errno);
    }
}

#[test]
fn address_on_a_link_where_nobody_answers_is_total_loss_after_the_timeout() {
    let setup = &[
        "link set lo up",
        "link add nsf-ping0 type veth peer name nsf-ping1",
        "address add 198.51.100.1/24 dev nsf-ping0",
        "link set nsf-ping0 up",
        "link set nsf-ping1 up",
    ];
    let mut silent = params("198.51.100.7");
    silent.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let (summary, replies) = ping_in_fresh_namespace(setup, silent);
    let elapsed = started.elapsed();
    let summary = summary.unwrap();
    assert_eq!(
        (summary.transmitted, summary.received, summary.loss_percent),
        (3, 0, 100.0),
        "{summary:?}"
    );
    assert_eq!(
        (summary.rtt_min, summary.rtt_max, summary.rtt_mdev),
        (Duration::ZERO, Duration::ZERO, Duration::ZERO)
    );
    assert!(replies.is_empty());
    assert!(
        elapsed >= Duration::from_millis(340),
        "ended before the timeout: {elapsed:?}"
    );
}

#[test]
fn link_local_target_through_the_named_interface() {
    let setup = &[
        "link add nsf-ping0 type veth peer name nsf-ping1",
        "address add fe80::a/64 dev nsf-ping0 nodad",
        "address add fe80::b/64 dev nsf-ping1 nodad",
        "link set nsf-ping0 up",
        "link set nsf-ping1 up",
    ];
    let mut scoped = params("fe80::b");
    scoped.interface = Some("nsf-ping0".to_owned());
    let (summary, replies) = ping_in_fresh_namespace(setup, scoped);
    assert_all_answered(&summary.unwrap(), &replies, "fe80::b", 64);
}

#[test]
fn parallel_runs_in_one_namespace_keep_their_own_replies() {
    in_fresh_namespace(|| {
        ip("link set lo up");
        let mut longer = params("127.0.0.2");
        longer.count = 6;
        let mut faster = params("::1");
        faster.count = 10;
        faster.interval = Duration::from_millis(5);
        let runs = [params("127.0.0.1"), longer, faster, params("::1")];
        let results = block_on(futures::future::join_all(runs.clone().map(ping)));
        for (params, (summary, replies)) in runs.iter().zip(results) {
            let summary = summary.unwrap();
            assert_eq!(
                (summary.transmitted, summary.received),
                (params.count, params.count),
                "{params:?}"
            );
            let seqs: Vec<u32> = replies.iter().map(|reply| reply.seq).collect();
            assert_eq!(seqs, (1..=params.count).collect::<Vec<_>>(), "{params:?}");
            assert!(
                replies.iter().all(|reply| reply.from == params.target),
                "{replies:?}"
            );
        }
    });
}

#[test]
fn dropping_the_run_stops_it_and_releases_the_channel() {
    in_fresh_namespace(|| {
        ip("link set lo up");
        let mut endless = params("127.0.0.1");
        endless.count = 10_000;
        endless.interval = Duration::from_millis(10);
        let socket = open_icmp_socket(&endless).unwrap();
        let (sender, mut receiver) = mpsc::channel(1024);
        block_on(async {
            let cut_short = tokio::time::timeout(
                Duration::from_millis(100),
                run_ping(socket, endless, sender),
            )
            .await;
            assert!(cut_short.is_err(), "the run should still have been going");
            let mut delivered = 0;
            // Only a run still alive somewhere could keep the sender, and with it the channel, open.
            while tokio::time::timeout(Duration::from_secs(1), receiver.recv())
                .await
                .expect("channel left open")
                .is_some()
            {
                delivered += 1;
            }
            assert!(
                (1..100).contains(&delivered),
                "{delivered} replies delivered"
            );
        });
    });
}

#[test]
fn gone_receiver_does_not_stop_the_run() {
    in_fresh_namespace(|| {
        ip("link set lo up");
        let params = params("::1");
        let socket = open_icmp_socket(&params).unwrap();
        let (sender, receiver) = mpsc::channel(1);
        drop(receiver);
        let summary = block_on(run_ping(socket, params, sender)).unwrap();
        assert_eq!(summary.received, 3);
    });
}

#[test]
fn socket_of_the_other_family_is_refused() {
    in_fresh_namespace(|| {
        let socket = open_icmp_socket(&params("127.0.0.1")).unwrap();
        let (sender, _receiver) = mpsc::channel(1);
        let result = block_on(run_ping(socket, params("::1"), sender));
        assert!(
            matches!(result, Err(PingError::InvalidParams { .. })),
            "{result:?}"
        );
    });
}

#[test]
fn replies_to_another_process_pinging_the_same_target_are_ignored() {
    in_fresh_namespace(|| {
        ip("link set lo up");
        // iputils ping also uses a raw socket here (ping_group_range is `1 0` in a new namespace), so
        // both sockets see both streams of replies.
        let mut other = Command::new("ping")
            .args(["-q", "-c", "40", "-i", "0.005", "127.0.0.1"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("running iputils ping");
        let mut ours = params("127.0.0.1");
        ours.count = 10;
        ours.interval = Duration::from_millis(10);
        let (summary, replies) = block_on(ping(ours));
        assert!(other.wait().unwrap().success());
        let summary = summary.unwrap();
        assert_eq!(
            (summary.transmitted, summary.received),
            (10, 10),
            "{summary:?}"
        );
        let seqs: Vec<u32> = replies.iter().map(|reply| reply.seq).collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    });
}
