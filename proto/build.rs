//! Compiles the nsfleet.v1 protos and writes the encoded file descriptor set that the agent serves through
//! gRPC reflection; and, for programs that only map messages, the same set without source info, and per
//! file a set of that file and its imports, with a function that finds the one a message needs.
//!
//! The .proto files are parsed by protox, in Rust, so building nsfleet needs no system `protoc`: a fresh
//! machine with cargo builds it. tonic-prost-build then generates the same code from the descriptors that
//! protoc would have produced.

use std::fmt::Write as _;
use std::{env, fs, path::Path, path::PathBuf};

use prost::Message;
use prost_types::FileDescriptorSet;

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
    write_sets_per_file(&without_source_info, &out_dir)?;
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

/// Writes, for each file of `set` that declares messages, a set of that file and of every file it
/// imports, directly or not, in `set`'s order (imports before the files that import them, as protox
/// gives them); and `descriptor_sets.rs`, whose `descriptor_set_declaring` maps each top-level message
/// to its file's set.
fn write_sets_per_file(
    set: &FileDescriptorSet,
    out_dir: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut arms = String::new();
    for file in &set.file {
        // A file of enums and services alone declares no message to map.
        if file.message_type.is_empty() {
            continue;
        }
        let mut needed = vec![file.name()];
        let mut next = 0;
        while let Some(name) = needed.get(next).copied() {
            next += 1;
            let declared = set.file.iter().find(|candidate| candidate.name() == name);
            let Some(declared) = declared else {
                return Err(format!("{name} is imported but not in the set").into());
            };
            for import in &declared.dependency {
                if !needed.contains(&import.as_str()) {
                    needed.push(import);
                }
            }
        }
        let closure = FileDescriptorSet {
            file: set
                .file
                .iter()
                .filter(|candidate| needed.contains(&candidate.name()))
                .cloned()
                .collect(),
        };
        let stem = Path::new(file.name())
            .file_stem()
            .and_then(|stem| stem.to_str())
            .ok_or_else(|| format!("{}: no file name", file.name()))?;
        let bin = format!("nsfleet_v1_{stem}_with_imports.bin");
        fs::write(out_dir.join(&bin), closure.encode_to_vec())?;
        let names: Vec<String> = file
            .message_type
            .iter()
            .map(|message| format!("\"{}.{}\"", file.package(), message.name()))
            .collect();
        writeln!(
            arms,
            "        {} => include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{bin}\")),",
            names.join(" | ")
        )?;
    }
    let mut source = String::from(
        "/// The encoded `FileDescriptorSet`, without source info, of the file that declares the top-level\n\
         /// message `full_name` and of the files it imports; `None` for a name no nsfleet.v1 file declares.\n\
         pub fn descriptor_set_declaring(full_name: &str) -> Option<&'static [u8]> {\n",
    );
    source.push_str("    Some(match full_name {\n");
    source.push_str(&arms);
    source.push_str("        _ => return None,\n    })\n}\n");
    fs::write(out_dir.join("descriptor_sets.rs"), source)?;
    Ok(())
}
