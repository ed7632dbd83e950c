//! Checks a NAT request without touching the system, so the gRPC layer can reject it before anything
//! runs. Field names in errors are those of nsfleet.v1 (`source_prefix_len`, `port_end`, ...).

use std::net::IpAddr;

use super::error::NatError;
use super::spec::{IpFamily, IpPrefix, NatRuleSpec, PortRange, MAX_COMMENT_BYTES};
use crate::domain::LinkName;

/// Returns the canonical form of `spec` (host bits of the source cleared), or the first problem found.
pub fn validate_spec(spec: &NatRuleSpec) -> Result<NatRuleSpec, NatError> {
    match spec {
        NatRuleSpec::Masquerade {
            source,
            output_interface,
        } => {
            let source = validate_source(source)?;
            if let Some(name) = output_interface {
                validate_interface_name("output_interface", name)?;
            }
            Ok(NatRuleSpec::Masquerade {
                source,
                output_interface: output_interface.clone(),
            })
        }
        NatRuleSpec::Snat {
            source,
            output_interface,
            to_address,
        } => {
            let source = validate_source(source)?;
            if output_interface.is_empty() {
                return Err(NatError::invalid(
                    "output_interface",
                    "required for snat (the address to rewrite to belongs to one interface)",
                ));
            }
            validate_interface_name("output_interface", output_interface)?;
            validate_target("to_address", to_address)?;
            require_same_family("to_address", to_address, "source", source.family())?;
            Ok(spec_with_source(spec, source))
        }
        NatRuleSpec::Dnat {
            ports,
            input_interface,
            destination,
            to_address,
            to_port,
            ..
        } => {
            validate_ports(ports, *to_port)?;
            if let Some(name) = input_interface {
                validate_interface_name("input_interface", name)?;
            }
            validate_target("to_address", to_address)?;
            if let Some(destination) = destination {
                validate_target("destination", destination)?;
                require_same_family(
                    "to_address",
                    to_address,
                    "destination",
                    IpFamily::of(destination),
                )?;
            }
            Ok(spec.clone())
        }
    }
}

/// A comment must fit nft's comment budget next to the id and survive `nft list ruleset > f; nft -f f`.
pub fn validate_comment(comment: &str) -> Result<(), NatError> {
    if comment.len() > MAX_COMMENT_BYTES {
        return Err(NatError::invalid(
            "comment",
            format!(
                "{} bytes; at most {MAX_COMMENT_BYTES} fit beside the rule id in an nft comment",
                comment.len()
            ),
        ));
    }
    if let Some(bad) = comment.chars().find(|c| c.is_control() || *c == '"') {
        return Err(NatError::invalid(
            "comment",
            format!("{bad:?} is not allowed (printable text without double quotes)"),
        ));
    }
    Ok(())
}

/// A link name (the one validator, `LinkName::parse`), without the characters nft gives a meaning to in
/// names (`*` is a wildcard) or that break its text output.
pub fn validate_interface_name(field: &'static str, name: &str) -> Result<(), NatError> {
    LinkName::parse(field, name).map_err(|e| NatError::invalid(field, e.reason))?;
    if let Some(bad) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, '*' | '"' | '\\'))
    {
        return Err(NatError::invalid(
            field,
            format!("{name:?} contains {bad:?}, which nft gives a meaning to in names"),
        ));
    }
    Ok(())
}

/// An address field as text ("" is the caller's business: it means "any" for some fields).
pub fn parse_address(field: &'static str, text: &str) -> Result<IpAddr, NatError> {
    text.parse()
        .map_err(|_| NatError::invalid(field, format!("{text:?} is not an IPv4 or IPv6 address")))
}

/// A source network from its two wire fields (`source`, `source_prefix_len`), host bits cleared.
pub fn parse_source(text: &str, prefix_len: u32) -> Result<IpPrefix, NatError> {
    let addr = parse_address("source", text)?;
    let len = u8::try_from(prefix_len).unwrap_or(u8::MAX);
    validate_source(&IpPrefix::new(addr, len))
}

/// A destination port range from wire fields where `port_end` 0 means just `port`.
pub fn parse_port_range(port: u32, port_end: u32) -> Result<PortRange, NatError> {
    let first = u16::try_from(port)
        .ok()
        .filter(|&port| port != 0)
        .ok_or_else(|| NatError::invalid("port", format!("{port} is not a port (1-65535)")))?;
    if port_end == 0 {
        return Ok(PortRange::single(first));
    }
    let last = u16::try_from(port_end).map_err(|_| {
        NatError::invalid("port_end", format!("{port_end} is not a port (1-65535)"))
    })?;
    let range = PortRange { first, last };
    validate_ports(&range, None)?;
    Ok(range)
}

/// A port where 0 means "unset".
pub fn parse_optional_port(field: &'static str, port: u32) -> Result<Option<u16>, NatError> {
    match port {
        0 => Ok(None),
        _ => u16::try_from(port)
            .map(Some)
            .map_err(|_| NatError::invalid(field, format!("{port} is not a port (1-65535)"))),
    }
}

