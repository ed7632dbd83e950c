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

/// [`FILE_DESCRIPTOR_SET`] without source info (the .proto comments, three quarters of its bytes): all a
/// program that maps messages by their descriptors needs, and decoded in a fraction of the time.
pub const FILE_DESCRIPTOR_SET_WITHOUT_SOURCE_INFO: &[u8] =
    tonic::include_file_descriptor_set!("nsfleet_v1_descriptor_without_source_info");

// `descriptor_set_declaring`: a pool for one message need not index every nsfleet.v1 file.
include!(concat!(env!("OUT_DIR"), "/descriptor_sets.rs"));

/// Where the agent listens when not told otherwise, and so where the CLI looks first: a unix socket that
/// only root and the agent's `--socket-group` may open.
pub const DEFAULT_AGENT_SOCKET: &str = "/run/nsfleet/agent.sock";

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::FileDescriptorSet;

    use super::*;

    /// The set without source info is the served set with nothing else left out.
    #[test]
    fn the_set_without_source_info_differs_only_in_source_info() {
        let mut served = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let lean = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET_WITHOUT_SOURCE_INFO).unwrap();
        assert!(served
            .file
            .iter()
            .all(|file| file.source_code_info.is_some()));
        for file in &mut served.file {
            file.source_code_info = None;
        }
        assert_eq!(served, lean);
    }
}
