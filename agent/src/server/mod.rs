//! Listeners, TLS, authentication, audit, limits, health, reflection and shutdown around the services.
//!
//! Every listener serves the same routes behind the same layers: the security layer (who is calling, may
//! they, audit: `security.rs`), then one concurrency limit shared by all listeners, then the services.
//! TCP listeners speak TLS when `--tls-cert` is given; unix sockets stay plaintext (mode 0660, group
//! `--socket-group`), and their connections pass `unix_authority`, which makes the `:authority` that many
//! gRPC clients send over unix sockets (the socket path) acceptable to the HTTP/2 server.

/// `impl AsyncWrite` for a stream wrapper that only watches or rewrites what it reads: every write goes
/// to its `inner` stream untouched. Shared by the connection guard and the unix `:authority` rewriter.
macro_rules! forward_writes_to_inner {
    ($wrapper:ident) => {
        impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<S> {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
            }
        }
    };
}

mod accept;
mod connections;
mod listen;
mod security;
mod tls;
mod unix_authority;
mod unix_socket;

pub use listen::ListenAddr;
pub use tls::{TlsError, TlsFiles};

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nix::unistd::Gid;
use nsfleet_proto::v1 as pb;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio_stream::StreamExt;
use tonic::service::Routes;
use tonic::transport::{Server, ServerTlsConfig};
use tower::ServiceBuilder;

