//! The libnftables context each thread keeps between calls (`nat/libnftables.rs`): it must never act in
//! a namespace the thread has left, never answer from a cache the kernel moved past, and never outlive a
//! batch the kernel refused.

use nix::sched::{unshare, CloneFlags};

use super::netns::{nft_rules_of_nsfleet_table, sh, NetnsThread};
use crate::nat::libnftables::kept_context_namespace;
use crate::nat::{IpPrefix, NatBackend, NatError, NatRuleSpec, NftBackend};

fn masquerade() -> NatRuleSpec {
    NatRuleSpec::Masquerade {
        source: IpPrefix::new("172.20.0.0".parse().unwrap(), 16),
        output_interface: None,
    }
}

fn this_threads_namespace() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino()
}

#[test]
fn nat_a_thread_that_moved_to_another_namespace_acts_there() {
    let namespace = NetnsThread::new();
    namespace.run(|| {
        let backend = NftBackend::new();
        assert!(backend.list().unwrap().is_empty());
        let first = this_threads_namespace();
        assert_eq!(kept_context_namespace(), Some(first));

        unshare(CloneFlags::CLONE_NEWNET).unwrap();
        assert_ne!(this_threads_namespace(), first);
        assert!(backend.add(&masquerade(), "").unwrap().changed);
        // The oracle is a child process, so it lists the namespace the thread is in now.
        let rules =
            nft_rules_of_nsfleet_table().expect("the rule is in the thread's new namespace");
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert_eq!(kept_context_namespace(), Some(this_threads_namespace()));
    });
}

#[test]
fn nat_a_kept_context_sees_what_changed_outside_the_agent() {
    let namespace = NetnsThread::new();
    namespace.run(|| {
        let backend = NftBackend::new();
        let spec = masquerade();
        assert!(backend.add(&spec, "").unwrap().changed);
        assert_eq!(backend.list().unwrap().len(), 1);
        assert!(kept_context_namespace().is_some());

        // Removed behind the agent's back: the next add must find it gone, not remember it.
        sh("nft flush chain inet nsfleet postrouting");
        assert!(backend.list().unwrap().is_empty());
        assert!(backend.add(&spec, "").unwrap().changed);
        assert_eq!(nft_rules_of_nsfleet_table().unwrap().len(), 1);

        // And the whole table: the add makes it again in one transaction.
        sh("nft delete table inet nsfleet");
        assert!(backend.add(&spec, "").unwrap().changed);
        assert_eq!(nft_rules_of_nsfleet_table().unwrap().len(), 1);
    });
}

#[test]
fn nat_a_refused_batch_frees_the_context_and_a_missing_table_keeps_it() {
    let namespace = NetnsThread::new();
    namespace.run(|| {
        let backend = NftBackend::new();
        assert!(backend.list().unwrap().is_empty(), "no table yet");
        assert!(
            kept_context_namespace().is_some(),
            "a listing that found no table keeps its context"
        );

        // A filter chain where nsfleet's NAT chain belongs: the kernel refuses the masquerade.
        sh("nft add table inet nsfleet
            nft add chain inet nsfleet postrouting '{ type filter hook postrouting priority 0; }'");
        match backend.add(&masquerade(), "") {
            Err(NatError::NftFailed { .. }) => {}
            other => panic!("expected the kernel to refuse the rule, got {other:?}"),
        }
        assert_eq!(
            kept_context_namespace(),
            None,
            "a refused batch's context is freed"
        );

        sh("nft delete table inet nsfleet");
        assert!(backend.add(&masquerade(), "").unwrap().changed);
        assert_eq!(nft_rules_of_nsfleet_table().unwrap().len(), 1);
    });
}
