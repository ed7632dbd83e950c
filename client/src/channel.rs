//! The connection one invocation's calls to one agent go over.
//!
//! Over TCP it is tonic's `Channel`, which brings what a network connection wants: TLS, a connector, a
//! service that reconnects, a buffer task in front of it, and its `user-agent` and `grpc-timeout`
//! layers. A command for one host on a unix socket makes its calls with blocking reads and writes
//! (`socket_call/`). Several hosts on unix sockets, whose calls must overlap, go over hyper's HTTP/2
//! connection itself: the same HTTP/2 and the same gRPC codec, without the `Channel`'s machinery, which
//! was a fifth of a call's instructions and 11 of its page faults (BENCHMARKS.md, "One invocation per
//! command"). What of it a call needs is kept here: a connection the agent has closed is dialled again
//! before the next call, and a dial that fails is that call's error, as with the `Channel`. Every caller
//! bounds its calls with its own timeout, so no `grpc-timeout` layer is missed; the agent reads no
//! `user-agent`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tonic::body::Body;
use tonic::transport::Channel;

use crate::socket_call::SocketConnection;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type Dialling = Pin<Box<dyn Future<Output = Result<SendRequest<Body>, BoxError>> + Send>>;

type ResponseFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

/// What the generated gRPC clients are built on (`LinkServiceClient::new(channel)`).
#[derive(Clone, Debug)]
pub enum AgentChannel {
    Tcp(Channel),
    Unix(UnixChannel),
    /// One host's unix socket, called with blocking reads and writes (`socket_call/`).
    Socket(SocketConnection),
}

/// HTTP/2 to the agent's unix socket, dialled again when the agent has closed it.
#[derive(Debug)]
pub struct UnixChannel {
    socket: Arc<PathBuf>,
    state: UnixState,
}

enum UnixState {
    Open(SendRequest<Body>),
    /// Closed, or a clone of a channel that was dialling: the next `poll_ready` dials.
    Closed,
    Dialling(Dialling),
    /// The dial failed: the next call fails with this, and the one after dials again.
    Failed(BoxError),
}

impl AgentChannel {
    /// The same channel, for a call after which the command makes another. On one host's unix socket
    /// each call otherwise closes its connection as it is answered (`socket_call/`), and the next would
    /// dial again; over the other transports every call already leaves its connection open.
    pub fn kept_open_for_another_call(&self) -> Self {
        match self {
            Self::Socket(connection) => Self::Socket(connection.kept_open()),
            other => other.clone(),
        }
    }

    /// Connects to the agent's unix socket and makes the HTTP/2 handshake.
    pub(crate) async fn unix(socket: &Path) -> Result<Self, BoxError> {
        let socket = Arc::new(socket.to_path_buf());
        let send = dial(socket.clone()).await?;
        Ok(Self::Unix(UnixChannel {
            socket,
            state: UnixState::Open(send),
        }))
    }
}

/// The connection is driven by a task of the caller's runtime, which ends with the connection.
async fn dial(socket: Arc<PathBuf>) -> Result<SendRequest<Body>, BoxError> {
    let stream = tokio::net::UnixStream::connect(socket.as_path()).await?;
    let (send, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        // Its error is the calls' error too, and they report it.
        let _ = connection.await;
    });
    Ok(send)
}

impl Clone for UnixChannel {
    fn clone(&self) -> Self {
        let state = match &self.state {
            UnixState::Open(send) => UnixState::Open(send.clone()),
            _ => UnixState::Closed,
        };
        Self {
            socket: self.socket.clone(),
            state,
        }
    }
}

impl std::fmt::Debug for UnixState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Open(_) => "Open",
            Self::Closed => "Closed",
            Self::Dialling(_) => "Dialling",
            Self::Failed(_) => "Failed",
        })
    }
}

impl UnixChannel {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        loop {
            match &mut self.state {
                UnixState::Open(send) if !send.is_closed() => return Poll::Ready(Ok(())),
                UnixState::Failed(_) => return Poll::Ready(Ok(())),
                UnixState::Open(_) | UnixState::Closed => {
                    self.state = UnixState::Dialling(Box::pin(dial(self.socket.clone())));
                }
                UnixState::Dialling(dialling) => {
                    // A failed dial is not the service's readiness failing: tonic would turn that into
                    // UNKNOWN without a cause. It is handed to the call, whose error keeps its source.
                    self.state = match ready!(dialling.as_mut().poll(cx)) {
                        Ok(send) => UnixState::Open(send),
                        Err(error) => UnixState::Failed(error),
                    };
                }
            }
        }
    }

    fn call(&mut self, request: http::Request<Body>) -> ResponseFuture {
        let request = match with_origin(request) {
            Ok(request) => request,
            Err(error) => return Box::pin(async move { Err(error) }),
        };
        match std::mem::replace(&mut self.state, UnixState::Closed) {
            UnixState::Open(mut send) => {
                let response = send.send_request(request);
                self.state = UnixState::Open(send);
                Box::pin(async move { Ok(response.await?.map(Body::new)) })
            }
            UnixState::Failed(error) => Box::pin(async move { Err(error) }),
            other => {
                self.state = other;
                Box::pin(async { Err("called before the connection was ready".into()) })
            }
        }
    }
}