fn validate_source(source: &IpPrefix) -> Result<IpPrefix, NatError> {
    let max = source.family().max_prefix_len();
    if source.prefix_len > max {
        return Err(NatError::invalid(
            "source_prefix_len",
            format!(
                "{} is longer than an {} address ({max} bits)",
                source.prefix_len,
                source.family().name()
            ),
        ));
    }
    Ok(source.network())
}

/// An address traffic is rewritten to (or matched as destination) must name one host.
fn validate_target(field: &'static str, addr: &IpAddr) -> Result<(), NatError> {
    let reason = if addr.is_unspecified() {
        "the unspecified address names no host"
    } else if addr.is_multicast() {
        "a multicast address names no single host"
    } else if matches!(addr, IpAddr::V4(a) if a.is_broadcast()) {
        "the broadcast address names no single host"
    } else {
        return Ok(());
    };
    Err(NatError::invalid(field, format!("{addr}: {reason}")))
}

fn require_same_family(
    field: &'static str,
    addr: &IpAddr,
    other_field: &str,
    other_family: IpFamily,
) -> Result<(), NatError> {
    let family = IpFamily::of(addr);
    if family == other_family {
        return Ok(());
    }
    Err(NatError::invalid(
        field,
        format!(
            "{addr} is {} but {other_field} is {}; one rule handles one family",
            family.name(),
            other_family.name()
        ),
    ))
}

fn validate_ports(ports: &PortRange, to_port: Option<u16>) -> Result<(), NatError> {
    if ports.first == 0 {
        return Err(NatError::invalid("port", "must be 1-65535"));
    }
    if ports.last < ports.first {
        return Err(NatError::invalid(
            "port_end",
            format!("{} is below port {}", ports.last, ports.first),
        ));
    }
    if let Some(to_port) = to_port {
        if to_port == 0 {
            return Err(NatError::invalid(
                "to_port",
                "must be 1-65535 (or unset to keep the port)",
            ));
        }
        let span = ports.last - ports.first;
        if u32::from(to_port) + u32::from(span) > u32::from(u16::MAX) {
            return Err(NatError::invalid(
                "to_port",
                format!(
                    "{to_port} plus the {} ports of {ports} runs past 65535",
                    u32::from(span) + 1
                ),
            ));
        }
    }
    Ok(())
}

