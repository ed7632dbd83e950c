//! Bounds that hold before and after authentication: connections that never call are closed, the
//! per-peer connection cap refuses the excess, streaming calls hold their concurrency slot until their
//! last message, oversized batches get a clear code, and a large batch's peak memory stays within a small
//! multiple of its size on the wire.
//!
//! Every agent here serves the lab's unix socket, where every caller (root) is one peer.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use nsfleet_proto::v1 as pb;
use nsfleet_tests::{poll_until, Lab, Nsfleet, SimHost};
use prost::Message;

/// Generous: only a hang fails it.
const HANG: Duration = Duration::from_secs(30);

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn socket(host: &SimHost) -> PathBuf {
    host.dir().join("agent.sock")
}

fn connect(host: &SimHost) -> UnixStream {
    let stream = UnixStream::connect(socket(host)).expect("connect to the agent's socket");
    stream.set_read_timeout(Some(HANG)).expect("a read timeout");
    stream
}

/// True when the agent closed the connection (end of stream or reset); false when the read timed out
/// with the connection still open.
fn closed_by_agent(stream: &mut UnixStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // The agent may have sent its SETTINGS before the deadline: read past them.
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(e) => panic!("reading from the agent: {e}"),
        }
    }
}

#[test]
fn connections_without_a_call_are_closed_while_callers_are_served() {
    let lab = Lab::start_with_args(1, &args(&["--first-call-timeout", "1"]));
    let host = lab.host(0);
    let mut silent = connect(host);
    let mut half_preface = connect(host);
    half_preface
        .write_all(b"PRI * HTTP/2.0\r\n")
        .expect("send half a preface");
    Nsfleet::on(host).line("netns add legit").run().result();
    assert!(
        closed_by_agent(&mut silent),
        "a silent connection stayed open"
    );
    assert!(
        closed_by_agent(&mut half_preface),
        "a connection with half a preface stayed open"
    );
    Nsfleet::on(host).line("netns list").run().result();
    assert!(
        host.agent_log()
            .contains("no call within --first-call-timeout"),
        "the closes are logged\n{}",
        host.agent_log()
    );
}

/// With `--idle-timeout 1`, a ping that streams for about 3 s keeps its connection (an open call is not
/// idle) and ends with its summary; a connection whose call has ended is then closed, and the agent
/// says so.
#[test]
fn connections_are_closed_once_idle_but_not_while_a_call_streams() {
    let lab = Lab::start_with_args(1, &args(&["--idle-timeout", "1"]));
    let host = lab.host(0);
    Nsfleet::on(host).line("link set lo up").run().result();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut ping = start_ping_counted(&host.endpoint(), 30).await;
        let mut events = 0;
        while let Some(event) = tokio::time::timeout(HANG, ping.message())
            .await
            .expect("a ping event in time")
            .expect("the ping streamed to its end")
        {
            events += 1;
            if matches!(event.event, Some(pb::ping_event::Event::Summary(_))) {
                break;
            }
        }
        assert_eq!(events, 31, "30 replies and the summary");
        assert!(
            !host.agent_log().contains("--idle-timeout"),
            "a connection was closed as idle while its call streamed\n{}",
            host.agent_log()
        );
        // Held open, with no call, past the idle timeout.
        let _idle = ping;
        poll_until("the idle connection's close in the log", HANG, || {
            let log = host.agent_log();
            if log.contains("no call within --idle-timeout") {
                Ok(())
            } else {
                Err(log)
            }
        });
    });
}

