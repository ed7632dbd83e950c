//! The nsfleet.v1 gRPC API, generated from `proto/nsfleet/v1/*.proto`.
//!
//! The `.proto` files are the product: other services generate their own stubs from them. Changes within
//! `v1` are additive only (new fields, messages, methods); nothing is renamed or renumbered.

pub mod codec;

pub mod v1 {
    #![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]
    tonic::include_proto!("nsfleet.v1");
}

/// Encoded `FileDescriptorSet` of every nsfleet.v1 file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("nsfleet_v1_descriptor");

/// Where the agent listens when not told otherwise, and so where the CLI looks first: a unix socket that
/// only root and the agent's `--socket-group` may open.
pub const DEFAULT_AGENT_SOCKET: &str = "/run/nsfleet/agent.sock";
