//! `nat add` tails: masquerade, snat and dnat (port forwarding).

use nsfleet_proto::v1::{
    add_nat_rule_request::Kind, AddNatRuleRequest, Dnat, Masquerade, NatProtocol, Snat,
};

use super::{
    set_once,
    values::{parse_address_port, parse_ip, parse_port_range, parse_prefix, Prefix},
    GrammarError, Words,
};

/// `masquerade from PREFIX [oif IFACE] [comment TEXT]`,
/// `snat from PREFIX oif IFACE to ADDR [comment TEXT]`,
/// `dnat proto tcp|udp dport PORT[-PORT] [iif IFACE] [dst ADDR] to ADDR[:PORT] [comment TEXT]`.
pub fn parse_add(words: &[String]) -> Result<AddNatRuleRequest, GrammarError> {
    let mut cursor = Words::new(words);
    let kind = cursor.next().ok_or(GrammarError::Missing {
        what: "masquerade, snat or dnat",
    })?;
    let mut fields = Fields::default();
    let kind = match kind {
        "masquerade" => {
            fields.read(
                &mut cursor,
                &["from", "oif", "comment"],
                "from, oif or comment",
            )?;
            let Prefix { address, len } = fields.from.ok_or(GrammarError::Missing {
                what: "from PREFIX",
            })?;
            Kind::Masquerade(Masquerade {
                source: address.to_string(),
                source_prefix_len: len,
                output_interface: fields.oif.unwrap_or_default().to_owned(),
            })
        }
        "snat" => {
            fields.read(
                &mut cursor,
                &["from", "oif", "to", "comment"],
                "from, oif, to or comment",
            )?;
            let Prefix { address, len } = fields.from.ok_or(GrammarError::Missing {
                what: "from PREFIX",
            })?;
            Kind::Snat(Snat {
                source: address.to_string(),
                source_prefix_len: len,
                output_interface: fields
                    .oif
                    .ok_or(GrammarError::Missing { what: "oif IFACE" })?
                    .to_owned(),
                to_address: fields.to_address()?,
            })
        }
        "dnat" => {
            let allowed = ["proto", "dport", "iif", "dst", "to", "comment"];
            fields.read(
                &mut cursor,
                &allowed,
                "proto, dport, iif, dst, to or comment",
            )?;
            let (port, port_end) = fields.dport.ok_or(GrammarError::Missing {
                what: "dport PORT[-PORT]",
            })?;
            let (to_address, to_port) = fields.to.ok_or(GrammarError::Missing {
                what: "to ADDR[:PORT]",
            })?;
            Kind::Dnat(Dnat {
                protocol: fields
                    .proto
                    .ok_or(GrammarError::Missing {
                        what: "proto tcp|udp",
                    })?
                    .into(),
                port,
                port_end,
                input_interface: fields.iif.unwrap_or_default().to_owned(),
                destination: fields
                    .dst
                    .map(|address| address.to_string())
                    .unwrap_or_default(),
                to_address: to_address.to_string(),
                to_port,
            })
        }
        other => {
            return Err(GrammarError::UnexpectedWord {
                word: other.to_owned(),
                expected: "masquerade, snat or dnat",
            })
        }
    };
    Ok(AddNatRuleRequest {
        namespace: String::new(),
        kind: Some(kind),
        comment: fields.comment.unwrap_or_default().to_owned(),
    })
}

/// Every keyword any rule kind takes; each kind reads only the ones it allows.
#[derive(Default)]
struct Fields<'a> {
    from: Option<Prefix>,
    oif: Option<&'a str>,
    iif: Option<&'a str>,
    dst: Option<std::net::IpAddr>,
    proto: Option<NatProtocol>,
    dport: Option<(u32, u32)>,
    to: Option<(std::net::IpAddr, u32)>,
    comment: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn read(
        &mut self,
        cursor: &mut Words<'a>,
        allowed: &[&str],
        expected: &'static str,
    ) -> Result<(), GrammarError> {
        while let Some(word) = cursor.next() {
            if !allowed.contains(&word) {
                return Err(GrammarError::UnexpectedWord {
                    word: word.to_owned(),
                    expected,
                });
            }
            match word {
                "from" => set_once(
                    &mut self.from,
                    "from",
                    parse_prefix("from", cursor.value("from")?)?,
                )?,
                "oif" => set_once(&mut self.oif, "oif", cursor.value("oif")?)?,
                "iif" => set_once(&mut self.iif, "iif", cursor.value("iif")?)?,
                "dst" => set_once(&mut self.dst, "dst", parse_ip("dst", cursor.value("dst")?)?)?,
                "proto" => set_once(
                    &mut self.proto,
                    "proto",
                    parse_protocol(cursor.value("proto")?)?,
                )?,
                "dport" => set_once(
                    &mut self.dport,
                    "dport",
                    parse_port_range("dport", cursor.value("dport")?)?,
                )?,
                "to" => set_once(
                    &mut self.to,
                    "to",
                    parse_address_port("to", cursor.value("to")?)?,
                )?,
                _ => set_once(&mut self.comment, "comment", cursor.value("comment")?)?,
            }
        }
        Ok(())
    }

    /// SNAT rewrites only the address: a port after it is a mistake, not something to drop silently.
    fn to_address(&self) -> Result<String, GrammarError> {
        match self.to {
            None => Err(GrammarError::Missing { what: "to ADDR" }),
            Some((address, 0)) => Ok(address.to_string()),
            Some((address, port)) => Err(GrammarError::InvalidValue {
                keyword: "to",
                what: "address",
                value: format!("{address}:{port}"),
                reason: "snat takes an address without a port".to_owned(),
            }),
        }
    }
}

