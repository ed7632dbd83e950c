//! For the kernel tests: a fresh, empty network namespace (only `lo`, down) on a thread of its own, so
//! that what a test does with netlink and sockets never reaches the machine's own namespace.

use nix::sched::CloneFlags;

/// Runs `test` on a new thread that first unshares its network namespace; the namespace dies with it.
pub(crate) fn in_fresh_namespace<T: Send + 'static>(
    test: impl FnOnce() -> T + Send + 'static,
) -> T {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the kernel tests need root (CAP_SYS_ADMIN to unshare a network namespace, CAP_NET_RAW for the \
         ping tests' raw sockets): run them as root, e.g. `sudo -E cargo test -p nsfleet-agent kernel`"
    );
    let thread = std::thread::spawn(move || {
        nix::sched::unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        test()
    });
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
