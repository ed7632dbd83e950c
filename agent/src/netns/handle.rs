use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use netlink_sys::{protocols::NETLINK_ROUTE, AsyncSocket, TokioSocket};

use super::{run_in_namespace, NetnsError};
use crate::domain::NamespaceRef;

/// An open network namespace: a file descriptor that keeps it alive and identifies it, plus a route
/// netlink socket created inside it.
pub struct NamespaceHandle {
    namespace: NamespaceRef,
    fd: Arc<OwnedFd>,
    inode: u64,
    route: rtnetlink::Handle,
}

impl NamespaceHandle {
    /// Opens the route netlink socket inside the namespace behind `fd`.
    pub async fn open(namespace: NamespaceRef, fd: OwnedFd, inode: u64) -> Result<Self, NetnsError> {
        let fd = Arc::new(fd);
        let runtime = tokio::runtime::Handle::current();
        let context = format!("open netlink socket in {namespace}");
        let socket = run_in_namespace(fd.clone(), &context, move || {
            // Registering with the reactor needs a runtime context, not a runtime thread: the socket is
            // created here, in the namespace, and polled from the workers afterwards.
            let _runtime = runtime.enter();
            let mut socket = TokioSocket::new(NETLINK_ROUTE)?;
            // Extended acks make the kernel say why it refused a request, not only the errno.
            socket.socket_mut().set_ext_ack(true)?;
            // Capped acks echo only the header of a failed request, so the reason is easy to find.
            socket.socket_mut().set_cap_ack(true)?;
            Ok::<_, std::io::Error>(socket)
        })
        .await?
        .map_err(|e| NetnsError::io(context, e))?;
        let (connection, route, _unsolicited) = rtnetlink::from_socket(socket);
        // The connection task ends by itself once every clone of `route` is dropped.
        tokio::spawn(connection);
        Ok(Self { namespace, fd, inode, route })
    }

    pub fn namespace(&self) -> &NamespaceRef {
        &self.namespace
    }

    /// Inode of the namespace: equal inodes mean the same namespace.
    pub fn inode(&self) -> u64 {
        self.inode
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A cheap clone of the route netlink handle bound to this namespace.
    pub fn route(&self) -> rtnetlink::Handle {
        self.route.clone()
    }

    /// Runs blocking `work` on a thread inside this namespace (sysctls, raw sockets, `nft`).
    pub async fn run<T, F>(&self, context: &str, work: F) -> Result<T, NetnsError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        run_in_namespace(self.fd.clone(), context, work).await
    }
}
