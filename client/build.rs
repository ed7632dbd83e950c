//! Links the `nsfleet` program statically, as a static PIE: what `-C target-feature=+crt-static` would
//! give it, for this one program.
//!
//! Every `nsfleet` invocation is a process start, and the dynamic loader was a part of it that the
//! program does not need: mapping libc.so, binding its symbols, relocating, 0.15-0.4 ms of a call of
//! 2.5-3.5 ms, depending on how the binary sits in the page cache (BENCHMARKS.md, "One invocation per
//! command"). Cargo cannot set `crt-static` for
//! one binary, and setting it for the build would make the agent static too (it loads libnftables with
//! `dlopen`) and breaks proc-macros. So the link line rustc gives the program is steered instead:
//!
//! - `-static-pie` makes the compiler driver link with `rcrt1.o`, `-static`, and no interpreter; the
//!   program relocates itself, so its addresses are still randomized;
//! - rustc still asks for `-lc -lm -lgcc_s ...` after `-Bdynamic`, and a linker takes the first
//!   directory on its search path that has either `libNAME.so` or `libNAME.a`. A directory of our own,
//!   searched first, holds only links to the static archives (libgcc_s's stand-in is libgcc_eh.a, the
//!   unwinder), so every one of them resolves to an archive and nothing is loaded at run time.
//!
//! The C compiler's own archives are used, so the program's glibc is the build machine's (libc6-dev,
//! which `build-essential` installs). Names in `--host` still resolve through glibc: `files` and `dns`
//! are built into it, other NSS modules are loaded from the running machine and need the same glibc.
//! Where the archives are missing, or in a cross build, the program is linked dynamically, with the
//! unwinder still linked in (libgcc_s.so was 0.12 ms), and the build says so; `NSFLEET_CLIENT_DYNAMIC=1`
//! asks for that link.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Set to `1`, the program is linked dynamically.
const DYNAMIC_REQUEST: &str = "NSFLEET_CLIENT_DYNAMIC";

/// The libraries rustc names on a linux-gnu link line, and the archive that stands in for each. A
/// native library that a dependency adds later and that is missing here fails the link ("attempted
/// static link of dynamic object"): its archive belongs in this list.
const STATIC_STAND_INS: &[(&str, &str)] = &[
    ("c", "libc.a"),
    ("m", "libm.a"),
    ("pthread", "libpthread.a"),
    ("dl", "libdl.a"),
    ("rt", "librt.a"),
    ("util", "libutil.a"),
    ("gcc_s", "libgcc_eh.a"),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    // A build that is static already (`crt-static`) needs none of this, and other targets link otherwise.
    let static_build = features.split(',').any(|feature| feature == "crt-static");
    if target_os != "linux" || target_env != "gnu" || static_build {
        return;
    }
    // A distribution that wants glibc shared, so that its security updates reach the program, asks
    // for it; the program then loads libc.so and libm.so.
    println!("cargo:rerun-if-env-changed={DYNAMIC_REQUEST}");
    let archives = if std::env::var_os(DYNAMIC_REQUEST).is_some_and(|value| value == "1") {
        Err(None)
    } else {
        let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
        let directory = out_dir.join("static-archives");
        link_static_archives(&directory)
            .map(|()| directory)
            .map_err(Some)
    };
    match archives {
        Ok(directory) => {
            println!("cargo:rustc-link-arg-bin=nsfleet=-static-pie");
            println!("cargo:rustc-link-arg-bin=nsfleet=-L{}", directory.display());
            // libc.a needs libgcc's soft floating point and libgcc_eh's personality routine, and
            // rustc names libc last (with `-nodefaultlibs`, so the driver adds nothing). lld finds
            // symbols in any order; GNU ld, the linker before Rust 1.90 and on request after, reads
            // archives once, left to right, so the three come again, together, after everything.
            for argument in [
                "-Wl,--start-group",
                "-lc",
                "-lgcc",
                "-lgcc_eh",
                "-Wl,--end-group",
            ] {
                println!("cargo:rustc-link-arg-bin=nsfleet={argument}");
            }
        }
        Err(reason) => {
            if let Some(reason) = reason {
                println!("cargo:warning=nsfleet is linked dynamically: {reason}");
            }
            // A native library named by this package comes before std's `-lgcc_s`, so the panics'
            // `_Unwind_*` resolve in the archive and `--as-needed` leaves libgcc_s.so out.
            println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
        }
    }
}

/// Makes `directory` hold a link to each stand-in archive under the name rustc asks for.
fn link_static_archives(directory: &Path) -> Result<(), String> {
    // The compiler's archives are the host's: a cross build would link the wrong ones.
    if std::env::var("HOST").ok() != std::env::var("TARGET").ok() {
        return Err("a cross build".to_owned());
    }
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    // `-static-pie` starts the program from glibc's rcrt1.o (glibc 2.27 and later).
    compiler_file(&compiler, "rcrt1.o")?;
    std::fs::create_dir_all(directory)
        .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    for (name, archive) in STATIC_STAND_INS {
        let found = compiler_file(&compiler, archive)?;
        let link = directory.join(format!("lib{name}.a"));
        match std::fs::remove_file(&link) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(format!("cannot replace {}: {error}", link.display())),
        }
        std::os::unix::fs::symlink(&found, &link)
            .map_err(|error| format!("cannot link {}: {error}", link.display()))?;
    }
    Ok(())
}

/// Where the C compiler (`CC`, which may carry arguments: `ccache gcc`) finds `file`; it prints the bare
/// name back when it has none.
fn compiler_file(compiler: &str, file: &str) -> Result<PathBuf, String> {
    let mut words = compiler.split_whitespace();
    let program = words.next().unwrap_or("cc");
    let output = Command::new(program)
        .args(words)
        .arg(format!("-print-file-name={file}"))
        .output()
        .map_err(|error| format!("cannot run {compiler}: {error}"))?;
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let path = PathBuf::from(&printed);
    if output.status.success() && path.is_absolute() && path.exists() {
        Ok(path)
    } else {
        Err(format!("{compiler} has no {file}"))
    }
}
