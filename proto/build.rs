//! Compiles the nsfleet.v1 protos with tonic-prost-build and writes the encoded file descriptor set that
//! the agent serves through gRPC reflection.

use std::{env, path::PathBuf};

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
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("nsfleet_v1_descriptor.bin"))
        .compile_protos(PROTOS, &["."])?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
