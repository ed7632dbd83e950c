//! The nftables shape of nsfleet's NAT rules, both ways: a spec becomes one rule of table `inet nsfleet`,
//! and a listed rule becomes a spec again. Listing is the source of truth for what a rule does, so the two
//! directions must stay inverse (the tests round-trip every kind through nft).
//!
//! Layout:
//! ```text
//! table inet nsfleet {
//!   chain postrouting { type nat hook postrouting priority srcnat; policy accept;   # masquerade, snat
//!     meta nfproto ipv4 ip saddr 172.20.0.0/16 oifname "eth0" counter masquerade comment "nsfleet:<id> <comment>"
//!   }
//!   chain prerouting { type nat hook prerouting priority dstnat; policy accept;     # dnat
//!     meta nfproto ipv4 ip daddr 192.0.2.1 tcp dport 8080 iifname "eth0" counter dnat ip to 172.20.0.2:80 comment "..."
//!   }
//! }
//! ```
//! A port range with a new port is a one-to-one map (`dnat ip to A : tcp dport map { 8000 : 9000, ... }`):
//! nft 1.0 has no syntax for the kernel's shifted port ranges. nft drops `meta nfproto` from listings where
//! an address match implies it, and writes a full-length prefix as a bare address; decoding accepts both.

use std::borrow::Cow;
use std::net::IpAddr;

use nftables::expr::{
    Expression, Map, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix, Range, SetItem,
};
use nftables::schema::{Chain, Rule, Table};
use nftables::stmt::{AnonymousCounter, Counter, Match, NATFamily, Operator, Statement, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use super::spec::{IpFamily, IpPrefix, NatProtocol, NatRuleSpec, PortRange, ID_LEN};

pub(crate) const TABLE: &str = "nsfleet";
/// Base chain for source NAT, at the standard srcnat priority.
pub(crate) const SRCNAT_CHAIN: &str = "postrouting";
/// Base chain for destination NAT, at the standard dstnat priority.
pub(crate) const DSTNAT_CHAIN: &str = "prerouting";
const SRCNAT_PRIORITY: i32 = 100;
const DSTNAT_PRIORITY: i32 = -100;
/// Marks a rule as nsfleet's and carries its id: `nsfleet:<id>` or `nsfleet:<id> <user comment>`.
const COMMENT_TAG: &str = "nsfleet:";

pub(crate) fn table() -> Table<'static> {
    Table {
        family: NfFamily::INet,
        name: TABLE.into(),
        handle: None,
    }
}

/// Both base chains, always created together so the table's layout never depends on history.
pub(crate) fn base_chains() -> [Chain<'static>; 2] {
    let chain = |name: &'static str, hook, prio| Chain {
        family: NfFamily::INet,
        table: TABLE.into(),
        name: name.into(),
        _type: Some(NfChainType::NAT),
        hook: Some(hook),
        prio: Some(prio),
        policy: Some(NfChainPolicy::Accept),
        ..Chain::default()
    };
    [
        chain(SRCNAT_CHAIN, NfHook::Postrouting, SRCNAT_PRIORITY),
        chain(DSTNAT_CHAIN, NfHook::Prerouting, DSTNAT_PRIORITY),
    ]
}

pub(crate) fn chain_of(spec: &NatRuleSpec) -> &'static str {
    match spec {
        NatRuleSpec::Masquerade { .. } | NatRuleSpec::Snat { .. } => SRCNAT_CHAIN,
        NatRuleSpec::Dnat { .. } => DSTNAT_CHAIN,
    }
}

pub(crate) fn encode_comment(id: &str, comment: &str) -> String {
    if comment.is_empty() {
        format!("{COMMENT_TAG}{id}")
    } else {
        format!("{COMMENT_TAG}{id} {comment}")
    }
}

/// The id and user comment of an nsfleet rule; `None` for a rule someone else put in the table.
pub(crate) fn decode_comment(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix(COMMENT_TAG)?;
    let id = rest.get(..ID_LEN)?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let comment = match &rest[ID_LEN..] {
        "" => "",
        tail => tail.strip_prefix(' ')?,
    };
    Some((id.to_string(), comment.to_string()))
}

