//! The raw ICMP socket: opened and bound on a thread inside the namespace, then written and read without
//! blocking from wherever the run is driven.

use std::ffi::OsString;
use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    self, sockopt, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockProtocol, SockType,
    SockaddrLike, SockaddrStorage,
};

use super::packet::{Family, ICMPV4_ECHO_REPLY, ICMPV6_ECHO_REPLY};
use super::{PingError, PingParams};

/// Socket options from <linux/icmp.h> and <linux/icmpv6.h> that the libc crate does not define.
const ICMP_FILTER: libc::c_int = 1;
const ICMPV6_FILTER: libc::c_int = 1;

/// Opens a raw ICMP socket for `params.target`'s family in the calling thread's network namespace,
/// bound to `params.interface` and `params.source` if given. Blocking but cheap: call it on a thread
/// that has entered the target namespace, then hand the socket to [`super::run_ping`].
///
/// Fails with [`PingError::InvalidParams`] before any syscall, [`PingError::NoSuchInterface`] or
/// [`PingError::SourceNotLocal`] when the namespace lacks what was named, and [`PingError::Io`]
/// otherwise (for instance without CAP_NET_RAW).
pub fn open_icmp_socket(params: &PingParams) -> Result<OwnedFd, PingError> {
    let family = params.validate()?;
    let (domain, protocol) = match family {
        Family::V4 => (AddressFamily::Inet, SockProtocol::Icmp),
        Family::V6 => (AddressFamily::Inet6, SockProtocol::IcmpV6),
    };
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let fd = socket::socket(domain, SockType::Raw, flags, protocol).map_err(PingError::io(
        "opening a raw ICMP socket (needs CAP_NET_RAW)",
    ))?;

    accept_only_echo_replies(&fd, family)
        .map_err(PingError::io("installing the ICMP type filter"))?;
    if family == Family::V6 {
        socket::setsockopt(&fd, sockopt::Ipv6RecvHopLimit, &true)
            .map_err(PingError::io("asking for the hop limit of IPv6 replies"))?;
    }
    if let Some(interface) = &params.interface {
        socket::setsockopt(&fd, sockopt::BindToDevice, &OsString::from(interface)).map_err(
            |errno| match errno {
                Errno::ENODEV => PingError::NoSuchInterface {
                    interface: interface.clone(),
                    source: errno.into(),
                },
                _ => PingError::Io {
                    operation: "binding the socket to the interface",
                    source: errno.into(),
                },
            },
        )?;
    }
    if let Some(source) = params.source {
        socket::bind(fd.as_raw_fd(), &socket_address(source)).map_err(|errno| match errno {
            Errno::EADDRNOTAVAIL => PingError::SourceNotLocal {
                address: source,
                source: errno.into(),
            },
            _ => PingError::Io {
                operation: "binding the socket to the source address",
                source: errno.into(),
            },
        })?;
    }
    Ok(fd)
}

/// The family a socket was opened for, so a run can refuse a socket that does not match its target.
pub(super) fn family_of(fd: BorrowedFd<'_>) -> Result<Family, Errno> {
    let address: SockaddrStorage = socket::getsockname(fd.as_raw_fd())?;
    match address.family() {
        Some(AddressFamily::Inet) => Ok(Family::V4),
        Some(AddressFamily::Inet6) => Ok(Family::V6),
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// A raw socket gets a copy of every ICMP message in the namespace (neighbour discovery, errors, other
/// processes' pings); the kernel filter keeps all but echo replies from waking us up. A set bit blocks
/// its type. The IPv4 filter only covers types below 32, so parsing still checks the type.
fn accept_only_echo_replies(fd: &OwnedFd, family: Family) -> Result<(), Errno> {
    match family {
        Family::V4 => {
            let blocked: u32 = !(1 << ICMPV4_ECHO_REPLY);
            set_raw_option(fd.as_fd(), libc::SOL_RAW, ICMP_FILTER, &blocked)
        }
        Family::V6 => {
            let mut blocked = [u32::MAX; 8];
            blocked[usize::from(ICMPV6_ECHO_REPLY / 32)] &= !(1 << (ICMPV6_ECHO_REPLY % 32));
            set_raw_option(fd.as_fd(), libc::IPPROTO_ICMPV6, ICMPV6_FILTER, &blocked)
        }
    }
}

fn set_raw_option<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> Result<(), Errno> {
    let len = libc::socklen_t::try_from(size_of::<T>()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `value` is a live reference to `len` readable bytes for the whole call; the kernel only
    // copies from it, and `fd` is an open descriptor borrowed for the call.
    let rc =
        unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), len) };
    Errno::result(rc).map(drop)
}

/// Port 0: raw IPv6 sockets reject any other value that is not their protocol number, IPv4 ignores it.
fn socket_address(address: IpAddr) -> SockaddrStorage {
    match address {
        IpAddr::V4(address) => SocketAddrV4::new(address, 0).into(),
        IpAddr::V6(address) => SocketAddrV6::new(address, 0, 0, 0).into(),
    }
}

/// Sends one whole datagram. A link-local target needs no scope id: the kernel falls back to the
/// interface the socket is bound to, and validation makes sure there is one.
pub(super) fn send_to(fd: BorrowedFd<'_>, packet: &[u8], target: IpAddr) -> Result<(), Errno> {
    socket::sendto(
        fd.as_raw_fd(),
        packet,
        &socket_address(target),
        MsgFlags::empty(),
    )
    .map(drop)
}

/// What one `recvmsg` produced besides the bytes themselves.
#[derive(Debug)]
pub(super) struct Received {
    pub len: usize,
    pub from: Option<IpAddr>,
    /// IPv6 only; IPv4 carries the TTL in the header we receive.
    pub hop_limit: Option<u8>,
    pub truncated: bool,
}

/// Space for the one control message we ask for (`IPV6_HOPLIMIT`, an int).
pub(super) fn control_buffer() -> Vec<u8> {
    nix::cmsg_space!(libc::c_int)
}

pub(super) fn receive(
    fd: BorrowedFd<'_>,
    buffer: &mut [u8],
    control: &mut [u8],
) -> Result<Received, Errno> {
    let mut iov = [IoSliceMut::new(buffer)];
    let message = socket::recvmsg::<SockaddrStorage>(
        fd.as_raw_fd(),
        &mut iov,
        Some(control),
        MsgFlags::empty(),
    )?;
    let hop_limit = message
        .cmsgs()
        .ok()
        .into_iter()
        .flatten()
        .find_map(|cmsg| match cmsg {
            ControlMessageOwned::Ipv6HopLimit(limit) => u8::try_from(limit).ok(),
            _ => None,
        });
    let from = message.address.as_ref().and_then(|address| {
        address
            .as_sockaddr_in()
            .map(|v4| IpAddr::V4(v4.ip()))
            .or_else(|| address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
    });
    Ok(Received {
        len: message.bytes,
        from,
        hop_limit,
        truncated: message.flags.contains(MsgFlags::MSG_TRUNC),
    })
}
