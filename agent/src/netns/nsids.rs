//! Which nsid one namespace gives another, as learnt while naming veth peers.
//!
//! The kernel names a peer in another namespace only by an nsid private to the asking namespace; finding
//! the namespace behind it means asking, namespace by namespace. Remembering the answers makes that a
//! single confirming question the next time, instead of a walk over every namespace on each call (a
//! `link add` answer names its peer, so one call per veth made the walk O(n) per call). An nsid is
//! stable while both namespaces live, and a remembered one is always confirmed before it is used.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::domain::NamespaceName;

#[derive(Default)]
pub struct NsidMemo {
    inner: Mutex<Memo>,
}

#[derive(Default)]
struct Memo {
    /// (inode of the asking namespace, nsid) -> the namespace it names.
    named: HashMap<(u64, i32), NamespaceName>,
    /// (asking inode, target inode) pairs whose nsid is in `named`.
    known: HashSet<(u64, u64)>,
}

impl NsidMemo {
    fn lock(&self) -> MutexGuard<'_, Memo> {
        // Plain maps: a panicking holder cannot leave them half-updated in a harmful way.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The namespace `nsid` named for `from` when last asked, to be confirmed by the caller.
    pub fn guess(&self, from: u64, nsid: i32) -> Option<NamespaceName> {
        self.lock().named.get(&(from, nsid)).cloned()
    }

    /// Whether the nsid `from` gives the namespace with inode `target` is already remembered.
    pub fn knows(&self, from: u64, target: u64) -> bool {
        self.lock().known.contains(&(from, target))
    }

    pub fn learn(&self, from: u64, nsid: i32, target: &NamespaceName, target_inode: u64) {
        let mut memo = self.lock();
        memo.named.insert((from, nsid), target.clone());
        memo.known.insert((from, target_inode));
    }

    pub fn forget(&self, from: u64, nsid: i32) {
        self.lock().named.remove(&(from, nsid));
    }
}
