use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nsfleet_proto::v1 as pb;
use pb::diagnostics_service_server::DiagnosticsService;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::status::{ping_status, StatusError};
use super::validate::Validate;
use crate::domain::{
    is_link_scoped, parse_ip, parse_optional_ip, FieldError, LinkName, NamespaceRef,
};
use crate::kernel::ping::{PingParams, PingReply, PingSummary};
use crate::netns::NamespaceRegistry;
use crate::ops::ping;
use crate::ops::tcp_connect::tcp_connect;

const MAX_COUNT: u32 = 10_000;
const MIN_INTERVAL_MS: u32 = 10;
const MAX_TIMEOUT_MS: u32 = 60_000;
const MAX_PAYLOAD: u32 = 65_000;

pub struct DiagnosticsApi {
    registry: Arc<NamespaceRegistry>,
    /// When the service was built, i.e. when the agent started serving: the origin of its uptime.
    started: Instant,
}

impl DiagnosticsApi {
    pub fn new(registry: Arc<NamespaceRegistry>) -> Self {
        Self {
            registry,
            started: Instant::now(),
        }
    }

    fn agent_info(&self) -> pb::GetAgentInfoResponse {
        pb::GetAgentInfoResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            build_profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
            // A host name that is not UTF-8 or cannot be read is not worth failing the call for: the
            // caller asks which agent answers, and the version says that.
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|name| name.trim_end().to_owned())
                .unwrap_or_default(),
            uptime_seconds: self.started.elapsed().as_secs(),
        }
    }
}

pub(super) fn parse(request: &pb::PingRequest) -> Result<(NamespaceRef, PingParams), FieldError> {
    let namespace = NamespaceRef::parse("namespace", &request.namespace)?;
    let target = parse_ip("target", &request.target)?;
    let interface = match request.interface.as_str() {
        "" => None,
        name => Some(LinkName::parse("interface", name)?.to_string()),
    };
    if !(1..=MAX_COUNT).contains(&request.count) {
        return Err(FieldError::new(
            "count",
            format!("{} is out of range 1-{MAX_COUNT}", request.count),
        ));
    }
    let interval_ms = if request.interval_ms == 0 {
        1000
    } else {
        request.interval_ms
    };
    if interval_ms < MIN_INTERVAL_MS {
        return Err(FieldError::new(
            "interval_ms",
            format!("{interval_ms} is below the minimum {MIN_INTERVAL_MS}"),
        ));
    }
    let timeout_ms = timeout_ms(request.timeout_ms)?;
    let payload_size = if request.payload_size == 0 {
        56
    } else {
        request.payload_size
    };
    if payload_size > MAX_PAYLOAD {
        return Err(FieldError::new(
            "payload_size",
            format!("{payload_size} is above the maximum {MAX_PAYLOAD}"),
        ));
    }
    let source = parse_optional_ip("source", &request.source)?;
    if let IpAddr::V6(v6) = target {
        if let Some(mapped) = v6.to_ipv4_mapped() {
            return Err(FieldError::new(
                "target",
                format!("{target} is IPv4-mapped: ping {mapped} instead"),
            ));
        }
    }
    if interface.is_none() {
        for (field, address) in [("target", Some(target)), ("source", source)] {
            if let Some(IpAddr::V6(address)) = address {
                if is_link_scoped(address) {
                    return Err(FieldError::new(
                        field,
                        format!("{address} is link-scoped: name the interface to use"),
                    ));
                }
            }
        }
    }
    let params = PingParams {
        target,
        interface,
        source,
        count: request.count,
        interval: Duration::from_millis(u64::from(interval_ms)),
        timeout: Duration::from_millis(u64::from(timeout_ms)),
        payload_size: payload_size as usize,
    };
    Ok((namespace, params))
}

/// A validated TcpConnect: where from, where to, and how long to wait.
pub struct TcpConnectTarget {
    pub namespace: NamespaceRef,
    pub target: SocketAddr,
    pub timeout: Duration,
}

