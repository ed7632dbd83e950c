//! Compiles the nsfleet.v1 protos and writes the encoded file descriptor set that the agent serves through
//! gRPC reflection, and the same set without source info for programs that only map messages.
//!
//! The .proto files are parsed by protox, in Rust, so building nsfleet needs no system `protoc`: a fresh
//! machine with cargo builds it. tonic-prost-build then generates the same code from the descriptors that
//! protoc would have produced.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "nsfleet/v1/common.proto",
    "nsfleet/v1/namespace.proto",
    "nsfleet/v1/link.proto",
    "nsfleet/v1/address.proto",
    "nsfleet/v1/route.proto",
    "nsfleet/v1/nat.proto",
    "nsfleet/v1/forwarding.proto",
    "nsfleet/v1/neighbor.proto",
    "nsfleet/v1/diagnostics.proto",
    "nsfleet/v1/batch.proto",
    "nsfleet/v1/topology.proto",
    "nsfleet/v1/watch.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // Source info keeps the .proto comments: they become the generated code's docs and reach reflection
    // clients, as with `protoc --include_source_info`.
    let descriptors = protox::Compiler::new(["."])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(PROTOS)?
        .file_descriptor_set();
    fs::write(
        out_dir.join("nsfleet_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    let mut without_source_info = descriptors.clone();
    for file in &mut without_source_info.file {
        file.source_code_info = None;
    }
    fs::write(
        out_dir.join("nsfleet_v1_descriptor_without_source_info.bin"),
        without_source_info.encode_to_vec(),
    )?;
    // compile_protos adds this attribute itself; compile_fds does not. Kept so the generated code is
    // exactly what the protoc path produced.
    tonic_prost_build::configure()
        .type_attribute(".", "#[allow(clippy::all)]")
        // Malformed requests are INVALID_ARGUMENT, not tonic-prost's INTERNAL (see src/codec.rs).
        .codec_path("crate::codec::ProtoCodec")
        .compile_fds(descriptors)?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
