//! Named network namespaces and the execution model for acting inside them.
//!
//! A netlink socket belongs to the namespace it was created in, and `setns` changes the namespace of the
//! calling thread only. So every namespace gets one netlink socket, created on a throwaway OS thread that
//! joined the namespace; the socket is then driven from async code on any tokio worker. Blocking work
//! inside a namespace (sysctls, sockets, nftables) goes to a thread the handle keeps there (`worker.rs`).
//! No tokio worker or blocking-pool thread ever calls `setns`, and the agent never forks.

mod cookie;
mod error;
mod handle;
mod mount_ns;
mod mount_point;
mod nsids;
mod registry;
mod thread;
mod worker;

pub use error::NetnsError;
pub use handle::NamespaceHandle;
pub use mount_ns::MountNamespace;
pub use nsids::NsidMemo;
pub use registry::{NamespaceInfo, NamespaceRegistry, NETNS_DIR};
pub use thread::run_in_namespace;
