//! Kernel operations, one module per kind of object: each function is one netlink request (or dump) with
//! context on failure, and no policy. Nothing here knows gRPC or the proto.

pub mod address;
mod error;
#[cfg(test)]
pub(crate) mod fresh_namespace;
pub mod link;
pub mod monitor;
pub mod neighbor;
pub mod ping;
mod request;
pub mod route;
mod socket;
pub mod sysctl;
pub mod tcp_connect;
pub mod vxlan;

pub use error::KernelError;
pub use socket::RouteSocket;
