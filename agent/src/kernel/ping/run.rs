//! Driving one run from async code: a single future that sends on a timer, reads whenever the socket is
//! readable and hands replies to the caller's channel, all without spawning, so dropping it ends the run.

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::sync::mpsc;

use super::packet::{parse_icmpv6_echo_reply, parse_ipv4_echo_reply, Family};
use super::session::{EchoSession, Verdict};
use super::socket::{self, Received};
use super::{PingError, PingParams, PingReply, PingSummary};

/// Holds the largest IP datagram, so nothing we could want is ever truncated.
const RECEIVE_BUFFER_LEN: usize = 1 << 16;
/// Packets read per wake-up before sends and deliveries get their turn, so a flood cannot starve them.
const MAX_READS_PER_WAKEUP: usize = 64;
/// Waits are capped so that adding them to the clock cannot overflow.
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Sends `params.count` echo requests on `socket` (from [`super::open_icmp_socket`]) every
/// `params.interval`, reports each first reply to `replies` as it arrives, and returns the summary
/// once every request is answered or `params.timeout` has passed since the last one.
///
/// Runs on any tokio worker with the time and IO drivers. A reply the channel cannot take yet waits in
/// a queue instead of stalling the socket (which would inflate later round trips); if the receiver is
/// gone, the run still completes and replies are dropped. Dropping the future closes the socket.
pub async fn run_ping(
    socket: OwnedFd,
    params: PingParams,
    replies: mpsc::Sender<PingReply>,
) -> Result<PingSummary, PingError> {
    let family = params.validate()?;
    let socket_family = socket::family_of(socket.as_fd())
        .map_err(PingError::io("reading the socket's address family"))?;
    if socket_family != family {
        return Err(PingError::InvalidParams {
            reason: format!(
                "the socket was opened for another address family than target {}",
                params.target
            ),
        });
    }
    let count = u16::try_from(params.count).map_err(|_| PingError::InvalidParams {
        reason: format!("count {} too large", params.count),
    })?;
    // SAFETY: the `AsyncFd` owns the `OwnedFd`, so the descriptor stays open and the same for as long as
    // it is registered, and an `OwnedFd` always reports that one descriptor.
    let socket = unsafe { AsyncFd::register(socket) }.map_err(|error| PingError::Io {
        operation: "registering the socket with the tokio reactor",
        source: error.into_parts().1,
    })?;

    let mut session = EchoSession::new(family, count, params.payload_size);
    let mut reader = Reader::new(family);
    let mut outbox = Outbox {
        replies,
        queued: VecDeque::new(),
        receiver_alive: true,
    };
    // The first request goes at once: a timer, even one already due, first waits for the time
    // driver's next millisecond tick, and that wait was up to a millisecond of every `ping -c 1`.
    send_next_request(&socket, &mut session, params.target).await?;
    // One timer serves both phases: the next request while sending, then the end of the wait.
    let timer = tokio::time::sleep(pause_after_send(&session, &params));
    tokio::pin!(timer);

    while !session.is_complete() {
        tokio::select! {
            () = &mut timer => {
                if session.all_sent() {
                    break;
                }
                send_next_request(&socket, &mut session, params.target).await?;
                let pause = pause_after_send(&session, &params);
                timer.as_mut().reset(tokio::time::Instant::now() + pause);
            }
            readiness = socket.readable() => {
                let mut guard = readiness
                    .map_err(|source| PingError::Io { operation: "waiting for replies", source })?;
                reader.read_batch(&mut guard, &mut session, &mut outbox.queued)?;
            }
            permit = outbox.replies.reserve(), if outbox.receiver_alive && !outbox.queued.is_empty() => {
                match permit {
                    Ok(permit) => {
                        if let Some(reply) = outbox.queued.pop_front() {
                            permit.send(reply);
                        }
                    }
                    // Field by field: the permit's type still borrows `outbox.replies` here.
                    Err(_closed) => {
                        outbox.receiver_alive = false;
                        outbox.queued.clear();
                    }
                }
            }
        }
    }
    outbox.flush().await;
    Ok(session.summary(params.target))
}

/// Until the next request, or after the last one until giving up on its reply.
fn pause_after_send(session: &EchoSession, params: &PingParams) -> Duration {
    let pause = if session.all_sent() {
        params.timeout
    } else {
        params.interval
    };
    pause.min(LONGEST_WAIT)
}

/// Replies on their way to the caller.
struct Outbox {
    replies: mpsc::Sender<PingReply>,
    queued: VecDeque<PingReply>,
    receiver_alive: bool,
}

impl Outbox {
    async fn flush(self) {
        if !self.receiver_alive {
            return;
        }
        for reply in self.queued {
            if self.replies.send(reply).await.is_err() {
                return;
            }
        }
    }
}

