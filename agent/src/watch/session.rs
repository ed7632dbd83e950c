//! One watcher: its namespaces, their sockets and readers, the snapshot, the namespace poll and NAT.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use super::format::{describe, LinkNames};
use super::outbox::Outbox;
use super::recent::{namespace_key, recent};
use super::{
    nat_changes, Action, Change, Kind, Message, Origin, Scope, WatchSpec, NAMESPACE_POLL, QUEUE,
};
use crate::domain::NamespaceRef;
use crate::kernel::monitor::{MonitorSocket, Notification, Received};
use crate::kernel::{address, link, neighbor, route, KernelError};
use crate::netns::{NamespaceHandle, NamespaceRegistry, NetnsError};

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("open the notification socket in {namespace}: {source}")]
    Socket {
        namespace: NamespaceRef,
        source: io::Error,
    },
    #[error("read the current state of {namespace}: {source}")]
    Dump {
        namespace: NamespaceRef,
        source: KernelError,
    },
    #[error("the watcher's setup task was lost: {0}")]
    TaskLost(String),
}

/// A running watch: its messages, until it is dropped (which ends its tasks).
pub struct Watcher {
    pub messages: mpsc::Receiver<Message>,
}

/// Starts watching. The namespaces named or present now are opened before this returns, so a missing
/// namespace is an error here, not an event.
pub async fn start(
    registry: Arc<NamespaceRegistry>,
    spec: WatchSpec,
) -> Result<Watcher, WatchError> {
    let mut initial = vec![NamespaceRef::Host];
    match &spec.scope {
        Scope::One(NamespaceRef::Host) => {}
        Scope::One(named) => initial = vec![named.clone()],
        Scope::All => {
            let registry = registry.clone();
            let listed = tokio::task::spawn_blocking(move || registry.list())
                .await
                .map_err(|e| WatchError::TaskLost(e.to_string()))??;
            initial.extend(
                listed
                    .into_iter()
                    .map(|info| NamespaceRef::Named(info.name)),
            );
        }
    }
    let mut opened = Vec::new();
    for namespace in initial {
        match Watched::open(&registry, namespace).await {
            Ok(watched) => opened.push(watched),
            // Listed a moment ago and gone now: the poll reports it; only a named one is an error.
            Err(WatchError::Netns(NetnsError::NotFound { .. })) if spec.scope == Scope::All => {}
            Err(e) => return Err(e),
        }
    }
    let (sender, messages) = mpsc::channel(QUEUE);
    let outbox = Outbox::new(sender);
    tokio::spawn(run(registry, spec, outbox, opened));
    Ok(Watcher { messages })
}

/// Counts the watcher in the `nsfleet_watchers` gauge for as long as its task lives.
struct Counted;

impl Counted {
    fn new() -> Self {
        crate::metrics::watchers().inc();
        Self
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        crate::metrics::watchers().dec();
    }
}

