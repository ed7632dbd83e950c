//! Adding and removing interface addresses, and the bridge-port warning.

use std::net::{IpAddr, Ipv4Addr};

use crate::domain::{is_invisible, Family, FieldError, IpPrefix, LinkName, NamespaceRef, Scope};
use crate::kernel::address::{self, Address, AddressSpec};
use crate::kernel::link::{self, Link};
use crate::netns::{NamespaceHandle, NamespaceRegistry};

use super::link::namespace_handle;
use super::{OpError, Outcome, Warning, WarningCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broadcast {
    None,
    /// All host bits set (`brd +`).
    Computed,
    Explicit(Ipv4Addr),
}

#[derive(Debug, Clone)]
pub struct AddAddress {
    pub namespace: NamespaceRef,
    pub link: LinkName,
    pub prefix: IpPrefix,
    pub broadcast: Broadcast,
    pub label: Option<String>,
    pub scope: Option<Scope>,
    /// Mark the address as nsfleet's (IFA_PROTO): only a topology does.
    pub marked: bool,
}

#[derive(Debug, Clone)]
pub struct AddressView {
    pub namespace: NamespaceRef,
    pub link: String,
    pub address: Address,
}

/// What an add did to the kernel: undoing a creation deletes the address, undoing an update must not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressChange {
    Created,
    Updated,
    None,
}

/// A link that a request names in `field`: a missing one is NOT_FOUND, as for GetLink and SetLink.
pub(super) async fn referenced_link(
    handle: &NamespaceHandle,
    field: &str,
    name: &LinkName,
) -> Result<Link, OpError> {
    link::get_by_name(handle.route(), name.as_str())?.ok_or_else(|| {
        OpError::ReferencedLinkNotFound {
            field: field.to_string(),
            namespace: handle.namespace().clone(),
            name: name.to_string(),
        }
    })
}

pub async fn add(
    registry: &NamespaceRegistry,
    request: &AddAddress,
) -> Result<Outcome<(AddressView, AddressChange)>, OpError> {
    let handle = namespace_handle(registry, &request.namespace).await?;
    let target = referenced_link(&handle, "link", &request.link).await?;
    check_loopback_address(&request.prefix, &target)?;
    let spec = AddressSpec {
        link_index: target.index,
        prefix: request.prefix,
        broadcast: match request.broadcast {
            Broadcast::None => None,
            Broadcast::Computed => request.prefix.broadcast(),
            Broadcast::Explicit(address) => Some(address),
        },
        label: request.label.clone(),
        scope: request.scope,
        protocol: request.marked.then_some(super::marker::NSFLEET_PROTOCOL),
    };
    let context = format!(
        "add {} to {} in {}",
        request.prefix,
        target.name,
        handle.namespace()
    );
    let change = match find(&handle, target.index, request.prefix)? {
        Some(existing) if satisfies(&existing, &spec) => AddressChange::None,
        // Same address, other attributes: update it in place rather than fail.
        Some(_) => {
            address::add(handle.route(), &spec, true, &context)?;
            AddressChange::Updated
        }
        None => {
            address::add(handle.route(), &spec, false, &context)?;
            AddressChange::Created
        }
    };
    let current =
        find(&handle, target.index, request.prefix)?.ok_or_else(|| OpError::AddressVanished {
            prefix: request.prefix,
            link: target.name.clone(),
        })?;
    let warnings = bridge_port_warnings(&handle, &target, std::slice::from_ref(&current));
    let view = AddressView {
        namespace: request.namespace.clone(),
        link: target.name,
        address: current,
    };
    let outcome = match change {
        AddressChange::None => Outcome::unchanged((view, change)),
        _ => Outcome::changed((view, change)),
    };
    Ok(outcome.with_checked_warnings(warnings))
}

/// Addresses no interface can hold, refused before the kernel says EADDRNOTAVAIL (which would read as
/// NOT_FOUND) or, for 0.0.0.0, accepts the request and stores nothing.
pub fn check_assignable(prefix: &IpPrefix) -> Result<(), FieldError> {
    let address = prefix.address;
    let reason = if address.is_unspecified() {
        Some("is the unspecified address, which no interface can hold")
    } else if matches!(address, IpAddr::V6(v6) if v6.is_multicast()) {
        Some("is a multicast address; join a group instead of assigning it")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(FieldError::new("address", format!("{address} {reason}"))),
        None => Ok(()),
    }
}

/// The kernel keeps ::1 for loopback devices (EADDRNOTAVAIL elsewhere): no state of the host changes that.
fn check_loopback_address(prefix: &IpPrefix, target: &Link) -> Result<(), FieldError> {
    let is_v6_loopback = matches!(prefix.address, IpAddr::V6(v6) if v6.is_loopback());
    if is_v6_loopback && !target.flags.contains(&"LOOPBACK") {
        return Err(FieldError::new(
            "address",
            format!(
                "{} is the IPv6 loopback address; only a loopback link such as lo can hold it, not {}",
                prefix.address, target.name
            ),
        ));
    }
    Ok(())
}

/// The checks of an address request that need no kernel: also part of the service's `validate`.
pub fn check_ipv4_only_fields(request: &AddAddress) -> Result<(), FieldError> {
    if request.prefix.family() == Family::V6 {
        if request.broadcast != Broadcast::None {
            return Err(FieldError::new(
                "broadcast_mode",
                "broadcast addresses are IPv4 only",
            ));
        }
        if request.label.is_some() {
            return Err(FieldError::new("label", "labels are IPv4 only"));
        }
    }
    if let Some(label) = &request.label {
        let link = request.link.as_str();
        let fits = label == link
            || label
                .strip_prefix(link)
                .is_some_and(|rest| rest.starts_with(':'));
        if !fits || label.len() > 15 || label.chars().any(is_invisible) {
            return Err(FieldError::new(
                "label",
                format!("{label:?} must be {link} or start with \"{link}:\", at most 15 bytes"),
            ));
        }
    }
    Ok(())
}

