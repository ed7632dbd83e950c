//! What the agent itself is changing, remembered for a short while so that a watcher can tell nsfleet's
//! changes from everyone else's even where the kernel object carries no marker (single calls behave as
//! `ip` does and set none).
//!
//! An entry is (namespace, kind, object key): the link's name, the address as `ip/len`, the route's
//! destination, the namespace's name. It is remembered from just before the operation starts until
//! [`WINDOW`] later. A notification is judged when the watcher reads it from the kernel, normally
//! within milliseconds of the change; so an `ip` change to the very same object within the window is
//! taken for nsfleet's, and a watcher whose reader fell more than the window behind sees nsfleet's
//! change as external.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Kind;
use crate::domain::NamespaceRef;
use crate::ops::link::LinkKindSpec;
use crate::ops::operation::Operation;

/// How long a change is remembered after it started. A single operation takes milliseconds; a batch
/// remembers each operation when it starts, so its length does not matter.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Entries are pruned when the map grows past this, not on every insert.
const PRUNE_ABOVE: usize = 4096;

type Key = (String, Kind, String);

#[derive(Default)]
pub struct RecentChanges {
    until: Mutex<HashMap<Key, Instant>>,
}

/// One agent per process, and every path that changes the kernel goes through `Operation::apply`, which
/// has no other place to report to: so one memory per process.
static RECENT: LazyLock<RecentChanges> = LazyLock::new(RecentChanges::default);

pub fn recent() -> &'static RecentChanges {
    &RECENT
}

/// The key a namespace is remembered and watched under: "" for the host namespace, else its name.
pub fn namespace_key(namespace: &NamespaceRef) -> String {
    match namespace {
        NamespaceRef::Host => String::new(),
        NamespaceRef::Named(name) => name.to_string(),
    }
}

impl RecentChanges {
    /// Remembers the objects `operation` is about to change.
    pub fn remember(&self, operation: &Operation) {
        let touched = touched_by(operation);
        if touched.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        if until.len() > PRUNE_ABOVE {
            until.retain(|_, expiry| *expiry > now);
        }
        for key in touched {
            until.insert(key, now + WINDOW);
        }
    }

    /// Whether the agent changed this object within the window.
    pub fn contains(&self, namespace: &str, kind: Kind, object: &str) -> bool {
        let until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        until
            .get(&(namespace.to_string(), kind, object.to_string()))
            .is_some_and(|expiry| *expiry > Instant::now())
    }
}

fn touched_by(operation: &Operation) -> Vec<Key> {
    let key =
        |namespace: &NamespaceRef, kind, object: String| (namespace_key(namespace), kind, object);
    match operation {
        Operation::CreateNamespace(name) | Operation::DeleteNamespace { name, .. } => {
            vec![(String::new(), Kind::Namespace, name.to_string())]
        }
        Operation::CreateLink(request) => {
            let mut keys = vec![key(
                &request.namespace,
                Kind::Link,
                request.name.to_string(),
            )];
            if let LinkKindSpec::Veth {
                peer,
                peer_namespace,
            } = &request.kind
            {
                keys.push(key(peer_namespace, Kind::Link, peer.to_string()));
            }
            keys
        }
        Operation::DeleteLink {
            namespace, name, ..
        } => vec![key(namespace, Kind::Link, name.to_string())],
        Operation::SetLink {
            namespace,
            name,
            change,
        } => {
            let mut keys = vec![key(namespace, Kind::Link, name.to_string())];
            if let Some(destination) = &change.move_to {
                keys.push(key(destination, Kind::Link, name.to_string()));
            }
            keys
        }
        Operation::AddAddress(request) => {
            vec![key(
                &request.namespace,
                Kind::Address,
                request.prefix.to_string(),
            )]
        }
        Operation::DeleteAddress {
            namespace, prefix, ..
        } => vec![key(namespace, Kind::Address, prefix.to_string())],
        Operation::AddRoute { request, .. } | Operation::DeleteRoute { request, .. } => {
            vec![key(
                &request.namespace,
                Kind::Route,
                request.destination.to_string(),
            )]
        }
        // Forwarding is a sysctl: no notification to judge. NAT changes are reported by the agent itself.
        Operation::SetForwarding { .. }
        | Operation::AddNatRule(_)
        | Operation::DeleteNatRule { .. } => Vec::new(),
    }
}
