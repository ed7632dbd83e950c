//! The oracle for what NAT did to a flow: a tiny python3 server that answers every TCP connection and
//! every UDP datagram with its own label and the peer address it saw, and a one-shot client for it.

use std::fmt;
use std::time::Duration;

use crate::background::Background;
use crate::process::Finished;
use crate::sim_host::SimHost;

/// How long one client attempt waits to connect and for the answer. Over veths an answer takes far
/// under a millisecond; no answer within this is "cannot reach" (the peer's reply has no route back).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the server may take to bind (python startup on a busy machine).
const STARTUP_LIMIT: Duration = Duration::from_secs(30);

/// argv: PORT LABEL. Prints "ready" once both sockets listen. A reply that cannot be sent (no route
/// back) is dropped, so one unreachable peer does not end the server.
const SERVER: &str = r#"
import socket, sys, threading
port, label = int(sys.argv[1]), sys.argv[2]
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("", port))
tcp.listen(64)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("", port))
def answer_datagrams():
    while True:
        _, peer = udp.recvfrom(2048)
        try:
            udp.sendto(f"{label} {peer[0]}\n".encode(), peer)
        except OSError:
            pass
threading.Thread(target=answer_datagrams, daemon=True).start()
print("ready", flush=True)
while True:
    conn, peer = tcp.accept()
    try:
        conn.sendall(f"{label} {peer[0]}\n".encode())
    except OSError:
        pass
    conn.close()
"#;

/// argv: tcp|udp ADDRESS PORT TIMEOUT [SOURCE_PORT]. Prints the answer; on any failure prints the
/// error's kind to stderr and exits 1.
const CLIENT: &str = r#"
import socket, sys
proto, address, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
try:
    if proto == "tcp":
        s = socket.create_connection((address, port), timeout=timeout)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        s.bind(("", int(sys.argv[5])))
        s.sendto(b"?", (address, port))
    answer = s.recv(2048).decode().strip()
except Exception as err:
    print(f"{type(err).__name__}: {err}", file=sys.stderr)
    sys.exit(1)
print(answer)
"#;

/// A running server; stops when dropped.
pub struct PeerEcho {
    process: Background,
}

impl PeerEcho {
    pub fn report(&self) -> String {
        self.process.report()
    }
}

/// What the server said: its label and the source address it saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub label: String,
    pub peer: String,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} saw {}", self.label, self.peer)
    }
}

impl SimHost {
    /// Starts a server on TCP and UDP `port` of every address in `netns`, answering as `label`; returns
    /// once it listens.
    pub fn start_peer_echo(&self, netns: &str, port: u16, label: &str) -> PeerEcho {
        let port = port.to_string();
        let mut process = self.spawn_in(netns, &["python3", "-c", SERVER, &port, label]);
        process.describe_as(&format!(
            "{}: echo server {label:?} on port {port} in {netns:?}",
            self.label()
        ));
        process.wait_for_line("ready", STARTUP_LIMIT);
        PeerEcho { process }
    }

    /// One TCP connection from `netns` to `address`:`port`: the answer, or the failed client run.
    pub fn tcp_ask(&self, netns: &str, address: &str, port: u16) -> Result<Answer, Finished> {
        self.ask(netns, &["tcp", address, &port.to_string()], None)
    }

    /// One UDP datagram from `netns`, sent from `source_port` (fixed, so a second attempt is the same
    /// conntrack flow as the first).
    pub fn udp_ask(
        &self,
        netns: &str,
        address: &str,
        port: u16,
        source_port: u16,
    ) -> Result<Answer, Finished> {
        self.ask(
            netns,
            &["udp", address, &port.to_string()],
            Some(source_port),
        )
    }

    fn ask(
        &self,
        netns: &str,
        target: &[&str],
        source_port: Option<u16>,
    ) -> Result<Answer, Finished> {
        let timeout = ATTEMPT_TIMEOUT.as_secs_f64().to_string();
        let source_port = source_port.map(|port| port.to_string());
        let mut argv = vec!["python3", "-c", CLIENT];
        argv.extend(target);
        argv.push(&timeout);
        argv.extend(source_port.as_deref());
        let mut finished = self.run_in(netns, &argv);
        // The script itself would drown the message.
        finished.command = format!(
            "{}: echo client in {netns:?}: {} (timeout {timeout} s{})",
            self.label(),
            target.join(" "),
            source_port
                .map(|port| format!(", from port {port}"))
                .unwrap_or_default()
        );
        if !finished.success() {
            return Err(finished);
        }
        match finished.stdout.trim().split_once(' ') {
            Some((label, peer)) => Ok(Answer {
                label: label.to_string(),
                peer: peer.to_string(),
            }),
            None => panic!("the echo client printed no \"LABEL PEER\" line: {finished}"),
        }
    }
}
