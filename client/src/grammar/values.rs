//! Parsers for the values that follow keywords: addresses, prefixes, scopes, tables, MACs, ports.

use std::net::IpAddr;

use nsfleet_proto::v1::{AddressFamily, Scope};

use super::GrammarError;

fn invalid(
    keyword: &'static str,
    what: &'static str,
    value: &str,
    reason: impl Into<String>,
) -> GrammarError {
    GrammarError::InvalidValue {
        keyword,
        what,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

pub fn family_of(address: IpAddr) -> AddressFamily {
    match address {
        IpAddr::V4(_) => AddressFamily::Ipv4,
        IpAddr::V6(_) => AddressFamily::Ipv6,
    }
}

fn max_prefix_len(address: IpAddr) -> u32 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

pub fn parse_ip(keyword: &'static str, word: &str) -> Result<IpAddr, GrammarError> {
    word.parse()
        .map_err(|_| invalid(keyword, "address", word, "not an IPv4 or IPv6 address"))
}

/// An address with an optional prefix length, `ADDR[/PLEN]`; without one it is a host prefix (/32, /128),
/// as with iproute2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub address: IpAddr,
    pub len: u32,
}

pub fn parse_prefix(keyword: &'static str, word: &str) -> Result<Prefix, GrammarError> {
    let (address_text, len_text) = match word.split_once('/') {
        Some((address, len)) => (address, Some(len)),
        None => (word, None),
    };
    let address: IpAddr = address_text.parse().map_err(|_| {
        invalid(
            keyword,
            "prefix",
            word,
            format!("\"{address_text}\" is not an IPv4 or IPv6 address"),
        )
    })?;
    let max = max_prefix_len(address);
    let len = match len_text {
        None => max,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|len| *len <= max)
            .ok_or_else(|| {
                invalid(
                    keyword,
                    "prefix",
                    word,
                    format!("prefix length must be 0-{max}"),
                )
            })?,
    };
    Ok(Prefix { address, len })
}

pub fn parse_scope(keyword: &'static str, word: &str) -> Result<Scope, GrammarError> {
    match word {
        "global" | "universe" => Ok(Scope::Global),
        "site" => Ok(Scope::Site),
        "link" => Ok(Scope::Link),
        "host" => Ok(Scope::Host),
        "nowhere" => Ok(Scope::Nowhere),
        _ => Err(invalid(
            keyword,
            "scope",
            word,
            "expected global, site, link, host or nowhere",
        )),
    }
}

/// A routing table by number or by the names iproute2 knows without /etc/iproute2/rt_tables. Table 0
/// is RT_TABLE_UNSPEC, which the agent refuses: it names no table.
pub fn parse_table(keyword: &'static str, word: &str) -> Result<u32, GrammarError> {
    match word {
        "main" => Ok(254),
        "local" => Ok(255),
        "default" => Ok(253),
        "0" => Err(invalid(
            keyword,
            "table",
            word,
            "0 is not a table; leave it out for main (254)",
        )),
        _ => word.parse().map_err(|_| {
            invalid(
                keyword,
                "table",
                word,
                "expected a number 1-4294967295, main, local or default",
            )
        }),
    }
}

/// A name for a link about to be created: the kernel refuses more than 15 bytes (IFNAMSIZ less the NUL),
/// a limit long descriptive names run into at once. The agent checks the rest of a name's rules.
pub fn check_new_link_name(keyword: &'static str, name: &str) -> Result<(), GrammarError> {
    const MAX_LINK_NAME: usize = 15;
    if name.len() > MAX_LINK_NAME {
        return Err(invalid(
            keyword,
            "link name",
            name,
            format!(
                "{} bytes; the kernel takes at most {MAX_LINK_NAME}",
                name.len()
            ),
        ));
    }
    Ok(())
}

/// The MTU of a new veth or bridge: both are Ethernet devices, which the kernel bounds to 68-65535
/// (ETH_MIN_MTU, ETH_MAX_MTU). Other links have other bounds (`lo` takes 0 and 70000), which only the
/// agent can read, so `link set` does not use this.
pub fn parse_ethernet_mtu(keyword: &'static str, word: &str) -> Result<u32, GrammarError> {
    word.parse::<u32>()
        .ok()
        .filter(|mtu| (68..=65535).contains(mtu))
        .ok_or_else(|| invalid(keyword, "MTU", word, "veth and bridge MTUs are 68-65535"))
}

