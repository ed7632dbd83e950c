use std::net::IpAddr;
use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::nat_service_server::NatService;
use tonic::{Request, Response, Status};

use super::convert::family_to_proto;
use super::status::{invalid, nat_status, nat_unavailable_status, unexpected_detail, StatusError};
use super::validate::Validate;
use super::{apply_one, warnings_to_proto};
use crate::domain::{FieldError, LinkName, NamespaceRef};
use crate::nat::{
    parse_address, parse_optional_port, parse_port_range, parse_source, validate_comment,
    validate_spec, IpFamily, NatBackend, NatError, NatProtocol, NatRule, NatRuleSpec,
};
use crate::netns::NamespaceRegistry;
use crate::ops::gate::Gate;
use crate::ops::nat::{self as nat_ops, NatRuleRequest};
use crate::ops::Detail;

pub struct NatApi {
    registry: Arc<NamespaceRegistry>,
    backend: Arc<dyn NatBackend>,
    gate: Arc<Gate>,
    /// Why NAT is unusable on this host (no `nft`), found once at start.
    unavailable: Option<String>,
}

impl NatApi {
    pub fn new(
        registry: Arc<NamespaceRegistry>,
        backend: Arc<dyn NatBackend>,
        gate: Arc<Gate>,
        unavailable: Option<String>,
    ) -> Self {
        Self {
            registry,
            backend,
            gate,
            unavailable,
        }
    }

    fn check_available(&self) -> Result<(), Status> {
        match &self.unavailable {
            Some(reason) => Err(nat_unavailable_status(reason)),
            None => Ok(()),
        }
    }
}

pub(super) fn parse_add(request: &pb::AddNatRuleRequest) -> Result<NatRuleRequest, Status> {
    let namespace =
        NamespaceRef::parse("namespace", &request.namespace).map_err(StatusError::from)?;
    use pb::add_nat_rule_request::Kind;
    let (kind, parsed) = match &request.kind {
        Some(Kind::Masquerade(m)) => ("masquerade", parse_masquerade(m)),
        Some(Kind::Snat(s)) => ("snat", parse_snat(s)),
        Some(Kind::Dnat(d)) => ("dnat", parse_dnat(d)),
        None => {
            return Err(invalid(FieldError::new(
                "kind",
                "one of masquerade, snat or dnat is required",
            )))
        }
    };
    let (spec, interfaces) = parsed.map_err(|e| nat_status(&e, Some(kind)))?;
    let spec = validate_spec(&spec).map_err(|e| nat_status(&e, Some(kind)))?;
    validate_comment(&request.comment).map_err(|e| nat_status(&e, None))?;
    let interfaces = interfaces
        .into_iter()
        .map(|(field, name)| {
            LinkName::parse(field, &name)
                .map(|link| (field, link))
                .map_err(invalid)
        })
        .collect::<Result<_, _>>()?;
    Ok(NatRuleRequest {
        namespace,
        spec,
        interfaces,
        comment: request.comment.clone(),
    })
}

