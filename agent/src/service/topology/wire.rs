//! Domain -> wire for what a plan shows: each change's operations exactly as ApplyBatch takes them, and
//! object references.

use nsfleet_proto::v1 as pb;
use pb::batch_operation::Operation as Wire;

use super::super::convert::{family_to_proto, scope_to_proto};
use super::super::nat::SpecMessage;
use crate::nat::NatRuleSpec;
use crate::ops::address::Broadcast;
use crate::ops::link::{LinkKindSpec, MasterChange};
use crate::ops::route::RouteRequest;
use crate::ops::Operation;
use crate::topology::{Action, Change, ObjectId, ObjectKind};

pub fn change(change: &Change) -> pb::PlannedChange {
    pb::PlannedChange {
        action: action(change.action) as i32,
        object: Some(object(&change.object)),
        reason: change.reason.clone(),
        operations: change.operations.iter().map(operation).collect(),
    }
}

fn action(action: Action) -> pb::ChangeAction {
    match action {
        Action::Create => pb::ChangeAction::Create,
        Action::Update => pb::ChangeAction::Update,
        Action::Delete => pb::ChangeAction::Delete,
        Action::Replace => pb::ChangeAction::Replace,
    }
}

pub fn object(id: &ObjectId) -> pb::ObjectRef {
    let kind = match id.kind {
        ObjectKind::Namespace => pb::ObjectKind::Namespace,
        ObjectKind::Link => pb::ObjectKind::Link,
        ObjectKind::Address => pb::ObjectKind::Address,
        ObjectKind::Route => pb::ObjectKind::Route,
        ObjectKind::Forwarding => pb::ObjectKind::Forwarding,
        ObjectKind::NatRule => pb::ObjectKind::NatRule,
    };
    pb::ObjectRef {
        kind: kind as i32,
        namespace: id.namespace.clone(),
        name: id.name.clone(),
        link: id.link.clone(),
    }
}

