//! A TCP connection attempt from inside a network namespace, for reachability probes.
//!
//! As with ping, the socket is made on a thread that has joined the namespace ([`open_tcp_socket`]) and
//! connected from async code ([`connect`]), so no tokio worker ever changes namespace and the wait for the
//! handshake costs no thread. The connection is closed as soon as it is made: only reachability counts.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType};

/// A socket opened in its namespace and not yet connected.
pub struct UnconnectedSocket(TcpStream);

/// Opens a non-blocking TCP socket for `target`'s family in the calling thread's network namespace.
/// Blocking but cheap: call it on a thread that has entered the namespace.
pub fn open_tcp_socket(target: SocketAddr) -> io::Result<UnconnectedSocket> {
    let family = match target {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let fd = socket::socket(family, SockType::Stream, flags, None)?;
    // The socket is not connected yet; tokio's TcpSocket takes it as a stream only to connect it.
    Ok(UnconnectedSocket(TcpStream::from(fd)))
}

/// How a connection attempt ended. A refusal, an unreachable network and a timeout are answers about the
/// network, not failures of the attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectOutcome {
    pub connected: bool,
    /// Why not, for a person; empty when connected.
    pub error: String,
    pub elapsed: Duration,
}

/// Connects `socket` to `target`, waiting at most `timeout`.
pub async fn connect(
    socket: UnconnectedSocket,
    target: SocketAddr,
    timeout: Duration,
) -> ConnectOutcome {
    let started = Instant::now();
    let attempt = async {
        let socket = tokio::net::TcpSocket::from_std_stream(socket.0);
        socket.connect(target).await
    };
    let (connected, error) = match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(_stream)) => (true, String::new()),
        Ok(Err(e)) => (false, describe(&e)),
        Err(_) => (false, format!("timed out after {} ms", timeout.as_millis())),
    };
    ConnectOutcome {
        connected,
        error,
        elapsed: started.elapsed(),
    }
}

/// The words `connect(2)`'s common failures deserve; the rest keep the system's own text.
fn describe(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(libc::ECONNREFUSED) => "connection refused".to_owned(),
        Some(libc::EHOSTUNREACH) => "no route to host".to_owned(),
        Some(libc::ENETUNREACH) => "network is unreachable".to_owned(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;

    // Loopback of the test's own namespace: a port nothing listens on, then one a listener holds.
    #[tokio::test]
    async fn refused_and_connected_are_outcomes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        let outcome = connect(open_tcp_socket(open).unwrap(), open, Duration::from_secs(1)).await;
        assert!(outcome.connected, "{outcome:?}");
        drop(listener);
        let outcome = connect(open_tcp_socket(open).unwrap(), open, Duration::from_secs(1)).await;
        assert!(!outcome.connected);
        assert_eq!(outcome.error, "connection refused");
    }
}
