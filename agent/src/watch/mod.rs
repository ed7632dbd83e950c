//! Watching changes: the kernel's netlink notifications per namespace, namespaces appearing and
//! disappearing, and the NAT rules the agent changes, turned into one stream of [`Change`]s per watcher.
//! Nothing here knows gRPC.
//!
//! - Per watched namespace one [`MonitorSocket`](crate::kernel::monitor::MonitorSocket), opened on a
//!   thread inside the namespace (`NamespaceHandle::run`) and read from an async task: reading a socket
//!   does not depend on the reader's namespace.
//! - Namespaces are found by listing the registry's directory (/run/netns, in the mount namespace the
//!   agent manages) every [`NAMESPACE_POLL`]: the same source every call uses, and it works with
//!   `--host-mount-namespace`, where an inotify watch would have to be set up from inside that mount
//!   namespace. A namespace that disappears has its socket closed at once, so the watcher never keeps a
//!   deleted namespace alive.
//! - NAT rules live in nftables, which announces changes on a netlink family of its own; what is
//!   reported here is what the agent itself adds and deletes ([`nat_changed`]), always with origin
//!   nsfleet. Rules changed with `nft` behind the agent's back are not reported.
//! - Each watcher has a bounded queue ([`QUEUE`]); producers never wait on it. When it is full, events
//!   are dropped until there is room again, and then exactly one [`Message::Lost`] is queued (see
//!   `outbox.rs`). The kernel side is bounded too: a reader that falls behind makes the kernel drop
//!   notifications (ENOBUFS), reported the same way.

mod format;
mod outbox;
pub mod recent;
mod session;

pub use session::{start, WatchError, Watcher};

use std::sync::LazyLock;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::domain::NamespaceRef;

/// Events a watcher may have queued before it loses some.
pub const QUEUE: usize = 512;

/// How often the list of named namespaces is read for appearances and disappearances.
pub const NAMESPACE_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Link,
    Address,
    Route,
    Neighbor,
    Namespace,
    Nat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    New,
    Changed,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Nsfleet,
    External,
}

/// One change, as a watcher reports it.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: Kind,
    pub action: Action,
    /// "" for the host namespace.
    pub namespace: String,
    /// The object's name or key (link name, `ip/len`, route destination, ...).
    pub object: String,
    /// The object in `ip monitor` words.
    pub summary: String,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub enum Message {
    Change(Change),
    /// The initial snapshot has been sent.
    SnapshotDone,
    /// Events were dropped: the watcher did not keep up.
    Lost,
}

/// Which namespaces a watcher follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    One(NamespaceRef),
    /// The host namespace and every named one, present and future.
    All,
}

#[derive(Debug, Clone)]
pub struct WatchSpec {
    pub scope: Scope,
    /// Empty: every kind.
    pub kinds: Vec<Kind>,
    pub snapshot: bool,
}

impl WatchSpec {
    pub fn wants(&self, kind: Kind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    fn follows(&self, namespace: &str) -> bool {
        match &self.scope {
            Scope::All => true,
            Scope::One(one) => recent::namespace_key(one) == namespace,
        }
    }
}

/// NAT rules the agent added or deleted, for every watcher. A broadcast: a watcher that lags behind it
/// loses events, reported as [`Message::Lost`].
static NAT_CHANGES: LazyLock<broadcast::Sender<Change>> =
    LazyLock::new(|| broadcast::channel(QUEUE).0);

/// Reports a NAT rule the agent added or deleted in `namespace`.
pub fn nat_changed(namespace: &NamespaceRef, action: Action, id: &str, rule: Option<String>) {
    // No receiver is the common case (nobody watching), not an error.
    let _ = NAT_CHANGES.send(Change {
        kind: Kind::Nat,
        action,
        namespace: recent::namespace_key(namespace),
        object: id.to_string(),
        summary: match rule {
            Some(rule) => format!("nat {id}: {rule}"),
            None => format!("nat {id}"),
        },
        origin: Origin::Nsfleet,
    });
}

fn nat_changes() -> broadcast::Receiver<Change> {
    NAT_CHANGES.subscribe()
}
