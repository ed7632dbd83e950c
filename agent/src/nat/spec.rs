//! What a NAT rule is, independent of how a backend stores it, and the rule's stable id.

use std::fmt;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// Hex digits of a rule id (48 bits of SHA-256: collisions need millions of rules in one namespace, and
/// `add` refuses rather than guesses if one ever happens).
pub const ID_LEN: usize = 12;

/// Longest user comment in bytes. nft caps a rule comment at 128 bytes (a longer one, accepted through
/// JSON, makes `nft list` fail for the whole table); the id tag `nsfleet:<12 hex> ` takes 21 of them.
pub const MAX_COMMENT_BYTES: usize = 128 - "nsfleet:".len() - ID_LEN - 1;

/// Prefix of the text hashed into an id; bump it only together with a migration of existing rules.
const ID_DOMAIN: &str = "nsfleet-nat-v1";

pub use crate::domain::{Family as IpFamily, IpPrefix};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatProtocol {
    Tcp,
    Udp,
}

impl NatProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// Inclusive port range; a single port has `first == last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub fn single(port: u16) -> Self {
        Self {
            first: port,
            last: port,
        }
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// The match and action of a NAT rule. Interfaces are matched by name (`oifname`/`iifname`), so a rule
/// may name an interface that does not exist (yet): checking existence is the caller's business.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NatRuleSpec {
    /// Source NAT to the address of the output interface.
    Masquerade {
        source: IpPrefix,
        output_interface: Option<String>,
    },
    /// Source NAT to a fixed address.
    Snat {
        source: IpPrefix,
        output_interface: String,
        to_address: IpAddr,
    },
    /// Port forwarding. With `to_port`, a range is mapped one to one onto `to_port..`.
    Dnat {
        protocol: NatProtocol,
        ports: PortRange,
        input_interface: Option<String>,
        destination: Option<IpAddr>,
        to_address: IpAddr,
        to_port: Option<u16>,
    },
}

impl NatRuleSpec {
    /// The family of the rule's addresses (validation guarantees they agree).
    pub fn family(&self) -> IpFamily {
        match self {
            Self::Masquerade { source, .. } | Self::Snat { source, .. } => source.family(),
            Self::Dnat { to_address, .. } => IpFamily::of(to_address),
        }
    }

    /// The rule's stable id: the first 12 hex digits of SHA-256 over "nsfleet-nat-v1\n" followed by
    /// [`Self::canonical`]. Same rule, same id, on every host; the comment is no part of it.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(format!("{ID_DOMAIN}\n{}", self.canonical()));
        digest
            .iter()
            .take(ID_LEN / 2)
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// One line naming every field, empty where unset; addresses in RFC 5952 / dotted-quad text. Feed it
    /// only validated specs, or equal rules written differently get different ids.
    pub fn canonical(&self) -> String {
        fn or_empty<T: ToString>(value: &Option<T>) -> String {
            value.as_ref().map(ToString::to_string).unwrap_or_default()
        }
        match self {
            Self::Masquerade {
                source,
                output_interface,
            } => format!("masquerade src={source} oif={}", or_empty(output_interface)),
            Self::Snat {
                source,
                output_interface,
                to_address,
            } => format!("snat src={source} oif={output_interface} to={to_address}"),
            Self::Dnat {
                protocol,
                ports,
                input_interface,
                destination,
                to_address,
                to_port,
            } => format!(
                "dnat proto={} dport={}-{} iif={} dst={} to={to_address} to_port={}",
                protocol.as_str(),
                ports.first,
                ports.last,
                or_empty(input_interface),
                or_empty(destination),
                or_empty(to_port),
            ),
        }
    }
}

/// Reads like the nft rule, for messages.
impl fmt::Display for NatRuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Masquerade {
                source,
                output_interface,
            } => {
                write!(f, "masquerade from {source}")?;
                if let Some(oif) = output_interface {
                    write!(f, " out {oif}")?;
                }
                Ok(())
            }
            Self::Snat {
                source,
                output_interface,
                to_address,
            } => write!(
                f,
                "snat from {source} out {output_interface} to {to_address}"
            ),
            Self::Dnat {
                protocol,
                ports,
                input_interface,
                destination,
                to_address,
                to_port,
            } => {
                write!(f, "dnat {} port {ports}", protocol.as_str())?;
                if let Some(iif) = input_interface {
                    write!(f, " in {iif}")?;
                }
                if let Some(dst) = destination {
                    write!(f, " dst {dst}")?;
                }
                write!(f, " to {to_address}")?;
                if let Some(port) = to_port {
                    write!(f, " port {port}")?;
                }
                Ok(())
            }
        }
    }
}

/// A rule nsfleet made, as found in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatRule {
    pub id: String,
    pub spec: NatRuleSpec,
    /// The free text given when the rule was added ("" if none).
    pub comment: String,
    /// Counters of the rule since it was added.
    pub packets: u64,
    pub bytes: u64,
}

impl NatRule {
    pub fn family(&self) -> IpFamily {
        self.spec.family()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn prefix(text: &str) -> IpPrefix {
        let (addr, len) = text.split_once('/').unwrap();
        IpPrefix::new(addr.parse().unwrap(), len.parse().unwrap())
    }

    /// Pinned so an accidental change of the scheme (which would orphan every deployed rule's identity)
    /// fails here. The values were computed independently with Python's hashlib.
    #[test]
    fn nat_ids_are_pinned() {
        let masquerade = NatRuleSpec::Masquerade {
            source: prefix("172.20.0.0/16"),
            output_interface: None,
        };
        assert_eq!(masquerade.canonical(), "masquerade src=172.20.0.0/16 oif=");
        assert_eq!(masquerade.id(), "4fc1f16291e3");

        let dnat = NatRuleSpec::Dnat {
            protocol: NatProtocol::Tcp,
            ports: PortRange::single(8080),
            input_interface: Some("eth0".into()),
            destination: None,
            to_address: "172.20.0.2".parse().unwrap(),
            to_port: Some(80),
        };
        assert_eq!(dnat.id(), "5ada00dc8b2c");

        let snat = NatRuleSpec::Snat {
            source: prefix("2001:db8::/64"),
            output_interface: "eth0".into(),
            to_address: "2001:db8:1:0:0:0:0:1".parse().unwrap(),
        };
        assert_eq!(
            snat.canonical(),
            "snat src=2001:db8::/64 oif=eth0 to=2001:db8:1::1"
        );
        assert_eq!(snat.id(), "4a72dc22c506");
    }

    #[test]
    fn nat_prefix_masks_and_contains_per_family() {
        assert_eq!(prefix("172.20.9.9/16").network(), prefix("172.20.0.0/16"));
        assert_eq!(prefix("10.1.2.3/0").network(), prefix("0.0.0.0/0"));
        assert_eq!(prefix("10.1.2.3/32").network(), prefix("10.1.2.3/32"));
        assert_eq!(
            prefix("2001:db8::ff/120").network(),
            prefix("2001:db8::/120")
        );
        assert!(prefix("172.20.0.0/16").contains(&"172.20.255.1".parse().unwrap()));
        assert!(!prefix("172.20.0.0/16").contains(&"172.21.0.1".parse().unwrap()));
        assert!(prefix("0.0.0.0/0").contains(&"8.8.8.8".parse().unwrap()));
        assert!(!prefix("0.0.0.0/0").contains(&"::1".parse().unwrap()));
        assert!(prefix("::/0").contains(&"2001:db8::1".parse().unwrap()));
    }
}
