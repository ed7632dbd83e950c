//! Routes over route netlink.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteScope,
};
pub use netlink_packet_route::route::{RouteProtocol, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{request, KernelError, RouteSocket};
use crate::domain::{Family, IpPrefix, Scope};

pub const MAIN_TABLE: u32 = 254;
/// Tables do not fit the header's u8 above 255; RTA_TABLE carries them in full.
const RT_TABLE_COMPAT: u8 = 252;

/// A route as the kernel reports it, and as requests describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: IpPrefix,
    pub gateway: Option<IpAddr>,
    pub device_index: Option<u32>,
    /// Priority; `None` in a request means the kernel's default for the family.
    pub metric: Option<u32>,
    pub table: u32,
    pub scope: Scope,
    pub protocol: RouteProtocol,
    pub kind: RouteType,
    pub source: Option<IpAddr>,
    pub flags: Vec<&'static str>,
}

impl Route {
    /// The kernel's default metric where none was given: IPv6 routes get 1024, IPv4 ones 0.
    pub fn effective_metric(&self) -> u32 {
        self.metric.unwrap_or(match self.destination.family() {
            Family::V4 => 0,
            Family::V6 => 1024,
        })
    }
}

/// What `ip route add` uses unless told otherwise.
pub const PROTOCOL_BOOT: RouteProtocol = RouteProtocol::Boot;

pub fn list(socket: &RouteSocket, family: Option<Family>) -> Result<Vec<Route>, KernelError> {
    let mut query = RouteMessage::default();
    query.header.address_family = match family {
        Some(Family::V4) => AddressFamily::Inet,
        Some(Family::V6) => AddressFamily::Inet6,
        None => AddressFamily::Unspec,
    };
    let messages = request::dump(socket, RouteNetlinkMessage::GetRoute(query), "dump routes")?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewRoute(message) => parse(&message),
            _ => None,
        })
        .filter(|r| family.is_none_or(|f| r.destination.family() == f))
        .collect())
}

/// The routes of one table, both families. The socket's strict checking makes the kernel filter the
/// dump, so the local table (a route per address) is not read and parsed for nothing.
pub fn list_table(socket: &RouteSocket, table: u32) -> Result<Vec<Route>, KernelError> {
    let mut query = RouteMessage::default();
    query.header.table = u8::try_from(table).unwrap_or(RT_TABLE_COMPAT);
    query.attributes.push(RouteAttribute::Table(table));
    let messages = request::dump(socket, RouteNetlinkMessage::GetRoute(query), "dump routes")?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewRoute(message) => parse(&message),
            _ => None,
        })
        .filter(|r| r.table == table)
        .collect())
}

pub enum Mode {
    Add,
    Replace,
}

pub fn add(
    socket: &RouteSocket,
    route: &Route,
    mode: Mode,
    context: &str,
) -> Result<(), KernelError> {
    let flags = NLM_F_CREATE
        | match mode {
            Mode::Add => NLM_F_EXCL,
            Mode::Replace => NLM_F_REPLACE,
        };
    request::acked(
        socket,
        RouteNetlinkMessage::NewRoute(message(route)),
        flags,
        context,
    )
}

pub fn delete(socket: &RouteSocket, route: &Route, context: &str) -> Result<(), KernelError> {
    request::acked(
        socket,
        RouteNetlinkMessage::DelRoute(message(route)),
        0,
        context,
    )
}

fn message(route: &Route) -> RouteMessage {
    let mut message = RouteMessage::default();
    let header = &mut message.header;
    header.address_family = match route.destination.family() {
        Family::V4 => AddressFamily::Inet,
        Family::V6 => AddressFamily::Inet6,
    };
    header.destination_prefix_length = route.destination.prefix_len;
    header.table = u8::try_from(route.table).unwrap_or(RT_TABLE_COMPAT);
    header.protocol = route.protocol;
    header.scope = RouteScope::from(route.scope.to_kernel());
    header.kind = route.kind;
    let attributes = &mut message.attributes;
    attributes.push(RouteAttribute::Table(route.table));
    if route.destination.prefix_len > 0 {
        attributes.push(RouteAttribute::Destination(RouteAddress::from(
            route.destination.address,
        )));
    }
    if let Some(gateway) = route.gateway {
        attributes.push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
    }
    if let Some(index) = route.device_index {
        attributes.push(RouteAttribute::Oif(index));
    }
    if let Some(metric) = route.metric {
        attributes.push(RouteAttribute::Priority(metric));
    }
    if let Some(source) = route.source {
        attributes.push(RouteAttribute::PrefSource(RouteAddress::from(source)));
    }
    message
}