async fn run(
    registry: Arc<NamespaceRegistry>,
    spec: WatchSpec,
    outbox: Outbox,
    opened: Vec<Watched>,
) {
    let _counted = Counted::new();
    let mut nat = nat_changes();
    let mut readers = Readers::default();
    for mut watched in opened {
        if spec.snapshot {
            if !watched.view.key.is_empty() && spec.wants(Kind::Namespace) {
                let change = namespace_change(&watched.view.key, Action::New);
                if !outbox.send(Message::Change(change)).await {
                    return;
                }
            }
            for change in watched.view.take_snapshot(&spec) {
                if !outbox.send(Message::Change(change)).await {
                    return;
                }
            }
        }
        readers.start(watched, &spec, &outbox);
    }
    if spec.snapshot && !outbox.send(Message::SnapshotDone).await {
        return;
    }
    let polls_namespaces = !matches!(spec.scope, Scope::One(NamespaceRef::Host));
    let mut ticks = tokio::time::interval(NAMESPACE_POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = outbox.closed() => break,
            _ = ticks.tick(), if polls_namespaces => {
                poll_namespaces(&registry, &spec, &outbox, &mut readers).await;
            }
            nat_change = nat.recv() => match nat_change {
                Ok(change) => {
                    if spec.wants(Kind::Nat) && spec.follows(&change.namespace) {
                        outbox.offer(Message::Change(change));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => outbox.lost(),
                Err(broadcast::error::RecvError::Closed) => {}
            },
        }
    }
    readers.stop_all();
}

fn namespace_change(name: &str, action: Action) -> Change {
    Change {
        kind: Kind::Namespace,
        action,
        namespace: String::new(),
        object: name.to_string(),
        summary: format!("netns {name}"),
        origin: if recent().contains("", Kind::Namespace, name) {
            Origin::Nsfleet
        } else {
            Origin::External
        },
    }
}

/// Reads /run/netns and follows what appeared, lets go of what disappeared.
async fn poll_namespaces(
    registry: &Arc<NamespaceRegistry>,
    spec: &WatchSpec,
    outbox: &Outbox,
    readers: &mut Readers,
) {
    let listing = {
        let registry = registry.clone();
        tokio::task::spawn_blocking(move || registry.list()).await
    };
    // In name order: namespaces that appeared since the last poll are reported in an order that does not
    // change from one run to the next.
    let listed: BTreeMap<String, u64> = match listing {
        Ok(Ok(listed)) => listed
            .into_iter()
            .map(|info| (info.name.to_string(), info.inode))
            .filter(|(name, _)| spec.follows(name))
            .collect(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "watch: cannot list namespaces");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "watch: the namespace listing was lost");
            return;
        }
    };
    let gone: Vec<String> = readers
        .named()
        .filter(|(name, inode)| listed.get(*name) != Some(inode))
        .map(|(name, _)| name.clone())
        .collect();
    for name in gone {
        readers.stop(&name);
        if spec.wants(Kind::Namespace) {
            outbox.offer(Message::Change(namespace_change(&name, Action::Deleted)));
        }
    }
    for (name, inode) in listed {
        if readers.follows(&name) {
            continue;
        }
        let Ok(parsed) = crate::domain::NamespaceName::parse("namespace", &name) else {
            continue;
        };
        let watched = match Watched::open(registry, NamespaceRef::Named(parsed)).await {
            Ok(watched) => watched,
            // Gone again, or not openable yet: the next poll tries again.
            Err(e) => {
                tracing::debug!(namespace = %name, error = %e, "watch: cannot follow a new namespace");
                continue;
            }
        };
        if watched.view.inode != Some(inode) {
            continue;
        }
        if spec.wants(Kind::Namespace) {
            outbox.offer(Message::Change(namespace_change(&name, Action::New)));
        }
        // What the namespace already holds was made before the watcher could see it: report it as new,
        // so a link made right after the namespace is not missed.
        let mut watched = watched;
        for change in watched.view.take_snapshot(spec) {
            outbox.offer(Message::Change(change));
        }
        readers.start(watched, spec, outbox);
    }
}

/// The reader task of each followed namespace, by key ("" = host).
#[derive(Default)]
struct Readers {
    running: HashMap<String, (Option<u64>, JoinHandle<()>)>,
}

impl Readers {
    fn start(&mut self, watched: Watched, spec: &WatchSpec, outbox: &Outbox) {
        let key = watched.view.key.clone();
        let inode = watched.view.inode;
        let task = tokio::spawn(read(watched, spec.clone(), outbox.clone()));
        if let Some((_, previous)) = self.running.insert(key, (inode, task)) {
            previous.abort();
        }
    }

    fn follows(&self, key: &str) -> bool {
        self.running.contains_key(key)
    }

    fn named(&self) -> impl Iterator<Item = (&String, &u64)> {
        self.running
            .iter()
            .filter_map(|(key, (inode, _))| inode.as_ref().map(|inode| (key, inode)))
    }

    /// Closes the namespace's socket, so the watcher does not keep a deleted namespace alive.
    fn stop(&mut self, key: &str) {
        if let Some((_, task)) = self.running.remove(key) {
            task.abort();
        }
    }

    fn stop_all(&mut self) {
        for (_, (_, task)) in self.running.drain() {
            task.abort();
        }
    }
}

/// One followed namespace: its subscribed socket and what the watcher knows of it.
struct Watched {
    socket: MonitorSocket,
    view: View,
}

/// What a watcher knows of one namespace.
struct View {
    key: String,
    /// The named namespace's inode when it was opened; `None` for the host namespace.
    inode: Option<u64>,
    names: LinkNames,
    known: HashSet<(Kind, String)>,
    /// The objects present when it was opened, until taken as a snapshot.
    present: Vec<Notification>,
}

impl Watched {
    /// Subscribes first and reads the current state second, so nothing falls between the two (a change
    /// in between is seen twice: in the dump and as a notification).
    async fn open(
        registry: &NamespaceRegistry,
        namespace: NamespaceRef,
    ) -> Result<Self, WatchError> {
        let handle = registry.handle(&namespace).await?;
        let socket = handle
            .run_brief("open a notification socket", MonitorSocket::open)
            .await?
            .map_err(|source| WatchError::Socket {
                namespace: namespace.clone(),
                source,
            })?;
        let inode = match namespace {
            NamespaceRef::Host => None,
            NamespaceRef::Named(_) => Some(handle.inode()),
        };
        let dumping = handle.clone();
        let present = tokio::task::spawn_blocking(move || dump(&dumping))
            .await
            .map_err(|e| WatchError::TaskLost(e.to_string()))?
            .map_err(|source| WatchError::Dump {
                namespace: namespace.clone(),
                source,
            })?;
        let mut view = View {
            key: namespace_key(&namespace),
            inode,
            names: LinkNames::new(),
            known: HashSet::new(),
            present: Vec::new(),
        };
        for notification in &present {
            view.absorb(notification);
        }
        view.present = present;
        Ok(Self { socket, view })
    }
}