/// Six colon-separated hex octets; returned lower-case, the form the agent reports.
pub fn parse_mac(keyword: &'static str, word: &str) -> Result<String, GrammarError> {
    let octets: Vec<&str> = word.split(':').collect();
    let well_formed = octets.len() == 6
        && octets.iter().all(|octet| {
            (1..=2).contains(&octet.len()) && octet.chars().all(|c| c.is_ascii_hexdigit())
        });
    if !well_formed {
        return Err(invalid(
            keyword,
            "MAC address",
            word,
            "expected six hex octets like 02:00:00:00:00:01",
        ));
    }
    Ok(octets
        .iter()
        .map(|octet| format!("{:0>2}", octet.to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(":"))
}

fn parse_port(keyword: &'static str, whole: &str, text: &str) -> Result<u32, GrammarError> {
    text.parse::<u16>()
        .ok()
        .filter(|port| *port != 0)
        .map(u32::from)
        .ok_or_else(|| {
            invalid(
                keyword,
                "port",
                whole,
                format!("\"{text}\" is not a port number 1-65535"),
            )
        })
}

/// `PORT` or `FIRST-LAST`; the last port is 0 for a single port, as in the proto.
pub fn parse_port_range(keyword: &'static str, word: &str) -> Result<(u32, u32), GrammarError> {
    let Some((first, last)) = word.split_once('-') else {
        return Ok((parse_port(keyword, word, word)?, 0));
    };
    let (first, last) = (
        parse_port(keyword, word, first)?,
        parse_port(keyword, word, last)?,
    );
    if last < first {
        return Err(invalid(
            keyword,
            "port range",
            word,
            "the last port is below the first",
        ));
    }
    Ok((first, last))
}

/// `ADDR`, `IPV4:PORT`, `[IPV6]` or `[IPV6]:PORT`; the port is 0 when not given.
pub fn parse_address_port(
    keyword: &'static str,
    word: &str,
) -> Result<(IpAddr, u32), GrammarError> {
    if let Ok(address) = word.parse::<IpAddr>() {
        return Ok((address, 0));
    }
    let split = match word.strip_prefix('[') {
        Some(rest) => match rest.strip_suffix(']') {
            Some(address) => return parse_ip(keyword, address).map(|address| (address, 0)),
            None => rest.split_once("]:"),
        },
        None => word.rsplit_once(':'),
    };
    let (address_text, port_text) = split.ok_or_else(|| {
        invalid(
            keyword,
            "address",
            word,
            "expected ADDR, ADDR:PORT or [IPV6]:PORT",
        )
    })?;
    let address = address_text.parse().map_err(|_| {
        invalid(
            keyword,
            "address",
            word,
            format!("\"{address_text}\" is not an IP address"),
        )
    })?;
    Ok((address, parse_port(keyword, word, port_text)?))
}

/// `on`/`off` and the numbers sysctl uses for them.
pub fn parse_switch(keyword: &'static str, word: &str) -> Result<bool, GrammarError> {
    match word {
        "on" | "1" => Ok(true),
        "off" | "0" => Ok(false),
        _ => Err(invalid(keyword, "switch", word, "expected on or off")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_default_to_host_length() {
        assert_eq!(parse_prefix("to", "172.20.0.0/16").unwrap().len, 16);
        assert_eq!(parse_prefix("to", "172.20.0.1").unwrap().len, 32);
        assert_eq!(parse_prefix("to", "2001:db8::1").unwrap().len, 128);
        assert_eq!(parse_prefix("to", "2001:db8::/32").unwrap().len, 32);
    }

    #[test]
    fn bad_prefixes_name_the_problem() {
        let error = parse_prefix("from", "172.20.0.0/33").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid prefix \"172.20.0.0/33\" after \"from\": prefix length must be 0-32"
        );
        assert!(parse_prefix("from", "172.20/16").is_err());
        assert!(parse_prefix("from", "10.0.0.0/x").is_err());
        assert!(parse_prefix("from", "2001:db8::/129").is_err());
    }

    #[test]
    fn scopes_and_tables() {
        assert_eq!(parse_scope("scope", "link"), Ok(Scope::Link));
        assert_eq!(parse_scope("scope", "universe"), Ok(Scope::Global));
        assert!(parse_scope("scope", "planet").is_err());
        assert_eq!(parse_table("table", "main"), Ok(254));
        assert_eq!(parse_table("table", "100"), Ok(100));
        assert!(parse_table("table", "-1").is_err());
        assert!(parse_table("table", "4294967296").is_err());
        assert_eq!(
            parse_table("table", "0").unwrap_err().to_string(),
            "invalid table \"0\" after \"table\": 0 is not a table; leave it out for main (254)"
        );
    }

    #[test]
    fn macs_are_normalised() {
        assert_eq!(
            parse_mac("address", "02:AB:c:00:00:01").unwrap(),
            "02:ab:0c:00:00:01"
        );
        assert!(parse_mac("address", "02:ab:cd:00:00").is_err());
        assert!(parse_mac("address", "02:ab:cd:00:00:zz").is_err());
        assert!(parse_mac("address", "02:ab:cd:00:00:001").is_err());
    }

    #[test]
    fn ports_and_ranges() {
        assert_eq!(parse_port_range("dport", "8080"), Ok((8080, 0)));
        assert_eq!(parse_port_range("dport", "8000-8010"), Ok((8000, 8010)));
        assert!(parse_port_range("dport", "http").is_err());
        assert!(parse_port_range("dport", "0").is_err());
        assert!(parse_port_range("dport", "70000").is_err());
        assert!(parse_port_range("dport", "80-").is_err());
        assert_eq!(parse_port_range("dport", "8000-8000"), Ok((8000, 8000)));
        assert_eq!(
            parse_port_range("dport", "8010-8000")
                .unwrap_err()
                .to_string(),
            "invalid port range \"8010-8000\" after \"dport\": the last port is below the first"
        );
    }

    #[test]
    fn addresses_with_ports() {
        let v4: IpAddr = "172.20.0.11".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(parse_address_port("to", "172.20.0.11"), Ok((v4, 0)));
        assert_eq!(parse_address_port("to", "172.20.0.11:80"), Ok((v4, 80)));
        assert_eq!(parse_address_port("to", "2001:db8::1"), Ok((v6, 0)));
        assert_eq!(parse_address_port("to", "[2001:db8::1]:443"), Ok((v6, 443)));
        assert!(parse_address_port("to", "172.20.0.11:http").is_err());
        assert!(parse_address_port("to", "example:80").is_err());
        assert_eq!(parse_address_port("to", "[2001:db8::1]"), Ok((v6, 0)));
        assert!(parse_address_port("to", "[2001:db8::1]:").is_err());
        assert!(parse_address_port("to", "[172.20.0.300]").is_err());
    }

    #[test]
    fn switches() {
        assert_eq!(parse_switch("ipv4", "on"), Ok(true));
        assert_eq!(parse_switch("ipv4", "0"), Ok(false));
        assert!(parse_switch("ipv4", "yes").is_err());
    }
}