fn ip(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

pub(crate) fn parse(message: &RouteMessage) -> Option<Route> {
    let header = &message.header;
    let family = match header.address_family {
        AddressFamily::Inet => Family::V4,
        AddressFamily::Inet6 => Family::V6,
        _ => return None,
    };
    let mut route = Route {
        destination: IpPrefix {
            address: family.unspecified(),
            prefix_len: header.destination_prefix_length,
        },
        gateway: None,
        device_index: None,
        metric: None,
        table: u32::from(header.table),
        scope: Scope::from_kernel(u8::from(header.scope)),
        protocol: header.protocol,
        kind: header.kind,
        source: None,
        flags: flag_names(header.flags),
    };
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Destination(address) => route.destination.address = ip(address)?,
            RouteAttribute::Gateway(address) => route.gateway = ip(address),
            RouteAttribute::Oif(index) => route.device_index = Some(*index),
            RouteAttribute::Priority(metric) => route.metric = Some(*metric),
            RouteAttribute::Table(table) => route.table = *table,
            RouteAttribute::PrefSource(address) => route.source = ip(address),
            _ => {}
        }
    }
    Some(route)
}

fn flag_names(flags: RouteFlags) -> Vec<&'static str> {
    const NAMES: &[(RouteFlags, &str)] = &[
        (RouteFlags::Dead, "dead"),
        (RouteFlags::Pervasive, "pervasive"),
        (RouteFlags::Onlink, "onlink"),
        (RouteFlags::Offload, "offload"),
        (RouteFlags::Linkdown, "linkdown"),
        (RouteFlags::Unresolved, "unresolved"),
        (RouteFlags::Trap, "trap"),
    ];
    NAMES
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect()
}

/// `ip route`'s names for route types and protocols, for listings. netlink-packet-route's own `Display`
/// spells some differently ("icmp_redirect", "Dhcp", "other(99)"), and the API publishes iproute2's.
pub fn type_name(kind: RouteType) -> String {
    match kind {
        RouteType::Unspec => "unspec",
        RouteType::Unicast => "unicast",
        RouteType::Local => "local",
        RouteType::Broadcast => "broadcast",
        RouteType::Anycast => "anycast",
        RouteType::Multicast => "multicast",
        RouteType::BlackHole => "blackhole",
        RouteType::Unreachable => "unreachable",
        RouteType::Prohibit => "prohibit",
        RouteType::Throw => "throw",
        RouteType::Nat => "nat",
        other => return u8::from(other).to_string(),
    }
    .to_string()
}

pub fn protocol_name(protocol: RouteProtocol) -> String {
    match protocol {
        RouteProtocol::Unspec => "unspec",
        RouteProtocol::IcmpRedirect => "redirect",
        RouteProtocol::Kernel => "kernel",
        RouteProtocol::Boot => "boot",
        RouteProtocol::Static => "static",
        RouteProtocol::Gated => "gated",
        RouteProtocol::Ra => "ra",
        RouteProtocol::Dhcp => "dhcp",
        other => return u8::from(other).to_string(),
    }
    .to_string()
}

/// The route the kernel uses to reach `destination` (`ip route get`), or with `fib_match` the routing table
/// entry that matched it (`ip route get fibmatch`): its real prefix, table and metric.
pub fn get(
    socket: &RouteSocket,
    destination: IpAddr,
    fib_match: bool,
) -> Result<Option<Route>, KernelError> {
    let context = format!(
        "route get {}{destination}",
        if fib_match { "fibmatch " } else { "" }
    );
    let mut query = RouteMessage::default();
    query.header.address_family = match destination {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    query.header.destination_prefix_length = Family::of(&destination).max_prefix_len();
    if fib_match {
        query.header.flags = RouteFlags::FibMatch;
    }
    query
        .attributes
        .push(RouteAttribute::Destination(RouteAddress::from(destination)));
    let answer = request::get(socket, RouteNetlinkMessage::GetRoute(query), context)?;
    Ok(answer.and_then(|message| match message {
        RouteNetlinkMessage::NewRoute(route) => parse(&route),
        _ => None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_iproute2_s_and_unnamed_numbers_stay_numbers() {
        assert_eq!(protocol_name(RouteProtocol::IcmpRedirect), "redirect");
        assert_eq!(protocol_name(RouteProtocol::Dhcp), "dhcp");
        assert_eq!(protocol_name(RouteProtocol::from(11)), "11");
        assert_eq!(protocol_name(RouteProtocol::from(211)), "211");
        assert_eq!(type_name(RouteType::BlackHole), "blackhole");
        assert_eq!(type_name(RouteType::from(12)), "12");
    }
}
