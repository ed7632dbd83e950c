//! Listeners, health, reflection and shutdown around the services.

mod listen;

pub use listen::ListenAddr;

use std::future::Future;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tonic::transport::server::Router;
use tonic::transport::Server;

use crate::netns::{NamespaceRegistry, NetnsError};
use crate::nat::{nft_available, NftBackend};
use crate::service::{AddressApi, BatchApi, DiagnosticsApi, ForwardingApi, LinkApi, NamespaceApi, NatApi, NeighborApi, RouteApi};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "refusing to listen on {0} without TLS: that exposes a root network-management API to the network; \
         listen on loopback or a unix socket, or pass --insecure if this network is trusted"
    )]
    InsecureListener(ListenAddr),
    #[error("listen on {addr}: {source}")]
    Bind { addr: ListenAddr, source: io::Error },
    #[error("open the host namespace: {0}")]
    Netns(#[from] NetnsError),
    #[error("build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("serve on {addr}: {source}")]
    Serve { addr: ListenAddr, source: tonic::transport::Error },
}

pub struct ServerConfig {
    pub listen: Vec<ListenAddr>,
    /// Allow plaintext on non-loopback addresses.
    pub insecure: bool,
}

/// Serves every service on every listener until `shutdown` completes, then drains in-flight calls.
pub async fn run(config: ServerConfig, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    for addr in &config.listen {
        if !addr.is_local() && !config.insecure {
            return Err(ServerError::InsecureListener(addr.clone()));
        }
        if !addr.is_local() {
            tracing::warn!(%addr, "listening without TLS on a non-loopback address (--insecure)");
        }
    }
    let registry = Arc::new(NamespaceRegistry::new().await?);
    let router = router(registry).await?;

    // Bind everything before serving anything, so a bad address fails the start, not half of it.
    let mut bound = Vec::new();
    for addr in &config.listen {
        bound.push((addr.clone(), bind(addr).await.map_err(|source| ServerError::Bind { addr: addr.clone(), source })?));
    }
    let (stop_sender, stop_receiver) = watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    for (addr, listener) in bound {
        tracing::info!(%addr, "serving nsfleet.v1");
        let router = router.clone();
        let mut stop = stop_receiver.clone();
        let signal = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        servers.spawn(async move {
            let result = match listener {
                Bound::Tcp(listener) => {
                    router.serve_with_incoming_shutdown(TcpListenerStream::new(listener), signal).await
                }
                Bound::Unix(listener) => {
                    router.serve_with_incoming_shutdown(UnixListenerStream::new(listener), signal).await
                }
            };
            if let ListenAddr::Unix(path) = &addr {
                let _ = std::fs::remove_file(path);
            }
            result.map_err(|source| ServerError::Serve { addr, source })
        });
    }

    let first_failure = tokio::select! {
        () = shutdown => None,
        Some(Ok(Err(failure))) = servers.join_next() => Some(failure),
    };
    tracing::info!("shutting down");
    let _ = stop_sender.send(true);
    while servers.join_next().await.is_some() {}
    first_failure.map_or(Ok(()), Err)
}

async fn router(registry: Arc<NamespaceRegistry>) -> Result<Router, ServerError> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<pb::namespace_service_server::NamespaceServiceServer<NamespaceApi>>().await;
    health_reporter.set_serving::<pb::link_service_server::LinkServiceServer<LinkApi>>().await;
    health_reporter.set_serving::<pb::address_service_server::AddressServiceServer<AddressApi>>().await;
    health_reporter.set_serving::<pb::route_service_server::RouteServiceServer<RouteApi>>().await;
    health_reporter.set_serving::<pb::forwarding_service_server::ForwardingServiceServer<ForwardingApi>>().await;
    health_reporter.set_serving::<pb::neighbor_service_server::NeighborServiceServer<NeighborApi>>().await;
    health_reporter.set_serving::<pb::diagnostics_service_server::DiagnosticsServiceServer<DiagnosticsApi>>().await;
    // nft is the one external program the agent needs; without it everything but NAT still works.
    let nat_unavailable = match tokio::task::spawn_blocking(nft_available).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(format!("the nft check did not finish: {e}")),
    };
    match &nat_unavailable {
        Some(reason) => tracing::warn!(%reason, "NatService will answer FAILED_PRECONDITION"),
        None => health_reporter.set_serving::<pb::nat_service_server::NatServiceServer<NatApi>>().await,
    }
    let nat_backend: Arc<dyn crate::nat::NatBackend> = Arc::new(NftBackend::new());
    health_reporter.set_serving::<pb::batch_service_server::BatchServiceServer<BatchApi>>().await;
    let batch = BatchApi::new(registry.clone(), nat_backend.clone(), nat_unavailable.clone());
    let nat = NatApi::new(registry.clone(), nat_backend, nat_unavailable);
    // grpcurl 1.8 asks only for v1alpha reflection, newer clients for v1: serve both. Health's own
    // descriptors are registered too, or it would be missing from `list`.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(nsfleet_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok(Server::builder()
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(pb::namespace_service_server::NamespaceServiceServer::new(NamespaceApi::new(registry.clone())))
        .add_service(pb::link_service_server::LinkServiceServer::new(LinkApi::new(registry.clone())))
        .add_service(pb::address_service_server::AddressServiceServer::new(AddressApi::new(registry.clone())))
        .add_service(pb::route_service_server::RouteServiceServer::new(RouteApi::new(registry.clone())))
        .add_service(pb::forwarding_service_server::ForwardingServiceServer::new(ForwardingApi::new(registry.clone())))
        .add_service(pb::neighbor_service_server::NeighborServiceServer::new(NeighborApi::new(registry.clone())))
        .add_service(pb::diagnostics_service_server::DiagnosticsServiceServer::new(DiagnosticsApi::new(registry)))
        .add_service(pb::nat_service_server::NatServiceServer::new(nat))
        .add_service(pb::batch_service_server::BatchServiceServer::new(batch)))
}

enum Bound {
    Tcp(TcpListener),
    Unix(UnixListener),
}

async fn bind(addr: &ListenAddr) -> io::Result<Bound> {
    match addr {
        ListenAddr::Tcp(addr) => TcpListener::bind(addr).await.map(Bound::Tcp),
        ListenAddr::Unix(path) => {
            remove_stale_socket(path)?;
            UnixListener::bind(path).map(Bound::Unix)
        }
    }
}

/// A socket file left by an agent that was killed would make bind fail with EADDRINUSE. Only sockets are
/// removed: a regular file at that path is the operator's mistake to see, not ours to delete.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        _ => Ok(()),
    }
}
