//! An in-process gRPC server with canned answers for the nsfleet.v1 services the CLI tests use. It echoes
//! request fields into its answers where a test needs to see what the client sent.

use std::{
    path::PathBuf,
    pin::Pin,
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc, Mutex,
    },
    thread::JoinHandle,
    time::Duration,
};

use nsfleet_proto::v1::{
    address_service_server::{AddressService, AddressServiceServer},
    batch_operation::Operation as BatchOp,
    batch_service_server::{BatchService, BatchServiceServer},
    create_link_request::Kind as LinkKind,
    diagnostics_service_server::{DiagnosticsService, DiagnosticsServiceServer},
    link_service_server::{LinkService, LinkServiceServer},
    namespace_service_server::{NamespaceService, NamespaceServiceServer},
    nat_rule,
    nat_service_server::{NatService, NatServiceServer},
    ping_event::Event,
    route_service_server::{RouteService, RouteServiceServer},
    topology_service_server::TopologyServiceServer,
    *,
};
use tokio::sync::oneshot;
use tokio_stream::{
    wrappers::{TcpListenerStream, UnixListenerStream},
    Stream,
};
use tonic::{transport::Server, Request, Response, Status};

mod topology;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answers every call with canned data.
    Healthy,
    /// Refuses every call, as an agent without CAP_NET_ADMIN would.
    Failing,
}

pub struct FakeAgent {
    pub endpoint: String,
    calls: Arc<AtomicUsize>,
    commits: Commits,
    _directory: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Where a fake agent listens.
enum Listen {
    Unix(PathBuf),
    Tcp(std::net::TcpListener),
}

impl FakeAgent {
    /// A fake agent on a unix socket in a fresh temporary directory.
    pub fn start(mode: Mode) -> Self {
        let directory = tempfile::tempdir().expect("tempdir");
        let socket: PathBuf = directory.path().join("agent.sock");
        let endpoint = format!("unix:{}", socket.display());
        Self::spawn(mode, endpoint, directory, Listen::Unix(socket))
    }

    /// A fake agent on a free TCP port of the loopback.
    pub fn start_tcp(mode: Mode) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let endpoint = listener.local_addr().expect("bound address").to_string();
        let directory = tempfile::tempdir().expect("tempdir");
        Self::spawn(mode, endpoint, directory, Listen::Tcp(listener))
    }

    fn spawn(mode: Mode, endpoint: String, directory: tempfile::TempDir, listen: Listen) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, is_ready) = mpsc::channel();
        let calls = Arc::new(AtomicUsize::new(0));
        let commits = Commits::default();
        let fake = Fake {
            mode,
            calls: Arc::clone(&calls),
            commits: commits.clone(),
        };
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let router = Server::builder()
                    .add_service(NamespaceServiceServer::new(fake.clone()))
                    .add_service(LinkServiceServer::new(fake.clone()))
                    .add_service(AddressServiceServer::new(fake.clone()))
                    .add_service(RouteServiceServer::new(fake.clone()))
                    .add_service(NatServiceServer::new(fake.clone()))
                    .add_service(BatchServiceServer::new(fake.clone()))
                    .add_service(TopologyServiceServer::new(fake.clone()))
                    .add_service(DiagnosticsServiceServer::new(fake));
                let shutdown = async {
                    let _ = stopped.await;
                };
                let served = match listen {
                    Listen::Unix(socket) => {
                        let listener = tokio::net::UnixListener::bind(&socket)
                            .expect("bind the fake agent's socket");
                        ready.send(()).expect("test waits for the fake agent");
                        router
                            .serve_with_incoming_shutdown(
                                UnixListenerStream::new(listener),
                                shutdown,
                            )
                            .await
                    }
                    Listen::Tcp(listener) => {
                        let listener =
                            tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                        ready.send(()).expect("test waits for the fake agent");
                        router
                            .serve_with_incoming_shutdown(
                                TcpListenerStream::new(listener),
                                shutdown,
                            )
                            .await
                    }
                };
                served.expect("fake agent serves");
            });
        });
        is_ready.recv().expect("fake agent starts");
        FakeAgent {
            endpoint,
            calls,
            commits,
            _directory: directory,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// How many calls of the faked services reached this agent.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Every commit this agent saw, in order, with its state now.
    pub fn commits(&self) -> Vec<(String, CommitState)> {
        self.commits.all()
    }
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Clone)]
struct Fake {
    mode: Mode,
    calls: Arc<AtomicUsize>,
    commits: Commits,
}

