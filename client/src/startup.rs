//! What the `nsfleet` program does before its first line of its own work.
//!
//! The program starts from C's `main` (`src/main.rs`), not from Rust's: Rust's start has glibc find
//! the main thread's stack by parsing `/proc/self/maps`, for its stack-overflow message, and sets up
//! an alternate signal stack for it. That was 0.17 ms of a call of about 3.5 ms (BENCHMARKS.md, "One
//! invocation per command"), on every invocation, for a message. The two other things Rust's start
//! does matter to the client, so [`prepare`] does them.

/// Ignores SIGPIPE and opens `/dev/null` on any standard descriptor that is closed, as Rust's start does.
///
/// SIGPIPE: the HTTP/2 connection writes frames with `writev`, which cannot ask for `MSG_NOSIGNAL`, so
/// an agent that goes away in the middle of a call would otherwise kill the client without a word,
/// where it must report the host as unavailable. A write to a closed pipe stays an EPIPE error, as it
/// was under Rust's start.
///
/// Closed descriptors: the first file or socket the client opens would otherwise become its standard
/// output or error, and output meant for the terminal would go to the agent.
pub fn prepare() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler, and nothing else runs yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
        if closed {
            // SAFETY: a NUL-terminated path; the lowest free descriptor, the closed one, is taken.
            unsafe {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
}
