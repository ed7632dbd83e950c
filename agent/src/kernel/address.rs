//! Interface addresses over route netlink.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::NLM_F_CREATE;
use netlink_packet_core::{NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressMessage, AddressProtocol, AddressScope,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{request, KernelError, RouteSocket};
use crate::domain::{Family, IpPrefix, Scope};

/// An address as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub link_index: u32,
    pub prefix: IpPrefix,
    pub broadcast: Option<Ipv4Addr>,
    pub label: Option<String>,
    pub scope: Scope,
    pub flags: Vec<&'static str>,
    /// IFA_PROTO (Linux 6.1): who made the address; 0 when none was given.
    pub protocol: u8,
}

/// What to put on a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSpec {
    pub link_index: u32,
    pub prefix: IpPrefix,
    pub broadcast: Option<Ipv4Addr>,
    pub label: Option<String>,
    pub scope: Option<Scope>,
    /// IFA_PROTO to mark the address with (nsfleet's ownership marker); `None` sends none.
    pub protocol: Option<u8>,
}

pub fn list(socket: &RouteSocket, family: Option<Family>) -> Result<Vec<Address>, KernelError> {
    let mut query = AddressMessage::default();
    query.header.family = family.map(af).unwrap_or(AddressFamily::Unspec);
    let messages = request::dump(
        socket,
        RouteNetlinkMessage::GetAddress(query),
        "dump addresses",
    )?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(message) => parse(&message),
            _ => None,
        })
        .filter(|a| family.is_none_or(|f| a.prefix.family() == f))
        .collect())
}

/// The addresses of one link. The socket's strict checking makes the kernel filter by link, so this
/// costs the same whatever else the namespace holds (a bridge with a thousand ports, say).
pub fn list_of_link(
    socket: &RouteSocket,
    link_index: u32,
    family: Option<Family>,
) -> Result<Vec<Address>, KernelError> {
    let mut query = AddressMessage::default();
    query.header.family = family.map(af).unwrap_or(AddressFamily::Unspec);
    query.header.index = link_index;
    let messages = request::dump(
        socket,
        RouteNetlinkMessage::GetAddress(query),
        "dump addresses of a link",
    )?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(message) => parse(&message),
            _ => None,
        })
        .filter(|a| a.link_index == link_index && family.is_none_or(|f| a.prefix.family() == f))
        .collect())
}

/// Adds the address, or with `replace` updates its attributes (broadcast, label, scope) in place.
pub fn add(
    socket: &RouteSocket,
    spec: &AddressSpec,
    replace: bool,
    context: &str,
) -> Result<(), KernelError> {
    let flags = NLM_F_CREATE | if replace { NLM_F_REPLACE } else { NLM_F_EXCL };
    request::acked(
        socket,
        RouteNetlinkMessage::NewAddress(message(spec)),
        flags,
        context,
    )
}

pub fn delete(
    socket: &RouteSocket,
    link_index: u32,
    prefix: IpPrefix,
    context: &str,
) -> Result<(), KernelError> {
    let spec = AddressSpec {
        link_index,
        prefix,
        broadcast: None,
        label: None,
        scope: None,
        protocol: None,
    };
    request::acked(
        socket,
        RouteNetlinkMessage::DelAddress(message(&spec)),
        0,
        context,
    )
}

fn af(family: Family) -> AddressFamily {
    match family {
        Family::V4 => AddressFamily::Inet,
        Family::V6 => AddressFamily::Inet6,
    }
}

fn message(spec: &AddressSpec) -> AddressMessage {
    let mut message = AddressMessage::default();
    message.header.family = af(spec.prefix.family());
    message.header.prefix_len = spec.prefix.prefix_len;
    message.header.index = spec.link_index;
    message.header.scope = AddressScope::from(spec.scope.unwrap_or(Scope::Global).to_kernel());
    // Like `ip addr add`: IFA_LOCAL is the address; IFA_ADDRESS equals it when there is no peer.
    message
        .attributes
        .push(AddressAttribute::Local(spec.prefix.address));
    message
        .attributes
        .push(AddressAttribute::Address(spec.prefix.address));
    if let Some(broadcast) = spec.broadcast {
        message
            .attributes
            .push(AddressAttribute::Broadcast(broadcast));
    }
    if let Some(label) = &spec.label {
        message
            .attributes
            .push(AddressAttribute::Label(label.clone()));
    }
    if let Some(protocol) = spec.protocol {
        message
            .attributes
            .push(AddressAttribute::Protocol(AddressProtocol::from(protocol)));
    }
    message
}

pub(crate) fn parse(message: &AddressMessage) -> Option<Address> {
    let mut local = None;
    let mut address = None;
    let mut broadcast = None;
    let mut label = None;
    let mut protocol = 0;
    let mut flags = AddressFlags::from_bits_truncate(u32::from(message.header.flags.bits()));
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Broadcast(ip) => broadcast = Some(*ip),
            AddressAttribute::Label(text) => label = Some(text.clone()),
            AddressAttribute::Flags(full) => flags = *full,
            AddressAttribute::Protocol(p) => protocol = u8::from(*p),
            _ => {}
        }
    }
    // IPv4 reports the interface's own address as IFA_LOCAL; IPv6 only as IFA_ADDRESS.
    let ip: IpAddr = local.or(address)?;
    Some(Address {
        link_index: message.header.index,
        prefix: IpPrefix {
            address: ip,
            prefix_len: message.header.prefix_len,
        },
        broadcast,
        label,
        scope: Scope::from_kernel(u8::from(message.header.scope)),
        flags: flag_names(flags),
        protocol,
    })
}

fn flag_names(flags: AddressFlags) -> Vec<&'static str> {
    const NAMES: &[(AddressFlags, &str)] = &[
        (AddressFlags::Secondary, "secondary"),
        (AddressFlags::Tentative, "tentative"),
        (AddressFlags::Deprecated, "deprecated"),
        (AddressFlags::Dadfailed, "dadfailed"),
        (AddressFlags::Nodad, "nodad"),
        (AddressFlags::Optimistic, "optimistic"),
        (AddressFlags::Homeaddress, "home"),
        (AddressFlags::Noprefixroute, "noprefixroute"),
        (AddressFlags::Managetempaddr, "mngtmpaddr"),
        (AddressFlags::Mcautojoin, "autojoin"),
        (AddressFlags::StablePrivacy, "stable-privacy"),
    ];
    let mut names: Vec<&'static str> = NAMES
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    // `ip addr` prints "dynamic" for addresses that are not permanent.
    names.push(if flags.contains(AddressFlags::Permanent) {
        "permanent"
    } else {
        "dynamic"
    });
    names
}
