//! The connection one invocation's calls to one agent go over.
//!
//! Over TCP it is tonic's `Channel`, which brings what a network connection wants: TLS, a connector, a
//! service that reconnects, and a buffer task in front of it. On a unix socket the calls go over hyper's
//! HTTP/2 connection itself: the same HTTP/2 and the same gRPC codec, without the buffer task, the
//! reconnecting service and the connector, which were a fifth of a call's instructions and 11 of its page
//! faults (BENCHMARKS.md, "One invocation per command"). A process makes its calls and exits; a
//! connection that breaks fails the call, as it would through the `Channel`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tonic::body::Body;
use tonic::transport::Channel;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the generated gRPC clients are built on (`LinkServiceClient::new(channel)`).
#[derive(Clone, Debug)]
pub enum AgentChannel {
    Tcp(Channel),
    Unix(SendRequest<Body>),
}

impl AgentChannel {
    /// Connects to the agent's unix socket and makes the HTTP/2 handshake; the connection is driven by
    /// a task of the caller's runtime, which ends with the connection.
    pub(crate) async fn unix(path: &Path) -> Result<Self, BoxError> {
        let stream = tokio::net::UnixStream::connect(path).await?;
        let (send, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(async move {
            // Its error is the calls' error too, and they report it.
            let _ = connection.await;
        });
        Ok(Self::Unix(send))
    }
}

impl tower::Service<http::Request<Body>> for AgentChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self {
            Self::Tcp(channel) => channel.poll_ready(cx).map_err(Into::into),
            Self::Unix(send) => send.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self {
            Self::Tcp(channel) => {
                let response = channel.call(request);
                Box::pin(async move { response.await.map_err(Into::into) })
            }
            Self::Unix(send) => match with_origin(request) {
                Ok(request) => {
                    let response = send.send_request(request);
                    Box::pin(async move { Ok(response.await?.map(Body::new)) })
                }
                Err(error) => Box::pin(async move { Err(error) }),
            },
        }
    }
}

/// The generated clients send only a path; HTTP/2 needs a scheme and an authority too. On a unix
/// socket the authority names nothing, and `localhost` is what tonic's own unix connector sends.
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
