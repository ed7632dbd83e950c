//! A NAT rule in the words `nat add` takes, and the link it belongs at: the output interface of a
//! source NAT (the uplink), the input interface of a port forward.

use nsfleet_proto::v1::{Dnat, Masquerade, NatProtocol, Snat};

/// The three kinds, borrowed from a listed rule or a declared one (two proto oneofs, same messages).
pub enum Rule<'a> {
    Masquerade(&'a Masquerade),
    Snat(&'a Snat),
    Dnat(&'a Dnat),
}

/// (interface, words); the words name the interface only when `with_interface`: a rule drawn at its
/// link needs no reminder, one drawn on its namespace (the link is not in the picture) does.
pub fn describe(rule: Rule<'_>, with_interface: bool) -> (String, String) {
    let interface_words = |interface: &str, keyword: &str| {
        if interface.is_empty() || !with_interface {
            String::new()
        } else {
            format!(" {keyword} {interface}")
        }
    };
    match rule {
        Rule::Masquerade(rule) => (
            rule.output_interface.clone(),
            format!(
                "masquerade from {}/{}{}",
                rule.source,
                rule.source_prefix_len,
                interface_words(&rule.output_interface, "oif")
            ),
        ),
        Rule::Snat(rule) => (
            rule.output_interface.clone(),
            format!(
                "snat from {}/{}{} to {}",
                rule.source,
                rule.source_prefix_len,
                interface_words(&rule.output_interface, "oif"),
                rule.to_address
            ),
        ),
        Rule::Dnat(rule) => {
            let protocol = match rule.protocol() {
                NatProtocol::Tcp => "tcp",
                NatProtocol::Udp => "udp",
                NatProtocol::Unspecified => "any",
            };
            let ports = if rule.port_end == 0 {
                rule.port.to_string()
            } else {
                format!("{}-{}", rule.port, rule.port_end)
            };
            let destination = if rule.destination.is_empty() {
                String::new()
            } else {
                format!(" dst {}", rule.destination)
            };
            let to_port = if rule.to_port == 0 {
                String::new()
            } else {
                format!(":{}", rule.to_port)
            };
            (
                rule.input_interface.clone(),
                format!(
                    "dnat proto {protocol} dport {ports}{}{destination} to {}{to_port}",
                    interface_words(&rule.input_interface, "iif"),
                    rule.to_address
                ),
            )
        }
    }
}