/// The fake's confirmed commits: ids and states in the order they were made.
#[derive(Clone, Default)]
pub struct Commits(Arc<Mutex<Vec<(String, CommitState)>>>);

impl Commits {
    pub fn all(&self) -> Vec<(String, CommitState)> {
        self.0.lock().expect("commits").clone()
    }

    fn state(&self, id: &str) -> Option<CommitState> {
        self.all()
            .into_iter()
            .find(|(known, _)| known == id)
            .map(|(_, state)| state)
    }

    fn set(&self, id: &str, state: CommitState) {
        let mut commits = self.0.lock().expect("commits");
        match commits.iter_mut().find(|(known, _)| known == id) {
            Some(entry) => entry.1 = state,
            None => commits.push((id.to_owned(), state)),
        }
    }

    fn pending(&self) -> Option<String> {
        self.all()
            .into_iter()
            .find(|(_, state)| *state == CommitState::Pending)
            .map(|(id, _)| id)
    }

    /// Whether the host holds a change (pending or confirmed): the "network" the probes see.
    fn changed(&self) -> bool {
        self.all()
            .iter()
            .any(|(_, state)| matches!(state, CommitState::Pending | CommitState::Confirmed))
    }
}

/// The probes' world: 192.0.2.1 always answers, 192.0.2.2 answers only until the host holds a change
/// (the change breaks it), anything else never does (ping: 172.20.0.10 always answers, as before).
fn reachable(address: &str, changed: bool) -> bool {
    match address {
        "192.0.2.1" | "172.20.0.10" => true,
        "192.0.2.2" => !changed,
        _ => false,
    }
}

impl Fake {
    fn gate(&self) -> Result<(), Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.mode {
            Mode::Healthy => Ok(()),
            Mode::Failing => Err(Status::permission_denied("the agent lacks CAP_NET_ADMIN")),
        }
    }
}

fn link(namespace: &str, name: &str, index: u32) -> Link {
    Link {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        index,
        kind: "veth".to_owned(),
        admin_up: true,
        oper_state: OperState::Up.into(),
        mtu: 1500,
        mac: "02:00:00:00:00:01".to_owned(),
        master: "br0".to_owned(),
        flags: vec![
            "BROADCAST".into(),
            "MULTICAST".into(),
            "UP".into(),
            "LOWER_UP".into(),
        ],
        peer: Some(VethPeer {
            index: 2,
            name: "ceth1".into(),
            namespace: "netns1".into(),
            known: true,
        }),
        vxlan: None,
    }
}

#[tonic::async_trait]
impl NamespaceService for Fake {
    async fn create_namespace(
        &self,
        request: Request<CreateNamespaceRequest>,
    ) -> Result<Response<CreateNamespaceResponse>, Status> {
        self.gate()?;
        let name = request.into_inner().name;
        Ok(Response::new(CreateNamespaceResponse {
            namespace: Some(Namespace {
                name: name.clone(),
                inode: 4026532281,
            }),
            changed: true,
            warnings: vec![Warning {
                code: "NAMESPACE_WITHOUT_LOOPBACK".into(),
                message: format!("lo is down in {name}"),
                fix: format!("nsfleet -n {name} link set lo up"),
            }],
        }))
    }

    async fn delete_namespace(
        &self,
        request: Request<DeleteNamespaceRequest>,
    ) -> Result<Response<DeleteNamespaceResponse>, Status> {
        self.gate()?;
        Err(Status::not_found(format!(
            "namespace {} not found",
            request.into_inner().name
        )))
    }

