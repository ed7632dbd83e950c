//! DiagnosticsService.TcpConnect end to end: a connection attempt made inside a namespace of a simulated
//! host, against a listener the test started in that namespace (the oracle: a real python server).
//!
//! Run alone with `cargo test -p nsfleet-tests --test tcp_connect`.

use std::time::Duration;

use nsfleet_proto::v1 as pb;
use nsfleet_tests::{Lab, Nsfleet, SimHost};
use pb::diagnostics_service_client::DiagnosticsServiceClient;
use tonic::Code;

/// Generous: only a hang fails it.
const HANG: Duration = Duration::from_secs(30);

const PORT: u16 = 8080;

async fn tcp_connect(
    host: &SimHost,
    request: pb::TcpConnectRequest,
) -> Result<pb::TcpConnectResponse, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(host.endpoint())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = DiagnosticsServiceClient::new(channel);
    tokio::time::timeout(HANG, client.tcp_connect(request))
        .await
        .expect("an answer in time")
        .map(tonic::Response::into_inner)
}

fn request(namespace: &str, address: &str, port: u32) -> pb::TcpConnectRequest {
    pb::TcpConnectRequest {
        namespace: namespace.into(),
        address: address.into(),
        port,
        timeout_ms: 0,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The socket is made inside the named namespace: its loopback reaches the listener there, while the
/// host's own loopback (no listener) refuses, so a connect made in the wrong namespace fails the test.
#[test]
fn connects_inside_the_namespace_and_reports_refusal_and_unreachable_as_results() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    Nsfleet::on(host).line("netns add probe1").run().result();
    Nsfleet::on(host)
        .line("-n probe1 link set lo up")
        .run()
        .result();
    Nsfleet::on(host).line("link set lo up").run().result();
    let _listener = host.start_peer_echo("probe1", PORT, "probe1");
    runtime().block_on(async {
        let inside = tcp_connect(host, request("probe1", "127.0.0.1", PORT.into()))
            .await
            .expect("answered");
        assert!(inside.connected, "{inside:?}");
        assert!(inside.error.is_empty(), "{inside:?}");

        let host_side = tcp_connect(host, request("", "127.0.0.1", PORT.into()))
            .await
            .expect("answered");
        assert!(!host_side.connected, "{host_side:?}");
        assert_eq!(host_side.error, "connection refused");

        // No route at all in a namespace whose only link is lo.
        let unreachable = tcp_connect(host, request("probe1", "192.0.2.1", 80))
            .await
            .expect("answered");
        assert!(!unreachable.connected, "{unreachable:?}");
        assert_eq!(unreachable.error, "network is unreachable");
    });
}

/// A neighbour that never answers: the SYN leaves through a veth whose other end drops it (the frame
/// is addressed to a MAC nobody has), so only the timeout ends the attempt, and it is a result.
#[test]
fn a_silent_peer_is_a_timeout_result() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    for argv in [
        &[
            "ip", "link", "add", "tv0", "type", "veth", "peer", "name", "tv1",
        ][..],
        &["ip", "link", "set", "tv0", "up"],
        &["ip", "link", "set", "tv1", "up"],
        &["ip", "addr", "add", "198.51.100.1/24", "dev", "tv0"],
        &[
            "ip",
            "neigh",
            "add",
            "198.51.100.9",
            "lladdr",
            "02:00:00:00:00:99",
            "dev",
            "tv0",
            "nud",
            "permanent",
        ],
    ] {
        host.run_ok("", argv);
    }
    runtime().block_on(async {
        let started = std::time::Instant::now();
        let silent = tcp_connect(
            host,
            pb::TcpConnectRequest {
                timeout_ms: 300,
                ..request("", "198.51.100.9", 80)
            },
        )
        .await
        .expect("answered");
        assert!(!silent.connected, "{silent:?}");
        assert_eq!(silent.error, "timed out after 300 ms");
        assert!(silent.elapsed_ms >= 300.0, "{silent:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{silent:?}");
    });
}

#[test]
fn bad_input_names_the_field_and_unknown_namespaces_are_not_found() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    runtime().block_on(async {
        let cases = [
            (request("nosuch", "127.0.0.1", 80), Code::NotFound, "nosuch"),
            (
                request("", "not-an-ip", 80),
                Code::InvalidArgument,
                "address",
            ),
            (request("", "127.0.0.1", 0), Code::InvalidArgument, "port"),
            (
                request("", "127.0.0.1", 70000),
                Code::InvalidArgument,
                "port",
            ),
            (
                pb::TcpConnectRequest {
                    timeout_ms: 60_001,
                    ..request("", "127.0.0.1", 80)
                },
                Code::InvalidArgument,
                "timeout_ms",
            ),
        ];
        for (request, code, named) in cases {
            let described = format!("{request:?}");
            let status = tcp_connect(host, request).await.expect_err("refused");
            assert_eq!(status.code(), code, "{described}: {status:?}");
            assert!(
                status.message().contains(named),
                "{described}: {status:?} should name {named}"
            );
        }
    });
}
