/// Panics unless the tests run as root: every lab test makes namespaces and mounts, and a test that
/// silently skips would pass without checking anything.
pub fn require_root() {
    if !nix::unistd::Uid::effective().is_root() {
        panic!(
            "the nsfleet lab tests must run as root: each simulated host is a network and mount \
             namespace with a real nsfleet-agent inside (run e.g. `sudo -E cargo test --workspace`)"
        );
    }
}