pub(super) fn parse_tcp_connect(
    request: &pb::TcpConnectRequest,
) -> Result<TcpConnectTarget, FieldError> {
    let namespace = NamespaceRef::parse("namespace", &request.namespace)?;
    let address = parse_ip("address", &request.address)?;
    if let IpAddr::V6(v6) = address {
        if is_link_scoped(v6) {
            // Without a scope id the kernel cannot tell which link is meant.
            return Err(FieldError::new(
                "address",
                format!("{address} is link-scoped, which TcpConnect does not support"),
            ));
        }
    }
    let port = u16::try_from(request.port)
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| {
            FieldError::new("port", format!("{} is out of range 1-65535", request.port))
        })?;
    let timeout_ms = timeout_ms(request.timeout_ms)?;
    Ok(TcpConnectTarget {
        namespace,
        target: SocketAddr::new(address, port),
        timeout: Duration::from_millis(u64::from(timeout_ms)),
    })
}

fn reply_event(reply: PingReply) -> pb::PingEvent {
    pb::PingEvent {
        event: Some(pb::ping_event::Event::Reply(pb::PingReply {
            seq: reply.seq,
            from: reply.from.to_string(),
            bytes: reply.bytes,
            ttl: reply.ttl.map(u32::from).unwrap_or(0),
            rtt_ms: reply.rtt.as_secs_f64() * 1000.0,
        })),
    }
}

fn summary_event(summary: PingSummary) -> pb::PingEvent {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    pb::PingEvent {
        event: Some(pb::ping_event::Event::Summary(pb::PingSummary {
            target: summary.target.to_string(),
            transmitted: summary.transmitted,
            received: summary.received,
            loss_percent: summary.loss_percent,
            rtt_min_ms: ms(summary.rtt_min),
            rtt_avg_ms: ms(summary.rtt_avg),
            rtt_max_ms: ms(summary.rtt_max),
            rtt_mdev_ms: ms(summary.rtt_mdev),
        })),
    }
}

#[tonic::async_trait]
impl DiagnosticsService for DiagnosticsApi {
    type PingStream = ReceiverStream<Result<pb::PingEvent, Status>>;

    async fn ping(
        &self,
        request: Request<pb::PingRequest>,
    ) -> Result<Response<Self::PingStream>, Status> {
        let (namespace, params) = request.get_ref().validate()?;
        let prepared = ping::prepare(&self.registry, &namespace, params)
            .await
            .map_err(StatusError::from)?;
        let (events, stream) = mpsc::channel(64);
        tokio::spawn(async move {
            let (replies, mut replies_out) = mpsc::channel(64);
            let forward = async {
                while let Some(reply) = replies_out.recv().await {
                    let _ = events.send(Ok(reply_event(reply))).await;
                }
            };
            let result = tokio::select! {
                (result, ()) = async { tokio::join!(prepared.run(replies), forward) } => result,
                // The caller went away: dropping the run closes its socket and stops it.
                () = events.closed() => return,
            };
            let _ = events
                .send(result.map(summary_event).map_err(|e| ping_status(&e)))
                .await;
        });
        Ok(Response::new(ReceiverStream::new(stream)))
    }

    async fn get_agent_info(
        &self,
        _request: Request<pb::GetAgentInfoRequest>,
    ) -> Result<Response<pb::GetAgentInfoResponse>, Status> {
        Ok(Response::new(self.agent_info()))
    }

    async fn tcp_connect(
        &self,
        request: Request<pb::TcpConnectRequest>,
    ) -> Result<Response<pb::TcpConnectResponse>, Status> {
        let TcpConnectTarget {
            namespace,
            target,
            timeout,
        } = request.get_ref().validate()?;
        let outcome = tcp_connect(&self.registry, &namespace, target, timeout)
            .await
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::TcpConnectResponse {
            connected: outcome.connected,
            error: outcome.error,
            elapsed_ms: outcome.elapsed.as_secs_f64() * 1000.0,
        }))
    }
}

/// `timeout_ms` as Ping and TcpConnect both define it: 0 = 1000, at most [`MAX_TIMEOUT_MS`].
fn timeout_ms(given: u32) -> Result<u32, FieldError> {
    let timeout_ms = if given == 0 { 1000 } else { given };
    if timeout_ms > MAX_TIMEOUT_MS {
        return Err(FieldError::new(
            "timeout_ms",
            format!("{timeout_ms} is above the maximum {MAX_TIMEOUT_MS}"),
        ));
    }
    Ok(timeout_ms)
}
