//! Ping from inside a namespace: the socket is opened on a thread that joined the namespace, then driven
//! from async code.

use std::os::fd::OwnedFd;

use tokio::sync::mpsc;

use crate::domain::NamespaceRef;
use crate::kernel::ping::{
    open_icmp_socket, run_ping, PingError, PingParams, PingReply, PingSummary,
};
use crate::netns::NamespaceRegistry;

use super::link::namespace_handle;
use super::OpError;

/// A ping whose socket is open and bound in its namespace, ready to run.
pub struct PreparedPing {
    socket: OwnedFd,
    params: PingParams,
}

/// Opens the socket; bad interfaces and sources fail here, before anything is sent.
pub async fn prepare(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    params: PingParams,
) -> Result<PreparedPing, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let for_thread = params.clone();
    let socket = handle
        .run_brief("open an ICMP socket", move || open_icmp_socket(&for_thread))
        .await??;
    Ok(PreparedPing { socket, params })
}

impl PreparedPing {
    pub async fn run(self, replies: mpsc::Sender<PingReply>) -> Result<PingSummary, PingError> {
        run_ping(self.socket, self.params, replies).await
    }
}
