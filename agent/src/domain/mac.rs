use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// A random locally administered unicast address, of the kind the kernel picks itself
    /// (`eth_random_addr`). std seeds every `RandomState` from the OS and varies it per instance, which
    /// is random enough for an address on one segment without a random number crate.
    pub fn random_local() -> Self {
        let bits = RandomState::new().build_hasher().finish().to_be_bytes();
        let mut bytes = [0u8; 6];
        bytes.copy_from_slice(&bits[..6]);
        bytes[0] = (bytes[0] & !1) | 2;
        Self(bytes)
    }
}

impl FromStr for MacAddr {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 6];
        let mut parts = value.split(':');
        for byte in &mut bytes {
            let part = parts
                .next()
                .ok_or_else(|| format!("{value:?} is not six colon-separated hex octets"))?;
            if part.is_empty() || part.len() > 2 {
                return Err(format!("{value:?} is not six colon-separated hex octets"));
            }
            *byte = u8::from_str_radix(part, 16)
                .map_err(|_| format!("{value:?} has a non-hex octet {part:?}"))?;
        }
        if parts.next().is_some() {
            return Err(format!("{value:?} has more than six octets"));
        }
        Ok(Self(bytes))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_lower_case() {
        let mac: MacAddr = "02:AB:0c:00:00:01".parse().expect("valid");
        assert_eq!(mac.to_string(), "02:ab:0c:00:00:01");
        assert!(!mac.is_multicast());
        for bad in [
            "",
            "02:ab:0c:00:00",
            "02:ab:0c:00:00:01:02",
            "02:ab:0c:00:00:zz",
            "02:ab:0c:00:00:123",
            "::::::",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn random_addresses_are_local_unicast_and_differ() {
        let first = MacAddr::random_local();
        assert!(!first.is_multicast() && first.0[0] & 2 == 2, "{first}");
        assert!(
            (0..8).any(|_| MacAddr::random_local() != first),
            "eight draws all gave {first}"
        );
    }
}
