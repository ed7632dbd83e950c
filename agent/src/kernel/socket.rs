//! The route netlink socket of one namespace, used synchronously: one request, its whole answer.
//!
//! The kernel handles a route-netlink request inside `sendmsg`: by the time `send` returns, the answer is
//! queued on the socket (the later parts of a dump are produced inside `recvmsg`). A request is
//! therefore two system calls on the caller's thread, and the only waiting in them is the kernel's own
//! work, RTNL included, which an async socket would block on just the same (`sendmsg` takes the lock).
//! Going through rtnetlink's connection task instead added a channel send and two task wake-ups per
//! request; profiles of bulk batches showed the agent idle in `epoll_wait` while those hand-offs waited
//! for a CPU on a busy machine. This is also what `ip` does.

use std::cell::RefCell;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::KernelError;

/// Big enough for any single datagram the kernel sends on a dump (it sizes them to at most 32 KiB).
const RECEIVE_BUFFER: usize = 64 * 1024;

/// A request must never hang a worker: the kernel always answers, so this only turns a kernel bug or a
/// lost answer into an error.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);

thread_local! {
    // One receive buffer per thread instead of one per namespace: a thousand namespaces would otherwise
    // hold a thousand buffers.
    static RECEIVED: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(RECEIVE_BUFFER));
}

pub struct RouteSocket {
    inner: Mutex<Inner>,
}

struct Inner {
    socket: Socket,
    sequence: u32,
}

impl RouteSocket {
    /// Opens a socket in the calling thread's network namespace; it stays bound to that namespace.
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Extended acks make the kernel say why it refused a request, not only the errno.
        socket.set_ext_ack(true)?;
        // Capped acks echo only the header of a failed request, so the reason is easy to find.
        socket.set_cap_ack(true)?;
        // Strict checking makes the kernel honour dump filters (an address dump for one link gives that
        // link's addresses, not the whole namespace's), as iproute2 asks for too.
        socket.set_netlink_get_strict_chk(true)?;
        set_receive_timeout(&socket, ANSWER_LIMIT)?;
        Ok(Self {
            inner: Mutex::new(Inner {
                socket,
                sequence: 0,
            }),
        })
    }

    /// Sends `message` and returns the messages of the answer, up to what `end` says ends it. A refusal
    /// is `KernelError::Refused`.
    pub fn request(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
        end: AnswerEnd,
        context: &str,
    ) -> Result<Vec<RouteNetlinkMessage>, KernelError> {
        let transport = |detail: String| KernelError::Transport {
            context: context.to_string(),
            detail,
        };
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST
            | flags
            | match end {
                AnswerEnd::Acknowledgement => NLM_F_ACK,
                AnswerEnd::DumpDone => NLM_F_DUMP,
                AnswerEnd::FirstMessage => 0,
            };
        let mut request = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        // The socket is shared by every task acting in this namespace; the lock spans one request and its
        // answer so that answers never interleave.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.sequence = inner.sequence.wrapping_add(1);
        let sequence = inner.sequence;
        request.header.sequence_number = sequence;
        request.finalize();
        let mut bytes = vec![0u8; request.buffer_len()];
        request.serialize(&mut bytes);
        retry_interrupted(|| inner.socket.send(&bytes, 0))
            .map_err(|e| transport(format!("send: {e}")))?;

        RECEIVED.with_borrow_mut(|buffer| {
            let mut answer = Vec::new();
            loop {
                buffer.clear();
                retry_interrupted(|| inner.socket.recv(buffer, 0))
                    .map_err(|e| transport(format!("receive: {e}")))?;
                let mut rest: &[u8] = buffer;
                while !rest.is_empty() {
                    let length = NetlinkBuffer::new_checked(rest)
                        .map(|b| b.length() as usize)
                        .map_err(|e| transport(format!("malformed answer: {e}")))?;
                    let (this, next) = rest.split_at(length.min(rest.len()));
                    rest = next
                        .get(length.next_multiple_of(4) - length..)
                        .unwrap_or_default();
                    let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(this)
                        .map_err(|e| transport(format!("malformed answer: {e}")))?;
                    // Left over from an earlier request whose answer was not read to the end.
                    if parsed.header.sequence_number != sequence {
                        continue;
                    }
                    match parsed.payload {
                        NetlinkPayload::InnerMessage(inner) if end == AnswerEnd::FirstMessage => {
                            return Ok(vec![inner])
                        }
                        NetlinkPayload::InnerMessage(inner) => answer.push(inner),
                        NetlinkPayload::Done(_) => return Ok(answer),
                        NetlinkPayload::Error(error) => match error.code {
                            None => return Ok(answer),
                            Some(_) => return Err(KernelError::refused(context, &error)),
                        },
                        _ => {}
                    }
                }
            }
        })
    }
}

/// What ends the kernel's answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerEnd {
    /// A change: the acknowledgement asked for with `NLM_F_ACK`.
    Acknowledgement,
    /// A dump: `NLMSG_DONE` after its last part.
    DumpDone,
    /// A `RTM_GET*` of one object: its one message. No acknowledgement is asked for, as `ip` asks for
    /// none: it would be a second message to build and a second receive for nothing. A refusal still
    /// comes, as an error message.
    FirstMessage,
}

fn retry_interrupted<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn set_receive_timeout(socket: &Socket, limit: Duration) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let value = libc::timeval {
        tv_sec: limit.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    // SAFETY: a valid socket fd and a timeval that outlives the call, with its exact size.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&value as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
