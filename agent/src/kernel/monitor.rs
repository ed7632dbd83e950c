//! A route netlink socket subscribed to the kernel's change notifications (what `ip monitor` reads).
//!
//! Like [`super::RouteSocket`] it belongs to the namespace of the thread that opened it, and may be read
//! from anywhere afterwards. It is non-blocking, so async code can wait for it to become readable. The
//! kernel never waits for a reader: when the socket's receive buffer is full, it drops notifications and
//! the next read fails with ENOBUFS, which is reported as [`Received::Overflow`].

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use netlink_packet_core::{NetlinkBuffer, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

use super::address::{self, Address};
use super::link::{self, Link};
use super::neighbor::{self, Neighbor};
use super::route::{self, Route};

/// RTNLGRP_* numbers from linux/rtnetlink.h: links, IPv4 and IPv6 addresses and routes, neighbours.
const GROUPS: [u32; 6] = [
    1,  // RTNLGRP_LINK
    3,  // RTNLGRP_NEIGH
    5,  // RTNLGRP_IPV4_IFADDR
    7,  // RTNLGRP_IPV4_ROUTE
    9,  // RTNLGRP_IPV6_IFADDR
    11, // RTNLGRP_IPV6_ROUTE
];

/// A larger buffer than the default lets a burst (a batch creating hundreds of objects) wait for the
/// reader instead of overflowing. The kernel caps it at net.core.rmem_max unless the caller is root.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

const DATAGRAM: usize = 64 * 1024;

/// One change the kernel announced.
#[derive(Debug, Clone)]
pub enum Notification {
    Link { deleted: bool, link: Link },
    Address { deleted: bool, address: Address },
    Route { deleted: bool, route: Route },
    Neighbor { deleted: bool, neighbor: Neighbor },
}

/// What one read gave.
pub enum Received {
    Notifications(Vec<Notification>),
    /// Nothing queued right now.
    Empty,
    /// The kernel dropped notifications because the socket's buffer was full.
    Overflow,
}

pub struct MonitorSocket {
    socket: Socket,
    buffer: Vec<u8>,
}

impl MonitorSocket {
    /// Opens a subscribed, non-blocking socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        for group in GROUPS {
            socket.add_membership(group)?;
        }
        // Not fatal: a smaller buffer only overflows sooner, and overflow is reported.
        let _ = socket.set_rx_buf_sz(SOCKET_BUFFER);
        socket.set_non_blocking(true)?;
        Ok(Self {
            socket,
            buffer: Vec::with_capacity(DATAGRAM),
        })
    }

    /// Reads one datagram (which may hold many notifications) without waiting.
    pub fn receive(&mut self) -> io::Result<Received> {
        self.buffer.clear();
        match self.socket.recv(&mut self.buffer, 0) {
            Ok(_) => Ok(Received::Notifications(parse_all(&self.buffer))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Received::Empty),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Received::Empty),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => Ok(Received::Overflow),
            Err(e) => Err(e),
        }
    }
}

impl AsRawFd for MonitorSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// Every notification in a datagram; messages this module does not follow (and malformed ones, which
/// the kernel does not send) are skipped.
fn parse_all(mut rest: &[u8]) -> Vec<Notification> {
    let mut found = Vec::new();
    while !rest.is_empty() {
        let Ok(length) = NetlinkBuffer::new_checked(rest).map(|b| b.length() as usize) else {
            break;
        };
        if length == 0 {
            break;
        }
        let (this, next) = rest.split_at(length.min(rest.len()));
        rest = next
            .get(length.next_multiple_of(4) - length..)
            .unwrap_or_default();
        let Ok(message) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(this) else {
            continue;
        };
        if let NetlinkPayload::InnerMessage(inner) = message.payload {
            found.extend(notification(inner));
        }
    }
    found
}

fn notification(message: RouteNetlinkMessage) -> Option<Notification> {
    use RouteNetlinkMessage as M;
    Some(match message {
        M::NewLink(m) => Notification::Link {
            deleted: false,
            link: link::parse(&m),
        },
        M::DelLink(m) => Notification::Link {
            deleted: true,
            link: link::parse(&m),
        },
        M::NewAddress(m) => Notification::Address {
            deleted: false,
            address: address::parse(&m)?,
        },
        M::DelAddress(m) => Notification::Address {
            deleted: true,
            address: address::parse(&m)?,
        },
        M::NewRoute(m) => Notification::Route {
            deleted: false,
            route: route::parse(&m)?,
        },
        M::DelRoute(m) => Notification::Route {
            deleted: true,
            route: route::parse(&m)?,
        },
        M::NewNeighbour(m) => Notification::Neighbor {
            deleted: false,
            neighbor: neighbor::parse(&m)?,
        },
        M::DelNeighbour(m) => Notification::Neighbor {
            deleted: true,
            neighbor: neighbor::parse(&m)?,
        },
        _ => return None,
    })
}