fn spec_with_source(spec: &NatRuleSpec, canonical_source: IpPrefix) -> NatRuleSpec {
    let mut spec = spec.clone();
    if let NatRuleSpec::Masquerade { source, .. } | NatRuleSpec::Snat { source, .. } = &mut spec {
        *source = canonical_source;
    }
    spec
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::nat::spec::NatProtocol;

    fn field_of(result: Result<NatRuleSpec, NatError>) -> &'static str {
        match result {
            Err(NatError::Invalid { field, .. }) => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn dnat(first: u16, last: u16, to_port: Option<u16>) -> NatRuleSpec {
        NatRuleSpec::Dnat {
            protocol: NatProtocol::Tcp,
            ports: PortRange { first, last },
            input_interface: None,
            destination: None,
            to_address: "172.20.0.2".parse().unwrap(),
            to_port,
        }
    }

    fn masquerade(source: &str, len: u8, oif: Option<&str>) -> NatRuleSpec {
        NatRuleSpec::Masquerade {
            source: IpPrefix::new(source.parse().unwrap(), len),
            output_interface: oif.map(str::to_string),
        }
    }

    #[test]
    fn nat_validation_clears_host_bits_so_equal_rules_share_an_id() {
        let canonical = validate_spec(&masquerade("172.20.3.4", 16, None)).unwrap();
        assert_eq!(canonical, masquerade("172.20.0.0", 16, None));
        let v6 = validate_spec(&masquerade("2001:db8::1", 64, Some("eth0"))).unwrap();
        assert_eq!(v6, masquerade("2001:db8::", 64, Some("eth0")));
        assert_eq!(canonical.id(), masquerade("172.20.0.0", 16, None).id());
    }

    #[test]
    fn nat_validation_names_the_bad_field() {
        assert_eq!(
            field_of(validate_spec(&masquerade("172.20.0.0", 33, None))),
            "source_prefix_len"
        );
        assert_eq!(
            field_of(validate_spec(&masquerade("2001:db8::", 129, None))),
            "source_prefix_len"
        );
        assert!(validate_spec(&masquerade("2001:db8::", 128, None)).is_ok());
        assert!(validate_spec(&masquerade("0.0.0.0", 0, None)).is_ok());
        assert_eq!(
            field_of(validate_spec(&masquerade("172.20.0.0", 16, Some("")))),
            "output_interface"
        );
        let long = "a".repeat(16);
        assert_eq!(
            field_of(validate_spec(&masquerade("172.20.0.0", 16, Some(&long)))),
            "output_interface"
        );
        assert!(validate_spec(&masquerade("172.20.0.0", 16, Some(&long[..15]))).is_ok());
        for bad in ["eth*", "a b", "a/b", "a:1", "..", "q\"", "a\\b"] {
            assert_eq!(
                field_of(validate_spec(&masquerade("172.20.0.0", 16, Some(bad)))),
                "output_interface",
                "{bad}"
            );
        }

        assert_eq!(field_of(validate_spec(&dnat(0, 0, None))), "port");
        assert_eq!(field_of(validate_spec(&dnat(80, 79, None))), "port_end");
        assert_eq!(field_of(validate_spec(&dnat(80, 80, Some(0)))), "to_port");
        assert_eq!(
            field_of(validate_spec(&dnat(1000, 1010, Some(65530)))),
            "to_port"
        );
        assert!(validate_spec(&dnat(1000, 1010, Some(65525))).is_ok());
        assert!(validate_spec(&dnat(1, 65535, None)).is_ok());
        assert!(validate_spec(&dnat(1, 65535, Some(1))).is_ok());
    }

    #[test]
    fn nat_validation_rejects_mixed_families_and_non_host_targets() {
        let snat = |to: &str, oif: &str| NatRuleSpec::Snat {
            source: IpPrefix::new("172.20.0.0".parse().unwrap(), 16),
            output_interface: oif.to_string(),
            to_address: to.parse().unwrap(),
        };
        assert_eq!(
            field_of(validate_spec(&snat("2001:db8::1", "eth0"))),
            "to_address"
        );
        assert_eq!(
            field_of(validate_spec(&snat("0.0.0.0", "eth0"))),
            "to_address"
        );
        assert_eq!(
            field_of(validate_spec(&snat("224.0.0.1", "eth0"))),
            "to_address"
        );
        assert_eq!(
            field_of(validate_spec(&snat("255.255.255.255", "eth0"))),
            "to_address"
        );
        assert_eq!(
            field_of(validate_spec(&snat("192.0.2.1", ""))),
            "output_interface"
        );
        assert!(validate_spec(&snat("192.0.2.1", "eth0")).is_ok());

        let mut mixed = dnat(80, 80, None);
        if let NatRuleSpec::Dnat { destination, .. } = &mut mixed {
            *destination = Some("2001:db8::5".parse().unwrap());
        }
        assert_eq!(field_of(validate_spec(&mixed)), "to_address");
        if let NatRuleSpec::Dnat { destination, .. } = &mut mixed {
            *destination = Some("0.0.0.0".parse().unwrap());
        }
        assert_eq!(field_of(validate_spec(&mixed)), "destination");
    }

    #[test]
    fn nat_wire_fields_parse_with_their_zero_conventions() {
        assert_eq!(parse_port_range(80, 0).unwrap(), PortRange::single(80));
        assert_eq!(parse_port_range(80, 80).unwrap(), PortRange::single(80));
        assert_eq!(
            parse_port_range(80, 90).unwrap(),
            PortRange {
                first: 80,
                last: 90
            }
        );
        let field = |result: Result<PortRange, NatError>| match result {
            Err(NatError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(parse_port_range(0, 0)), "port");
        assert_eq!(field(parse_port_range(70000, 0)), "port");
        assert_eq!(field(parse_port_range(80, 70000)), "port_end");
        assert_eq!(field(parse_port_range(80, 79)), "port_end");
        assert_eq!(parse_optional_port("to_port", 0).unwrap(), None);
        assert_eq!(parse_optional_port("to_port", 8080).unwrap(), Some(8080));
        assert!(parse_optional_port("to_port", 65536).is_err());
        assert_eq!(
            parse_source("172.20.1.1", 16).unwrap(),
            IpPrefix::new("172.20.0.0".parse().unwrap(), 16)
        );
        assert!(matches!(
            parse_source("172.20.1.1", 300),
            Err(NatError::Invalid {
                field: "source_prefix_len",
                ..
            })
        ));
        assert!(matches!(
            parse_source("", 16),
            Err(NatError::Invalid {
                field: "source",
                ..
            })
        ));
        assert!(matches!(
            parse_address("to_address", "1.2.3"),
            Err(NatError::Invalid {
                field: "to_address",
                ..
            })
        ));
    }

    #[test]
    fn nat_comment_fits_the_nft_budget_and_stays_printable() {
        assert!(validate_comment("").is_ok());
        assert!(validate_comment(&"x".repeat(MAX_COMMENT_BYTES)).is_ok());
        assert!(validate_comment("café → web, port 80").is_ok());
        for bad in [
            "x".repeat(MAX_COMMENT_BYTES + 1),
            "a\nb".into(),
            "say \"hi\"".into(),
            "\t".into(),
        ] {
            match validate_comment(&bad) {
                Err(NatError::Invalid {
                    field: "comment", ..
                }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
