//! Kernel operations, one module per kind of object. Nothing here knows gRPC or the proto.
pub mod ping;