/// tonic logs failed TLS handshakes only at debug level; the agent says so itself.
#[test]
fn a_failed_tls_handshake_is_logged() {
    let dir = tempfile::tempdir().expect("a directory for the certificate");
    let key = rcgen::KeyPair::generate().expect("a key");
    let certificate = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("certificate parameters")
        .self_signed(&key)
        .expect("a self-signed certificate");
    let cert_path = dir.path().join("agent.pem");
    let key_path = dir.path().join("agent.key");
    std::fs::write(&cert_path, certificate.pem()).expect("write the certificate");
    std::fs::write(&key_path, key.serialize_pem()).expect("write the key");
    let listen = format!("127.0.0.1:{TLS_PORT}");
    let lab = Lab::start_with_args(
        1,
        &args(&[
            "--listen",
            &listen,
            "--tls-cert",
            cert_path.to_str().expect("a UTF-8 path"),
            "--tls-key",
            key_path.to_str().expect("a UTF-8 path"),
            // Loopback TLS without tokens: what matters here is the handshake.
            "--insecure",
        ]),
    );
    let host = lab.host(0);
    // Each with the cause the log must name. The log is rate-limited per cause, so one of each.
    for (opening, cause) in [
        (
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            "the client's first bytes were not TLS",
        ),
        (
            &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
            "the client spoke plaintext HTTP/2 to a TLS listener",
        ),
    ] {
        let mut stream = tcp_in(host, TLS_PORT);
        stream
            .write_all(opening)
            .expect("send something that is not TLS");
        let mut buf = [0u8; 1024];
        // Whatever the agent answers (an alert, or nothing), it ends the connection.
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        poll_until("the failed handshake in the log", HANG, || {
            let log = host.agent_log();
            if log.contains(&format!(
                "TLS connection ended before its first call: {cause}"
            )) {
                Ok(())
            } else {
                Err(log)
            }
        });
    }
}

const TLS_PORT: u16 = 50052;

/// A TCP connection to `port` on 127.0.0.1 inside the simulated host: made by a thread that entered the
/// host's network namespace, then used from here.
fn tcp_in(host: &SimHost, port: u16) -> std::net::TcpStream {
    let netns = std::fs::File::open(format!("/proc/{}/ns/net", host.pid()))
        .expect("the simulated host's network namespace");
    let stream = std::thread::spawn(move || {
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(std::io::Error::from)?;
        std::net::TcpStream::connect(("127.0.0.1", port))
    })
    .join()
    .expect("the connecting thread")
    .expect("connect to the agent's TCP listener inside the simulated host");
    stream.set_read_timeout(Some(HANG)).expect("a read timeout");
    stream
}

#[test]
fn connections_over_the_per_peer_cap_are_refused_until_one_ends() {
    let lab = Lab::start_with_args(1, &args(&["--max-connections-per-peer", "3"]));
    let host = lab.host(0);
    // The lab's readiness probes were connections too: a call answered first means the agent has
    // accepted (and seen the end of) every connection made before it.
    Nsfleet::on(host).line("netns list").run().result();
    let mut held: Vec<UnixStream> = (0..3).map(|_| connect(host)).collect();
    let mut over = connect(host);
    assert!(
        closed_by_agent(&mut over),
        "the fourth connection of one user was kept"
    );
    let refused = Nsfleet::on(host).line("netns list").run();
    assert_ne!(
        refused.exit_code(),
        Some(0),
        "a call over the cap\n{refused}"
    );
    held.pop();
    poll_until("a call once a connection has ended", HANG, || {
        let run = Nsfleet::on(host).line("netns list").run();
        match run.exit_code() {
            Some(0) => Ok(()),
            _ => Err(run.to_string()),
        }
    });
    assert!(
        host.agent_log()
            .contains("--max-connections-per-peer reached"),
        "the refusal is logged\n{}",
        host.agent_log()
    );
}

#[test]
fn batches_over_the_size_cap_answer_resource_exhausted() {
    let lab = Lab::start_with_args(1, &args(&["--max-message-bytes", "2000"]));
    let host = lab.host(0);
    let lines: String = (0..300).map(|i| format!("netns add n{i}\n")).collect();
    let file = host.dir().join("batch.txt");
    std::fs::write(&file, lines).expect("write the batch file");
    let run = Nsfleet::on(host)
        .args(["batch", file.to_str().expect("a UTF-8 path")])
        .run();
    let error = run.error("RESOURCE_EXHAUSTED");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("larger than")),
        "{run}"
    );
    assert!(host.ip_netns_list().is_empty(), "nothing applied\n{run}");
}

/// The agent's peak resident memory may grow by at most this many times a batch's size on the wire while
/// it runs the batch. Measured with a debug agent: about 400x while the audit summary decoded the whole
/// request and every operation had its own task up front, about 100x since; the margin absorbs allocator
/// noise.
const PEAK_PER_WIRE_BYTE: u64 = 150;

