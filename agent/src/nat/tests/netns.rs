//! Throwaway network namespaces for kernel tests: each [`NetnsThread`] is an OS thread that unshared its
//! network namespace and runs closures sent to it, so everything the closure does (nft, netlink sockets,
//! UDP sockets, `ip`) happens there. The namespace dies with the thread; the root namespace is never
//! entered.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::process::Command;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{unshare, CloneFlags};

type Job = Box<dyn FnOnce() + Send>;

pub(super) struct NetnsThread {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Kernel thread id: `ip link ... netns <tid>` moves a link into this namespace.
    pub tid: i32,
}

impl NetnsThread {
    pub fn new() -> Self {
        require_root();
        let (jobs, job_queue) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let entered =
                unshare(CloneFlags::CLONE_NEWNET).map(|()| nix::unistd::gettid().as_raw());
            let failed = entered.is_err();
            ready.send(entered).unwrap();
            if failed {
                return;
            }
            for job in job_queue {
                job();
            }
        });
        let tid = started
            .recv()
            .unwrap()
            .unwrap_or_else(|e| panic!("unshare(CLONE_NEWNET) failed: {e}"));
        let namespace = Self {
            jobs: Some(jobs),
            thread: Some(thread),
            tid,
        };
        let (inside, root) = namespace.run(|| {
            let link = |path| std::fs::read_link(path).unwrap();
            (link("/proc/thread-self/ns/net"), link("/proc/self/ns/net"))
        });
        assert_ne!(
            inside, root,
            "the test thread must not be in the namespace the tests started in"
        );
        namespace
    }

    /// Runs `job` inside the namespace and returns its result; a panic in `job` fails the caller.
    pub fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, result) = mpsc::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(catch_unwind(AssertUnwindSafe(job)));
        });
        self.jobs.as_ref().unwrap().send(job).unwrap();
        match result.recv().unwrap() {
            Ok(value) => value,
            Err(panic) => resume_unwind(panic),
        }
    }
}

impl Drop for NetnsThread {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub(super) fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the NAT kernel tests need root (they unshare network namespaces and run nft, iptables and \
         conntrack inside them); run them as root: sudo -E cargo test -p nsfleet-agent nat"
    );
}

/// Runs a shell command in the calling thread's namespace (call it inside [`NetnsThread::run`]);
/// returns stdout, panics with stderr on failure.
pub(super) fn sh(script: &str) -> String {
    let output = Command::new("sh").args(["-ec", script]).output().unwrap();
    assert!(
        output.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The rules of table inet nsfleet as nft itself lists them, or None without the table: an oracle that
/// shares no code with the backend.
pub(super) fn nft_rules_of_nsfleet_table() -> Option<Vec<serde_json::Value>> {
    let output = Command::new("nft")
        .args(["-j", "list", "table", "inet", "nsfleet"])
        .output()
        .unwrap();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("No such file or directory"),
            "nft list failed: {stderr}"
        );
        return None;
    }
    let listing: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    Some(
        listing["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|object| object.get("rule").cloned())
            .collect(),
    )
}

/// The original-direction destination ports of the UDP conntrack entries of `family` ("ipv4"/"ipv6"),
/// read with the conntrack tool.
pub(super) fn conntrack_udp_dports(family: &str) -> Vec<u16> {
    let output = Command::new("conntrack")
        .args(["-L", "-f", family, "-p", "udp"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "conntrack -L: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let dport = line
                .split_whitespace()
                .find_map(|field| field.strip_prefix("dport="))?;
            dport.parse().ok()
        })
        .collect()
}

pub(super) fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
