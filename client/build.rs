//! Links the unwinder into the client, as gcc's `-static-libgcc` does for a C program.
//!
//! Every `nsfleet` invocation is a process start, and each shared library costs it the library's
//! mapping, relocation and page faults: libgcc_s.so was 0.12 ms of a call of about 3.5 ms
//! (BENCHMARKS.md, "One invocation per command"), for the dozen `_Unwind_*` functions that panics use.
//! A native library named by this package comes before std's `-lgcc_s` on the link line, so those
//! symbols resolve in libgcc_eh.a (part of every gcc installation) and `--as-needed` leaves the shared
//! library out.

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    // A static build (`crt-static`) links libgcc_eh already, and other targets have other unwinders.
    let static_build = features.split(',').any(|feature| feature == "crt-static");
    if target_os == "linux" && target_env == "gnu" && !static_build {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
