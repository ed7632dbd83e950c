//! The simulated host the whole benchmark runs in, made exactly as the lab makes one: a new network
//! namespace and a new mount namespace with a private tmpfs on /run (so /run/netns is its own), entered
//! by this process itself before anything else happens. Everything started afterwards (`ip`, the agent,
//! the CLI) inherits it. When this process and its children are gone, the kernel frees every namespace,
//! link and mount made inside: nothing can be left in the machine's own namespace, even after a crash.

use std::fs;
use std::os::unix::fs::MetadataExt;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::error::{BenchError, Result};

/// Moves this process into a fresh simulated host. Must run before any thread is started: the kernel
/// refuses a new mount namespace to a process whose threads share its filesystem context.
pub fn enter() -> Result<()> {
    let before = namespace_inode()?;
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)
        .map_err(|e| BenchError::io("unshare network and mount namespaces (run as root)", e))?;
    if namespace_inode()? == before {
        return Err(BenchError::Check(
            "still in the original network namespace after unshare; refusing to go on".into(),
        ));
    }
    // Private first, so neither the tmpfs nor the namespace bind mounts propagate back to the machine.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| BenchError::io("make / a private mount", e))?;
    mount(
        Some("tmpfs"),
        "/run",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .map_err(|e| BenchError::io("mount a private tmpfs on /run", e))?;
    fs::create_dir("/run/netns").map_err(|e| BenchError::io("create /run/netns", e))?;
    Ok(())
}

fn namespace_inode() -> Result<u64> {
    fs::metadata("/proc/self/ns/net")
        .map(|m| m.ino())
        .map_err(|e| BenchError::io("stat /proc/self/ns/net", e))
}
