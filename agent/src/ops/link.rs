//! Creating, changing and deleting links, with idempotency checks and undo.

use std::sync::Arc;

use crate::domain::{FieldError, LinkName, MacAddr, NamespaceRef, VxlanParams};
use crate::kernel::link::{self, Link, LinkChange};
use crate::kernel::vxlan;
use crate::netns::{NamespaceHandle, NamespaceRegistry, NetnsError};

use super::peers::{PeerResolver, PeerView};
use super::{OpError, Outcome, Warning};

/// A link with the names the kernel reports only as indexes resolved.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub namespace: NamespaceRef,
    pub link: Link,
    pub master: Option<String>,
    pub peer: Option<PeerView>,
    /// A VXLAN link's parameters, remotes and device name included.
    pub vxlan: Option<VxlanParams>,
}

#[derive(Debug, Clone)]
pub enum LinkKindSpec {
    Veth {
        peer: LinkName,
        peer_namespace: NamespaceRef,
    },
    Bridge,
    Vxlan(VxlanParams),
}

#[derive(Debug, Clone)]
pub struct CreateLink {
    pub namespace: NamespaceRef,
    pub name: LinkName,
    pub kind: LinkKindSpec,
    pub mtu: Option<u32>,
    /// The topology to mark the link (and a veth's peer) as made for, with an alternative name.
    pub marker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterChange {
    Set(LinkName),
    Release,
}

#[derive(Debug, Clone, Default)]
pub struct SetLink {
    pub up: Option<bool>,
    pub mtu: Option<u32>,
    pub mac: Option<MacAddr>,
    pub master: Option<MasterChange>,
    pub move_to: Option<NamespaceRef>,
}

impl SetLink {
    /// Where the link is after the change, given where it was.
    pub fn destination<'a>(&'a self, namespace: &'a NamespaceRef) -> &'a NamespaceRef {
        self.move_to.as_ref().unwrap_or(namespace)
    }
}

pub(super) async fn namespace_handle(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
) -> Result<Arc<NamespaceHandle>, OpError> {
    registry.handle(namespace).await.map_err(|e| match e {
        NetnsError::NotFound { namespace } => OpError::NamespaceNotFound { namespace },
        other => other.into(),
    })
}

pub(super) fn existing_link(handle: &NamespaceHandle, name: &str) -> Result<Link, OpError> {
    link::get_by_name(handle.route(), name)?.ok_or_else(|| OpError::LinkNotFound {
        namespace: handle.namespace().clone(),
        name: name.to_string(),
    })
}

pub async fn get(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    name: &LinkName,
) -> Result<LinkView, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let link = existing_link(&handle, name.as_str())?;
    let links = neighbours_of(&handle, &link)?;
    let remotes = remotes_if_vxlan(&handle, std::slice::from_ref(&link))?;
    Ok(view(registry, &handle, link, &links, &remotes).await)
}

/// The links a view of `link` names besides itself (its master, a veth peer in the same namespace),
/// fetched one by one: dumping every link for them made each single-link answer cost O(links).
fn neighbours_of(handle: &NamespaceHandle, link: &Link) -> Result<Vec<Link>, OpError> {
    let same_namespace_peer = link
        .peer
        .filter(|peer| peer.netnsid.is_none())
        .map(|peer| peer.index);
    let mut links = Vec::new();
    let device = link.vxlan.as_ref().and_then(|v| v.device_index);
    for index in link
        .master
        .into_iter()
        .chain(same_namespace_peer)
        .chain(device)
    {
        links.extend(link::get_by_index(handle.route(), index)?);
    }
    Ok(links)
}

/// Links of one namespace, sorted by index.
pub async fn list(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
) -> Result<Vec<LinkView>, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let mut links = link::list(handle.route())?;
    links.sort_by_key(|l| l.index);
    let remotes = remotes_if_vxlan(&handle, &links)?;
    let mut resolver = PeerResolver::new(registry, &handle);
    let mut views = Vec::with_capacity(links.len());
    for link in &links {
        views.push(view_with(&mut resolver, &handle, link.clone(), &links, &remotes).await);
    }
    Ok(views)
}

