//! Naming the far end of a veth. The kernel reports a peer in another namespace only as (ifindex, nsid),
//! where the nsid is private to the namespace that was asked; turning that into a namespace name means
//! asking that namespace which nsid it gives each named namespace.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use crate::domain::NamespaceRef;
use crate::kernel::link::{self, Link, PeerRef};
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
    candidates: Option<Vec<NamespaceRef>>,
}

impl<'a> PeerResolver<'a> {
    pub fn new(registry: &'a NamespaceRegistry, from: &'a NamespaceHandle) -> Self {
        Self { registry, from, known: HashMap::new(), candidates: None }
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
                name = link::get_by_index(&handle.route(), peer.index).await.ok().flatten().map(|l| l.name);
            }
        }
        PeerView { index: peer.index, name, namespace }
    }

    async fn namespace_of(&mut self, nsid: i32) -> Option<NamespaceRef> {
        if let Some(found) = self.known.get(&nsid) {
            return Some(found.clone());
        }
        let candidates = self.candidates.get_or_insert_with(|| candidate_namespaces(self.registry, self.from));
        // Walk the candidates only as far as needed; each answer is remembered for the next peer.
        while let Some(candidate) = candidates.pop() {
            let id = match &candidate {
                NamespaceRef::Host => link::nsid_of(&self.from.route(), self.registry.host().fd()).await,
                NamespaceRef::Named(name) => match File::open(Path::new(NETNS_DIR).join(name.as_str())) {
                    Ok(file) => link::nsid_of(&self.from.route(), file.as_fd()).await,
                    Err(_) => continue,
                },
            };
            if let Ok(Some(id)) = id {
                self.known.insert(id, candidate.clone());
                if id == nsid {
                    return Some(candidate);
                }
            }
        }
        None
    }
}

/// Every namespace but `from`, the host last so that `pop` tries it first: most peers live there.
fn candidate_namespaces(registry: &NamespaceRegistry, from: &NamespaceHandle) -> Vec<NamespaceRef> {
    let mut candidates: Vec<NamespaceRef> = registry
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|info| info.inode != from.inode())
        .map(|info| NamespaceRef::Named(info.name))
        .collect();
    candidates.reverse();
    if *from.namespace() != NamespaceRef::Host {
        candidates.push(NamespaceRef::Host);
    }
    candidates
}
