//! Helpers of the `kill -9` tests: how far a running change got, read without starting a process, and a
//! client killed when the test lets go of it.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::binaries::binaries;
use crate::sim_host::SimHost;

/// The state `read` returns once no address in it is tentative. Link-local addresses stay tentative until
/// duplicate address detection ends; a before-state read during it would never be seen again.
pub fn settled<T: std::fmt::Debug>(read: impl Fn() -> T) -> T {
    crate::poll_until(
        "the before-state to settle",
        std::time::Duration::from_secs(20),
        || {
            let now = read();
            if format!("{now:?}").contains("tentative") {
                Err("addresses still tentative".to_string())
            } else {
                Ok(now)
            }
        },
    )
}

/// The host's /run/netns, through the holder's root.
pub fn netns_dir(host: &SimHost) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root/run/netns", host.pid()))
}

/// The files under the host's /run/netns, sorted: a mount point left by a killed creation would show
/// here and nowhere in `ip netns list`.
pub fn run_netns(host: &SimHost) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(netns_dir(host))
        .expect("the host's /run/netns")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Names under the host's /run/netns with a namespace mounted on them (a killed creation can leave an
/// empty file, which the next agent removes).
pub fn mounted_namespaces(host: &SimHost) -> Vec<String> {
    let dir = netns_dir(host);
    let tmpfs = std::fs::metadata(&dir)
        .expect("the host's /run/netns")
        .dev();
    run_netns(host)
        .into_iter()
        .filter(|name| std::fs::metadata(dir.join(name)).is_ok_and(|file| file.dev() != tmpfs))
        .collect()
}

/// How far a change got: entries under /run/netns other than `except`, plus host-side links whose name
/// starts with `link_prefix` (`/proc/PID/net/dev` lists the links of that process's namespace).
pub fn objects_made(host: &SimHost, except: &[&str], link_prefix: &str) -> usize {
    let namespaces = std::fs::read_dir(netns_dir(host))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| !except.iter().any(|x| e.file_name() == *x))
                .count()
        })
        .unwrap_or(0);
    namespaces + links_named(host, link_prefix)
}

/// The host's links whose names start with `prefix`, right now, from the kernel's device list: cheap
/// enough to poll every millisecond.
pub fn links_named(host: &SimHost, prefix: &str) -> usize {
    std::fs::read_to_string(format!("/proc/{}/net/dev", host.pid()))
        .map(|dev| {
            dev.lines()
                .filter(|l| l.trim_start().starts_with(prefix))
                .count()
        })
        .unwrap_or(0)
}

pub fn journal_dir(host: &SimHost) -> PathBuf {
    host.dir().join("state").join("journal")
}

/// A CLI process the test may give up on: killed and reaped on drop.
pub struct KilledOnDrop(pub Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `nsfleet -o json ARGS...` with its output discarded.
pub fn start_cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> KilledOnDrop {
    let child = Command::new(&binaries().client)
        .env_remove("NSFLEET_HOSTS")
        .args(["-o", "json"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the CLI");
    KilledOnDrop(child)
}