/// Links of the host and of every named namespace.
pub async fn list_all(registry: &NamespaceRegistry) -> Result<Vec<LinkView>, OpError> {
    let mut views = list(registry, &NamespaceRef::Host).await?;
    for info in registry.list()? {
        match list(registry, &NamespaceRef::Named(info.name)).await {
            Ok(more) => views.extend(more),
            // Deleted between the listing of names and now (gone, or only its empty mount point left):
            // it has no links to show.
            Err(OpError::NamespaceNotFound { .. })
            | Err(OpError::Netns(NetnsError::NotANamespace { .. })) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(views)
}

/// The all-zero forwarding entries of the namespace, read only where one of `links` is a VXLAN link.
fn remotes_if_vxlan(
    handle: &NamespaceHandle,
    links: &[Link],
) -> Result<Vec<(u32, std::net::IpAddr)>, OpError> {
    if links.iter().any(|l| l.vxlan.is_some()) {
        Ok(vxlan::remotes(handle.route())?)
    } else {
        Ok(Vec::new())
    }
}

/// A VXLAN link's parameters with the names and remotes the kernel gives only as indexes and entries.
pub fn vxlan_params(
    link: &Link,
    links: &[Link],
    remotes: &[(u32, std::net::IpAddr)],
) -> Option<VxlanParams> {
    let info = link.vxlan.as_ref()?;
    let mut own: Vec<std::net::IpAddr> = remotes
        .iter()
        .filter(|(index, _)| *index == link.index)
        .map(|(_, remote)| *remote)
        .chain(info.group)
        .collect();
    own.sort();
    own.dedup();
    let device = info
        .device_index
        .and_then(|i| links.iter().find(|l| l.index == i))
        .and_then(|l| LinkName::parse("device", &l.name).ok());
    Some(VxlanParams {
        vni: info.vni,
        local: info.local,
        remotes: own,
        port: info.port,
        device,
        learning: info.learning,
    })
}

async fn view(
    registry: &NamespaceRegistry,
    handle: &NamespaceHandle,
    link: Link,
    links: &[Link],
    remotes: &[(u32, std::net::IpAddr)],
) -> LinkView {
    let mut resolver = PeerResolver::new(registry, handle);
    view_with(&mut resolver, handle, link, links, remotes).await
}

async fn view_with(
    resolver: &mut PeerResolver<'_>,
    handle: &NamespaceHandle,
    link: Link,
    links: &[Link],
    remotes: &[(u32, std::net::IpAddr)],
) -> LinkView {
    let vxlan = vxlan_params(&link, links, remotes);
    let master = link
        .master
        .and_then(|m| links.iter().find(|l| l.index == m))
        .map(|l| l.name.clone());
    let peer = match link.peer {
        Some(peer) => Some(resolver.resolve(peer, links).await),
        None => None,
    };
    LinkView {
        namespace: handle.namespace().clone(),
        link,
        master,
        peer,
        vxlan,
    }
}

/// Creates a veth pair or a bridge. An existing link of the same name, kind (and for a veth, the same
/// peer) is success without change; anything else by that name is a conflict. Callers that want the
/// link's view read it with [`get`]: bulk callers should not pay for it.
pub async fn create(
    registry: &NamespaceRegistry,
    request: &CreateLink,
) -> Result<Outcome<()>, OpError> {
    let handle = namespace_handle(registry, &request.namespace).await?;
    let peer_handle = match &request.kind {
        LinkKindSpec::Veth { peer_namespace, .. } => {
            Some(namespace_handle(registry, peer_namespace).await?)
        }
        LinkKindSpec::Bridge | LinkKindSpec::Vxlan(_) => None,
    };
    let name = request.name.as_str();
    let created = match (&request.kind, &peer_handle) {
        (LinkKindSpec::Veth { peer, .. }, Some(peer_handle)) => {
            if peer == &request.name && peer_handle.inode() == handle.inode() {
                return Err(FieldError::new(
                    "veth.peer_name",
                    "must differ from name in the same namespace",
                )
                .into());
            }
            let peer_fd = (peer_handle.inode() != handle.inode()).then(|| peer_handle.fd());
            link::create_veth(handle.route(), name, peer.as_str(), peer_fd, request.mtu)
                .map_err(OpError::from)
        }
        (LinkKindSpec::Vxlan(params), _) => create_vxlan(&handle, name, params, request.mtu),
        _ => link::create_bridge(handle.route(), name, MacAddr::random_local(), request.mtu)
            .map_err(OpError::from),
    };
    // Create first, look only if a name is taken: the kernel refuses a taken name (of the link or of
    // its peer) atomically with EEXIST, so the usual case costs one request instead of three.
    match created {
        Ok(()) => {
            if let Err(e) = finish(&handle, peer_handle.as_deref(), request) {
                // Half made (a remote missing, or unmarked: a link its topology cannot prove it made):
                // take it back.
                if let Ok(Some(made)) = link::get_by_name(handle.route(), name) {
                    let _ = link::delete(handle.route(), made.index, name);
                }
                return Err(e);
            }
            Ok(Outcome::changed(()))
        }
        Err(OpError::Kernel(e)) if e.errno() == Some(nix::errno::Errno::EEXIST) => {
            explain_taken_name(registry, &handle, peer_handle.as_deref(), request).await
        }
        Err(e) => Err(e),
    }
}

/// `ip link add NAME type vxlan ...`, with the underlying device looked up by name first (NOT_FOUND
/// naming `vxlan.device`). One remote is the link's own; several become forwarding entries in
/// [`finish`].
fn create_vxlan(
    handle: &NamespaceHandle,
    name: &str,
    params: &VxlanParams,
    mtu: Option<u32>,
) -> Result<(), OpError> {
    let device_index = match &params.device {
        Some(device) => Some(
            link::get_by_name(handle.route(), device.as_str())?
                .ok_or_else(|| OpError::ReferencedLinkNotFound {
                    field: "vxlan.device".to_string(),
                    namespace: handle.namespace().clone(),
                    name: device.to_string(),
                })?
                .index,
        ),
        None => None,
    };
    let spec = vxlan::NewVxlan {
        vni: params.vni,
        local: params.local,
        remote: match params.remotes.as_slice() {
            [one] => Some(*one),
            _ => None,
        },
        port: params.port,
        device_index,
        learning: params.learning,
        mtu,
    };
    Ok(vxlan::create(handle.route(), name, &spec)?)
}

/// What a new link needs after the kernel made it: a full mesh's forwarding entries, the marker.
fn finish(
    handle: &NamespaceHandle,
    peer_handle: Option<&NamespaceHandle>,
    request: &CreateLink,
) -> Result<(), OpError> {
    if let LinkKindSpec::Vxlan(params) = &request.kind {
        if params.remotes.len() > 1 {
            let made = existing_link(handle, request.name.as_str())?;
            for remote in &params.remotes {
                vxlan::append_remote(handle.route(), made.index, &made.name, *remote)?;
            }
        }
    }
    match &request.marker {
        Some(topology) => mark(handle, peer_handle, request, topology),
        None => Ok(()),
    }
}

/// Gives a new link (and a veth's peer, in its own namespace) the alternative name that marks it as
/// made for `topology`.
fn mark(
    handle: &NamespaceHandle,
    peer_handle: Option<&NamespaceHandle>,
    request: &CreateLink,
    topology: &str,
) -> Result<(), OpError> {
    let mut ends = vec![(handle, request.name.as_str())];
    if let (LinkKindSpec::Veth { peer, .. }, Some(peer_handle)) = (&request.kind, peer_handle) {
        ends.push((peer_handle, peer.as_str()));
    }
    for (handle, name) in ends {
        let alt_name = super::marker::link_alt_name(topology, name);
        link::add_alt_name(handle.route(), name, &alt_name)?;
    }
    Ok(())
}

/// Why a create met EEXIST: the same link already there (success, unchanged), or a conflict.
async fn explain_taken_name(
    registry: &NamespaceRegistry,
    handle: &NamespaceHandle,
    peer_handle: Option<&NamespaceHandle>,
    request: &CreateLink,
) -> Result<Outcome<()>, OpError> {
    let name = request.name.as_str();
    if let Some(existing) = link::get_by_name(handle.route(), name)? {
        let links = neighbours_of(handle, &existing)?;
        let remotes = remotes_if_vxlan(handle, std::slice::from_ref(&existing))?;
        let existing = view(registry, handle, existing, &links, &remotes).await;
        return if same_link(&existing, request) {
            Ok(Outcome::unchanged(()))
        } else {
            Err(OpError::LinkExists {
                namespace: handle.namespace().clone(),
                name: name.to_string(),
                existing: describe(&existing, request),
            })
        };
    }
    if let LinkKindSpec::Vxlan(params) = &request.kind {
        // The kernel refuses a second VXLAN link with the same VNI and port with EEXIST too.
        let links = link::list(handle.route())?;
        let twin = links.iter().find(|l| {
            l.vxlan
                .as_ref()
                .is_some_and(|v| v.vni == params.vni && v.port == params.port)
        });
        if let Some(twin) = twin {
            return Err(OpError::VniTaken {
                namespace: handle.namespace().clone(),
                vni: params.vni,
                port: params.port,
                other: twin.name.clone(),
            });
        }
    }
    if let (LinkKindSpec::Veth { peer, .. }, Some(peer_handle)) = (&request.kind, peer_handle) {
        if link::get_by_name(peer_handle.route(), peer.as_str())?.is_some() {
            return Err(OpError::PeerNameTaken {
                namespace: peer_handle.namespace().clone(),
                peer: peer.to_string(),
            });
        }
    }
    Err(OpError::CreatedMeanwhile {
        name: name.to_string(),
    })
}

fn same_link(existing: &LinkView, request: &CreateLink) -> bool {
    match &request.kind {
        LinkKindSpec::Vxlan(params) => existing.vxlan.as_ref() == Some(params),
        LinkKindSpec::Bridge => existing.link.kind.as_deref() == Some("bridge"),
        LinkKindSpec::Veth {
            peer,
            peer_namespace,
        } => {
            existing.link.kind.as_deref() == Some("veth")
                && existing.peer.as_ref().is_some_and(|p| {
                    p.name.as_deref() == Some(peer.as_str())
                        && p.namespace.as_ref() == Some(peer_namespace)
                })
        }
    }
}

/// What the link by the wanted name is, in words that show how it differs from `request`.
fn describe(view: &LinkView, request: &CreateLink) -> String {
    if let (Some(existing), LinkKindSpec::Vxlan(wanted)) = (&view.vxlan, &request.kind) {
        return format!(
            "a vxlan with other parameters: {}",
            existing.differences(wanted).join(", ")
        );
    }
    match (view.link.kind.as_deref(), &view.peer) {
        (
            Some("veth"),
            Some(PeerView {
                name: Some(peer),
                namespace: Some(ns),
                ..
            }),
        ) => {
            format!("a veth whose peer is {peer} in {ns}")
        }
        (Some(kind), _) => format!("a {kind}"),
        (None, _) => "a device".to_string(),
    }
}

pub async fn delete(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    name: &LinkName,
    ignore_missing: bool,
) -> Result<Outcome<()>, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let Some(existing) = link::get_by_name(handle.route(), name.as_str())? else {
        return if ignore_missing {
            Ok(Outcome::unchanged(()))
        } else {
            Err(OpError::LinkNotFound {
                namespace: namespace.clone(),
                name: name.to_string(),
            })
        };
    };
    match link::delete(handle.route(), existing.index, name.as_str()) {
        Ok(()) => Ok(Outcome::changed(())),
        // Gone meanwhile (its veth peer's namespace was deleted, say): the state asked for holds.
        Err(e) if e.errno() == Some(nix::errno::Errno::ENODEV) => Ok(Outcome::unchanged(())),
        Err(e) => Err(e.into()),
    }
}

/// Changes a link. The move to another namespace happens first; the other changes then apply in the
/// destination. Each step is skipped if the link is already in that state, and the steps already taken
/// are undone if a later one fails. The link ends up in [`SetLink::destination`]. The outcome's value
/// is the `SetLink` that takes this one back (acting in the destination), worked out from the link as it
/// was before: batches keep it for their undo.
pub async fn set(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    name: &LinkName,
    request: &SetLink,
) -> Result<Outcome<SetLink>, OpError> {
    let source = namespace_handle(registry, namespace).await?;
    let original = existing_link(&source, name.as_str())?;
    let destination = match &request.move_to {
        Some(target) => {
            let target = namespace_handle(registry, target).await?;
            if target.inode() == source.inode() {
                None
            } else {
                if link::get_by_name(target.route(), name.as_str())?.is_some() {
                    return Err(OpError::NameTakenAtDestination {
                        namespace: target.namespace().clone(),
                        name: name.to_string(),
                    });
                }
                Some(target)
            }
        }
        None => None,
    };
    let final_handle = destination.clone().unwrap_or_else(|| source.clone());
    // Checks that need the destination's view come before anything is touched.
    let master = match &request.master {
        Some(MasterChange::Set(master)) => {
            if master == name {
                return Err(FieldError::new("master", "a link cannot be its own master").into());
            }
            let master_link = link::get_by_name(final_handle.route(), master.as_str())?
                .ok_or_else(|| OpError::MasterNotFound {
                    namespace: final_handle.namespace().clone(),
                    name: master.to_string(),
                })?;
            Some(Some(master_link))
        }
        Some(MasterChange::Release) => Some(None),
        None => None,
    };
    if let Some(mtu) = request.mtu {
        check_mtu(&original, mtu)?;
    }
    let reverse = reverse_of(&source, namespace, &original, request)?;

    let master_index = master.as_ref().map(|m| m.as_ref().map(|l| l.index));
    let mut undo = UndoLog::default();
    let result = apply_set(
        &source,
        destination.as_deref(),
        &original,
        name,
        request,
        master_index,
        &mut undo,
    );
    match result {
        Ok(changed) => {
            let warnings = match &master {
                Some(Some(master_link)) => port_warnings(
                    &final_handle,
                    destination.is_some(),
                    &original,
                    name,
                    master_link,
                ),
                _ => Ok(Vec::new()),
            };
            let outcome = if changed {
                Outcome::changed(reverse)
            } else {
                Outcome::unchanged(reverse)
            };
            Ok(outcome.with_checked_warnings(warnings))
        }
        Err(error) => {
            undo.run(&source, destination.as_deref(), name);
            Err(error)
        }
    }
}

/// The `SetLink` that would take `request` back, read from the link as it is now; `None` when the link
/// or namespace is missing (the request would fail). Read before a journaled change.
pub(super) async fn reverse(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    name: &LinkName,
    request: &SetLink,
) -> Result<Option<SetLink>, OpError> {
    let Ok(handle) = namespace_handle(registry, namespace).await else {
        return Ok(None);
    };
    match link::get_by_name(handle.route(), name.as_str())? {
        Some(original) => Ok(Some(reverse_of(&handle, namespace, &original, request)?)),
        None => Ok(None),
    }
}

/// The warnings for a link that just became a port of `master`.
fn port_warnings(
    handle: &NamespaceHandle,
    moved: bool,
    original: &Link,
    name: &LinkName,
    master: &Link,
) -> Result<Vec<Warning>, OpError> {
    // A moved link has a new index; read it where it is now.
    let port = if moved {
        existing_link(handle, name.as_str())?
    } else {
        original.clone()
    };
    super::address::enslave_warnings(handle, &port, master)
}

fn check_mtu(link: &Link, mtu: u32) -> Result<(), OpError> {
    let below = link.min_mtu.filter(|min| mtu < *min);
    let above = link.max_mtu.filter(|max| mtu > *max);
    match (below, above) {
        (Some(min), _) => Err(FieldError::new(
            "mtu",
            format!("{mtu} is below the minimum {min} of {}", link.name),
        )
        .into()),
        (_, Some(max)) => Err(FieldError::new(
            "mtu",
            format!("{mtu} is above the maximum {max} of {}", link.name),
        )
        .into()),
        _ => Ok(()),
    }
}

fn apply_set(
    source: &NamespaceHandle,
    destination: Option<&NamespaceHandle>,
    original: &Link,
    name: &LinkName,
    request: &SetLink,
    master_index: Option<Option<u32>>,
    undo: &mut UndoLog,
) -> Result<bool, OpError> {
    let mut changed = false;
    let handle = match destination {
        Some(destination) => {
            link::move_to_namespace(
                source.route(),
                original.index,
                name.as_str(),
                destination.fd(),
            )?;
            undo.moved = true;
            changed = true;
            destination
        }
        None => source,
    };
    // A moved link arrives down and without a master: compare against what it is now, not before.
    let current = match destination {
        Some(_) => existing_link(handle, name.as_str())?,
        None => original.clone(),
    };
    let mut steps = Vec::new();
    if let Some(mac) = request.mac.filter(|mac| current.mac != Some(*mac)) {
        steps.push((LinkChange::Mac(mac), current.mac.map(LinkChange::Mac)));
    }
    if let Some(mtu) = request.mtu.filter(|mtu| current.mtu != *mtu) {
        steps.push((LinkChange::Mtu(mtu), Some(LinkChange::Mtu(current.mtu))));
    }
    if let Some(master) = master_index.filter(|master| current.master != *master) {
        steps.push((
            LinkChange::Master(master),
            Some(LinkChange::Master(current.master)),
        ));
    }
    if let Some(up) = request.up.filter(|up| current.admin_up != *up) {
        steps.push((LinkChange::Up(up), Some(LinkChange::Up(current.admin_up))));
    }
    for (step, reverse) in steps {
        if let Err(error) = link::change(handle.route(), current.index, name.as_str(), &step) {
            return Err(explained_refusal(handle, request, &step, error));
        }
        changed = true;
        if let Some(reverse) = reverse {
            undo.changes.push(reverse);
        }
    }
    Ok(changed)
}

/// A refused step as the caller should see it. The kernel answers EINVAL, not ENODEV, when the master's
/// index names no link (`do_set_master`): a master that another caller deleted after it was looked up by
/// name is missing, not bad input, which reading the index back tells apart. Any other refusal is
/// returned as it came.
fn explained_refusal(
    handle: &NamespaceHandle,
    request: &SetLink,
    step: &LinkChange,
    error: crate::kernel::KernelError,
) -> OpError {
    let (LinkChange::Master(Some(master)), Some(MasterChange::Set(master_name))) =
        (step, &request.master)
    else {
        return error.into();
    };
    let refused_as_invalid = error.errno() == Some(nix::errno::Errno::EINVAL);
    if refused_as_invalid && matches!(link::get_by_index(handle.route(), *master), Ok(None)) {
        return OpError::MasterNotFound {
            namespace: handle.namespace().clone(),
            name: master_name.to_string(),
        };
    }
    error.into()
}

/// What a failed `set` has to take back, newest first.
#[derive(Default)]
struct UndoLog {
    moved: bool,
    changes: Vec<LinkChange>,
}

impl UndoLog {
    /// Best effort: the original error is what the caller needs to see, so undo failures are only logged.
    fn run(self, source: &NamespaceHandle, destination: Option<&NamespaceHandle>, name: &LinkName) {
        let handle = if self.moved {
            destination.unwrap_or(source)
        } else {
            source
        };
        for change in self.changes.iter().rev() {
            let Ok(Some(current)) = link::get_by_name(handle.route(), name.as_str()) else {
                return;
            };
            if let Err(e) = link::change(handle.route(), current.index, name.as_str(), change) {
                tracing::warn!(error = %e, "undo of a failed link change did not apply");
            }
        }
        if self.moved {
            if let Ok(Some(current)) = link::get_by_name(handle.route(), name.as_str()) {
                if let Err(e) = link::move_to_namespace(
                    handle.route(),
                    current.index,
                    name.as_str(),
                    source.fd(),
                ) {
                    tracing::warn!(error = %e, "undo of a link move did not apply");
                }
            }
        }
    }
}

/// The `SetLink` that takes `request` back, from the link's state `before` it is applied in `namespace`.
/// It acts in the namespace where `request` leaves the link.
fn reverse_of(
    handle: &NamespaceHandle,
    namespace: &NamespaceRef,
    before: &Link,
    request: &SetLink,
) -> Result<SetLink, OpError> {
    let moves = request
        .move_to
        .as_ref()
        .is_some_and(|target| target != namespace);
    // Only a change that touches the master needs the current master's name: spare the lookup otherwise.
    let master = match (request.master.is_some() || moves, before.master) {
        (false, _) => None,
        (true, Some(index)) => Some(match link::get_by_index(handle.route(), index)? {
            Some(master) => MasterChange::Set(LinkName::parse("master", &master.name)?),
            None => MasterChange::Release,
        }),
        (true, None) => Some(MasterChange::Release),
    };
    Ok(SetLink {
        up: (request.up.is_some() || moves).then_some(before.admin_up),
        mtu: request.mtu.map(|_| before.mtu),
        mac: request.mac.and(before.mac),
        master,
        move_to: moves.then(|| namespace.clone()),
    })
}