use crate::audit::{AuditLog, RequestSummarizer};
use crate::auth::{AuthPolicy, Role, TokenFileError};
use crate::nat::{nft_available, NftBackend};
use crate::netns::{MountNamespace, NamespaceRegistry, NetnsError};
use crate::service::{
    AddressApi, BatchApi, DiagnosticsApi, ForwardingApi, LinkApi, NamespaceApi, NatApi,
    NeighborApi, RouteApi, TopologyApi, WatchApi,
};
use crate::topology::Topologies;
use connections::{Admission, ConnectionLimits};
use security::SecurityLayer;
use unix_authority::AuthorityFixingStream;
use unix_socket::{bind_unix, group_id, UnixSocketError};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "refusing to listen on {0} without TLS: that exposes a root network-management API to the network; \
         serve a unix socket, give --tls-cert/--tls-key and --tokens or --client-ca, or pass --insecure if this \
         network is trusted"
    )]
    InsecureListener(ListenAddr),
    #[error(
        "refusing to listen on {0} without authentication: every user who can reach it (on loopback, every \
         local user) would be admin; give --tokens (or --client-ca with --tls-cert), serve a unix socket, or \
         pass --insecure"
    )]
    UnauthenticatedListener(ListenAddr),
    #[error("listen on {addr}: {source}")]
    Bind { addr: ListenAddr, source: io::Error },
    #[error(
        "refusing to serve --metrics on {0}: it is plain HTTP without authentication, and the series reveal \
         the host's activity and topology sizes to anyone who can reach it; use a loopback address (and \
         scrape through a tunnel or a local agent), or pass --metrics-insecure if this network is trusted"
    )]
    ExposedMetrics(std::net::SocketAddr),
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsServerError),
    #[error(transparent)]
    UnixSocket(#[from] UnixSocketError),
    #[error("open the host namespace: {0}")]
    Netns(#[from] NetnsError),
    #[error("build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("TLS configuration: {0}")]
    TlsConfig(tonic::transport::Error),
    #[error("{0}")]
    Tokens(#[from] TokenFileError),
    #[error("open the audit log {path}: {source}")]
    AuditLog { path: PathBuf, source: io::Error },
    #[error("load the API descriptors for audit summaries: {0}")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    #[error(transparent)]
    StateDir(#[from] crate::state::StateDirError),
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error("serve on {addr}: {source}")]
    Serve {
        addr: ListenAddr,
        source: tonic::transport::Error,
    },
}

/// Bounds that keep one caller from starving the rest.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request message accepted (bytes).
    pub max_message_bytes: usize,
    /// Calls handled at once across every listener and connection; more wait for a slot (within their
    /// deadline). A streaming call holds its slot until its last message.
    pub max_concurrent_requests: usize,
    /// Calls handled at once on one connection, so one client cannot take every slot.
    pub max_requests_per_connection: usize,
    /// Longest a call may take before the agent answers DEADLINE_EXCEEDED, waiting for a slot included (a
    /// client's shorter grpc-timeout wins). A mutation that was already running still finishes in its own
    /// task.
    pub request_timeout: Duration,
    /// Connections open at once, every listener together; more are closed as soon as accepted.
    pub max_connections: usize,
    /// Connections open at once from one source address (TCP) or one user (unix socket).
    pub max_connections_per_peer: usize,
    /// From accept to the first call: TLS handshake and HTTP/2 preface included.
    pub first_call_timeout: Duration,
    /// How long a connection may stay open with no call in progress.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // A batch of 100000 small operations is a few MB.
            max_message_bytes: 16 * 1024 * 1024,
            max_concurrent_requests: 64,
            max_requests_per_connection: 16,
            request_timeout: Duration::from_secs(120),
            // Below the usual 1024 open files, with room for namespace handles and the audit log.
            max_connections: 512,
            max_connections_per_peer: 64,
            first_call_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

impl Limits {
    fn connections(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections.max(1),
            max_connections_per_peer: self.max_connections_per_peer.max(1),
            first_call_timeout: self.first_call_timeout,
            idle_timeout: self.idle_timeout,
        }
    }
}

pub struct ServerConfig {
    pub listen: Vec<ListenAddr>,
    /// Allow plaintext, or TLS without authentication, on non-loopback addresses.
    pub insecure: bool,
    pub tls: Option<TlsFiles>,
    /// The `--tokens` file: bearer token digests and client certificate CNs with their roles.
    pub tokens: Option<PathBuf>,
    /// Role of a verified client certificate whose CN the tokens file does not name. `None`: admin when
    /// there is no tokens file, no role (UNAUTHENTICATED) when there is one.
    pub certificate_role: Option<Option<Role>>,
    /// Group owning the unix sockets (mode 0660); name or number.
    pub socket_group: Option<String>,
    /// Where audit lines go; stderr if not given.
    pub audit_log: Option<PathBuf>,
    pub limits: Limits,
    /// The `--state-dir`: ledger and intent journal.
    pub state_dir: PathBuf,
    /// The `--host-mount-namespace`: where /run/netns is changed, if not in the agent's own.
    pub host_mount_namespace: Option<PathBuf>,
    /// The `--metrics` address, and whether a non-loopback one is allowed (`--metrics-insecure`).
    pub metrics: Option<MetricsListener>,
}

#[derive(Debug, Clone, Copy)]
pub struct MetricsListener {
    pub addr: std::net::SocketAddr,
    pub insecure: bool,
}

impl ServerConfig {
    /// Only where to listen; everything else at its default (no TLS, no tokens, audit to stderr).
    pub fn listening_on(listen: Vec<ListenAddr>) -> Self {
        Self {
            listen,
            insecure: false,
            tls: None,
            tokens: None,
            certificate_role: None,
            socket_group: None,
            audit_log: None,
            limits: Limits::default(),
            state_dir: PathBuf::from(crate::state::DEFAULT_STATE_DIR),
            host_mount_namespace: None,
            metrics: None,
        }
    }

    fn auth_policy(&self) -> Result<AuthPolicy, ServerError> {
        let tokens = self
            .tokens
            .as_deref()
            .map(AuthPolicy::load_tokens)
            .transpose()?;
        let client_certificates = self.tls.as_ref().is_some_and(|tls| tls.client_ca.is_some());
        let certificate_role = self.certificate_role.unwrap_or(if tokens.is_some() {
            None
        } else {
            Some(Role::Admin)
        });
        Ok(AuthPolicy::new(
            tokens,
            client_certificates,
            certificate_role,
        ))
    }

    /// The safe default: every TCP listener needs authentication (loopback too: any local user can
    /// connect to it), and the network also needs TLS; or an explicit --insecure. Unix sockets are
    /// guarded by their mode and group.
    fn check_exposure(&self, policy: &AuthPolicy) -> Result<(), ServerError> {
        if let Some(metrics) = self.metrics {
            if !metrics.addr.ip().is_loopback() {
                if !metrics.insecure {
                    return Err(ServerError::ExposedMetrics(metrics.addr));
                }
                tracing::warn!(addr = %metrics.addr, "serving metrics to the network without authentication (--metrics-insecure)");
            }
        }
        for addr in self
            .listen
            .iter()
            .filter(|addr| matches!(addr, ListenAddr::Tcp(_)))
        {
            let refusal = if !addr.is_local() && self.tls.is_none() {
                Some(ServerError::InsecureListener(addr.clone()))
            } else if !policy.is_required() {
                Some(ServerError::UnauthenticatedListener(addr.clone()))
            } else {
                None
            };
            match refusal {
                Some(refusal) if !self.insecure => return Err(refusal),
                Some(_) => {
                    tracing::warn!(%addr, tls = self.tls.is_some(), "serving TCP without authentication or TLS (--insecure)")
                }
                None => {}
            }
            if !addr.is_local() && self.tls.is_none() && self.tokens.is_some() {
                tracing::warn!(%addr, "bearer tokens cross the network in cleartext: give --tls-cert/--tls-key");
            }
        }
        Ok(())
    }

    fn tcp_addresses(&self) -> Vec<IpAddr> {
        self.listen
            .iter()
            .filter_map(|addr| match addr {
                ListenAddr::Tcp(addr) if !addr.ip().is_unspecified() => Some(addr.ip()),
                _ => None,
            })
            .collect()
    }
}

/// Serves every service on every listener until `shutdown` completes, then drains in-flight calls.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let policy = config.auth_policy()?;
    config.check_exposure(&policy)?;
    let tls = config
        .tls
        .as_ref()
        .map(TlsFiles::server_config)
        .transpose()?;
    let audit = Arc::new(match &config.audit_log {
        Some(path) => AuditLog::file(path).map_err(|source| ServerError::AuditLog {
            path: path.clone(),
            source,
        })?,
        None => AuditLog::stderr(),
    });
    let limits = config.limits;
    let slots = Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1)));
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let security = SecurityLayer::new(
        policy,
        audit,
        RequestSummarizer::new()?,
        config.tcp_addresses(),
        limits,
        slots,
        metrics.clone(),
    );
    // Opened before any listener exists, so an unusable directory stops the start, not a later apply.
    let state_dir = crate::state::StateDir::open(&config.state_dir)?;
    let ledger = crate::topology::Ledger::new(state_dir.subdir("ledger")?);
    let journal = Arc::new(crate::journal::Journal::open(state_dir.subdir("journal")?)?);
    let admission = Admission::new(limits.connections());
    let mounts = match &config.host_mount_namespace {
        Some(path) => MountNamespace::enter(path)?,
        None => MountNamespace::own(),
    };
    let registry = Arc::new(NamespaceRegistry::new(mounts).await?);
    let nat_backend: Arc<dyn crate::nat::NatBackend> = Arc::new(NftBackend::new());
    // Before any listener exists, so no call sees the half-applied state of a transaction the previous
    // process did not finish. A transaction that cannot be taken back is kept and logged, and the agent
    // serves anyway: refusing to start would leave the host with no way to look at or repair it remotely.
    let recovery = crate::ops::recovery::recover(&journal, &registry, &nat_backend).await?;
    if recovery.recovered > 0 || !recovery.kept.is_empty() {
        tracing::warn!(
            recovered = recovery.recovered,
            kept = recovery.kept.len(),
            "intent journal: unfinished transactions found at start"
        );
    }
    let gate = Arc::new(crate::ops::gate::Gate::new());
    let topologies = Arc::new(Topologies::new(
        registry.clone(),
        nat_backend.clone(),
        journal.clone(),
        ledger.clone(),
    ));
    let commits = crate::commit::Commits::new(
        crate::commit::record::Store::new(state_dir.subdir("commit")?),
        topologies.clone(),
        gate.clone(),
        crate::service::decode_desired,
    );
    // After the journal's recovery (the host is whole again) and before any listener: a commit left
    // pending holds the host again, or is rolled back now if its deadline passed meanwhile.
    commits.recover().await;
    // A namespace deleted behind the agent's back is let go of within this, not when next asked for.
    registry.sweep_every(std::time::Duration::from_millis(500));
    let scrape = Arc::new(crate::metrics::Scrape {
        metrics,
        sources: crate::metrics::Sources {
            registry: registry.clone(),
            ledger: ledger.clone(),
            journal: journal.clone(),
            gate: gate.clone(),
        },
    });
    let routes = routes(
        registry,
        nat_backend,
        journal,
        Hosted {
            topologies,
            commits,
            gate,
        },
        limits.max_message_bytes,
    )
    .await?;
    let gid = config.socket_group.as_deref().map(group_id).transpose()?;

    // One server per listener: TLS is a property of the server, and unix sockets never get it.
    let serve_with = |tls: Option<ServerTlsConfig>| -> Result<_, ServerError> {
        let mut server = Server::builder();
        if let Some(tls) = tls {
            server = server.tls_config(tls).map_err(ServerError::TlsConfig)?;
        }
        // The global concurrency limit is inside the security layer: it must hold a call's slot until
        // the answer's last message, and tower's limit lets go once the response headers exist.
        let layers = ServiceBuilder::new().layer(security.clone()).into_inner();
        Ok(server
            .concurrency_limit_per_connection(limits.max_requests_per_connection.max(1))
            // Streams beyond the per-connection limit wait in the server; this bounds how many may wait.
            .max_concurrent_streams(
                u32::try_from(limits.max_requests_per_connection.saturating_mul(4))
                    .unwrap_or(u32::MAX),
            )
            // A peer that vanished without closing (cable, crash) is noticed and its connection freed.
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .layer(layers)
            .add_routes(routes.clone()))
    };

    // Bind everything before serving anything, so a bad address fails the start, not half of it.
    // The metrics port first: a port in use there then leaves no unix socket file behind.
    let metrics_listener = match config.metrics {
        Some(metrics) => Some(crate::metrics::bind(metrics.addr).await?),
        None => None,
    };
    let mut bound = Vec::new();
    for addr in &config.listen {
        bound.push((addr.clone(), bind(addr, gid).await?));
    }
    let (stop_sender, stop_receiver) = watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    if let Some(listener) = metrics_listener {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "serving metrics at /metrics");
        }
        let stop = stop_receiver.clone();
        servers.spawn(async move {
            crate::metrics::serve(listener, scrape, stop).await;
            Ok(())
        });
    }
    for (addr, listener) in bound {
        let mut stop = stop_receiver.clone();
        let signal = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        match listener {
            Bound::Tcp(listener) => {
                tracing::info!(%addr, tls = tls.is_some(), "serving nsfleet.v1");
                let router = serve_with(tls.clone())?;
                let transport = if tls.is_some() { "TLS" } else { "TCP" };
                let incoming = accept::tcp(listener, admission.clone(), transport);
                servers.spawn(async move {
                    let result = router.serve_with_incoming_shutdown(incoming, signal).await;
                    result.map_err(|source| ServerError::Serve { addr, source })
                });
            }
            Bound::Unix(listener) => {
                tracing::info!(%addr, "serving nsfleet.v1");
                let router = serve_with(None)?;
                // Many gRPC clients send the socket path as :authority, which the HTTP/2 server
                // refuses: unix connections get it rewritten (unix_authority/), TCP ones never.
                let incoming = accept::unix(listener, admission.clone())
                    .map(|accepted| accepted.map(AuthorityFixingStream::new));
                servers.spawn(async move {
                    let result = router.serve_with_incoming_shutdown(incoming, signal).await;
                    if let ListenAddr::Unix(path) = &addr {
                        let _ = std::fs::remove_file(path);
                    }
                    result.map_err(|source| ServerError::Serve { addr, source })
                });
            }
        }
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

/// What the services share besides the namespaces: the topologies, the commits, and the gate every
/// change passes.
struct Hosted {
    topologies: Arc<Topologies>,
    commits: Arc<crate::commit::Commits>,
    gate: Arc<crate::ops::gate::Gate>,
}

async fn routes(
    registry: Arc<NamespaceRegistry>,
    nat_backend: Arc<dyn crate::nat::NatBackend>,
    journal: Arc<crate::journal::Journal>,
    hosted: Hosted,
    max_message_bytes: usize,
) -> Result<Routes, ServerError> {
    let Hosted {
        topologies,
        commits,
        gate,
    } = hosted;
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<pb::namespace_service_server::NamespaceServiceServer<NamespaceApi>>()
        .await;
    health_reporter
        .set_serving::<pb::link_service_server::LinkServiceServer<LinkApi>>()
        .await;
    health_reporter
        .set_serving::<pb::address_service_server::AddressServiceServer<AddressApi>>()
        .await;
    health_reporter
        .set_serving::<pb::route_service_server::RouteServiceServer<RouteApi>>()
        .await;
    health_reporter
        .set_serving::<pb::forwarding_service_server::ForwardingServiceServer<ForwardingApi>>()
        .await;
    health_reporter
        .set_serving::<pb::neighbor_service_server::NeighborServiceServer<NeighborApi>>()
        .await;
    health_reporter
        .set_serving::<pb::diagnostics_service_server::DiagnosticsServiceServer<DiagnosticsApi>>()
        .await;
    health_reporter
        .set_serving::<pb::watch_service_server::WatchServiceServer<WatchApi>>()
        .await;
    // nft is the one external program the agent needs; without it everything but NAT still works.
    let nat_unavailable = match tokio::task::spawn_blocking(nft_available).await {
        Ok(Ok(through)) => {
            tracing::info!(%through, "NAT rules go through nftables");
            None
        }
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(format!("the nft check did not finish: {e}")),
    };
    match &nat_unavailable {
        Some(reason) => tracing::warn!(%reason, "NatService will answer FAILED_PRECONDITION"),
        None => {
            health_reporter
                .set_serving::<pb::nat_service_server::NatServiceServer<NatApi>>()
                .await
        }
    }
    health_reporter
        .set_serving::<pb::batch_service_server::BatchServiceServer<BatchApi>>()
        .await;
    let batch = BatchApi::new(
        registry.clone(),
        nat_backend.clone(),
        journal,
        gate.clone(),
        nat_unavailable.clone(),
    );
    health_reporter
        .set_serving::<pb::topology_service_server::TopologyServiceServer<TopologyApi>>()
        .await;
    let topology = TopologyApi::new(topologies, commits, gate.clone(), nat_unavailable.clone());
    let nat = NatApi::new(registry.clone(), nat_backend, gate.clone(), nat_unavailable);
    // grpcurl 1.8 asks only for v1alpha reflection, newer clients for v1: serve both. Health's own
    // descriptors are registered too, or it would be missing from `list`.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(nsfleet_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let limit = max_message_bytes;
    Ok(Routes::new(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(
            pb::namespace_service_server::NamespaceServiceServer::new(NamespaceApi::new(
                registry.clone(),
                gate.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            pb::link_service_server::LinkServiceServer::new(LinkApi::new(
                registry.clone(),
                gate.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            pb::address_service_server::AddressServiceServer::new(AddressApi::new(
                registry.clone(),
                gate.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            pb::route_service_server::RouteServiceServer::new(RouteApi::new(
                registry.clone(),
                gate.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            pb::forwarding_service_server::ForwardingServiceServer::new(ForwardingApi::new(
                registry.clone(),
                gate.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            pb::neighbor_service_server::NeighborServiceServer::new(NeighborApi::new(
                registry.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(pb::watch_service_server::WatchServiceServer::new(
            WatchApi::new(registry.clone()),
        ))
        .add_service(
            pb::diagnostics_service_server::DiagnosticsServiceServer::new(DiagnosticsApi::new(
                registry,
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            pb::nat_service_server::NatServiceServer::new(nat).max_decoding_message_size(limit),
        )
        .add_service(
            pb::batch_service_server::BatchServiceServer::new(batch)
                .max_decoding_message_size(limit),
        )
        .add_service(
            pb::topology_service_server::TopologyServiceServer::new(topology)
                .max_decoding_message_size(limit),
        )
        .prepare())
}

enum Bound {
    Tcp(TcpListener),
    Unix(UnixListener),
}

async fn bind(addr: &ListenAddr, gid: Option<Gid>) -> Result<Bound, ServerError> {
    match addr {
        ListenAddr::Tcp(tcp) => TcpListener::bind(tcp)
            .await
            .map(Bound::Tcp)
            .map_err(|source| ServerError::Bind {
                addr: addr.clone(),
                source,
            }),
        ListenAddr::Unix(path) => Ok(Bound::Unix(bind_unix(path, gid)?)),
    }
}