pub fn operation(operation: &Operation) -> pb::BatchOperation {
    let wire = match operation {
        Operation::CreateNamespace(name) => Wire::CreateNamespace(pb::CreateNamespaceRequest {
            name: name.to_string(),
        }),
        Operation::DeleteNamespace {
            name,
            ignore_missing,
        } => Wire::DeleteNamespace(pb::DeleteNamespaceRequest {
            name: name.to_string(),
            ignore_missing: *ignore_missing,
            ..Default::default()
        }),
        Operation::CreateLink(create) => Wire::CreateLink(pb::CreateLinkRequest {
            namespace: create.namespace.as_api_str().to_string(),
            name: create.name.to_string(),
            mtu: create.mtu.unwrap_or(0),
            kind: Some(match &create.kind {
                LinkKindSpec::Veth {
                    peer,
                    peer_namespace,
                } => pb::create_link_request::Kind::Veth(pb::VethSpec {
                    peer_name: peer.to_string(),
                    peer_namespace: Some(peer_namespace.as_api_str().to_string()),
                }),
                LinkKindSpec::Bridge => pb::create_link_request::Kind::Bridge(pb::BridgeSpec {}),
                LinkKindSpec::Vxlan(params) => {
                    pb::create_link_request::Kind::Vxlan(super::super::link::vxlan_to_proto(params))
                }
            }),
        }),
        Operation::DeleteLink {
            namespace,
            name,
            ignore_missing,
        } => Wire::DeleteLink(pb::DeleteLinkRequest {
            namespace: namespace.as_api_str().to_string(),
            name: name.to_string(),
            ignore_missing: *ignore_missing,
            ..Default::default()
        }),
        Operation::SetLink {
            namespace,
            name,
            change,
        } => Wire::SetLink(pb::SetLinkRequest {
            namespace: namespace.as_api_str().to_string(),
            name: name.to_string(),
            up: change.up,
            mtu: change.mtu,
            mac: change.mac.map(|m| m.to_string()),
            master_change: change.master.as_ref().map(|m| match m {
                MasterChange::Set(master) => {
                    pb::set_link_request::MasterChange::Master(master.to_string())
                }
                MasterChange::Release => pb::set_link_request::MasterChange::Nomaster(true),
            }),
            move_to_namespace: change.move_to.as_ref().map(|n| n.as_api_str().to_string()),
            ..Default::default()
        }),
        Operation::AddAddress(address) => {
            let (mode, broadcast) = match address.broadcast {
                Broadcast::None => (pb::BroadcastMode::None, String::new()),
                Broadcast::Computed => (pb::BroadcastMode::Computed, String::new()),
                Broadcast::Explicit(b) => (pb::BroadcastMode::Explicit, b.to_string()),
            };
            Wire::AddAddress(pb::AddAddressRequest {
                namespace: address.namespace.as_api_str().to_string(),
                link: address.link.to_string(),
                address: address.prefix.address.to_string(),
                prefix_len: u32::from(address.prefix.prefix_len),
                broadcast_mode: mode as i32,
                broadcast,
                label: address.label.clone().unwrap_or_default(),
                scope: address.scope.map(scope_to_proto).unwrap_or(0),
            })
        }
        Operation::DeleteAddress {
            namespace,
            link,
            prefix,
            ignore_missing,
        } => Wire::DeleteAddress(pb::DeleteAddressRequest {
            namespace: namespace.as_api_str().to_string(),
            link: link.to_string(),
            address: prefix.address.to_string(),
            prefix_len: u32::from(prefix.prefix_len),
            ignore_missing: *ignore_missing,
            ..Default::default()
        }),
        Operation::AddRoute {
            request,
            replace: false,
        } => Wire::AddRoute(pb::AddRouteRequest {
            namespace: request.namespace.as_api_str().to_string(),
            route: Some(route(request)),
        }),
        Operation::AddRoute {
            request,
            replace: true,
        } => Wire::ReplaceRoute(pb::ReplaceRouteRequest {
            namespace: request.namespace.as_api_str().to_string(),
            route: Some(route(request)),
            ..Default::default()
        }),
        Operation::DeleteRoute {
            request,
            ignore_missing,
        } => Wire::DeleteRoute(pb::DeleteRouteRequest {
            namespace: request.namespace.as_api_str().to_string(),
            route: Some(route(request)),
            ignore_missing: *ignore_missing,
            ..Default::default()
        }),
        Operation::SetForwarding {
            namespace,
            family,
            enabled,
        } => Wire::SetForwarding(pb::SetForwardingRequest {
            namespace: namespace.as_api_str().to_string(),
            family: family_to_proto(*family),
            enabled: *enabled,
        }),
        Operation::AddNatRule(rule) => Wire::AddNatRule(pb::AddNatRuleRequest {
            namespace: rule.namespace.as_api_str().to_string(),
            kind: Some(nat_kind(&rule.spec)),
            comment: rule.comment.clone(),
        }),
        Operation::DeleteNatRule {
            namespace,
            id,
            ignore_missing,
        } => Wire::DeleteNatRule(pb::DeleteNatRuleRequest {
            namespace: namespace.as_api_str().to_string(),
            id: id.clone(),
            ignore_missing: *ignore_missing,
        }),
    };
    pb::BatchOperation {
        operation: Some(wire),
    }
}

fn route(request: &RouteRequest) -> pb::RouteSpec {
    let text = |v: Option<std::net::IpAddr>| v.map(|a| a.to_string()).unwrap_or_default();
    pb::RouteSpec {
        destination: request.destination.address.to_string(),
        prefix_len: u32::from(request.destination.prefix_len),
        family: family_to_proto(request.destination.family()),
        gateway: text(request.gateway),
        device: request
            .device
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        metric: request.metric,
        table: request.table,
        scope: request.scope.map(scope_to_proto).unwrap_or(0),
        source: text(request.source),
    }
}

fn nat_kind(spec: &NatRuleSpec) -> pb::add_nat_rule_request::Kind {
    use pb::add_nat_rule_request::Kind;
    match super::super::nat::spec_to_proto(spec) {
        SpecMessage::Masquerade(m) => Kind::Masquerade(m),
        SpecMessage::Snat(s) => Kind::Snat(s),
        SpecMessage::Dnat(d) => Kind::Dnat(d),
    }
}
