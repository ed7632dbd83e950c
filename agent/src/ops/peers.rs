//! Naming the far end of a veth. The kernel reports a peer in another namespace only as (ifindex, nsid),
//! where the nsid is private to the namespace that was asked; turning that into a namespace name means
//! asking that namespace which nsid it gives each named namespace.

use std::collections::HashMap;
use std::os::fd::AsFd;

use crate::domain::{NamespaceName, NamespaceRef};
use crate::kernel::link::{self, Link, PeerRef};
use crate::netns::{NamespaceHandle, NamespaceInfo, NamespaceRegistry};

/// A veth peer with names where they could be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerView {
    pub index: u32,
    pub name: Option<String>,
    /// `None` when the peer's namespace has no name the agent can see.
    pub namespace: Option<NamespaceRef>,
}

/// Resolves peers of links listed from one namespace, asking the kernel for each nsid at most once.
pub struct PeerResolver<'a> {
    registry: &'a NamespaceRegistry,
    from: &'a NamespaceHandle,
    known: HashMap<i32, NamespaceRef>,
    host_tried: bool,
    candidates: Option<Vec<NamespaceInfo>>,
}

impl<'a> PeerResolver<'a> {
    pub fn new(registry: &'a NamespaceRegistry, from: &'a NamespaceHandle) -> Self {
        Self {
            registry,
            from,
            known: HashMap::new(),
            host_tried: false,
            candidates: None,
        }
    }

    /// `same_namespace` holds the links of `from`, for peers that did not leave it.
    pub async fn resolve(&mut self, peer: PeerRef, same_namespace: &[Link]) -> PeerView {
        let Some(nsid) = peer.netnsid else {
            let name = same_namespace
                .iter()
                .find(|l| l.index == peer.index)
                .map(|l| l.name.clone());
            return PeerView {
                index: peer.index,
                name,
                namespace: Some(self.from.namespace().clone()),
            };
        };
        let namespace = self.namespace_of(nsid);
        let mut name = None;
        if let Some(namespace) = &namespace {
            if let Ok(handle) = self.registry.handle(namespace).await {
                name = link::get_by_index(handle.route(), peer.index)
                    .ok()
                    .flatten()
                    .map(|l| l.name);
            }
        }
        PeerView {
            index: peer.index,
            name,
            namespace,
        }
    }

    fn namespace_of(&mut self, nsid: i32) -> Option<NamespaceRef> {
        if let Some(found) = self.known.get(&nsid) {
            return Some(found.clone());
        }
        let from = self.from.cookie();
        let memo = self.registry.nsids();
        // Remembered from an earlier call: one question confirms it.
        if let Some(name) = memo.guess(from, nsid) {
            if self.ask(&name) == Some(nsid) {
                let found = NamespaceRef::Named(name);
                self.known.insert(nsid, found.clone());
                return Some(found);
            }
            memo.forget(from, nsid);
        }
        // The host next, before listing every named namespace: most peers live there, and listing all of
        // them for each namespace made listing every namespace's links cost O(n^2).
        if !self.host_tried && *self.from.namespace() != NamespaceRef::Host {
            self.host_tried = true;
            if let Ok(Some(id)) = link::nsid_of(self.from.route(), self.registry.host().fd()) {
                self.known.insert(id, NamespaceRef::Host);
                if id == nsid {
                    return Some(NamespaceRef::Host);
                }
            }
        }
        if self.candidates.is_none() {
            self.candidates = Some(named_candidates(self.registry, self.from));
        }
        // Walk the namespaces whose nsid is not known yet, only as far as needed; answers are remembered.
        // A namespace is skipped only when known by its cookie: its inode number may be a deleted one's.
        while let Some(candidate) = self.candidates.as_mut().and_then(Vec::pop) {
            let cookie = self.registry.cached_cookie(&candidate);
            if cookie.is_some_and(|cookie| memo.knows(from, cookie)) {
                continue;
            }
            let Some(id) = self.ask(&candidate.name) else {
                continue;
            };
            memo.learn(from, id, &candidate.name, cookie);
            let found = NamespaceRef::Named(candidate.name);
            self.known.insert(id, found.clone());
            if id == nsid {
                return Some(found);
            }
        }
        None
    }

    /// The nsid `from` gives the named namespace, if it has one.
    fn ask(&self, name: &NamespaceName) -> Option<i32> {
        let file = self.registry.open_file(name).ok()?;
        link::nsid_of(self.from.route(), file.as_fd())
            .ok()
            .flatten()
    }
}

/// Every named namespace but `from`, in reverse order so that `pop` walks them by name.
fn named_candidates(registry: &NamespaceRegistry, from: &NamespaceHandle) -> Vec<NamespaceInfo> {
    let mut candidates: Vec<NamespaceInfo> = registry
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|info| info.inode != from.inode())
        .collect();
    candidates.reverse();
    candidates
}