fn satisfies(existing: &Address, wanted: &AddressSpec) -> bool {
    (wanted.broadcast.is_none() || existing.broadcast == wanted.broadcast)
        && (wanted.label.is_none() || existing.label == wanted.label)
        && wanted.scope.is_none_or(|scope| existing.scope == scope)
}

/// Whether the address a request would add is already on its link (`None`: the namespace or link is
/// missing, so the request would fail). Read before a journaled add.
pub(super) async fn exists(
    registry: &NamespaceRegistry,
    request: &AddAddress,
) -> Result<Option<bool>, OpError> {
    let Ok(handle) = namespace_handle(registry, &request.namespace).await else {
        return Ok(None);
    };
    let Some(target) = crate::kernel::link::get_by_name(handle.route(), request.link.as_str())?
    else {
        return Ok(None);
    };
    Ok(Some(find(&handle, target.index, request.prefix)?.is_some()))
}

fn find(
    handle: &NamespaceHandle,
    link_index: u32,
    prefix: IpPrefix,
) -> Result<Option<Address>, OpError> {
    Ok(
        address::list_of_link(handle.route(), link_index, Some(prefix.family()))?
            .into_iter()
            .find(|a| a.prefix == prefix),
    )
}

pub async fn delete(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    link_name: &LinkName,
    prefix: IpPrefix,
    ignore_missing: bool,
) -> Result<Outcome<()>, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let target = referenced_link(&handle, "link", link_name).await?;
    if find(&handle, target.index, prefix)?.is_none() {
        return if ignore_missing {
            Ok(Outcome::unchanged(()))
        } else {
            Err(OpError::AddressNotFound {
                namespace: namespace.clone(),
                link: link_name.to_string(),
                prefix,
            })
        };
    }
    let context = format!("delete {prefix} from {link_name} in {namespace}");
    address::delete(handle.route(), target.index, prefix, &context)?;
    Ok(Outcome::changed(()))
}

pub async fn list(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    link_name: Option<&LinkName>,
    family: Option<Family>,
) -> Result<Vec<AddressView>, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let only = match link_name {
        Some(name) => Some(referenced_link(&handle, "link", name).await?.index),
        None => None,
    };
    let links = link::list(handle.route())?;
    let mut addresses: Vec<Address> = address::list(handle.route(), family)?
        .into_iter()
        .filter(|a| only.is_none_or(|index| a.link_index == index))
        .collect();
    // Stable sort: the kernel's order (primary before secondary) survives within a link and family.
    addresses.sort_by_key(|a| (a.link_index, a.prefix.family()));
    Ok(addresses
        .into_iter()
        .map(|address| AddressView {
            namespace: namespace.clone(),
            link: links
                .iter()
                .find(|l| l.index == address.link_index)
                .map(|l| l.name.clone())
                .unwrap_or_default(),
            address,
        })
        .collect())
}

/// An address on a bridge port brings a prefix route through the port, which competes with the bridge's
/// own route to that prefix: the host then answers through the port, where ARP never resolves (replies
/// arrive on the bridge). The kernel accepts it; the caller needs to hear about it.
pub(super) fn bridge_port_warnings(
    handle: &NamespaceHandle,
    port: &Link,
    addresses: &[Address],
) -> Result<Vec<Warning>, OpError> {
    let Some(master_index) = port.master else {
        return Ok(Vec::new());
    };
    let Some(master) = link::get_by_index(handle.route(), master_index)? else {
        return Ok(Vec::new());
    };
    Ok(warnings_for_port(handle, port, &master, addresses))
}

fn warnings_for_port(
    handle: &NamespaceHandle,
    port: &Link,
    master: &Link,
    addresses: &[Address],
) -> Vec<Warning> {
    if master.kind.as_deref() != Some("bridge") {
        return Vec::new();
    }
    let namespace_flag = match handle.namespace() {
        NamespaceRef::Host => String::new(),
        NamespaceRef::Named(name) => format!("-n {name} "),
    };
    addresses
        .iter()
        .filter(|a| a.scope != Scope::Link && a.scope != Scope::Host)
        .map(|a| {
            let network = a.prefix.network();
            Warning {
                code: WarningCode::AddressOnBridgePort,
                message: format!(
                    "{} is on {}, a port of bridge {}: its route {network} dev {} competes with {}'s route to the \
                     same prefix, so traffic to {network} can leave through {} and bypass the bridge (replies \
                     to the host then go unanswered)",
                    a.prefix, port.name, master.name, port.name, master.name, port.name
                ),
                fix: format!(
                    "nsfleet {namespace_flag}addr del {} dev {} (put the gateway address on {} instead)",
                    a.prefix, port.name, master.name
                ),
            }
        })
        .collect()
}

/// The warnings for making `port` a port of `master` while it holds addresses.
pub(super) fn enslave_warnings(
    handle: &NamespaceHandle,
    port: &Link,
    master: &Link,
) -> Result<Vec<Warning>, OpError> {
    // Only the port's addresses: a whole-namespace dump here made enslaving the n-th port cost O(n).
    let addresses = address::list_of_link(handle.route(), port.index, None)?;
    Ok(warnings_for_port(handle, port, master, &addresses))
}
