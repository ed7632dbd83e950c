//! HostTopology -> [`Desired`]: every embedded request goes through the `validate()` of its own single
//! call (one path), and its errors get the object's position in front (`links[3].link.name: ...`).

use std::collections::BTreeSet;

use nsfleet_proto::v1 as pb;
use tonic::Status;

use super::super::status::{invalid, nat_unavailable_status, parsed_as_other, prefixed};
use super::super::validate::Validate;
use crate::domain::{FieldError, LinkName, NamespaceRef};
use crate::ops::Operation;
use crate::topology::{
    Desired, DesiredForwarding, DesiredLink, ObjectId, ObjectKind, TopologyName,
};

/// The largest topology one host takes: as many objects as a batch.
const MAX_OBJECTS: usize = 100_000;

pub fn parse(
    topology: Option<&pb::HostTopology>,
    nat_unavailable: Option<&str>,
) -> Result<Desired, Status> {
    let Some(topology) = topology else {
        return Err(invalid(FieldError::new("topology", "is required")));
    };
    parse_topology(topology, "topology.", nat_unavailable)
}

pub fn parse_topology(
    t: &pb::HostTopology,
    prefix: &str,
    nat_unavailable: Option<&str>,
) -> Result<Desired, Status> {
    let at = |status: Status, position: String| prefixed(&status, format!("{prefix}{position}"));
    let field = |e: FieldError| at(invalid(e), String::new());
    let name = TopologyName::parse("name", &t.name).map_err(field)?;
    let count = t.namespaces.len()
        + t.links.len()
        + t.addresses.len()
        + t.routes.len()
        + t.forwarding.len()
        + t.nat_rules.len()
        + t.adopt.len();
    if count > MAX_OBJECTS {
        return Err(field(FieldError::new(
            "name",
            format!("{count} objects; at most {MAX_OBJECTS} per host"),
        )));
    }
    let mut desired = Desired::empty(name);
    for (i, request) in t.namespaces.iter().enumerate() {
        match request
            .validate()
            .map_err(|s| at(s, format!("namespaces[{i}].")))?
            .operation
        {
            Operation::CreateNamespace(name) => desired.namespaces.push(name),
            _ => return Err(parsed_as_other(&format!("{prefix}namespaces[{i}]"))),
        }
    }
    for (i, link) in t.links.iter().enumerate() {
        let Some(request) = &link.link else {
            return Err(field(FieldError::new(
                format!("links[{i}].link"),
                "is required",
            )));
        };
        let create = match request
            .validate()
            .map_err(|s| at(s, format!("links[{i}].link.")))?
            .operation
        {
            Operation::CreateLink(create) => create,
            _ => return Err(parsed_as_other(&format!("{prefix}links[{i}]"))),
        };
        let master = |name: &str, which: &str| -> Result<Option<LinkName>, Status> {
            if name.is_empty() {
                return Ok(None);
            }
            LinkName::parse(&format!("links[{i}].{which}"), name)
                .map(Some)
                .map_err(field)
        };
        desired.links.push(DesiredLink {
            create,
            up: link.up,
            peer_up: link.peer_up,
            master: master(&link.master, "master")?,
            peer_master: master(&link.peer_master, "peer_master")?,
        });
    }
    for (i, request) in t.addresses.iter().enumerate() {
        match request
            .validate()
            .map_err(|s| at(s, format!("addresses[{i}].")))?
            .operation
        {
            Operation::AddAddress(address) => desired.addresses.push(address),
            _ => return Err(parsed_as_other(&format!("{prefix}addresses[{i}]"))),
        }
    }
    for (i, request) in t.routes.iter().enumerate() {
        match request
            .validate()
            .map_err(|s| at(s, format!("routes[{i}].")))?
            .operation
        {
            Operation::AddRoute { request, .. } => desired.routes.push(request),
            _ => return Err(parsed_as_other(&format!("{prefix}routes[{i}]"))),
        }
    }
    for (i, request) in t.forwarding.iter().enumerate() {
        match request
            .validate()
            .map_err(|s| at(s, format!("forwarding[{i}].")))?
            .operation
        {
            Operation::SetForwarding {
                namespace,
                family,
                enabled,
            } => desired.forwarding.push(DesiredForwarding {
                namespace,
                family,
                enabled,
            }),
            _ => return Err(parsed_as_other(&format!("{prefix}forwarding[{i}]"))),
        }
    }
    for (i, request) in t.nat_rules.iter().enumerate() {
        // Availability first, as the single call checks it before the request.
        if let Some(reason) = nat_unavailable {
            return Err(at(
                nat_unavailable_status(reason),
                format!("nat_rules[{i}]: "),
            ));
        }
        match request
            .validate()
            .map_err(|s| at(s, format!("nat_rules[{i}].")))?
            .operation
        {
            Operation::AddNatRule(rule) => desired.nat_rules.push(rule),
            _ => return Err(parsed_as_other(&format!("{prefix}nat_rules[{i}]"))),
        }
    }
    let mut adopt = BTreeSet::new();
    for (i, object) in t.adopt.iter().enumerate() {
        adopt.insert(object_id(object, &format!("adopt[{i}]")).map_err(field)?);
    }
    desired.adopt = adopt;
    desired.check().map_err(field)?;
    Ok(desired)
}