/// The rule for a validated spec.
pub(crate) fn encode_rule(spec: &NatRuleSpec, id: &str, comment: &str) -> Rule<'static> {
    let family = spec.family();
    let mut expr = vec![matches(
        meta(MetaKey::Nfproto),
        string(match family {
            IpFamily::V4 => "ipv4",
            IpFamily::V6 => "ipv6",
        }),
    )];
    let nat = match spec {
        NatRuleSpec::Masquerade {
            source,
            output_interface,
        } => {
            push_source(&mut expr, source);
            if let Some(oif) = output_interface {
                expr.push(matches(meta(MetaKey::Oifname), string(oif)));
            }
            Statement::Masquerade(None)
        }
        NatRuleSpec::Snat {
            source,
            output_interface,
            to_address,
        } => {
            push_source(&mut expr, source);
            expr.push(matches(meta(MetaKey::Oifname), string(output_interface)));
            Statement::SNAT(Some(nat_to(*to_address, None)))
        }
        NatRuleSpec::Dnat {
            protocol,
            ports,
            input_interface,
            destination,
            to_address,
            to_port,
        } => {
            if let Some(destination) = destination {
                expr.push(matches(
                    payload(l3_protocol(family), "daddr"),
                    string(destination),
                ));
            }
            let dport = if ports.first == ports.last {
                Expression::Number(ports.first.into())
            } else {
                Expression::Range(Box::new(Range {
                    range: [
                        Expression::Number(ports.first.into()),
                        Expression::Number(ports.last.into()),
                    ],
                }))
            };
            expr.push(matches(payload(protocol.as_str(), "dport"), dport));
            if let Some(iif) = input_interface {
                expr.push(matches(meta(MetaKey::Iifname), string(iif)));
            }
            let port = to_port.map(|to_port| new_port_expression(*protocol, ports, to_port));
            Statement::DNAT(Some(nat_to(*to_address, port)))
        }
    };
    expr.push(Statement::Counter(Counter::Anonymous(Some(
        AnonymousCounter::default(),
    ))));
    expr.push(nat);
    Rule {
        family: NfFamily::INet,
        table: TABLE.into(),
        chain: chain_of(spec).into(),
        expr: Cow::Owned(expr),
        handle: None,
        index: None,
        comment: Some(encode_comment(id, comment).into()),
    }
}

fn push_source(expr: &mut Vec<Statement<'static>>, source: &IpPrefix) {
    let max = source.family().max_prefix_len();
    // A /0 matches every packet of the family, which `meta nfproto` already says.
    if source.prefix_len == 0 {
        return;
    }
    let right = if source.prefix_len == max {
        string(source.address)
    } else {
        Expression::Named(NamedExpression::Prefix(Prefix {
            addr: Box::new(string(source.address)),
            len: source.prefix_len.into(),
        }))
    };
    expr.push(matches(
        payload(l3_protocol(source.family()), "saddr"),
        right,
    ));
}

fn new_port_expression(
    protocol: NatProtocol,
    ports: &PortRange,
    to_port: u16,
) -> Expression<'static> {
    if ports.first == ports.last {
        return Expression::Number(to_port.into());
    }
    let pairs = (ports.first..=ports.last)
        .zip(to_port..=u16::MAX)
        .map(|(from, to)| {
            SetItem::Mapping(
                Expression::Number(from.into()),
                Expression::Number(to.into()),
            )
        })
        .collect();
    Expression::Named(NamedExpression::Map(Box::new(Map {
        key: payload(protocol.as_str(), "dport"),
        data: Expression::Named(NamedExpression::Set(pairs)),
    })))
}

fn nat_to(addr: IpAddr, port: Option<Expression<'static>>) -> NAT<'static> {
    NAT {
        addr: Some(string(addr)),
        family: Some(match IpFamily::of(&addr) {
            IpFamily::V4 => NATFamily::IP,
            IpFamily::V6 => NATFamily::IP6,
        }),
        port,
        flags: None,
    }
}

fn l3_protocol(family: IpFamily) -> &'static str {
    match family {
        IpFamily::V4 => "ip",
        IpFamily::V6 => "ip6",
    }
}