    async fn list_namespaces(
        &self,
        _: Request<ListNamespacesRequest>,
    ) -> Result<Response<ListNamespacesResponse>, Status> {
        self.gate()?;
        Ok(Response::new(ListNamespacesResponse {
            namespaces: vec![
                Namespace {
                    name: "netns1".into(),
                    inode: 4026532281,
                },
                Namespace {
                    name: "netns2".into(),
                    inode: 4026532345,
                },
            ],
        }))
    }

    async fn get_namespace(
        &self,
        _: Request<GetNamespaceRequest>,
    ) -> Result<Response<GetNamespaceResponse>, Status> {
        Err(Status::unimplemented("not faked"))
    }
}

#[tonic::async_trait]
impl LinkService for Fake {
    async fn create_link(
        &self,
        request: Request<CreateLinkRequest>,
    ) -> Result<Response<CreateLinkResponse>, Status> {
        self.gate()?;
        let request = request.into_inner();
        let mut created = link(&request.namespace, &request.name, 7);
        created.mtu = request.mtu;
        created.peer = match request.kind {
            Some(LinkKind::Veth(spec)) => Some(VethPeer {
                index: 8,
                name: spec.peer_name,
                // Echoes whether the client left peer_namespace unset.
                namespace: spec.peer_namespace.unwrap_or_else(|| "<unset>".into()),
                known: true,
            }),
            _ => None,
        };
        Ok(Response::new(CreateLinkResponse {
            link: Some(created),
            changed: true,
            warnings: vec![],
        }))
    }

    async fn delete_link(
        &self,
        _: Request<DeleteLinkRequest>,
    ) -> Result<Response<DeleteLinkResponse>, Status> {
        self.gate()?;
        Ok(Response::new(DeleteLinkResponse {
            changed: true,
            warnings: vec![],
        }))
    }

    async fn list_links(
        &self,
        request: Request<ListLinksRequest>,
    ) -> Result<Response<ListLinksResponse>, Status> {
        self.gate()?;
        let namespace = request.into_inner().namespace;
        Ok(Response::new(ListLinksResponse {
            links: vec![link(&namespace, "veth1", 3)],
        }))
    }

    async fn get_link(
        &self,
        request: Request<GetLinkRequest>,
    ) -> Result<Response<GetLinkResponse>, Status> {
        self.gate()?;
        let request = request.into_inner();
        if request.name != "veth1" {
            return Err(Status::not_found(format!(
                "link {} not found",
                request.name
            )));
        }
        Ok(Response::new(GetLinkResponse {
            link: Some(link(&request.namespace, "veth1", 3)),
        }))
    }

    async fn set_link(
        &self,
        _: Request<SetLinkRequest>,
    ) -> Result<Response<SetLinkResponse>, Status> {
        Err(Status::unimplemented("not faked"))
    }
}

#[tonic::async_trait]
impl AddressService for Fake {
    async fn add_address(
        &self,
        request: Request<AddAddressRequest>,
    ) -> Result<Response<AddAddressResponse>, Status> {
        self.gate()?;
        let request = request.into_inner();
        Ok(Response::new(AddAddressResponse {
            address: None,
            changed: false,
            warnings: vec![Warning {
                code: "ADDRESS_ON_BRIDGE_PORT".into(),
                message: format!("{} is a port of br0", request.link),
                fix: format!(
                    "nsfleet addr del {}/{} dev {}",
                    request.address, request.prefix_len, request.link
                ),
            }],
        }))
    }

    async fn delete_address(
        &self,
        _: Request<DeleteAddressRequest>,
    ) -> Result<Response<DeleteAddressResponse>, Status> {
        Err(Status::unimplemented("not faked"))
    }

    async fn list_addresses(
        &self,
        _: Request<ListAddressesRequest>,
    ) -> Result<Response<ListAddressesResponse>, Status> {
        self.gate()?;
        Ok(Response::new(ListAddressesResponse {
            addresses: vec![Address {
                namespace: String::new(),
                link: "veth1".into(),
                link_index: 3,
                family: AddressFamily::Ipv4.into(),
                address: "172.20.0.1".into(),
                prefix_len: 16,
                broadcast: "172.20.255.255".into(),
                label: String::new(),
                scope: Scope::Global.into(),
                flags: vec!["permanent".into()],
            }],
        }))
    }
}

