//! A TCP connect from inside a namespace: the socket is made on a thread that joined the namespace, then
//! connected from async code.

use std::net::SocketAddr;
use std::time::Duration;

use crate::domain::NamespaceRef;
use crate::kernel::tcp_connect::{connect, open_tcp_socket, ConnectOutcome};
use crate::netns::NamespaceRegistry;

use super::link::namespace_handle;
use super::OpError;

pub async fn tcp_connect(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    target: SocketAddr,
    timeout: Duration,
) -> Result<ConnectOutcome, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let socket = handle
        .run_brief("open a TCP socket", move || open_tcp_socket(target))
        .await?
        .map_err(|source| OpError::Socket {
            what: "a TCP socket",
            source,
        })?;
    Ok(connect(socket, target, timeout).await)
}