fn matches(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match {
        left,
        right,
        op: Operator::EQ,
    })
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn payload(protocol: &'static str, field: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: field.into(),
        },
    )))
}

fn string(value: impl ToString) -> Expression<'static> {
    Expression::String(value.to_string().into())
}

/// What one listed rule says, before it is known to be one of the three kinds.
#[derive(Default)]
struct Matched {
    nfproto: Option<IpFamily>,
    source: Option<IpPrefix>,
    destination: Option<IpAddr>,
    dport: Option<(NatProtocol, PortRange)>,
    input_interface: Option<String>,
    output_interface: Option<String>,
    counter: Option<(u64, u64)>,
}

enum Action {
    Masquerade,
    Snat(IpAddr),
    Dnat(IpAddr, Option<u16>),
}

/// A listed rule's spec and counters (packets, bytes). The error says what did not fit nsfleet's shape.
pub(crate) fn decode_rule(statements: &[Statement<'_>]) -> Result<(NatRuleSpec, u64, u64), String> {
    let mut matched = Matched::default();
    let mut action = None;
    for statement in statements {
        let this_action = match statement {
            Statement::Match(m) if m.op == Operator::EQ => {
                decode_match(&mut matched, &m.left, &m.right)?;
                continue;
            }
            Statement::Counter(Counter::Anonymous(counter)) => {
                let counter = counter.clone().unwrap_or_default();
                let to_u64 = |n: Option<usize>| n.unwrap_or(0) as u64;
                matched.counter = Some((to_u64(counter.packets), to_u64(counter.bytes)));
                continue;
            }
            Statement::Masquerade(None) => Action::Masquerade,
            Statement::SNAT(Some(nat)) if nat.port.is_none() && nat.flags.is_none() => {
                Action::Snat(nat_address(nat)?)
            }
            Statement::DNAT(Some(nat)) if nat.flags.is_none() => Action::Dnat(
                nat_address(nat)?,
                decode_new_port(nat.port.as_ref(), matched.dport)?,
            ),
            other => return Err(format!("unexpected statement {}", brief(other))),
        };
        if action.replace(this_action).is_some() {
            return Err("more than one NAT statement".into());
        }
    }
    let action = action.ok_or("no NAT statement")?;
    let (packets, bytes) = matched.counter.ok_or("no counter")?;
    let spec = build_spec(matched, action)?;
    Ok((spec, packets, bytes))
}

fn decode_match(
    matched: &mut Matched,
    left: &Expression<'_>,
    right: &Expression<'_>,
) -> Result<(), String> {
    match left {
        Expression::Named(NamedExpression::Meta(Meta { key })) => {
            let value = as_str(right)?;
            match key {
                MetaKey::Nfproto => {
                    matched.nfproto = Some(match value {
                        "ipv4" => IpFamily::V4,
                        "ipv6" => IpFamily::V6,
                        other => return Err(format!("unexpected nfproto {other}")),
                    })
                }
                // Listed only where no port match implies it; the dport match carries the protocol.
                MetaKey::L4proto if matches!(value, "tcp" | "udp") => {}
                MetaKey::Iifname => matched.input_interface = Some(value.to_string()),
                MetaKey::Oifname => matched.output_interface = Some(value.to_string()),
                other => return Err(format!("unexpected meta {other:?} match")),
            }
        }
        Expression::Named(NamedExpression::Payload(Payload::PayloadField(field))) => {
            match (field.protocol.as_ref(), field.field.as_ref()) {
                ("ip" | "ip6", "saddr") => matched.source = Some(decode_prefix(right)?),
                ("ip" | "ip6", "daddr") => matched.destination = Some(parse_addr(as_str(right)?)?),
                (protocol @ ("tcp" | "udp"), "dport") => {
                    let protocol = if protocol == "tcp" {
                        NatProtocol::Tcp
                    } else {
                        NatProtocol::Udp
                    };
                    matched.dport = Some((protocol, decode_ports(right)?));
                }
                (protocol, field) => return Err(format!("unexpected match on {protocol} {field}")),
            }
        }
        _ => return Err("unexpected match".into()),
    }
    Ok(())
}

fn build_spec(matched: Matched, action: Action) -> Result<NatRuleSpec, String> {
    let source_or_any = |family: Option<IpFamily>| {
        matched
            .source
            .or_else(|| family.map(|family| IpPrefix::new(family.unspecified(), 0)))
            .ok_or_else(|| "no source match and no family".to_string())
    };
    let reject_dnat_matches = |kind: &str| {
        if matched.destination.is_some()
            || matched.dport.is_some()
            || matched.input_interface.is_some()
        {
            Err(format!(
                "{kind} rule with destination, port or input interface matches"
            ))
        } else {
            Ok(())
        }
    };
    match action {
        Action::Masquerade => {
            reject_dnat_matches("masquerade")?;
            Ok(NatRuleSpec::Masquerade {
                source: source_or_any(matched.nfproto)?,
                output_interface: matched.output_interface,
            })
        }
        Action::Snat(to_address) => {
            reject_dnat_matches("snat")?;
            Ok(NatRuleSpec::Snat {
                source: source_or_any(Some(IpFamily::of(&to_address)))?,
                output_interface: matched
                    .output_interface
                    .ok_or("snat rule without output interface")?,
                to_address,
            })
        }
        Action::Dnat(to_address, to_port) => {
            if matched.source.is_some() || matched.output_interface.is_some() {
                return Err("dnat rule with source or output interface matches".into());
            }
            let (protocol, ports) = matched.dport.ok_or("dnat rule without a port match")?;
            Ok(NatRuleSpec::Dnat {
                protocol,
                ports,
                input_interface: matched.input_interface,
                destination: matched.destination,
                to_address,
                to_port,
            })
        }
    }
}

fn decode_prefix(expr: &Expression<'_>) -> Result<IpPrefix, String> {
    match expr {
        Expression::String(text) => {
            let addr = parse_addr(text)?;
            Ok(IpPrefix::new(addr, IpFamily::of(&addr).max_prefix_len()))
        }
        Expression::Named(NamedExpression::Prefix(prefix)) => {
            let len =
                u8::try_from(prefix.len).map_err(|_| format!("prefix length {}", prefix.len))?;
            Ok(IpPrefix::new(parse_addr(as_str(&prefix.addr)?)?, len))
        }
        _ => Err("unexpected address expression".into()),
    }
}

fn decode_ports(expr: &Expression<'_>) -> Result<PortRange, String> {
    match expr {
        Expression::Number(port) => Ok(PortRange::single(to_port(*port)?)),
        Expression::Range(range) => {
            let [first, last] = &range.range;
            Ok(PortRange {
                first: to_port(as_number(first)?)?,
                last: to_port(as_number(last)?)?,
            })
        }
        _ => Err("unexpected port expression".into()),
    }
}

/// The new port of a dnat: a number, or a map that shifts the matched range one to one.
fn decode_new_port(
    port: Option<&Expression<'_>>,
    dport: Option<(NatProtocol, PortRange)>,
) -> Result<Option<u16>, String> {
    let Some(port) = port else { return Ok(None) };
    let map = match port {
        Expression::Number(port) => return Ok(Some(to_port(*port)?)),
        Expression::Named(NamedExpression::Map(map)) => map,
        _ => return Err("unexpected dnat port expression".into()),
    };
    let Expression::Named(NamedExpression::Set(items)) = &map.data else {
        return Err("dnat port map without elements".into());
    };
    let mut pairs = items.iter().map(map_pair).collect::<Result<Vec<_>, _>>()?;
    pairs.sort_unstable();
    let (_, ports) = dport.ok_or("dnat port map before the port match")?;
    let first_new = pairs
        .first()
        .map(|&(_, to)| to)
        .ok_or("empty dnat port map")?;
    let shifts_range = pairs.len() == usize::from(ports.last - ports.first) + 1
        && pairs
            .iter()
            .zip(ports.first..=ports.last)
            .zip(first_new..=u16::MAX)
            .all(|((&pair, from), to)| pair == (from, to));
    if !shifts_range {
        return Err("dnat port map is not a one-to-one shift of the matched ports".into());
    }
    Ok(Some(first_new))
}

/// serde reads an untagged `[from, to]` as a two-element list before it tries a mapping.
fn map_pair(item: &SetItem<'_>) -> Result<(u16, u16), String> {
    match item {
        SetItem::Mapping(from, to) => Ok((to_port(as_number(from)?)?, to_port(as_number(to)?)?)),
        SetItem::Element(Expression::List(pair)) if pair.len() == 2 => Ok((
            to_port(as_number(&pair[0])?)?,
            to_port(as_number(&pair[1])?)?,
        )),
        _ => Err("unexpected dnat port map element".into()),
    }
}

fn nat_address(nat: &NAT<'_>) -> Result<IpAddr, String> {
    let addr = nat.addr.as_ref().ok_or("NAT statement without address")?;
    parse_addr(as_str(addr)?)
}

fn as_str<'e>(expr: &'e Expression<'_>) -> Result<&'e str, String> {
    match expr {
        Expression::String(text) => Ok(text),
        _ => Err("expected a string".into()),
    }
}

fn as_number(expr: &Expression<'_>) -> Result<u32, String> {
    match expr {
        Expression::Number(n) => Ok(*n),
        _ => Err("expected a number".into()),
    }
}

fn to_port(n: u32) -> Result<u16, String> {
    u16::try_from(n).map_err(|_| format!("port {n} out of range"))
}

fn parse_addr(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an address"))
}

/// The statement's JSON, cut short: enough to recognise it in an error message.
fn brief(statement: &Statement<'_>) -> String {
    let mut json = serde_json::to_string(statement).unwrap_or_else(|_| "?".into());
    if json.len() > 120 {
        let cut = (0..=120)
            .rev()
            .find(|&i| json.is_char_boundary(i))
            .unwrap_or(0);
        json.truncate(cut);
        json.push_str("...");
    }
    json
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<NatRuleSpec> {
        let prefix = |addr: &str, len| IpPrefix::new(addr.parse().unwrap(), len);
        vec![
            NatRuleSpec::Masquerade {
                source: prefix("172.20.0.0", 16),
                output_interface: Some("eth0".into()),
            },
            NatRuleSpec::Masquerade {
                source: prefix("::", 0),
                output_interface: None,
            },
            NatRuleSpec::Snat {
                source: prefix("192.0.2.7", 32),
                output_interface: "br0".into(),
                to_address: "198.51.100.1".parse().unwrap(),
            },
            NatRuleSpec::Dnat {
                protocol: NatProtocol::Udp,
                ports: PortRange {
                    first: 8000,
                    last: 8002,
                },
                input_interface: Some("eth1".into()),
                destination: Some("2001:db8::5".parse().unwrap()),
                to_address: "2001:db8::2".parse().unwrap(),
                to_port: Some(9000),
            },
            NatRuleSpec::Dnat {
                protocol: NatProtocol::Tcp,
                ports: PortRange::single(80),
                input_interface: None,
                destination: None,
                to_address: "172.20.0.2".parse().unwrap(),
                to_port: None,
            },
        ]
    }

    /// Through JSON text, as it travels to nft and back (the kernel round trip is in the root tests).
    #[test]
    fn nat_rules_decode_to_the_spec_they_were_encoded_from() {
        for spec in every_kind() {
            let rule = encode_rule(&spec, &spec.id(), "c");
            let json = serde_json::to_string(&rule.expr).unwrap();
            let statements: Vec<Statement<'static>> = serde_json::from_str(&json).unwrap();
            assert_eq!(decode_rule(&statements), Ok((spec.clone(), 0, 0)), "{json}");
        }
    }

    /// Shapes nft 1.0.6 prints: dependencies dropped, /32 as a bare address, maps as pairs.
    #[test]
    fn nat_rules_decode_from_nft_listing_shapes() {
        let decode = |json: &str| {
            let statements: Vec<Statement<'static>> = serde_json::from_str(json).unwrap();
            decode_rule(&statements)
        };
        let (spec, packets, bytes) = decode(
            r#"[{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "172.20.0.1"}},
                {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "x"}},
                {"counter": {"packets": 7, "bytes": 4200}}, {"snat": {"family": "ip", "addr": "192.0.2.1"}}]"#,
        )
        .unwrap();
        assert_eq!((packets, bytes), (7, 4200));
        assert_eq!(
            spec,
            NatRuleSpec::Snat {
                source: IpPrefix::new("172.20.0.1".parse().unwrap(), 32),
                output_interface: "x".into(),
                to_address: "192.0.2.1".parse().unwrap(),
            }
        );
        let (spec, ..) = decode(
            r#"[{"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv6"}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"range": [8000, 8002]}}},
                {"counter": {"packets": 0, "bytes": 0}},
                {"dnat": {"family": "ip6", "addr": "fd00::2", "port": {"map": {"key": {"payload": {"protocol": "tcp", "field": "dport"}},
                  "data": {"set": [[8000, 9000], [8001, 9001], [8002, 9002]]}}}}}]"#,
        )
        .unwrap();
        assert!(
            matches!(
                spec,
                NatRuleSpec::Dnat {
                    to_port: Some(9000),
                    ..
                }
            ),
            "{spec:?}"
        );
    }

    #[test]
    fn nat_rules_of_another_shape_are_not_decoded() {
        let decode = |json: &str| {
            let statements: Vec<Statement<'static>> = serde_json::from_str(json).unwrap();
            decode_rule(&statements)
        };
        assert!(decode(r#"[{"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]"#).is_err());
        assert!(decode(r#"[{"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}}, {"masquerade": null}]"#)
            .is_err(), "no counter");
        let shuffled_map = r#"[{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"range": [1, 2]}}},
            {"counter": {"packets": 0, "bytes": 0}},
            {"dnat": {"family": "ip", "addr": "192.0.2.2", "port": {"map": {"key": {"payload": {"protocol": "tcp", "field": "dport"}},
              "data": {"set": [[1, 20], [2, 10]]}}}}}]"#;
        assert!(decode(shuffled_map).is_err());
    }

    /// Regression: `to_port..` overflowed while stepping past 65535 when a map ended there.
    #[test]
    fn nat_port_map_ending_at_65535_round_trips() {
        let spec = NatRuleSpec::Dnat {
            protocol: NatProtocol::Tcp,
            ports: PortRange {
                first: 1,
                last: 65535,
            },
            input_interface: None,
            destination: None,
            to_address: "172.20.0.3".parse().unwrap(),
            to_port: Some(1),
        };
        let json = serde_json::to_string(&encode_rule(&spec, &spec.id(), "").expr).unwrap();
        let statements: Vec<Statement<'static>> = serde_json::from_str(&json).unwrap();
        assert_eq!(decode_rule(&statements), Ok((spec, 0, 0)));
    }

    #[test]
    fn nat_comment_carries_id_and_user_text() {
        assert_eq!(encode_comment("0123456789ab", ""), "nsfleet:0123456789ab");
        assert_eq!(
            encode_comment("0123456789ab", " web "),
            "nsfleet:0123456789ab  web "
        );
        assert_eq!(
            decode_comment("nsfleet:0123456789ab  web "),
            Some(("0123456789ab".into(), " web ".into()))
        );
        assert_eq!(
            decode_comment("nsfleet:0123456789ab"),
            Some(("0123456789ab".into(), String::new()))
        );
        assert_eq!(decode_comment("nsfleet:0123456789abX"), None);
        assert_eq!(decode_comment("nsfleet:0123456789"), None);
        assert_eq!(decode_comment("nsfleet:0123456789AB"), None);
        assert_eq!(decode_comment("docker rule"), None);
        let longest = encode_comment("0123456789ab", &"x".repeat(crate::nat::MAX_COMMENT_BYTES));
        assert_eq!(longest.len(), 128);
    }
}
