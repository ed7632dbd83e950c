//! Naming the far end of a veth. The kernel reports a peer in another namespace only as (ifindex, nsid),
//! where the nsid is private to the namespace that was asked; turning that into a namespace name means
//! asking that namespace which nsid it gives each named namespace.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use crate::domain::NamespaceRef;
use crate::kernel::link::{self, Link, PeerRef};
use crate::kernel::KernelError;
use crate::netns::{NamespaceHandle, NamespaceRegistry, NETNS_DIR};

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
    candidates: Option<Vec<NamespaceRef>>,
}

impl<'a> PeerResolver<'a> {
    pub fn new(registry: &'a NamespaceRegistry, from: &'a NamespaceHandle) -> Self {
        Self { registry, from, known: HashMap::new(), host_tried: false, candidates: None }
    }

    /// `same_namespace` holds the links of `from`, for peers that did not leave it.
    pub async fn resolve(&mut self, peer: PeerRef, same_namespace: &[Link]) -> PeerView {
        let Some(nsid) = peer.netnsid else {
            let name = same_namespace.iter().find(|l| l.index == peer.index).map(|l| l.name.clone());
            return PeerView { index: peer.index, name, namespace: Some(self.from.namespace().clone()) };
        };
        let namespace = self.namespace_of(nsid).await;
        let mut name = None;
        if let Some(namespace) = &namespace {
            if let Ok(handle) = self.registry.handle(namespace).await {
                name = link::get_by_index(handle.route(), peer.index).await.ok().flatten().map(|l| l.name);
            }
        }
        PeerView { index: peer.index, name, namespace }
    }

    async fn namespace_of(&mut self, nsid: i32) -> Option<NamespaceRef> {
        if let Some(found) = self.known.get(&nsid) {
            return Some(found.clone());
        }
        // The host first, before listing every named namespace: most peers live there, and listing all of
        // them for each namespace made listing every namespace's links cost O(n^2).
        if !self.host_tried && *self.from.namespace() != NamespaceRef::Host {
            self.host_tried = true;
            if self.remember(NamespaceRef::Host, link::nsid_of(self.from.route(), self.registry.host().fd()).await) == Some(nsid) {
                return Some(NamespaceRef::Host);
            }
        }
        if self.candidates.is_none() {
            self.candidates = Some(named_candidates(self.registry, self.from));
        }
        // Walk the candidates only as far as needed; each answer is remembered for the next peer.
        while let Some(candidate) = self.candidates.as_mut().and_then(Vec::pop) {
            let NamespaceRef::Named(name) = &candidate else { continue };
            let Ok(file) = File::open(Path::new(NETNS_DIR).join(name.as_str())) else { continue };
            let id = link::nsid_of(self.from.route(), file.as_fd()).await;
            if self.remember(candidate.clone(), id) == Some(nsid) {
                return Some(candidate);
            }
        }
        None
    }

    fn remember(&mut self, namespace: NamespaceRef, id: Result<Option<i32>, KernelError>) -> Option<i32> {
        let id = id.ok().flatten()?;
        self.known.insert(id, namespace);
        Some(id)
    }
}

/// Every named namespace but `from`, in reverse order so that `pop` walks them by name.
fn named_candidates(registry: &NamespaceRegistry, from: &NamespaceHandle) -> Vec<NamespaceRef> {
    let mut candidates: Vec<NamespaceRef> = registry
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|info| info.inode != from.inode())
        .map(|info| NamespaceRef::Named(info.name))
        .collect();
    candidates.reverse();
    candidates
}
