//! Accept loops: each accepted socket is admitted under the connection caps (`connections.rs`) before the
//! HTTP/2 server sees it; a refused one is closed at once.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use super::connections::{Admission, GuardedStream, Peer, Reason};

/// After a failed accept (no file descriptor left, most likely), wait this long before the next: the
/// error repeats at once, and retrying in a loop only burns the CPU the running calls need.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

pub fn tcp(
    listener: TcpListener,
    admission: Arc<Admission>,
    transport: &'static str,
) -> impl Stream<Item = io::Result<GuardedStream<TcpStream>>> + Send + 'static {
    futures::stream::unfold(
        (listener, admission),
        move |(listener, admission)| async move {
            loop {
                let (stream, address) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        backoff(&admission, &e).await;
                        continue;
                    }
                };
                let Some(slot) = admission.admit(Peer::Ip(address.ip().to_canonical())) else {
                    continue;
                };
                // Small request frames wait for nothing: without TCP_NODELAY Nagle held a call's frames
                // behind the unacknowledged preface (a call took 20 ms, 9 ms on a unix socket).
                let _ = stream.set_nodelay(true);
                let guarded = GuardedStream::new(stream, slot, transport);
                return Some((Ok(guarded), (listener, admission)));
            }
        },
    )
}

pub fn unix(
    listener: UnixListener,
    admission: Arc<Admission>,
) -> impl Stream<Item = io::Result<GuardedStream<UnixStream>>> + Send + 'static {
    futures::stream::unfold((listener, admission), |(listener, admission)| async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    backoff(&admission, &e).await;
                    continue;
                }
            };
            let peer = match stream.peer_cred() {
                Ok(credentials) => Peer::Uid(credentials.uid()),
                Err(_) => Peer::Unknown,
            };
            let Some(slot) = admission.admit(peer) else {
                continue;
            };
            let guarded = GuardedStream::new(stream, slot, "unix");
            return Some((Ok(guarded), (listener, admission)));
        }
    })
}

async fn backoff(admission: &Admission, error: &io::Error) {
    // A client that gave up between connect and accept is its own business.
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::debug!(%error, "accept");
    admission.log.note(Reason::AcceptFailed, &Peer::Unknown);
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}