#[tonic::async_trait]
impl RouteService for Fake {
    async fn add_route(
        &self,
        request: Request<AddRouteRequest>,
    ) -> Result<Response<AddRouteResponse>, Status> {
        self.gate()?;
        let route = request.into_inner().route.unwrap_or_default();
        if route.gateway == "192.0.2.99" {
            return Err(Status::failed_precondition(
                "gateway 192.0.2.99 is not reachable on any link",
            ));
        }
        Ok(Response::new(AddRouteResponse {
            changed: true,
            warnings: vec![],
        }))
    }

    async fn replace_route(
        &self,
        _: Request<ReplaceRouteRequest>,
    ) -> Result<Response<ReplaceRouteResponse>, Status> {
        Err(Status::unimplemented("not faked"))
    }

    async fn delete_route(
        &self,
        _: Request<DeleteRouteRequest>,
    ) -> Result<Response<DeleteRouteResponse>, Status> {
        Err(Status::unimplemented("not faked"))
    }

    /// Slow on purpose for table 99, so that `--timeout` can be tested.
    async fn list_routes(
        &self,
        request: Request<ListRoutesRequest>,
    ) -> Result<Response<ListRoutesResponse>, Status> {
        self.gate()?;
        if request.get_ref().table == Some(99) {
            tokio::time::sleep(Duration::from_secs(20)).await;
        }
        Ok(Response::new(ListRoutesResponse {
            routes: vec![Route {
                namespace: request.into_inner().namespace,
                family: AddressFamily::Ipv4.into(),
                gateway: "172.20.0.1".into(),
                device: "ceth1".into(),
                table: 254,
                scope: Scope::Global.into(),
                protocol: "static".into(),
                r#type: "unicast".into(),
                ..Route::default()
            }],
        }))
    }
}

#[tonic::async_trait]
impl NatService for Fake {
    async fn add_nat_rule(
        &self,
        _: Request<AddNatRuleRequest>,
    ) -> Result<Response<AddNatRuleResponse>, Status> {
        Err(Status::unimplemented("not faked"))
    }

    async fn delete_nat_rule(
        &self,
        _: Request<DeleteNatRuleRequest>,
    ) -> Result<Response<DeleteNatRuleResponse>, Status> {
        Err(Status::unimplemented("not faked"))
    }

    async fn list_nat_rules(
        &self,
        _: Request<ListNatRulesRequest>,
    ) -> Result<Response<ListNatRulesResponse>, Status> {
        self.gate()?;
        Ok(Response::new(ListNatRulesResponse {
            rules: vec![NatRule {
                id: "r1".into(),
                family: AddressFamily::Ipv4.into(),
                kind: Some(nat_rule::Kind::Masquerade(Masquerade {
                    source: "172.20.0.0".into(),
                    source_prefix_len: 16,
                    output_interface: "eth0".into(),
                })),
                comment: "lab".into(),
                packets: 5_000_000_000,
                bytes: 7,
            }],
            ..ListNatRulesResponse::default()
        }))
    }
}

type PingStream = Pin<Box<dyn Stream<Item = Result<PingEvent, Status>> + Send>>;

#[tonic::async_trait]
impl DiagnosticsService for Fake {
    type PingStream = PingStream;

    async fn tcp_connect(
        &self,
        request: Request<nsfleet_proto::v1::TcpConnectRequest>,
    ) -> Result<Response<nsfleet_proto::v1::TcpConnectResponse>, Status> {
        self.gate()?;
        let request = request.into_inner();
        let connected = reachable(&request.address, self.commits.changed());
        Ok(Response::new(nsfleet_proto::v1::TcpConnectResponse {
            connected,
            error: if connected {
                String::new()
            } else {
                "connection refused".into()
            },
            elapsed_ms: 0.1,
        }))
    }

