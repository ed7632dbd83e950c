//! The operations that bring a link to its desired settings, and the small ones plans share.

use crate::domain::{LinkName, NamespaceName, NamespaceRef};
use crate::ops::link::{CreateLink, LinkKindSpec, MasterChange, SetLink};
use crate::ops::Operation;

use crate::topology::desired::DesiredLink;
use crate::topology::observe::ObservedLink;

/// Every namespace of a topology has `lo` up: nothing in a namespace works without it.
pub(super) fn lo_up_operation(name: &NamespaceName) -> Vec<Operation> {
    LinkName::parse("name", "lo")
        .map(|lo| Operation::SetLink {
            namespace: NamespaceRef::Named(name.clone()),
            name: lo,
            change: SetLink {
                up: Some(true),
                ..SetLink::default()
            },
        })
        .into_iter()
        .collect()
}

pub(super) fn delete_link(namespace: &NamespaceRef, name: &LinkName) -> Operation {
    Operation::DeleteLink {
        namespace: namespace.clone(),
        name: name.clone(),
        ignore_missing: true,
    }
}

/// What a link's settings (and a veth's peer's) need to go from what is observed (`None`: just
/// created, down and without master) to what is desired: the SetLink operations and why, for a person.
pub(super) fn settings(
    link: &DesiredLink,
    observed: Option<&ObservedLink>,
    peer_observed: Option<&ObservedLink>,
) -> (Vec<Operation>, Vec<String>) {
    let create = &link.create;
    let (mut operations, mut reasons) = set_link(
        &create.namespace,
        &create.name,
        observed,
        link.up,
        link.master.as_ref(),
        create.mtu,
    );
    if let Some((namespace, name)) = link.peer() {
        let (peer_operations, peer_reasons) = set_link(
            namespace,
            name,
            peer_observed,
            link.peer_up,
            link.peer_master.as_ref(),
            None,
        );
        operations.extend(peer_operations);
        reasons.extend(peer_reasons.into_iter().map(|r| format!("peer {r}")));
    }
    (operations, reasons)
}

pub(super) fn set_link(
    namespace: &NamespaceRef,
    name: &LinkName,
    observed: Option<&ObservedLink>,
    up: bool,
    master: Option<&LinkName>,
    mtu: Option<u32>,
) -> (Vec<Operation>, Vec<String>) {
    let mut change = SetLink::default();
    let mut reasons = Vec::new();
    let observed_up = observed.is_some_and(|o| o.up);
    if observed_up != up {
        change.up = Some(up);
        reasons.push(if up { "down -> up" } else { "up -> down" }.to_string());
    }
    let observed_master = observed.and_then(|o| o.master.as_deref());
    match (master, observed_master) {
        (Some(wanted), current) if current != Some(wanted.as_str()) => {
            change.master = Some(MasterChange::Set(wanted.clone()));
            reasons.push(format!("master {} -> {wanted}", current.unwrap_or("none")));
        }
        (None, Some(current)) => {
            change.master = Some(MasterChange::Release);
            reasons.push(format!("master {current} -> none"));
        }
        _ => {}
    }
    if let (Some(mtu), Some(observed)) = (mtu, observed) {
        if observed.mtu != mtu {
            change.mtu = Some(mtu);
            reasons.push(format!("mtu {} -> {mtu}", observed.mtu));
        }
    }
    if reasons.is_empty() {
        return (Vec::new(), reasons);
    }
    let operation = Operation::SetLink {
        namespace: namespace.clone(),
        name: name.clone(),
        change,
    };
    (vec![operation], reasons)
}

/// Why a VXLAN link must be made again: the kernel changes none of a tunnel's parameters in place
/// (VNI, addresses, port, device), so any difference is a replace. `None` for other kinds.
pub(super) fn vxlan_change(create: &CreateLink, observed: &ObservedLink) -> Option<String> {
    let LinkKindSpec::Vxlan(wanted) = &create.kind else {
        return None;
    };
    match &observed.vxlan {
        Some(existing) => {
            let differences = existing.differences(wanted);
            (!differences.is_empty()).then(|| format!("vxlan {}", differences.join(", ")))
        }
        None => Some("vxlan parameters unreadable".to_string()),
    }
}
