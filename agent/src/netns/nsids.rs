//! Which nsid one namespace gives another, as learnt while naming veth peers.
//!
//! The kernel names a peer in another namespace only by an nsid private to the asking namespace; finding
//! the namespace behind it means asking, namespace by namespace. Remembering the answers makes that a
//! single confirming question the next time, instead of a walk over every namespace on each call (a
//! `link add` answer names its peer, so one call per veth made the walk O(n) per call). An nsid is
//! stable while both namespaces live, and a remembered one is always confirmed before it is used.
//!
//! Namespaces are keyed by cookie, not inode: the memo outlives the namespaces it describes, and the
//! kernel gives a destroyed namespace's inode number to the next one created. Keyed by inode, a new
//! namespace inherited the old one's entries, was taken for one whose nsid was known, and was never asked:
//! its veth peers showed as unknown and an identical create was refused as a conflict.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::domain::NamespaceName;

#[derive(Default)]
pub struct NsidMemo {
    inner: Mutex<Memo>,
}

#[derive(Default)]
struct Memo {
    /// (cookie of the asking namespace, nsid) -> the namespace it named.
    named: HashMap<(u64, i32), NamespaceName>,
    /// (asking cookie, target cookie) pairs whose nsid is in `named`.
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

    /// Whether the nsid `from` gives the namespace with cookie `target` is already remembered.
    pub fn knows(&self, from: u64, target: u64) -> bool {
        self.lock().known.contains(&(from, target))
    }

    /// Remembers that `from` gives `target` the id `nsid`. Without the target's cookie only the guess is
    /// kept: the target is then asked again by the next walk, never skipped on a mistaken identity.
    pub fn learn(&self, from: u64, nsid: i32, target: &NamespaceName, target_cookie: Option<u64>) {
        let mut memo = self.lock();
        memo.named.insert((from, nsid), target.clone());
        if let Some(target_cookie) = target_cookie {
            memo.known.insert((from, target_cookie));
        }
    }

    pub fn forget(&self, from: u64, nsid: i32) {
        self.lock().named.remove(&(from, nsid));
    }

    /// Forgets everything learnt from or about namespaces whose cookie is not in `live`. Cookies are never
    /// reused, so such entries could not mislead; this only keeps the memo from growing without end.
    pub fn retain_only(&self, live: &HashSet<u64>) {
        let mut memo = self.lock();
        memo.named.retain(|(from, _), _| live.contains(from));
        memo.known
            .retain(|(from, target)| live.contains(from) && live.contains(target));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> NamespaceName {
        NamespaceName::parse("name", text).expect("a valid name")
    }

    #[test]
    fn a_namespace_is_known_by_its_cookie_only() {
        let memo = NsidMemo::default();
        memo.learn(1, 0, &name("x"), Some(7));
        assert!(memo.knows(1, 7));
        // Another namespace, even one the kernel gave the same inode number, has another cookie.
        assert!(!memo.knows(1, 8));
        assert!(!memo.knows(2, 7));
    }

    #[test]
    fn without_a_cookie_only_the_guess_is_kept() {
        let memo = NsidMemo::default();
        memo.learn(1, 3, &name("x"), None);
        assert_eq!(memo.guess(1, 3), Some(name("x")));
        assert!(memo.lock().known.is_empty());
    }

    #[test]
    fn entries_of_namespaces_let_go_of_are_dropped() {
        let memo = NsidMemo::default();
        memo.learn(1, 0, &name("x"), Some(7));
        memo.learn(1, 1, &name("y"), Some(8));
        memo.learn(9, 0, &name("x"), Some(7));
        memo.retain_only(&HashSet::from([1, 7]));
        assert!(memo.knows(1, 7));
        assert!(!memo.knows(1, 8));
        assert_eq!(memo.guess(9, 0), None);
        assert_eq!(memo.guess(1, 0), Some(name("x")));
    }
}
