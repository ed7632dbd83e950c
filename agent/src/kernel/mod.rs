//! Kernel operations, one module per kind of object: each function is one netlink request (or dump) with
//! context on failure, and no policy. Nothing here knows gRPC or the proto.

mod error;
pub mod link;

pub use error::KernelError;