type SpecAndInterfaces = (NatRuleSpec, Vec<(&'static str, String)>);

fn optional(text: &str) -> Option<String> {
    Some(text.to_string()).filter(|t| !t.is_empty())
}

fn parse_masquerade(m: &pb::Masquerade) -> Result<SpecAndInterfaces, NatError> {
    let output_interface = optional(&m.output_interface);
    let interfaces = output_interface
        .iter()
        .map(|i| ("masquerade.output_interface", i.clone()))
        .collect();
    Ok((
        NatRuleSpec::Masquerade {
            source: parse_source(&m.source, m.source_prefix_len)?,
            output_interface,
        },
        interfaces,
    ))
}

fn parse_snat(s: &pb::Snat) -> Result<SpecAndInterfaces, NatError> {
    let spec = NatRuleSpec::Snat {
        source: parse_source(&s.source, s.source_prefix_len)?,
        output_interface: s.output_interface.clone(),
        to_address: parse_address("to_address", &s.to_address)?,
    };
    Ok((
        spec,
        vec![("snat.output_interface", s.output_interface.clone())],
    ))
}

fn parse_dnat(d: &pb::Dnat) -> Result<SpecAndInterfaces, NatError> {
    let protocol = match pb::NatProtocol::try_from(d.protocol) {
        Ok(pb::NatProtocol::Tcp) => NatProtocol::Tcp,
        Ok(pb::NatProtocol::Udp) => NatProtocol::Udp,
        _ => {
            return Err(NatError::Invalid {
                field: "protocol",
                reason: "must be tcp or udp".into(),
            })
        }
    };
    let destination = match d.destination.as_str() {
        "" => None,
        text => Some(parse_address("destination", text)?),
    };
    let input_interface = optional(&d.input_interface);
    let interfaces = input_interface
        .iter()
        .map(|i| ("dnat.input_interface", i.clone()))
        .collect();
    let spec = NatRuleSpec::Dnat {
        protocol,
        ports: parse_port_range(d.port, d.port_end)?,
        input_interface,
        destination,
        to_address: parse_address("to_address", &d.to_address)?,
        to_port: parse_optional_port("to_port", d.to_port)?,
    };
    Ok((spec, interfaces))
}

fn to_proto(rule: NatRule) -> pb::NatRule {
    use pb::nat_rule::Kind;
    let family = match rule.family() {
        IpFamily::V4 => crate::domain::Family::V4,
        IpFamily::V6 => crate::domain::Family::V6,
    };
    let kind = match spec_to_proto(&rule.spec) {
        SpecMessage::Masquerade(m) => Kind::Masquerade(m),
        SpecMessage::Snat(s) => Kind::Snat(s),
        SpecMessage::Dnat(d) => Kind::Dnat(d),
    };
    pb::NatRule {
        id: rule.id,
        family: family_to_proto(family),
        kind: Some(kind),
        comment: rule.comment,
        packets: rule.packets,
        bytes: rule.bytes,
    }
}

/// A rule's match and action as the wire's messages. `NatRule` (listings) and `AddNatRuleRequest` (a
/// topology's planned operations) each wrap them in a oneof of their own.
pub(super) enum SpecMessage {
    Masquerade(pb::Masquerade),
    Snat(pb::Snat),
    Dnat(pb::Dnat),
}

pub(super) fn spec_to_proto(spec: &NatRuleSpec) -> SpecMessage {
    let text = |address: Option<IpAddr>| address.map(|a| a.to_string()).unwrap_or_default();
    match spec {
        NatRuleSpec::Masquerade {
            source,
            output_interface,
        } => SpecMessage::Masquerade(pb::Masquerade {
            source: source.address.to_string(),
            source_prefix_len: u32::from(source.prefix_len),
            output_interface: output_interface.clone().unwrap_or_default(),
        }),
        NatRuleSpec::Snat {
            source,
            output_interface,
            to_address,
        } => SpecMessage::Snat(pb::Snat {
            source: source.address.to_string(),
            source_prefix_len: u32::from(source.prefix_len),
            output_interface: output_interface.clone(),
            to_address: to_address.to_string(),
        }),
        NatRuleSpec::Dnat {
            protocol,
            ports,
            input_interface,
            destination,
            to_address,
            to_port,
        } => SpecMessage::Dnat(pb::Dnat {
            protocol: match protocol {
                NatProtocol::Tcp => pb::NatProtocol::Tcp,
                NatProtocol::Udp => pb::NatProtocol::Udp,
            } as i32,
            port: u32::from(ports.first),
            port_end: if ports.last == ports.first {
                0
            } else {
                u32::from(ports.last)
            },
            input_interface: input_interface.clone().unwrap_or_default(),
            destination: text(*destination),
            to_address: to_address.to_string(),
            to_port: to_port.map(u32::from).unwrap_or(0),
        }),
    }
}

#[tonic::async_trait]
impl NatService for NatApi {
    async fn add_nat_rule(
        &self,
        request: Request<pb::AddNatRuleRequest>,
    ) -> Result<Response<pb::AddNatRuleResponse>, Status> {
        self.check_available()?;
        let requested = request.get_ref().validate()?;
        let applied = apply_one(
            &self.registry,
            &self.gate,
            Some(self.backend.clone()),
            None,
            requested,
        )
        .await?;
        let Detail::NatRule(rule) = applied.detail else {
            return Err(unexpected_detail("add NAT rule"));
        };
        Ok(Response::new(pb::AddNatRuleResponse {
            rule: Some(to_proto(rule)),
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn delete_nat_rule(
        &self,
        request: Request<pb::DeleteNatRuleRequest>,
    ) -> Result<Response<pb::DeleteNatRuleResponse>, Status> {
        self.check_available()?;
        let requested = request.get_ref().validate()?;
        let applied = apply_one(
            &self.registry,
            &self.gate,
            Some(self.backend.clone()),
            None,
            requested,
        )
        .await?;
        Ok(Response::new(pb::DeleteNatRuleResponse {
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn list_nat_rules(
        &self,
        request: Request<pb::ListNatRulesRequest>,
    ) -> Result<Response<pb::ListNatRulesResponse>, Status> {
        self.check_available()?;
        let namespace = request.get_ref().validate()?;
        let listing = nat_ops::list(&self.registry, self.backend.clone(), &namespace)
            .await
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::ListNatRulesResponse {
            rules: listing.rules.into_iter().map(to_proto).collect(),
            table_missing: listing.table_missing,
            foreign_rules: listing
                .foreign
                .into_iter()
                .map(|rule| pb::ForeignNatRule {
                    chain: rule.chain,
                    handle: rule.handle,
                    comment: rule.comment,
                    reason: rule.reason,
                })
                .collect(),
        }))
    }
}
