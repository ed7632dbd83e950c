//! Bounds on connections before anyone has authenticated: how many may be open (in total and per peer),
//! how long one may take to send its first call, and how long one may stay open without a call.
//!
//! Every accepted socket is admitted here first (a refused one is closed at once) and then wrapped in a
//! `GuardedStream`, which holds its slot until the connection ends and closes it when it misses a
//! deadline. The security layer tells the connection's `Activity` when a call starts and ends (it finds
//! it in the connect info), so "idle" means no call open, whatever pings or window updates still flow:
//! HTTP/2 keepalive traffic would otherwise keep a silent client's connection alive forever.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;

/// How many connections may be open, and how long they may stay without a call.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_connections_per_peer: usize,
    /// From accept to the first call's headers: TLS handshake, HTTP/2 preface and settings included.
    pub first_call_timeout: Duration,
    /// With no call open, after the last one ended.
    pub idle_timeout: Duration,
}

/// Who a connection counts against: its source address (TCP) or its user (unix socket).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    Ip(IpAddr),
    Uid(u32),
    Unknown,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Uid(uid) => write!(f, "uid {uid}"),
            Self::Unknown => f.write_str("unknown peer"),
        }
    }
}

/// The counts behind the connection caps, shared by every listener.
pub struct Admission {
    limits: ConnectionLimits,
    open: Mutex<OpenConnections>,
    pub(super) log: Arc<RateLimitedLog>,
}

#[derive(Default)]
struct OpenConnections {
    total: usize,
    per_peer: HashMap<Peer, usize>,
}

impl Admission {
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: Mutex::new(OpenConnections::default()),
            log: Arc::new(RateLimitedLog::default()),
        })
    }

    /// A slot for a new connection from `peer`, or `None` (logged) when a cap is reached.
    pub fn admit(self: &Arc<Self>, peer: Peer) -> Option<ConnectionSlot> {
        let refusal = {
            let mut open = self
                .open
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let from_peer = open.per_peer.get(&peer).copied().unwrap_or(0);
            if open.total >= self.limits.max_connections {
                Some(Reason::TooManyConnections)
            } else if from_peer >= self.limits.max_connections_per_peer {
                Some(Reason::TooManyFromPeer)
            } else {
                open.total += 1;
                open.per_peer.insert(peer.clone(), from_peer + 1);
                None
            }
        };
        if let Some(reason) = refusal {
            self.log.note(reason, &peer);
            return None;
        }
        Some(ConnectionSlot {
            admission: self.clone(),
            peer,
            activity: Arc::new(Activity::new()),
        })
    }

    fn release(&self, peer: &Peer) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_peer.get_mut(peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_peer.remove(peer);
            }
        }
    }
}

/// One admitted connection's place under the caps, given back when the connection ends.
pub struct ConnectionSlot {
    admission: Arc<Admission>,
    peer: Peer,
    activity: Arc<Activity>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.admission.release(&self.peer);
    }
}

/// Calls open on one connection, and since when none has been.
#[derive(Debug)]
pub struct Activity {
    open_calls: AtomicUsize,
    any_call: AtomicBool,
    idle_since: Mutex<Instant>,
}

impl Activity {
    fn new() -> Self {
        Self {
            open_calls: AtomicUsize::new(0),
            any_call: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
        }
    }

    /// Marks a call open until the returned guard is dropped (when its answer has ended).
    pub fn call_started(self: &Arc<Self>) -> OpenCall {
        self.any_call.store(true, Ordering::Relaxed);
        self.open_calls.fetch_add(1, Ordering::AcqRel);
        OpenCall(self.clone())
    }

    /// When the connection must be closed unless a call opens meanwhile; `None`: now.
    fn deadline(&self, limits: &ConnectionLimits, now: Instant) -> Option<Instant> {
        if self.open_calls.load(Ordering::Acquire) > 0 {
            return Some(now + limits.idle_timeout);
        }
        let since = *self
            .idle_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let allowed = if self.any_call.load(Ordering::Relaxed) {
            limits.idle_timeout
        } else {
            limits.first_call_timeout
        };
        Some(since + allowed).filter(|deadline| *deadline > now)
    }
}

