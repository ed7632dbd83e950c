use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The two binaries under test, taken from the cargo target directory the test executable was built in.
#[derive(Debug)]
pub struct Binaries {
    pub agent: PathBuf,
    pub client: PathBuf,
}

/// Finds `nsfleet-agent` and `nsfleet`; panics with the command to run if they are not built. Cargo does
/// not build a workspace's other binaries for an integration test of this crate, hence the explicit build.
pub fn binaries() -> &'static Binaries {
    static FOUND: OnceLock<Binaries> = OnceLock::new();
    FOUND.get_or_init(|| {
        let dir = profile_dir();
        Binaries {
            agent: require_binary(&dir, "nsfleet-agent"),
            client: require_binary(&dir, "nsfleet"),
        }
    })
}

/// target/<profile>/: test executables live in target/<profile>/deps/.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let mut dir = exe
        .parent()
        .expect("the test executable's directory")
        .to_path_buf();
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.pop();
    }
    dir
}

fn require_binary(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    if !path.is_file() {
        panic!(
            "{} not found: the lab runs the real binaries, build them first with \
             `cargo build --workspace` (then `cargo test --workspace`)",
            path.display()
        );
    }
    path
}
