use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use super::worker::NamespaceThread;
use super::{cookie, run_in_namespace, NetnsError};
use crate::domain::NamespaceRef;
use crate::kernel::RouteSocket;

/// An open network namespace: a file descriptor that keeps it alive and identifies it, a route
/// netlink socket created inside it, and a thread inside it for blocking work, started when needed.
pub struct NamespaceHandle {
    namespace: NamespaceRef,
    fd: Arc<OwnedFd>,
    inode: u64,
    cookie: u64,
    route: RouteSocket,
    thread: NamespaceThread,
    /// The agent's own namespace, which every runtime thread is in (none ever calls `setns`).
    own: bool,
}

impl NamespaceHandle {
    /// Opens the route netlink socket inside the namespace behind `fd`.
    pub async fn open(
        namespace: NamespaceRef,
        fd: OwnedFd,
        inode: u64,
    ) -> Result<Self, NetnsError> {
        let fd = Arc::new(fd);
        let context = format!("open netlink socket in {namespace}");
        // On a thread that exits, not the handle's kept one: most handles never run blocking work, and a
        // kept thread would hold each namespace a listing opens for its idle time.
        let (route, cookie) = run_in_namespace(fd.clone(), &context, || {
            RouteSocket::open().map(|route| (route, cookie::this_thread_namespace()))
        })
        .await?
        .map_err(|e| NetnsError::io(context, e))?;
        Ok(Self {
            namespace,
            thread: NamespaceThread::new(fd.clone(), inode),
            fd,
            inode,
            cookie,
            route,
            own: false,
        })
    }

    /// A handle from a socket already opened inside the namespace (by the thread that created it, which
    /// read the namespace's cookie too).
    pub fn with_socket(
        namespace: NamespaceRef,
        fd: OwnedFd,
        inode: u64,
        cookie: u64,
        route: RouteSocket,
    ) -> Self {
        let fd = Arc::new(fd);
        Self {
            namespace,
            thread: NamespaceThread::new(fd.clone(), inode),
            fd,
            inode,
            cookie,
            route,
            own: false,
        }
    }

    /// Marks this handle as the agent's own namespace (the registry's host).
    pub(super) fn agents_own(mut self) -> Self {
        self.own = true;
        self
    }

    pub fn namespace(&self) -> &NamespaceRef {
        &self.namespace
    }

    /// Inode of the namespace. Equal inodes mean the same namespace only while both are alive: this
    /// handle keeps its own alive, but the number outlives it (see [`Self::cookie`]).
    pub fn inode(&self) -> u64 {
        self.inode
    }

    /// The namespace's identity until reboot, never given to another namespace: the key for anything
    /// remembered about it after this handle is gone.
    pub fn cookie(&self) -> u64 {
        self.cookie
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The route netlink socket bound to this namespace.
    pub fn route(&self) -> &RouteSocket {
        &self.route
    }

    /// Runs blocking `work` on this namespace's thread (sysctls, sockets opened inside, nftables), one
    /// piece of work at a time.
    pub async fn run<T, F>(&self, context: &str, work: F) -> Result<T, NetnsError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.thread.run(context, work).await
    }

    /// [`Self::run`] for work that takes microseconds (a sysctl file read or written). In the agent's
    /// own namespace it runs on the calling thread, which is already there: handing it to the namespace
    /// thread and back woke two threads and moved the call between runtime workers, several context
    /// switches for a few system calls (BENCHMARKS.md).
    pub async fn run_brief<T, F>(&self, context: &str, work: F) -> Result<T, NetnsError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.own {
            Ok(work())
        } else {
            self.run(context, work).await
        }
    }
}