/// A 100,000-operation batch (about 1 MB on the wire, each operation `link set lo up` on the host, so all
/// of them run one after another) must not take the agent's peak memory (VmHWM) beyond
/// [`PEAK_PER_WIRE_BYTE`] times its wire size.
#[test]
fn a_large_batch_peaks_within_a_small_multiple_of_its_wire_size() {
    // A debug agent takes minutes for 100,000 operations: only memory is judged here, not time.
    let lab = Lab::start_with_args(1, &args(&["--request-timeout", "900"]));
    let host = lab.host(0);
    Nsfleet::on(host).line("link set lo up").run().result();
    let set_lo_up = pb::BatchOperation {
        operation: Some(pb::batch_operation::Operation::SetLink(
            pb::SetLinkRequest {
                name: "lo".into(),
                up: Some(true),
                ..Default::default()
            },
        )),
    };
    let request = pb::ApplyBatchRequest {
        operations: vec![set_lo_up; 100_000],
        continue_on_error: false,
    };
    let wire_bytes = request.encoded_len() as u64;
    let before = peak_kib(host) * 1024;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let response = runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(host.endpoint())
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        pb::batch_service_client::BatchServiceClient::new(channel)
            .max_decoding_message_size(64 * 1024 * 1024)
            .apply_batch(request)
            .await
            .expect("the batch answers")
            .into_inner()
    });
    assert!(response.ok, "every operation applied");
    assert_eq!(response.results.len(), 100_000);

    let growth = (peak_kib(host) * 1024).saturating_sub(before);
    eprintln!(
        "batch of {wire_bytes} bytes: peak grew by {growth} bytes ({}x)",
        growth / wire_bytes
    );
    assert!(
        growth <= PEAK_PER_WIRE_BYTE * wire_bytes,
        "peak memory grew by {growth} bytes for a batch of {wire_bytes} bytes, more than {PEAK_PER_WIRE_BYTE}x"
    );
}

/// The agent's VmHWM, in KiB.
fn peak_kib(host: &SimHost) -> u64 {
    let pid = host.agent_pid();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("the agent's comm");
    assert_eq!(comm.trim(), "nsfleet-agent", "pid {pid} is the agent");
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the agent's status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}

/// With `--max-concurrent-requests 2`, two endless pings take both slots; a third ping gets nothing
/// while they stream (they each deliver several more replies meanwhile, so the third had every chance
/// to start), and starts as soon as one of the two is cancelled.
#[test]
fn streaming_calls_hold_their_slot_until_they_end() {
    let lab = Lab::start_with_args(1, &args(&["--max-concurrent-requests", "2"]));
    let host = lab.host(0);
    Nsfleet::on(host).line("link set lo up").run().result();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut first = start_ping(host).await;
        let mut second = start_ping(host).await;
        next_event(&mut first).await;
        next_event(&mut second).await;

        let endpoint = host.endpoint();
        let (started, mut third_started) = tokio::sync::oneshot::channel();
        let third = tokio::spawn(async move {
            let mut stream = start_ping_at(&endpoint).await;
            next_event(&mut stream).await;
            let _ = started.send(());
            // Keep it open until the test ends.
            std::future::pending::<()>().await;
        });
        for _ in 0..5 {
            next_event(&mut first).await;
            next_event(&mut second).await;
        }
        assert!(
            third_started.try_recv().is_err(),
            "a third ping streamed while two held both slots"
        );
        drop(first);
        tokio::time::timeout(HANG, &mut third_started)
            .await
            .expect("the third ping started once a slot was free")
            .expect("the third ping's task");
        third.abort();
    });
}

async fn start_ping(host: &SimHost) -> tonic::Streaming<pb::PingEvent> {
    start_ping_at(&host.endpoint()).await
}

/// A ping of 127.0.0.1 that outlasts the test, each on its own connection.
async fn start_ping_at(endpoint: &str) -> tonic::Streaming<pb::PingEvent> {
    start_ping_counted(endpoint, 10_000).await
}

/// `count` echo requests to 127.0.0.1, 100 ms apart, on a connection of its own.
async fn start_ping_counted(endpoint: &str, count: u32) -> tonic::Streaming<pb::PingEvent> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = pb::diagnostics_service_client::DiagnosticsServiceClient::new(channel);
    let request = pb::PingRequest {
        target: "127.0.0.1".into(),
        count,
        interval_ms: 100,
        ..Default::default()
    };
    tokio::time::timeout(HANG, client.ping(request))
        .await
        .expect("the ping's answer began")
        .expect("ping accepted")
        .into_inner()
}

/// The next event of a ping, within the hang bound.
async fn next_event(stream: &mut tonic::Streaming<pb::PingEvent>) -> pb::PingEvent {
    tokio::time::timeout(HANG, stream.message())
        .await
        .expect("a ping event in time")
        .expect("a ping event")
        .expect("the ping still streams")
}
