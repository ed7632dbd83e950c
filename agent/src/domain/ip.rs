use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::FieldError;

/// IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(address: &IpAddr) -> Self {
        match address {
            IpAddr::V4(_) => Self::V4,
            IpAddr::V6(_) => Self::V6,
        }
    }

    pub fn max_prefix_len(self) -> u8 {
        match self {
            Self::V4 => 32,
            Self::V6 => 128,
        }
    }

    pub fn unspecified(self) -> IpAddr {
        match self {
            Self::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Self::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Addresses that mean nothing without a link to send on: link-local unicast and interface- or
/// link-local multicast.
pub fn is_link_scoped(address: Ipv6Addr) -> bool {
    let first = address.segments()[0];
    let link_local_unicast = first & 0xffc0 == 0xfe80;
    let narrow_multicast = first & 0xff00 == 0xff00 && matches!(first & 0x000f, 0x1 | 0x2);
    link_local_unicast || narrow_multicast
}

pub fn parse_ip(field: &str, value: &str) -> Result<IpAddr, FieldError> {
    value
        .parse()
        .map_err(|_| FieldError::new(field, format!("{value:?} is not an IPv4 or IPv6 address")))
}

pub fn parse_optional_ip(field: &str, value: &str) -> Result<Option<IpAddr>, FieldError> {
    if value.is_empty() {
        Ok(None)
    } else {
        parse_ip(field, value).map(Some)
    }
}

pub fn check_prefix_len(field: &str, family: Family, prefix_len: u32) -> Result<u8, FieldError> {
    let max = family.max_prefix_len();
    u8::try_from(prefix_len)
        .ok()
        .filter(|len| *len <= max)
        .ok_or_else(|| {
            FieldError::new(
                field,
                format!("{prefix_len} is out of range for {family} (0-{max})"),
            )
        })
}

/// An address with its prefix length: an interface address ("172.20.0.11/16") or a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    pub address: IpAddr,
    pub prefix_len: u8,
}

impl IpPrefix {
    pub fn new(address: IpAddr, prefix_len: u8) -> Self {
        Self {
            address,
            prefix_len,
        }
    }

    /// From the two wire fields, naming whichever is malformed.
    pub fn parse(
        address_field: &str,
        address: &str,
        len_field: &str,
        prefix_len: u32,
    ) -> Result<Self, FieldError> {
        let address = parse_ip(address_field, address)?;
        let prefix_len = check_prefix_len(len_field, Family::of(&address), prefix_len)?;
        Ok(Self {
            address,
            prefix_len,
        })
    }

    pub fn family(&self) -> Family {
        Family::of(&self.address)
    }

    /// The network: the same prefix with the host bits cleared (a length past the family's width keeps
    /// every bit).
    pub fn network(&self) -> Self {
        let address = match self.address {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix_len.min(32)))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_len.min(128)))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        };
        Self {
            address,
            prefix_len: self.prefix_len,
        }
    }

    /// IPv4 broadcast: all host bits set (`brd +`).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        match self.address {
            IpAddr::V4(v4) => {
                let host_bits = u32::MAX
                    .checked_shr(u32::from(self.prefix_len))
                    .unwrap_or(0);
                Some(Ipv4Addr::from(u32::from(v4) | host_bits))
            }
            IpAddr::V6(_) => None,
        }
    }

    pub fn is_network(&self) -> bool {
        self.network().address == self.address
    }

    pub fn contains(&self, address: &IpAddr) -> bool {
        Family::of(address) == self.family()
            && IpPrefix::new(*address, self.prefix_len).network() == self.network()
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(address: &str, len: u32) -> IpPrefix {
        IpPrefix::parse("a", address, "len", len).expect("valid prefix")
    }

    #[test]
    fn networks_and_broadcasts() {
        let p = prefix("172.20.0.11", 16);
        assert_eq!(p.network().to_string(), "172.20.0.0/16");
        assert_eq!(
            p.broadcast().map(|b| b.to_string()).as_deref(),
            Some("172.20.255.255")
        );
        assert!(!p.is_network());
        assert!(prefix("0.0.0.0", 0).is_network());
        assert_eq!(
            prefix("10.1.2.3", 32).broadcast(),
            Some("10.1.2.3".parse().expect("ip"))
        );
        assert_eq!(
            prefix("2001:db8::1", 64).network().to_string(),
            "2001:db8::/64"
        );
        assert!(p.contains(&"172.20.99.1".parse().expect("ip")));
        assert!(!p.contains(&"172.21.0.1".parse().expect("ip")));
    }

    #[test]
    fn rejects_out_of_range_lengths_and_garbage() {
        assert_eq!(
            IpPrefix::parse("a", "10.0.0.1", "len", 33).map_err(|e| e.field),
            Err("len".into())
        );
        assert!(IpPrefix::parse("a", "2001:db8::1", "len", 128).is_ok());
        assert!(IpPrefix::parse("a", "2001:db8::1", "len", 129).is_err());
        assert_eq!(
            IpPrefix::parse("a", "10.0.0.256", "len", 8).map_err(|e| e.field),
            Err("a".into())
        );
        assert!(IpPrefix::parse("a", "", "len", 8).is_err());
    }
}
