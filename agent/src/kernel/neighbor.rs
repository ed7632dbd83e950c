//! The neighbour (ARP / NDP) table over route netlink.

use std::net::IpAddr;

use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{request, KernelError, RouteSocket};
use crate::domain::{Family, MacAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NudState {
    Incomplete,
    Reachable,
    Stale,
    Delay,
    Probe,
    Failed,
    Noarp,
    Permanent,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    pub address: IpAddr,
    pub link_index: u32,
    pub mac: Option<MacAddr>,
    pub state: NudState,
    pub router: bool,
}

/// IP neighbours only: the same dump also carries bridge FDB entries (AF_BRIDGE), which are not ARP/NDP.
pub fn list(socket: &RouteSocket, family: Option<Family>) -> Result<Vec<Neighbor>, KernelError> {
    let mut query = NeighbourMessage::default();
    query.header.family = match family {
        Some(Family::V4) => AddressFamily::Inet,
        Some(Family::V6) => AddressFamily::Inet6,
        None => AddressFamily::Unspec,
    };
    let messages = request::dump(
        socket,
        RouteNetlinkMessage::GetNeighbour(query),
        "dump neighbours",
    )?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewNeighbour(message) => parse(&message),
            _ => None,
        })
        .filter(|n| family.is_none_or(|f| Family::of(&n.address) == f))
        .collect())
}

pub(crate) fn parse(message: &NeighbourMessage) -> Option<Neighbor> {
    if !matches!(
        message.header.family,
        AddressFamily::Inet | AddressFamily::Inet6
    ) {
        return None;
    }
    let mut address = None;
    let mut mac = None;
    for attribute in &message.attributes {
        match attribute {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                address = Some(IpAddr::V4(*v4))
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                address = Some(IpAddr::V6(*v6))
            }
            NeighbourAttribute::LinkLayerAddress(bytes) => mac = MacAddr::from_bytes(bytes),
            _ => {}
        }
    }
    Some(Neighbor {
        address: address?,
        link_index: message.header.ifindex,
        mac,
        state: match message.header.state {
            NeighbourState::Incomplete => NudState::Incomplete,
            NeighbourState::Reachable => NudState::Reachable,
            NeighbourState::Stale => NudState::Stale,
            NeighbourState::Delay => NudState::Delay,
            NeighbourState::Probe => NudState::Probe,
            NeighbourState::Failed => NudState::Failed,
            NeighbourState::Noarp => NudState::Noarp,
            NeighbourState::Permanent => NudState::Permanent,
            _ => NudState::None,
        },
        router: message.header.flags.contains(NeighbourFlags::Router),
    })
}