async fn send_next_request(
    socket: &AsyncFd<OwnedFd>,
    session: &mut EchoSession,
    target: IpAddr,
) -> Result<(), PingError> {
    let Some(seq) = session.next_request() else {
        return Ok(());
    };
    match send_when_writable(socket, session.packet(), target).await {
        Ok(sent_at) => session.mark_sent(seq, sent_at),
        Err(source) => match refusal_hint(&source) {
            // Nothing went out: the run could only report 100% loss without saying why.
            Some(hint) if seq == 1 => {
                return Err(PingError::Unreachable {
                    target,
                    hint,
                    source,
                })
            }
            // Routes and neighbours change mid-run; like iputils, count the request as sent and lost.
            Some(hint) => {
                tracing::debug!(%target, seq, hint, error = %source, "echo request refused")
            }
            None => {
                return Err(PingError::Io {
                    operation: "sending an echo request",
                    source,
                })
            }
        },
    }
    Ok(())
}

/// Returns the moment the kernel was handed the request, taken just before the call so that a wait for
/// buffer space does not count as network time.
async fn send_when_writable(
    socket: &AsyncFd<OwnedFd>,
    packet: &[u8],
    target: IpAddr,
) -> io::Result<Instant> {
    loop {
        let mut guard = socket.writable().await?;
        let mut sent_at = Instant::now();
        let attempt = guard.try_io(|fd| {
            sent_at = Instant::now();
            socket::send_to(fd.get_ref().as_fd(), packet, target).map_err(io::Error::from)
        });
        match attempt {
            Ok(Ok(())) => return Ok(sent_at),
            Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(error)) => return Err(error),
            Err(_would_block) => continue,
        }
    }
}

/// Errors with which the kernel refuses a request because of the namespace's state, not ours; each
/// with what it most likely means (measured on raw sockets in a fresh namespace).
fn refusal_hint(error: &io::Error) -> Option<&'static str> {
    Some(match error.raw_os_error()? {
        libc::ENETUNREACH => "no route to it in this namespace (is the link up and addressed?)",
        libc::EHOSTUNREACH => {
            "host unreachable (an unreachable route, or its neighbour did not answer)"
        }
        libc::EINVAL => "a blackhole route covers it",
        libc::EACCES => "a prohibit route covers it, or it is a broadcast address",
        libc::EPERM => "a firewall rule dropped the request",
        libc::ENETDOWN => "the link towards it is down",
        libc::EADDRNOTAVAIL => "no source address to send from (is the link up and addressed?)",
        libc::ENOBUFS => "the kernel is out of buffer space",
        _ => return None,
    })
}

/// The receiving side: buffers reused for the whole run.
struct Reader {
    family: Family,
    buffer: Vec<u8>,
    control: Vec<u8>,
}

impl Reader {
    fn new(family: Family) -> Self {
        Reader {
            family,
            buffer: vec![0; RECEIVE_BUFFER_LEN],
            control: socket::control_buffer(),
        }
    }

    fn read_batch(
        &mut self,
        guard: &mut AsyncFdReadyGuard<'_, OwnedFd>,
        session: &mut EchoSession,
        queued: &mut VecDeque<PingReply>,
    ) -> Result<(), PingError> {
        for _ in 0..MAX_READS_PER_WAKEUP {
            let attempt = guard.try_io(|fd| {
                let received =
                    socket::receive(fd.get_ref().as_fd(), &mut self.buffer, &mut self.control);
                received
                    .map(|received| (received, Instant::now()))
                    .map_err(io::Error::from)
            });
            match attempt {
                Ok(Ok((received, received_at))) => {
                    if let Some(reply) = self.judge(&received, received_at, session) {
                        queued.push_back(reply);
                    }
                }
                Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(source)) => {
                    return Err(PingError::Io {
                        operation: "receiving replies",
                        source,
                    })
                }
                // Drained: the guard has cleared readiness, so the next wait blocks until a new packet.
                Err(_would_block) => return Ok(()),
            }
        }
        Ok(())
    }

    fn judge(
        &self,
        received: &Received,
        received_at: Instant,
        session: &mut EchoSession,
    ) -> Option<PingReply> {
        let Some(from) = received.from else {
            tracing::trace!("ignoring a packet without a source address");
            return None;
        };
        if received.truncated {
            tracing::trace!(%from, "ignoring a truncated packet");
            return None;
        }
        let datagram = &self.buffer[..received.len.min(self.buffer.len())];
        let parsed = match self.family {
            Family::V4 => parse_ipv4_echo_reply(datagram),
            Family::V6 => parse_icmpv6_echo_reply(datagram),
        };
        let echo = match parsed {
            Ok(echo) => echo,
            Err(reason) => {
                tracing::trace!(%from, ?reason, "ignoring a packet that is not an echo reply");
                return None;
            }
        };
        match session.accept(&echo, received_at) {
            Verdict::Answer { seq, rtt } => Some(PingReply {
                seq: u32::from(seq),
                from,
                bytes: u32::try_from(echo.icmp_len).unwrap_or(u32::MAX),
                ttl: echo.ttl.or(received.hop_limit),
                rtt,
            }),
            Verdict::Duplicate { seq } => {
                tracing::debug!(%from, seq, "duplicate echo reply");
                None
            }
            Verdict::NotOurs => None,
        }
    }
}
