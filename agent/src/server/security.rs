//! The one layer every call passes through before it reaches a service: authentication, the role check
//! against the method table, and the audit record. Handlers never see a caller that was refused here,
//! and no handler writes audit records itself.
//!
//! Order inside one call: who is it (token, certificate, unix socket) -> may this role call this method
//! -> for mutations, read the request once to summarize it for the log -> wait for a slot under the
//! global concurrency limit (so refused callers never hold one) -> the service -> the status code, taken
//! from the response headers or, for answers with a body, from its trailers. The slot, and the call's
//! place among its connection's open calls (`connections.rs`), are held by the response body until it
//! ends: a streaming answer (Ping) counts for as long as it streams.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo, UdsConnectInfo};
use tonic::{Code, Status};
use tower::{Layer, Service, ServiceExt};

use super::connections::{Activity, GuardedInfo, OpenCall};
use super::Limits;
use crate::audit::{code_name, now_rfc3339, AuditLog, AuditRecord, RequestSummarizer};
use crate::auth::{common_name, methods, Access, AuthPolicy, Caller, Transport};
use crate::metrics::Metrics;
use crate::ops::guard::ListeningAddresses;

struct Shared {
    policy: AuthPolicy,
    audit: Arc<AuditLog>,
    summarizer: RequestSummarizer,
    listening: ListeningAddresses,
    /// Mutations are read whole for the audit summary: at most this many bytes (the decoding limit plus
    /// the gRPC frame header).
    max_request_bytes: usize,
    /// The server's own deadline for an answer (tonic's only answers CANCELLED; this one is
    /// DEADLINE_EXCEEDED, and the audit line says so).
    request_timeout: Duration,
    /// Calls handled at once across every listener (`--max-concurrent-requests`).
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

/// Requests at least this large leave freed memory behind in the allocator's arenas: after their answer,
/// it is handed back to the system (see BENCHMARKS.md, "Memory of large batches").
const TRIM_AFTER_REQUEST_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct SecurityLayer {
    shared: Arc<Shared>,
}

impl SecurityLayer {
    pub fn new(
        policy: AuthPolicy,
        audit: Arc<AuditLog>,
        summarizer: RequestSummarizer,
        listening: Vec<IpAddr>,
        limits: Limits,
        slots: Arc<Semaphore>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let shared = Shared {
            policy,
            audit,
            summarizer,
            listening: ListeningAddresses(Arc::new(listening)),
            max_request_bytes: limits.max_message_bytes.saturating_add(GRPC_FRAME_HEADER),
            request_timeout: limits.request_timeout,
            slots,
            metrics,
        };
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl<S> Layer<S> for SecurityLayer {
    type Service = Security<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Security {
            inner,
            shared: self.shared.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Security<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S> Service<http::Request<Body>> for Security<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    /// Always ready: the inner service's readiness (a concurrency slot) is awaited per call, after the
    /// caller has been let in.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // tonic's `Request::remote_addr` and `local_addr` (the management-path guard reads them) look
        // for the plain TCP connect info, which the connection guard wraps.
        if let Some(tcp) = tcp_info(request.extensions()).cloned() {
            request.extensions_mut().insert(tcp);
        }
        let inner = self.inner.clone();
        let shared = self.shared.clone();
        // Open from here until the answer has ended, refusals included: a connection with a call in
        // flight is never idle.
        let open_call = activity_of(request.extensions()).map(|activity| activity.call_started());
        let counted = CountedCall {
            metrics: shared.metrics.clone(),
            path: request.uri().path().to_string(),
            started: Instant::now(),
            code: None,
        };
        Box::pin(async move {
            let mut held = Held {
                slot: None,
                open_call,
                trim_allocator: false,
                counted,
            };
            let response = match shared.handle(request, inner, &mut held).await {
                Ok(response) => response,
                Err(e) => {
                    held.counted.code = Some(Code::Unknown);
                    return Err(e);
                }
            };
            // An answer without a body (a refusal, most errors) carries its status in the headers.
            if let Some(status) = Status::from_header_map(response.headers()) {
                held.counted.code = Some(status.code());
            }
            let (parts, body) = response.into_parts();
            Ok(http::Response::from_parts(
                parts,
                Body::new(HeldBody {
                    inner: body,
                    held: Some(held),
                }),
            ))
        })
    }
}

impl Shared {
    async fn handle<S>(
        &self,
        mut request: http::Request<Body>,
        inner: S,
        held: &mut Held,
    ) -> Result<http::Response<Body>, BoxError>
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>> + Send,
        S::Future: Send,
        S::Error: Into<BoxError>,
    {
        let method = request.uri().path().to_string();
        let access = methods::access(&method);
        let transport = transport_of(request.extensions());
        let mut record = AuditRecord {
            time: String::new(),
            identity: String::new(),
            peer: transport.peer(),
            method,
            request: Value::Null,
            code: String::new(),
            message: String::new(),
        };
        let authorization = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let caller = match self.policy.authenticate(authorization, &transport) {
            Ok(caller) => caller,
            Err(refusal) => {
                // An unauthenticated caller's request body is never read.
                record.identity = "unauthenticated".to_string();
                return Ok(self.refuse(record, Status::unauthenticated(refusal.to_string())));
            }
        };
        record.identity = caller.identity.clone();
        if access == Access::Read {
            return self.pass(request, caller, inner, held).await;
        }

        let (parts, body) = request.into_parts();
        let bytes = match Limited::new(body, self.max_request_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                let status = if e.is::<http_body_util::LengthLimitError>() {
                    Status::resource_exhausted(format!(
                        "request larger than {} bytes",
                        self.max_request_bytes
                    ))
                } else {
                    Status::cancelled(format!("reading the request: {e}"))
                };
                return Ok(self.refuse(record, status));
            }
        };
        held.trim_allocator = bytes.len() >= TRIM_AFTER_REQUEST_BYTES;
        record.request = self
            .summarizer
            .summarize(&record.method, grpc_message(&bytes));
        if !caller.role.allows(access) {
            let status = Status::permission_denied(format!(
                "{} has role {}; {} needs admin",
                caller.identity, caller.role, record.method
            ));
            return Ok(self.refuse(record, status));
        }
        request = http::Request::from_parts(parts, Body::new(Full::new(bytes)));
        // From here on, whatever happens (an answer, an error, the caller leaving, the deadline), exactly
        // one record is written: by `finish` or by the drop of `pending`.
        let mut pending = PendingRecord {
            audit: self.audit.clone(),
            record: Some(record),
        };
        let response = self.pass(request, caller, inner, held).await?;
        if let Some(status) = Status::from_header_map(response.headers()) {
            pending.finish(status.code(), status.message());
            return Ok(response);
        }
        let (parts, body) = response.into_parts();
        Ok(http::Response::from_parts(
            parts,
            Body::new(AuditedBody {
                inner: body,
                pending: Some(pending),
            }),
        ))
    }

    async fn pass<S>(
        &self,
        mut request: http::Request<Body>,
        caller: Caller,
        inner: S,
        held: &mut Held,
    ) -> Result<http::Response<Body>, BoxError>
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>> + Send,
        S::Future: Send,
        S::Error: Into<BoxError>,
    {
        request.extensions_mut().insert(self.listening.clone());
        request.extensions_mut().insert(caller);
        // Waiting for a concurrency slot counts against the deadline too. The slot is kept in `held`,
        // which the response body keeps until the answer has ended.
        let answer = async {
            let permit = self.slots.clone().acquire_owned().await?;
            held.slot = Some(permit);
            inner.oneshot(request).await.map_err(Into::into)
        };
        match tokio::time::timeout(self.request_timeout, answer).await {
            Ok(answer) => answer,
            Err(_) => Ok(Status::deadline_exceeded(format!(
                "no answer within {:?} (--request-timeout); a change already under way still runs to its end",
                self.request_timeout
            ))
            .into_http()),
        }
    }

    fn refuse(&self, mut record: AuditRecord, status: Status) -> http::Response<Body> {
        record.time = now_rfc3339();
        record.code = code_name(status.code());
        record.message = status.message().to_string();
        tracing::debug!(identity = %record.identity, peer = %record.peer, method = %record.method, code = %record.code, "refused");
        self.audit.record(&record);
        status.into_http()
    }
}

const GRPC_FRAME_HEADER: usize = 5;

/// The message inside a unary request's gRPC frame (1 byte compressed flag, 4 bytes length). The agent
/// accepts no compression, so a compressed frame is shown as what it is: bytes.
fn grpc_message(body: &[u8]) -> &[u8] {
    match body {
        [0, a, b, c, d, rest @ ..] => {
            let length = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
            rest.get(..length).unwrap_or(rest)
        }
        _ => body,
    }
}

fn activity_of(extensions: &http::Extensions) -> Option<&Arc<Activity>> {
    if let Some(tls) = extensions.get::<TlsConnectInfo<GuardedInfo<TcpConnectInfo>>>() {
        return Some(&tls.get_ref().activity);
    }
    if let Some(tcp) = extensions.get::<GuardedInfo<TcpConnectInfo>>() {
        return Some(&tcp.activity);
    }
    extensions
        .get::<GuardedInfo<UdsConnectInfo>>()
        .map(|unix| &unix.activity)
}

fn tcp_info(extensions: &http::Extensions) -> Option<&TcpConnectInfo> {
    if let Some(tls) = extensions.get::<TlsConnectInfo<GuardedInfo<TcpConnectInfo>>>() {
        return Some(&tls.get_ref().inner);
    }
    extensions
        .get::<GuardedInfo<TcpConnectInfo>>()
        .map(|tcp| &tcp.inner)
}

fn transport_of(extensions: &http::Extensions) -> Transport {
    if let Some(tls) = extensions.get::<TlsConnectInfo<GuardedInfo<TcpConnectInfo>>>() {
        // tonic hands over only certificates that rustls verified against --client-ca.
        let certificate_cn = tls
            .peer_certs()
            .and_then(|chain| chain.first().and_then(common_name));
        return match tls.get_ref().inner.remote_addr() {
            Some(peer) => Transport::Tcp {
                peer,
                certificate_cn,
            },
            None => Transport::Unknown,
        };
    }
    if let Some(peer) = extensions
        .get::<GuardedInfo<TcpConnectInfo>>()
        .and_then(|tcp| tcp.inner.remote_addr())
    {
        return Transport::Tcp {
            peer,
            certificate_cn: None,
        };
    }
    match extensions
        .get::<GuardedInfo<UdsConnectInfo>>()
        .map(|unix| &unix.inner)
    {
        Some(info) => Transport::Unix {
            uid: info.peer_cred.map(|cred| cred.uid()),
        },
        None => Transport::Unknown,
    }
}

/// An audit record waiting for its status code. Dropped without one, it says so: the caller went away
/// or the deadline passed before the agent answered (a mutation still runs to its end:
/// `service/completion.rs`).
struct PendingRecord {
    audit: Arc<AuditLog>,
    record: Option<AuditRecord>,
}

impl PendingRecord {
    fn finish(&mut self, code: Code, message: &str) {
        if let Some(mut record) = self.record.take() {
            record.time = now_rfc3339();
            record.code = code_name(code);
            record.message = message.to_string();
            self.audit.record(&record);
        }
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        self.finish(
            Code::Cancelled,
            "no answer reached the caller: it went away or the deadline passed first",
        );
    }
}

/// A response body that reports the call's status code from its trailers.
struct AuditedBody {
    inner: Body,
    pending: Option<PendingRecord>,
}

impl HttpBody for AuditedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(status) = frame.trailers_ref().and_then(Status::from_header_map) {
                    if let Some(mut pending) = self.pending.take() {
                        pending.finish(status.code(), status.message());
                    }
                }
            }
            Poll::Ready(Some(Err(status))) => {
                if let Some(mut pending) = self.pending.take() {
                    pending.finish(status.code(), status.message());
                }
            }
            Poll::Ready(None) => {
                if let Some(mut pending) = self.pending.take() {
                    pending.finish(Code::Unknown, "the answer ended without a gRPC status");
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// What a call holds until its answer has ended: its concurrency slot and its place among the
/// connection's open calls; whether to give memory back to the system afterwards; and its entry in
/// the metrics, made when it ends.
struct Held {
    slot: Option<OwnedSemaphorePermit>,
    open_call: Option<OpenCall>,
    trim_allocator: bool,
    counted: CountedCall,
}

/// A call on its way to the metrics. Ended without a status code, it was cancelled: the caller went
/// away (or the deadline passed) before the answer ended.
struct CountedCall {
    metrics: Arc<Metrics>,
    path: String,
    started: Instant,
    code: Option<Code>,
}

impl Drop for CountedCall {
    fn drop(&mut self) {
        let code = self.code.unwrap_or(Code::Cancelled);
        self.metrics.record_call(&self.path, code, self.started);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.slot.take();
        self.open_call.take();
        if self.trim_allocator {
            trim_allocator();
        }
    }
}

/// glibc keeps freed memory in its arenas; after a large request (a 100,000-operation batch decodes into
/// hundreds of MB of small allocations) the agent would otherwise keep that memory for good.
fn trim_allocator() {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn_blocking(|| {
            // SAFETY: malloc_trim only walks the allocator's own free lists; it has no preconditions.
            unsafe { libc::malloc_trim(0) };
        });
    }
}

/// A response body that keeps the call's `Held` until the answer has ended (or is dropped unsent).
struct HeldBody {
    inner: Body,
    held: Option<Held>,
}

impl HttpBody for HeldBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None) => Some(Code::Unknown),
            Poll::Ready(Some(Err(status))) => Some(status.code()),
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|trailers| {
                Status::from_header_map(trailers).map_or(Code::Unknown, |status| status.code())
            }),
            Poll::Pending => None,
        };
        if let Some(code) = ended {
            if let Some(held) = self.held.as_mut() {
                // A status already in the headers was the answer; a body after it changes nothing.
                held.counted.code.get_or_insert(code);
            }
            self.held.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unary_frames_unwrap_to_their_message() {
        assert_eq!(grpc_message(&[0, 0, 0, 0, 2, 8, 1, 99]), &[8, 1]);
        assert_eq!(grpc_message(&[0, 0, 0, 0, 9, 8, 1]), &[8, 1]);
        assert_eq!(grpc_message(&[1, 0, 0, 0, 1, 8]), &[1, 0, 0, 0, 1, 8]);
        assert_eq!(grpc_message(&[]), &[] as &[u8]);
    }
}