/// A call counted as open on its connection.
pub struct OpenCall(Arc<Activity>);

impl Drop for OpenCall {
    fn drop(&mut self) {
        // The idle clock starts when the last open call ends.
        let mut since = self
            .0
            .idle_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.0.open_calls.fetch_sub(1, Ordering::AcqRel) == 1 {
            *since = Instant::now();
        }
    }
}

/// What the security layer finds in a call's connect info: the transport's own, and the connection's
/// activity.
#[derive(Debug, Clone)]
pub struct GuardedInfo<I> {
    pub inner: I,
    pub activity: Arc<Activity>,
}

/// An accepted socket that holds its connection slot and is closed when it misses its first-call or idle
/// deadline.
pub struct GuardedStream<S> {
    inner: S,
    slot: ConnectionSlot,
    limits: ConnectionLimits,
    deadline: Pin<Box<Sleep>>,
    transport: &'static str,
    /// What the peer's first bytes looked like, so a TLS connection that never made a call can be logged
    /// with its likely cause (tonic drops a failed handshake without a word above debug level).
    opening: Opening,
}

/// How a connection's first bytes began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opening {
    /// Nothing yet.
    Nothing,
    /// A TLS handshake record (0x16): the peer speaks TLS.
    TlsHandshake,
    /// The HTTP/2 client preface: a plaintext client at a TLS listener.
    PlaintextHttp2,
    /// Anything else.
    Other,
}

impl Opening {
    fn of(first: &[u8]) -> Opening {
        match first {
            [] => Opening::Nothing,
            [0x16, ..] => Opening::TlsHandshake,
            [b'P', b'R', b'I', ..] => Opening::PlaintextHttp2,
            _ => Opening::Other,
        }
    }
}

impl<S> GuardedStream<S> {
    pub fn new(inner: S, slot: ConnectionSlot, transport: &'static str) -> Self {
        let limits = slot.admission.limits;
        Self {
            inner,
            slot,
            limits,
            deadline: Box::pin(tokio::time::sleep(limits.first_call_timeout)),
            transport,
            opening: Opening::Nothing,
        }
    }