fn parse_protocol(word: &str) -> Result<NatProtocol, GrammarError> {
    match word {
        "tcp" => Ok(NatProtocol::Tcp),
        "udp" => Ok(NatProtocol::Udp),
        _ => Err(GrammarError::InvalidValue {
            keyword: "proto",
            what: "protocol",
            value: word.to_owned(),
            reason: "expected tcp or udp".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn kind(line: &str) -> Kind {
        parse_add(&words(line)).unwrap().kind.unwrap()
    }

    #[test]
    fn masquerade() {
        let expected = Masquerade {
            source: "172.20.0.0".into(),
            source_prefix_len: 16,
            output_interface: String::new(),
        };
        assert_eq!(
            kind("masquerade from 172.20.0.0/16"),
            Kind::Masquerade(expected)
        );
        let request =
            parse_add(&words("masquerade from 172.20.0.0/16 oif eth0 comment lab")).unwrap();
        assert_eq!(request.comment, "lab");
        let Some(Kind::Masquerade(rule)) = request.kind else {
            panic!("not a masquerade")
        };
        assert_eq!(rule.output_interface, "eth0");
    }

    #[test]
    fn comment_with_spaces_is_one_word() {
        let line = vec![
            "masquerade".into(),
            "from".into(),
            "10.0.0.0/8".into(),
            "comment".into(),
            "two words".into(),
        ];
        assert_eq!(parse_add(&line).unwrap().comment, "two words");
    }

    #[test]
    fn snat() {
        let expected = Snat {
            source: "172.20.0.0".into(),
            source_prefix_len: 16,
            output_interface: "eth0".into(),
            to_address: "192.0.2.1".into(),
        };
        assert_eq!(
            kind("snat from 172.20.0.0/16 oif eth0 to 192.0.2.1"),
            Kind::Snat(expected)
        );
    }

    #[test]
    fn dnat() {
        let expected = Dnat {
            protocol: NatProtocol::Tcp.into(),
            port: 8080,
            port_end: 0,
            input_interface: "eth0".into(),
            destination: "192.0.2.1".into(),
            to_address: "172.20.0.11".into(),
            to_port: 80,
        };
        assert_eq!(
            kind("dnat proto tcp dport 8080 iif eth0 dst 192.0.2.1 to 172.20.0.11:80"),
            Kind::Dnat(expected)
        );
        let Kind::Dnat(range) = kind("dnat proto udp dport 5000-5010 to [2001:db8::5]") else {
            panic!("not dnat")
        };
        assert_eq!((range.port, range.port_end, range.to_port), (5000, 5010, 0));
        assert_eq!(range.protocol(), NatProtocol::Udp);
        assert_eq!(range.to_address, "2001:db8::5");
    }

    #[test]
    fn errors() {
        let error = |line: &str| parse_add(&words(line)).unwrap_err().to_string();
        assert_eq!(error(""), "missing masquerade, snat or dnat");
        assert_eq!(
            error("redirect"),
            "unexpected word \"redirect\" (expected masquerade, snat or dnat)"
        );
        assert_eq!(error("masquerade"), "missing from PREFIX");
        assert_eq!(
            error("masquerade from 10.0.0.0/8 to 1.2.3.4"),
            "unexpected word \"to\" (expected from, oif or comment)"
        );
        assert_eq!(
            error("snat from 10.0.0.0/8 to 192.0.2.1"),
            "missing oif IFACE"
        );
        assert_eq!(error("snat from 10.0.0.0/8 oif eth0"), "missing to ADDR");
        assert!(error("snat from 10.0.0.0/8 oif eth0 to 192.0.2.1:80").contains("without a port"));
        assert_eq!(error("dnat dport 80 to 10.0.0.1"), "missing proto tcp|udp");
        assert!(
            error("dnat proto icmp dport 80 to 10.0.0.1").starts_with("invalid protocol \"icmp\"")
        );
        assert!(error("dnat proto tcp dport http to 10.0.0.1").starts_with("invalid port \"http\""));
        assert_eq!(
            error("dnat proto tcp to 10.0.0.1"),
            "missing dport PORT[-PORT]"
        );
        assert_eq!(error("dnat proto tcp dport 80"), "missing to ADDR[:PORT]");
        assert_eq!(
            error("dnat proto tcp dport 80 from 10.0.0.0/8 to 10.0.0.1")
                .split(" (")
                .next(),
            Some("unexpected word \"from\"")
        );
        assert_eq!(
            error("masquerade from 10.0.0.0/8 comment"),
            "\"comment\" needs a value"
        );
    }
}
