//! A namespace's identity for as long as the host runs.
//!
//! The inode number of a namespace identifies it only while it lives: the kernel hands the number of a
//! destroyed namespace to the next one created, often at once. The kernel's namespace cookie
//! (`SO_NETNS_COOKIE`, Linux 5.14) is never given to another namespace until reboot, so whatever is
//! remembered about a namespace beyond the life of the fd that pins it is keyed by its cookie.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// `SO_NETNS_COOKIE`, which the libc crate does not export for Linux yet; sparc numbers it differently.
#[cfg(not(any(target_arch = "sparc", target_arch = "sparc64")))]
const SO_NETNS_COOKIE: libc::c_int = 71;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
const SO_NETNS_COOKIE: libc::c_int = 0x50;

/// Kernel cookies count up from 1 and never reach this bit; identities made up by the agent have it set,
/// so the two can never be confused.
const MADE_UP: u64 = 1 << 63;
static NEXT_MADE_UP: AtomicU64 = AtomicU64::new(MADE_UP);

/// The cookie of the calling thread's network namespace. A kernel without cookies gets an identity
/// unique to this call: never mistaken for another namespace, at worst not recognised as the same one
/// (which costs only a cache miss).
pub(super) fn this_thread_namespace() -> u64 {
    cookie_of_this_thread().unwrap_or_else(|e| {
        tracing::debug!(error = %e, "no namespace cookie (kernel older than 5.14?): namespace identities are per handle");
        NEXT_MADE_UP.fetch_add(1, Ordering::Relaxed)
    })
}

fn cookie_of_this_thread() -> io::Result<u64> {
    // SAFETY: plain socket(2); the fd is owned (and closed) by `socket` below.
    let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh fd nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut cookie: u64 = 0;
    let mut length = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: a valid socket fd, and a pointer and length describing `cookie`, which outlives the call.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut length,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cookie)
}