/// An `ObjectRef` as given by a caller, checked as far as it can be without the host.
pub fn object_id(object: &pb::ObjectRef, field: &str) -> Result<ObjectId, FieldError> {
    let kind = match pb::ObjectKind::try_from(object.kind) {
        Ok(pb::ObjectKind::Namespace) => ObjectKind::Namespace,
        Ok(pb::ObjectKind::Link) => ObjectKind::Link,
        Ok(pb::ObjectKind::Address) => ObjectKind::Address,
        Ok(pb::ObjectKind::Route) => ObjectKind::Route,
        Ok(pb::ObjectKind::Forwarding) => ObjectKind::Forwarding,
        Ok(pb::ObjectKind::NatRule) => ObjectKind::NatRule,
        _ => {
            return Err(FieldError::new(
                format!("{field}.kind"),
                "must name a kind of object",
            ))
        }
    };
    NamespaceRef::parse(&format!("{field}.namespace"), &object.namespace)?;
    if object.name.is_empty() {
        return Err(FieldError::new(
            format!("{field}.name"),
            "must not be empty",
        ));
    }
    if kind == ObjectKind::Address && object.link.is_empty() {
        return Err(FieldError::new(
            format!("{field}.link"),
            "an address needs its link",
        ));
    }
    Ok(ObjectId {
        kind,
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        link: object.link.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn veth(name: &str, peer_namespace: &str) -> pb::TopologyLink {
        pb::TopologyLink {
            link: Some(pb::CreateLinkRequest {
                namespace: String::new(),
                name: name.into(),
                kind: Some(pb::create_link_request::Kind::Veth(pb::VethSpec {
                    peer_name: "eth0".into(),
                    peer_namespace: Some(peer_namespace.into()),
                })),
                mtu: 0,
            }),
            up: true,
            peer_up: true,
            ..Default::default()
        }
    }

    fn topology() -> pb::HostTopology {
        pb::HostTopology {
            name: "lab".into(),
            namespaces: vec![pb::CreateNamespaceRequest { name: "a".into() }],
            links: vec![veth("veth-a", "a")],
            ..Default::default()
        }
    }

    fn refused(topology: &pb::HostTopology) -> Status {
        parse(Some(topology), None).expect_err("refused")
    }

    #[test]
    fn an_embedded_request_is_refused_exactly_as_its_single_call_with_its_position() {
        let mut bad = topology();
        bad.links[0] = veth("bad/name", "a");
        let single = bad.links[0]
            .link
            .as_ref()
            .expect("a link")
            .validate()
            .expect_err("the single call refuses it");
        let status = refused(&bad);
        assert_eq!(status.code(), single.code());
        assert_eq!(
            status.message(),
            format!("topology.links[0].link.{}", single.message())
        );
    }

    #[test]
    fn whole_state_checks_name_the_field() {
        let mut cases = Vec::new();
        let mut name = topology();
        name.name = "9lives".into();
        cases.push((name, "topology.name: "));
        let mut duplicate = topology();
        duplicate
            .namespaces
            .push(pb::CreateNamespaceRequest { name: "a".into() });
        cases.push((duplicate, "topology.namespaces[1].name: "));
        let mut undefined = topology();
        undefined.links.push(veth("veth-b", "b"));
        cases.push((undefined, "topology.links[1].link.veth.peer_namespace: "));
        let mut missing = topology();
        missing.links.push(pb::TopologyLink::default());
        cases.push((missing, "topology.links[1].link: "));
        let mut adopt = topology();
        adopt.adopt.push(pb::ObjectRef::default());
        cases.push((adopt, "topology.adopt[0].kind: "));
        for (topology, field) in cases {
            let status = refused(&topology);
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{field}");
            assert!(status.message().starts_with(field), "{}", status.message());
        }
        assert_eq!(
            refused(&pb::HostTopology::default()).code(),
            tonic::Code::InvalidArgument
        );
        assert!(parse(None, None).is_err());
    }

    #[test]
    fn nat_rules_on_a_host_without_nft_are_refused_before_anything() {
        let mut nat = topology();
        nat.nat_rules.push(pb::AddNatRuleRequest::default());
        let status = parse(Some(&nat), Some("nft is missing")).expect_err("refused");
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert!(
            status.message().starts_with("topology.nat_rules[0]: "),
            "{}",
            status.message()
        );
    }

    #[test]
    fn a_valid_state_parses_whole() {
        let desired = parse(Some(&topology()), None).expect("valid");
        assert_eq!(desired.name.as_str(), "lab");
        assert_eq!(desired.links.len(), 1);
        assert!(desired.links[0].up && desired.links[0].peer_up);
    }
}
