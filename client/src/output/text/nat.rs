//! `nat list`: one rule a line, in the words `nat add` takes, after its id and family:
//! `r1: ipv4 masquerade from 172.20.0.0/16 oif eth0 comment "lab" packets 12 bytes 1008`.
//! Drift comes first, as `warning:` lines: the table missing, and each rule nsfleet did not make.

use std::{fmt::Write, net::IpAddr};

use super::shown;
use nsfleet_proto::v1::{
    nat_rule::Kind, AddressFamily, Dnat, ListNatRulesResponse, NatProtocol, NatRule,
};

pub fn render(response: &ListNatRulesResponse) -> String {
    let mut text = String::new();
    if response.table_missing {
        text.push_str(
            "warning: table inet nsfleet does not exist here: no NAT rule was added in this namespace, \
             or something outside nsfleet (nft flush ruleset, nft delete table) removed it and its rules\n",
        );
    }
    for rule in &response.foreign_rules {
        let _ = write!(
            text,
            "warning: rule handle {} in chain {:?} of table inet nsfleet is not nsfleet's",
            rule.handle, rule.chain
        );
        if !rule.comment.is_empty() {
            let _ = write!(text, " (comment {:?})", rule.comment);
        }
        let _ = writeln!(text, ": {}", rule.reason);
    }
    text.extend(response.rules.iter().map(rule_line));
    text
}

fn rule_line(rule: &NatRule) -> String {
    let mut line = format!("{}: {}", rule.id, family_name(rule.family()));
    match &rule.kind {
        Some(Kind::Masquerade(masquerade)) => {
            let _ = write!(
                line,
                " masquerade from {}/{}",
                masquerade.source, masquerade.source_prefix_len
            );
            if !masquerade.output_interface.is_empty() {
                let _ = write!(line, " oif {}", shown(&masquerade.output_interface));
            }
        }
        Some(Kind::Snat(snat)) => {
            let _ = write!(
                line,
                " snat from {}/{} oif {} to {}",
                snat.source,
                snat.source_prefix_len,
                shown(&snat.output_interface),
                snat.to_address
            );
        }
        Some(Kind::Dnat(dnat)) => line.push_str(&dnat_words(dnat)),
        None => line.push_str(" (unknown kind)"),
    }
    if !rule.comment.is_empty() {
        let _ = write!(line, " comment {:?}", rule.comment);
    }
    let _ = writeln!(line, " packets {} bytes {}", rule.packets, rule.bytes);
    line
}

fn dnat_words(dnat: &Dnat) -> String {
    let protocol = match dnat.protocol() {
        NatProtocol::Tcp => "tcp",
        NatProtocol::Udp => "udp",
        NatProtocol::Unspecified => "unspecified",
    };
    let mut words = format!(" dnat proto {protocol} dport {}", dnat.port);
    if dnat.port_end != 0 {
        let _ = write!(words, "-{}", dnat.port_end);
    }
    if !dnat.input_interface.is_empty() {
        let _ = write!(words, " iif {}", shown(&dnat.input_interface));
    }
    if !dnat.destination.is_empty() {
        let _ = write!(words, " dst {}", dnat.destination);
    }
    let _ = write!(
        words,
        " to {}",
        address_with_port(&dnat.to_address, dnat.to_port)
    );
    words
}

fn address_with_port(address: &str, port: u32) -> String {
    match (port, address.parse::<IpAddr>()) {
        (0, _) => address.to_owned(),
        (_, Ok(IpAddr::V6(_))) => format!("[{address}]:{port}"),
        _ => format!("{address}:{port}"),
    }
}

fn family_name(family: AddressFamily) -> &'static str {
    match family {
        AddressFamily::Ipv4 => "ipv4",
        AddressFamily::Ipv6 => "ipv6",
        AddressFamily::Unspecified => "inet",
    }
}

#[cfg(test)]
mod tests {
    use nsfleet_proto::v1::{ForeignNatRule, Masquerade, Snat};

    use super::*;

    fn rule(id: &str, kind: Kind) -> NatRule {
        NatRule {
            id: id.into(),
            family: AddressFamily::Ipv4.into(),
            kind: Some(kind),
            comment: String::new(),
            packets: 3,
            bytes: 252,
        }
    }

    #[test]
    fn every_kind_in_add_words() {
        let mut masquerade = rule(
            "r1",
            Kind::Masquerade(Masquerade {
                source: "172.20.0.0".into(),
                source_prefix_len: 16,
                output_interface: "eth0".into(),
            }),
        );
        masquerade.comment = "lab \"one\"".into();
        let snat = rule(
            "r2",
            Kind::Snat(Snat {
                source: "172.20.0.0".into(),
                source_prefix_len: 16,
                output_interface: "eth0".into(),
                to_address: "192.0.2.1".into(),
            }),
        );
        let dnat = rule(
            "r3",
            Kind::Dnat(Dnat {
                protocol: NatProtocol::Tcp.into(),
                port: 8000,
                port_end: 8010,
                input_interface: "eth0".into(),
                destination: "192.0.2.1".into(),
                to_address: "172.20.0.11".into(),
                to_port: 80,
            }),
        );
        let mut dnat6 = rule(
            "r4",
            Kind::Dnat(Dnat {
                protocol: NatProtocol::Udp.into(),
                port: 53,
                to_address: "2001:db8::5".into(),
                to_port: 5353,
                ..Dnat::default()
            }),
        );
        dnat6.family = AddressFamily::Ipv6.into();
        assert_eq!(
            render(&ListNatRulesResponse {
                rules: vec![masquerade, snat, dnat, dnat6],
                ..ListNatRulesResponse::default()
            }),
            "r1: ipv4 masquerade from 172.20.0.0/16 oif eth0 comment \"lab \\\"one\\\"\" packets 3 bytes 252\n\
             r2: ipv4 snat from 172.20.0.0/16 oif eth0 to 192.0.2.1 packets 3 bytes 252\n\
             r3: ipv4 dnat proto tcp dport 8000-8010 iif eth0 dst 192.0.2.1 to 172.20.0.11:80 packets 3 bytes 252\n\
             r4: ipv6 dnat proto udp dport 53 to [2001:db8::5]:5353 packets 3 bytes 252\n"
        );
    }

    #[test]
    fn drift_is_a_warning_line_before_the_rules() {
        let missing = ListNatRulesResponse {
            table_missing: true,
            ..ListNatRulesResponse::default()
        };
        assert!(render(&missing).starts_with("warning: table inet nsfleet does not exist here"));
        let foreign = ListNatRulesResponse {
            foreign_rules: vec![ForeignNatRule {
                chain: "postrouting".into(),
                handle: 7,
                comment: "mine\x1b[31m".into(),
                reason: "no nsfleet id in its comment: nsfleet did not make it".into(),
            }],
            ..ListNatRulesResponse::default()
        };
        assert_eq!(
            render(&foreign),
            "warning: rule handle 7 in chain \"postrouting\" of table inet nsfleet is not nsfleet's \
             (comment \"mine\\u{1b}[31m\"): no nsfleet id in its comment: nsfleet did not make it\n"
        );
    }
}