    async fn get_agent_info(
        &self,
        _request: Request<nsfleet_proto::v1::GetAgentInfoRequest>,
    ) -> Result<Response<nsfleet_proto::v1::GetAgentInfoResponse>, Status> {
        self.gate()?;
        Ok(Response::new(nsfleet_proto::v1::GetAgentInfoResponse {
            version: "0.0.0-fake".into(),
            build_profile: "fake".into(),
            hostname: "fake".into(),
            uptime_seconds: 1,
        }))
    }

    /// 172.20.0.10 answers every request; other targets as [`reachable`] says.
    async fn ping(&self, request: Request<PingRequest>) -> Result<Response<PingStream>, Status> {
        self.gate()?;
        let request = request.into_inner();
        let answers = reachable(&request.target, self.commits.changed());
        let mut events: Vec<Result<PingEvent, Status>> = Vec::new();
        if answers {
            for seq in 1..=request.count {
                let reply = PingReply {
                    seq,
                    from: request.target.clone(),
                    bytes: 64,
                    ttl: 64,
                    rtt_ms: 0.05,
                };
                events.push(Ok(PingEvent {
                    event: Some(Event::Reply(reply)),
                }));
            }
        }
        let received = if answers { request.count } else { 0 };
        let summary = PingSummary {
            target: request.target.clone(),
            transmitted: request.count,
            received,
            loss_percent: if answers { 0.0 } else { 100.0 },
            rtt_min_ms: if answers { 0.05 } else { 0.0 },
            rtt_avg_ms: if answers { 0.05 } else { 0.0 },
            rtt_max_ms: if answers { 0.05 } else { 0.0 },
            rtt_mdev_ms: 0.0,
        };
        events.push(Ok(PingEvent {
            event: Some(Event::Summary(summary)),
        }));
        Ok(Response::new(Box::pin(tokio_stream::iter(events))))
    }
}

#[tonic::async_trait]
impl BatchService for Fake {
    /// Applies everything, except that creating a namespace named "taken" fails with ALREADY_EXISTS:
    /// then earlier changes are undone and later ones skipped, unless continue_on_error. Adding an
    /// address warns, as on a bridge port.
    async fn apply_batch(
        &self,
        request: Request<ApplyBatchRequest>,
    ) -> Result<Response<ApplyBatchResponse>, Status> {
        self.gate()?;
        let request = request.into_inner();
        let mut results: Vec<BatchResult> = Vec::new();
        let mut failed = false;
        for (index, operation) in request.operations.iter().enumerate() {
            let mut result = BatchResult {
                index: index as u32,
                ..BatchResult::default()
            };
            match &operation.operation {
                _ if failed && !request.continue_on_error => {
                    result.outcome = BatchOutcome::Skipped.into();
                }
                Some(BatchOp::CreateNamespace(create)) if create.name == "taken" => {
                    failed = true;
                    result.outcome = BatchOutcome::Failed.into();
                    result.code = tonic::Code::AlreadyExists as i32;
                    result.message = "namespace taken already exists".into();
                }
                Some(BatchOp::AddAddress(add)) => {
                    result.outcome = BatchOutcome::Applied.into();
                    result.changed = true;
                    result.warnings.push(Warning {
                        code: "ADDRESS_ON_BRIDGE_PORT".into(),
                        message: format!("{} is a port of br0", add.link),
                        fix: "nsfleet addr del ...".into(),
                    });
                }
                Some(BatchOp::DeleteNamespace(_)) => {
                    result.outcome = BatchOutcome::Applied.into();
                    result.changed = true;
                    result.message = "a deleted namespace cannot be restored".into();
                }
                _ => {
                    result.outcome = BatchOutcome::Applied.into();
                    result.changed = true;
                }
            }
            results.push(result);
        }
        if failed && !request.continue_on_error {
            for result in &mut results {
                if result.outcome == BatchOutcome::Applied as i32 {
                    let deletion = !result.message.is_empty();
                    result.outcome = if deletion {
                        BatchOutcome::NotUndone.into()
                    } else {
                        BatchOutcome::Undone.into()
                    };
                }
            }
        }
        let ok = results
            .iter()
            .all(|result| result.outcome == BatchOutcome::Applied as i32);
        Ok(Response::new(ApplyBatchResponse { results, ok }))
    }
}
