//! gRPC clients that send a unix socket's path as `:authority` (grpcurl 1.8, grpcio, grpc-java, ...)
//! work over the agent's unix socket, while TCP keeps HTTP/2's rules.
//!
//! grpcurl runs with no `-authority`; a raw HTTP/2 client sends `:authority` values no gRPC library would
//! (control bytes, 10 KB of junk) and reads the answer frames: over the unix socket each request is
//! answered, over TCP (a listener on 127.0.0.1 inside the simulated host) a malformed one is reset with
//! PROTOCOL_ERROR, as HTTP/2 servers do.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use nix::sched::{setns, CloneFlags};
use nsfleet_tests::python_tools::{must, python_tools, RUN_LIMIT};
use nsfleet_tests::{run_bounded, Lab, SimHost};

const TCP_PORT: u16 = 50051;
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;
const PROTOCOL_ERROR: u32 = 0x1;

/// grpcurl's flags come before the address; with `-unix` (a switch) the address is the socket's path.
fn grpcurl(venv: &std::path::Path, flags: &[&str], socket: &str, args: &[&str]) -> String {
    let mut command = Command::new(venv.join("bin").join("grpcurl"));
    command
        .args(["-plaintext", "-unix"])
        .args(flags)
        .arg(socket)
        .args(args);
    must(
        run_bounded(&mut command, RUN_LIMIT),
        &format!("grpcurl {}", args.join(" ")),
    )
}

#[test]
fn grpcurl_lists_describes_and_calls_over_the_unix_socket_with_no_authority_override() {
    let venv = python_tools();
    let lab = Lab::start(1);
    let host = lab.host(0);
    let socket = host.endpoint().trim_start_matches("unix:").to_string();

    let listed = grpcurl(&venv, &[], &socket, &["list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.trim() == "nsfleet.v1.NamespaceService"),
        "{listed}"
    );
    let described = grpcurl(
        &venv,
        &[],
        &socket,
        &["describe", "nsfleet.v1.NamespaceService"],
    );
    assert!(described.contains("rpc CreateNamespace"), "{described}");

    let created = grpcurl(
        &venv,
        &["-d", r#"{"name": "grpcurlns"}"#],
        &socket,
        &["nsfleet.v1.NamespaceService/CreateNamespace"],
    );
    assert!(created.contains("\"changed\": true"), "{created}");
    assert!(
        host.ip_netns_list().contains(&"grpcurlns".to_string()),
        "{:?}",
        host.ip_netns_list()
    );
    let listed = grpcurl(
        &venv,
        &["-d", "{}"],
        &socket,
        &["nsfleet.v1.NamespaceService/ListNamespaces"],
    );
    assert!(listed.contains("\"grpcurlns\""), "{listed}");

    // nsfleet's own client (tonic, which sends `localhost`) on the same socket.
    let names = host.cli("netns list").result().to_string();
    assert!(names.contains("grpcurlns"), "{names}");
}

#[derive(Debug, PartialEq)]
enum Outcome {
    /// The call ended with END_STREAM on its stream: a gRPC answer (or refusal with a status).
    Answered,
    /// RST_STREAM on the call's stream, with this error code.
    Reset(u32),
    /// GOAWAY with this error code.
    GoAway(u32),
    /// The server closed the connection without either.
    Closed,
}

fn write_integer(out: &mut Vec<u8>, prefix_bits: u32, value: usize) {
    let max_prefix = (1usize << prefix_bits) - 1;
    if value < max_prefix {
        out.push(value as u8);
        return;
    }
    out.push(max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        out.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// HPACK literals with new names, not indexed, not Huffman-coded: any bytes go through as written.
fn header_block(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00);
        for s in [name, value] {
            write_integer(&mut block, 7, s.len());
            block.extend_from_slice(s);
        }
    }
    block
}

fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream_id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A gRPC health check on stream 1 with `:authority` set to `authority`, and what the server made of it.
fn health_check<S: Read + Write>(mut stream: S, authority: &[u8]) -> io::Result<Outcome> {
    let block = header_block(&[
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/grpc.health.v1.Health/Check"),
        (b":authority", authority),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
    ]);
    let mut request = PREFACE.to_vec();
    request.extend(frame(SETTINGS, 0, 0, &[]));
    request.extend(frame(HEADERS, END_HEADERS, 1, &block));
    // An empty HealthCheckRequest: uncompressed, length 0.
    request.extend(frame(DATA, END_STREAM, 1, &[0, 0, 0, 0, 0]));
    stream.write_all(&request)?;
    loop {
        let mut head = [0u8; 9];
        match stream.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Outcome::Closed),
            Err(e) => return Err(e),
        }
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let (kind, flags) = (head[3], head[4]);
        let stream_id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload)?;
        let code = |at: usize| {
            payload
                .get(at..at + 4)
                .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        match kind {
            SETTINGS if flags & ACK == 0 => stream.write_all(&frame(SETTINGS, ACK, 0, &[]))?,
            RST_STREAM if stream_id == 1 => return Ok(Outcome::Reset(code(0))),
            GOAWAY => return Ok(Outcome::GoAway(code(4))),
            HEADERS | DATA if stream_id == 1 && flags & END_STREAM != 0 => {
                return Ok(Outcome::Answered)
            }
            _ => {}
        }
    }
}

