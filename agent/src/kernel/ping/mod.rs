//! Native ICMP echo (`ping`) from inside a network namespace, IPv4 and IPv6, without a subprocess.
//!
//! The work is split in two because a socket belongs to the namespace it was created in, while a
//! namespace is a property of a thread:
//! - [`open_icmp_socket`] is blocking and cheap; the caller runs it on a thread that has done `setns`
//!   into the target namespace. It validates the request and binds the socket to the asked interface and
//!   source, so bad input fails here, before anything is sent.
//! - [`run_ping`] drives that socket from any tokio worker: it sends the requests, streams the replies
//!   and returns the summary. Everything it owns lives in its future, so dropping the future (a cancelled
//!   call) closes the socket and stops the run; it spawns nothing.
//!
//! Raw sockets, not ICMP datagram sockets, because a new namespace starts with
//! `net.ipv4.ping_group_range = 1 0` (datagram ICMP disabled); the agent runs with CAP_NET_RAW. A raw
//! socket sees every ICMP message in its namespace, so a run recognises its replies by an identifier no
//! other run of this process uses, by sequence number, and by its payload echoed back unchanged.

mod packet;
mod params;
mod run;
mod session;
mod socket;
mod stats;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests;

use std::net::IpAddr;
use std::time::Duration;

pub use run::run_ping;
pub use socket::open_icmp_socket;

/// One ping run, in domain terms (the gRPC layer fills in defaults and enforces its own limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingParams {
    pub target: IpAddr,
    /// Send out of this link only (`SO_BINDTODEVICE`); needed for link-local targets.
    pub interface: Option<String>,
    /// Send from this address; it must be assigned in the namespace.
    pub source: Option<IpAddr>,
    /// Echo requests to send, 1 to 65535 (sequence numbers are 16 bits on the wire).
    pub count: u32,
    /// Time between requests; must not be zero.
    pub interval: Duration,
    /// How long to wait for replies after the last request.
    pub timeout: Duration,
    /// ICMP payload bytes after the 8-byte echo header.
    pub payload_size: usize,
}

/// One echo reply, reported as it arrives. Duplicates of a reply already reported are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingReply {
    /// Sequence number of the request it answers, from 1.
    pub seq: u32,
    pub from: IpAddr,
    /// ICMP bytes received (echo header plus payload).
    pub bytes: u32,
    /// TTL (IPv4) or hop limit (IPv6) of the reply, if the kernel reported it.
    pub ttl: Option<u8>,
    /// From our monotonic clock at send time to the moment the reply was read.
    pub rtt: Duration,
}

/// The end of a run. Round-trip figures are zero when nothing came back.
#[derive(Debug, Clone, PartialEq)]
pub struct PingSummary {
    pub target: IpAddr,
    /// Requests sent, counting those the kernel refused after the first (as iputils does: they are lost).
    pub transmitted: u32,
    /// Requests answered, each counted once however many replies it got.
    pub received: u32,
    pub loss_percent: f64,
    pub rtt_min: Duration,
    pub rtt_avg: Duration,
    pub rtt_max: Duration,
    /// Population standard deviation of the round trips, as iputils computes its `mdev`.
    pub rtt_mdev: Duration,
}

/// Why a run could not start or went wrong. The first four are the caller's or the namespace's doing;
/// only [`PingError::Io`] points at the agent or the kernel.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// The request is unusable whatever the namespace looks like.
    #[error("invalid ping request: {reason}")]
    InvalidParams { reason: String },

    /// `SO_BINDTODEVICE` answered ENODEV.
    #[error("interface {interface:?} does not exist in this namespace")]
    NoSuchInterface {
        interface: String,
        #[source]
        source: std::io::Error,
    },

    /// `bind` answered EADDRNOTAVAIL.
    #[error("source address {address} is not assigned to any interface in this namespace")]
    SourceNotLocal {
        address: IpAddr,
        #[source]
        source: std::io::Error,
    },

    /// The kernel refused the first request (no route, link down, blackhole or prohibit route,
    /// firewall), so the run never got going. Later refusals count as lost requests instead.
    #[error("cannot send to {target}: {hint}")]
    Unreachable {
        target: IpAddr,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// A socket call failed in a way the request cannot explain.
    #[error("{operation} failed")]
    Io {
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl PingError {
    fn io(operation: &'static str) -> impl FnOnce(nix::errno::Errno) -> PingError {
        move |errno| PingError::Io {
            operation,
            source: errno.into(),
        }
    }
}