impl tower::Service<http::Request<Body>> for AgentChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self {
            Self::Tcp(channel) => channel.poll_ready(cx).map_err(Into::into),
            Self::Unix(unix) => unix.poll_ready(cx),
            Self::Socket(socket) => socket.poll_ready(cx),
        }
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self {
            Self::Tcp(channel) => {
                let response = channel.call(request);
                Box::pin(async move { response.await.map_err(Into::into) })
            }
            Self::Unix(unix) => unix.call(request),
            Self::Socket(socket) => socket.call(request),
        }
    }
}

/// The generated clients send only a path; HTTP/2 needs a scheme and an authority too. On a unix
/// socket the authority names nothing; `localhost` is a valid one, which the agent's rewriter of
/// unusable authorities leaves as it is (tonic's own unix connector sends `tonic`).
fn with_origin(request: http::Request<Body>) -> Result<http::Request<Body>, BoxError> {
    let (mut parts, body) = request.into_parts();
    let mut uri = parts.uri.into_parts();
    uri.scheme = Some(http::uri::Scheme::HTTP);
    uri.authority = Some(http::uri::Authority::from_static("localhost"));
    parts.uri = http::Uri::from_parts(uri)?;
    Ok(http::Request::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_clients_path_gets_the_origin_http2_needs() {
        let request = http::Request::builder()
            .uri("/nsfleet.v1.LinkService/ListLinks")
            .body(Body::empty())
            .unwrap();
        let request = with_origin(request).unwrap();
        assert_eq!(
            request.uri().to_string(),
            "http://localhost/nsfleet.v1.LinkService/ListLinks"
        );
    }
}

#[cfg(test)]
mod redial {
    use std::time::Duration;

    use tokio::net::UnixListener;
    use tokio_stream::wrappers::UnixListenerStream;
    use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};

    use super::*;

    /// Waits until the client has seen the agent close the connection `channel` opened.
    async fn until_closed(channel: &AgentChannel) {
        let AgentChannel::Unix(UnixChannel {
            state: UnixState::Open(send),
            ..
        }) = channel
        else {
            panic!("not an open unix connection: {channel:?}");
        };
        tokio::time::timeout(Duration::from_secs(5), async {
            while !send.is_closed() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the client saw the agent close the connection");
    }

    /// The agent closes the first connection (a restart, say) before the call: the call dials again,
    /// as tonic's `Channel` would, and gets its answer.
    #[tokio::test]
    async fn a_connection_the_agent_closed_is_dialled_again_for_the_next_call() {
        let directory = tempfile::tempdir().unwrap();
        let socket = directory.path().join("agent.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let (_reporter, health) = tonic_health::server::health_reporter();
        let server = tokio::spawn(async move {
            let (first, _) = listener.accept().await.unwrap();
            drop(first);
            tonic::transport::Server::builder()
                .add_service(health)
                .serve_with_incoming(UnixListenerStream::new(listener))
                .await
        });
        let mut channel = AgentChannel::unix(&socket).await.unwrap();
        until_closed(&channel).await;
        let answer = HealthClient::new(channel.clone())
            .check(HealthCheckRequest::default())
            .await;
        assert!(answer.is_ok(), "{answer:?}");
        // The channel itself dials too, not only its clone.
        let answer = HealthClient::new(&mut channel)
            .check(HealthCheckRequest::default())
            .await;
        assert!(answer.is_ok(), "{answer:?}");
        server.abort();
    }

    /// Nobody serves the socket any more: the call fails with the dial's error as its cause, which the
    /// CLI reports as UNAVAILABLE (`app::call_failure`), not as a service that was "not ready".
    #[tokio::test]
    async fn a_failed_dial_is_the_calls_error_with_its_cause() {
        let directory = tempfile::tempdir().unwrap();
        let socket = directory.path().join("agent.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let accepted =
            tokio::spawn(async move { listener.accept().await.map(|(stream, _)| stream) });
        let channel = AgentChannel::unix(&socket).await.unwrap();
        drop(accepted.await.unwrap().unwrap());
        std::fs::remove_file(&socket).unwrap();
        until_closed(&channel).await;
        let status = HealthClient::new(channel.clone())
            .check(HealthCheckRequest::default())
            .await
            .unwrap_err();
        assert!(std::error::Error::source(&status).is_some(), "{status:?}");
        assert!(status.message().contains("No such file"), "{status:?}");
    }
}