fn over_unix(host: &SimHost, authority: &[u8]) -> Outcome {
    let stream =
        UnixStream::connect(host.dir().join("agent.sock")).expect("connect to the agent's socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a read timeout");
    health_check(stream, authority).expect("talk HTTP/2 over the unix socket")
}

/// A TCP connection to the agent's listener on 127.0.0.1 inside the simulated host: the socket is made
/// by a thread that entered the host's network namespace, and then used from here.
fn over_tcp(host: &SimHost, authority: &[u8]) -> Outcome {
    let netns = File::open(format!("/proc/{}/ns/net", host.pid()))
        .expect("the simulated host's network namespace");
    let stream = std::thread::spawn(move || {
        setns(&netns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        TcpStream::connect(("127.0.0.1", TCP_PORT))
    })
    .join()
    .expect("the connecting thread")
    .expect("connect to the agent's TCP listener inside the simulated host");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a read timeout");
    health_check(stream, authority).expect("talk HTTP/2 over TCP")
}

#[test]
fn unusable_authorities_are_answered_over_the_unix_socket_and_reset_over_tcp() {
    // --insecure: loopback TCP needs authentication by default, and this test is about h2, not callers.
    let args = [
        "--listen".to_string(),
        format!("127.0.0.1:{TCP_PORT}"),
        "--insecure".to_string(),
    ];
    let lab = Lab::start_with_args(1, &args);
    let host = lab.host(0);
    let path = host
        .dir()
        .join("agent.sock")
        .display()
        .to_string()
        .into_bytes();
    let control = b"local\x01host\x7f".to_vec();
    let junk: Vec<u8> = b"/junk".iter().copied().cycle().take(10 * 1024).collect();

    for (what, authority) in [
        ("a valid name", &b"localhost"[..]),
        ("the socket path", &path),
        ("control bytes", &control),
        ("10 KB of junk", &junk),
    ] {
        assert_eq!(
            over_unix(host, authority),
            Outcome::Answered,
            "unix socket, {what} as :authority\n{}",
            host.agent_log()
        );
    }
    // The client's own grammar still holds: the raw client is answered over TCP with a valid name, and
    // HTTP/2's rule on :authority is unchanged there.
    assert_eq!(
        over_tcp(host, b"localhost"),
        Outcome::Answered,
        "TCP, a valid name"
    );
    for (what, authority) in [
        ("the socket path", &path),
        ("control bytes", &control),
        ("10 KB of junk", &junk),
    ] {
        assert_eq!(
            over_tcp(host, authority),
            Outcome::Reset(PROTOCOL_ERROR),
            "TCP, {what} as :authority"
        );
    }
    // The connections above left the agent serving.
    assert_eq!(over_unix(host, b"localhost"), Outcome::Answered);
}