impl View {
    /// The present objects as changes, once.
    fn take_snapshot(&mut self, spec: &WatchSpec) -> Vec<Change> {
        let present = std::mem::take(&mut self.present);
        present
            .iter()
            .filter_map(|notification| {
                let change = self.change_for(notification, Action::New);
                spec.wants(change.kind).then_some(change)
            })
            .collect()
    }

    /// Updates what is known (link names, which objects exist) and says what kind of change this is.
    fn absorb(&mut self, notification: &Notification) -> Change {
        if let Notification::Link {
            deleted: false,
            link,
        } = notification
        {
            self.names.insert(link.index, link.name.clone());
        }
        let deleted = match notification {
            Notification::Link { deleted, .. }
            | Notification::Address { deleted, .. }
            | Notification::Route { deleted, .. }
            | Notification::Neighbor { deleted, .. } => *deleted,
        };
        let described = describe(notification, &self.names);
        let identity = (described.kind, described.identity.clone());
        let action = if deleted {
            self.known.remove(&identity);
            Action::Deleted
        } else if self.known.insert(identity) {
            Action::New
        } else {
            Action::Changed
        };
        let change = self.change_for(notification, action);
        if let Notification::Link {
            deleted: true,
            link,
        } = notification
        {
            self.names.remove(&link.index);
        }
        change
    }

    fn change_for(&self, notification: &Notification, action: Action) -> Change {
        let described = describe(notification, &self.names);
        let origin = if described.marked
            || recent().contains(&self.key, described.kind, &described.object)
        {
            Origin::Nsfleet
        } else {
            Origin::External
        };
        Change {
            kind: described.kind,
            action,
            namespace: self.key.clone(),
            object: described.object,
            summary: described.summary,
            origin,
        }
    }
}

/// Everything a namespace holds that a watcher reports, as if just announced.
fn dump(handle: &NamespaceHandle) -> Result<Vec<Notification>, KernelError> {
    let socket = handle.route();
    let mut present: Vec<Notification> = link::list(socket)?
        .into_iter()
        .map(|link| Notification::Link {
            deleted: false,
            link,
        })
        .collect();
    present.extend(
        address::list(socket, None)?
            .into_iter()
            .map(|address| Notification::Address {
                deleted: false,
                address,
            }),
    );
    present.extend(
        route::list(socket, None)?
            .into_iter()
            .map(|route| Notification::Route {
                deleted: false,
                route,
            }),
    );
    present.extend(neighbor::list(socket, None)?.into_iter().map(|neighbor| {
        Notification::Neighbor {
            deleted: false,
            neighbor,
        }
    }));
    Ok(present)
}

/// Forwards one namespace's notifications to the watcher until it goes away (or the task is aborted
/// because the namespace did).
async fn read(watched: Watched, spec: WatchSpec, outbox: Outbox) {
    let Watched {
        socket,
        view: mut state,
    } = watched;
    // SAFETY: the MonitorSocket owns its netlink socket, which stays open and keeps its descriptor until
    // the MonitorSocket is dropped, and that happens only when the AsyncFd is.
    let registered = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) };
    let mut socket = match registered.map_err(io::Error::from) {
        Ok(socket) => socket,
        Err(e) => {
            tracing::warn!(namespace = %state.key, error = %e, "watch: cannot poll the notification socket");
            return;
        }
    };
    loop {
        let mut ready = tokio::select! {
            () = outbox.closed() => return,
            ready = socket.readable_mut() => match ready {
                Ok(ready) => ready,
                Err(e) => {
                    tracing::warn!(namespace = %state.key, error = %e, "watch: polling failed");
                    return;
                }
            },
        };
        loop {
            match ready.get_inner_mut().receive() {
                Ok(Received::Notifications(notifications)) => {
                    for notification in &notifications {
                        let change = state.absorb(notification);
                        if spec.wants(change.kind) {
                            outbox.offer(Message::Change(change));
                        }
                    }
                }
                Ok(Received::Empty) => {
                    ready.clear_ready();
                    break;
                }
                Ok(Received::Overflow) => outbox.lost(),
                Err(e) => {
                    tracing::warn!(namespace = %state.key, error = %e, "watch: reading notifications failed");
                    return;
                }
            }
        }
    }
}