    /// Ready with the reason when the connection has missed its deadline.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<Reason> {
        loop {
            std::task::ready!(self.deadline.as_mut().poll(cx));
            let activity = &self.slot.activity;
            match activity.deadline(&self.limits, Instant::now()) {
                Some(next) => self.deadline.as_mut().reset(next),
                None if activity.any_call.load(Ordering::Relaxed) => {
                    return Poll::Ready(Reason::Idle)
                }
                None => return Poll::Ready(Reason::NoFirstCall(self.transport)),
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let filled_before = buf.filled().len();
        if let Poll::Ready(read) = Pin::new(&mut this.inner).poll_read(cx, buf) {
            if this.opening == Opening::Nothing {
                this.opening = Opening::of(&buf.filled()[filled_before..]);
            }
            return Poll::Ready(read);
        }
        // The HTTP/2 server always waits for the client's next bytes, so this is where a silent
        // connection is noticed; the error makes it close the connection.
        match this.poll_expired(cx) {
            Poll::Ready(reason) => {
                this.slot.admission.log.note(reason, &this.slot.peer);
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    reason.to_string(),
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

forward_writes_to_inner!(GuardedStream);

impl<S> Drop for GuardedStream<S> {
    /// A TLS connection dropped before its first call is, in practice, a failed handshake: tonic drops
    /// the socket and logs it only at debug level.
    fn drop(&mut self) {
        if self.transport == "TLS" && !self.slot.activity.any_call.load(Ordering::Relaxed) {
            self.slot
                .admission
                .log
                .note(Reason::ClosedBeforeFirstCall(self.opening), &self.slot.peer);
        }
    }
}

impl<S: Connected> Connected for GuardedStream<S> {
    type ConnectInfo = GuardedInfo<S::ConnectInfo>;

    fn connect_info(&self) -> Self::ConnectInfo {
        GuardedInfo {
            inner: self.inner.connect_info(),
            activity: self.slot.activity.clone(),
        }
    }
}

/// Why a connection was refused or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    TooManyConnections,
    TooManyFromPeer,
    NoFirstCall(&'static str),
    Idle,
    ClosedBeforeFirstCall(Opening),
    AcceptFailed,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooManyConnections => {
                f.write_str("connection refused: --max-connections reached")
            }
            Self::TooManyFromPeer => {
                f.write_str("connection refused: --max-connections-per-peer reached")
            }
            Self::NoFirstCall(transport) => write!(
                f,
                "{transport} connection closed: no call within --first-call-timeout"
            ),
            Self::Idle => f.write_str("connection closed: no call within --idle-timeout"),
            Self::ClosedBeforeFirstCall(opening) => {
                f.write_str("TLS connection ended before its first call: ")?;
                f.write_str(match opening {
                    Opening::Nothing => "the client sent nothing",
                    Opening::TlsHandshake => {
                        "the TLS handshake did not complete (does the client trust the agent's \
                         certificate, and present one that --client-ca accepts?)"
                    }
                    Opening::PlaintextHttp2 => {
                        "the client spoke plaintext HTTP/2 to a TLS listener (give the client --ca, \
                         or an https:// endpoint)"
                    }
                    Opening::Other => "the client's first bytes were not TLS",
                })
            }
            Self::AcceptFailed => {
                f.write_str("accepting connections failed (out of file descriptors?)")
            }
        }
    }
}

/// At most one log line per second per reason, with how many events it stands for: a flood of refused
/// connections must be visible without becoming a flood of log lines.
#[derive(Default)]
pub struct RateLimitedLog {
    last: Mutex<HashMap<Reason, (Option<Instant>, u64)>>,
}

impl RateLimitedLog {
    pub fn note(&self, reason: Reason, peer: &Peer) {
        let now = Instant::now();
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (logged_at, pending) = last.entry(reason).or_insert((None, 0));
        *pending += 1;
        if logged_at.is_some_and(|at| now.duration_since(at) < Duration::from_secs(1)) {
            return;
        }
        tracing::warn!(reason = %reason, last_peer = %peer, count = *pending, "{reason}");
        *logged_at = Some(now);
        *pending = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 3,
            max_connections_per_peer: 2,
            first_call_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }

    #[test]
    fn caps_count_per_peer_and_in_total_and_slots_come_back() {
        let admission = Admission::new(limits());
        let a = Peer::Uid(1);
        let b = Peer::Uid(2);
        let first = admission.admit(a.clone()).expect("first from a");
        let _second = admission.admit(a.clone()).expect("second from a");
        assert!(admission.admit(a.clone()).is_none(), "a third from a");
        let _third = admission.admit(b.clone()).expect("first from b");
        assert!(admission.admit(b.clone()).is_none(), "over the total");
        drop(first);
        assert!(admission.admit(a).is_some(), "a's slot came back");
    }

    #[test]
    fn deadlines_follow_calls() {
        let limits = limits();
        let activity = Arc::new(Activity::new());
        let start = Instant::now();
        let first = activity.deadline(&limits, start).expect("not yet expired");
        assert!(first <= start + limits.first_call_timeout);
        assert_eq!(activity.deadline(&limits, first), None, "no first call");
        let call = activity.call_started();
        let later = start + Duration::from_secs(1000);
        assert_eq!(
            activity.deadline(&limits, later),
            Some(later + limits.idle_timeout),
            "an open call keeps the connection"
        );
        drop(call);
        let ended = Instant::now();
        let idle = activity
            .deadline(&limits, ended)
            .expect("idle clock just started");
        assert!(idle >= ended + limits.idle_timeout - Duration::from_millis(100));
        assert_eq!(activity.deadline(&limits, idle), None, "idle too long");
    }
}
