//! VXLAN links and their all-zero forwarding entries (the remotes of head-end replication) over route
//! netlink: `ip link add ... type vxlan` and `bridge fdb append 00:00:00:00:00:00 dev NAME dst ADDR`.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVxlan};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{LinkMessageBuilder, LinkUnspec};

use super::{request, KernelError, RouteSocket};

/// A VXLAN link's parameters as the kernel holds them (IFLA_INFO_DATA).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VxlanInfo {
    pub vni: u32,
    pub local: Option<IpAddr>,
    /// IFLA_VXLAN_GROUP(6): the one remote of `ip ... remote ADDR` (the kernel also lists it as an
    /// all-zero forwarding entry).
    pub group: Option<IpAddr>,
    pub port: u16,
    /// IFLA_VXLAN_LINK: the underlying device's index.
    pub device_index: Option<u32>,
    pub learning: bool,
}

/// What a new VXLAN link is made with.
#[derive(Debug, Clone)]
pub struct NewVxlan {
    pub vni: u32,
    pub local: Option<IpAddr>,
    pub remote: Option<IpAddr>,
    pub port: u16,
    pub device_index: Option<u32>,
    pub learning: bool,
    pub mtu: Option<u32>,
}

/// `ip link add NAME type vxlan id VNI [local ADDR] [remote ADDR] dstport PORT [dev DEV] [nolearning]`,
/// created down as ip does. EEXIST if the name is taken; EEXIST too if another VXLAN link of the
/// namespace already has this VNI and port.
pub fn create(socket: &RouteSocket, name: &str, spec: &NewVxlan) -> Result<(), KernelError> {
    let mut data = vec![InfoVxlan::Id(spec.vni)];
    match spec.local {
        Some(IpAddr::V4(v4)) => data.push(InfoVxlan::Local(v4)),
        Some(IpAddr::V6(v6)) => data.push(InfoVxlan::Local6(v6)),
        None => {}
    }
    match spec.remote {
        Some(IpAddr::V4(v4)) => data.push(InfoVxlan::Group(v4)),
        Some(IpAddr::V6(v6)) => data.push(InfoVxlan::Group6(v6)),
        None => {}
    }
    if let Some(index) = spec.device_index {
        data.push(InfoVxlan::Link(index));
    }
    data.push(InfoVxlan::Port(spec.port));
    data.push(InfoVxlan::Learning(spec.learning));
    let mut builder = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Vxlan)
        .name(name)
        .set_info_data(InfoData::Vxlan(data));
    if let Some(mtu) = spec.mtu {
        builder = builder.mtu(mtu);
    }
    request::acked(
        socket,
        RouteNetlinkMessage::NewLink(builder.build()),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("create vxlan {name}"),
    )
}

/// `bridge fdb append 00:00:00:00:00:00 dev NAME dst REMOTE`: one more head-end replication target.
pub fn append_remote(
    socket: &RouteSocket,
    index: u32,
    name: &str,
    remote: IpAddr,
) -> Result<(), KernelError> {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = index;
    message.header.state = NeighbourState::Permanent;
    message.header.flags = NeighbourFlags::Own;
    message
        .attributes
        .push(NeighbourAttribute::LinkLayerAddress(vec![0; 6]));
    message
        .attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::from(
            remote,
        )));
    request::acked(
        socket,
        RouteNetlinkMessage::NewNeighbour(message),
        NLM_F_CREATE | NLM_F_APPEND,
        format!("add remote {remote} to {name}"),
    )
}

/// The remotes of every VXLAN link of the namespace, by link index: the destinations of the all-zero
/// forwarding entries (one bridge-family neighbour dump for all of them).
pub fn remotes(socket: &RouteSocket) -> Result<Vec<(u32, IpAddr)>, KernelError> {
    let mut query = NeighbourMessage::default();
    query.header.family = AddressFamily::Bridge;
    let messages = request::dump(
        socket,
        RouteNetlinkMessage::GetNeighbour(query),
        "dump forwarding entries",
    )?;
    Ok(messages
        .iter()
        .filter_map(|message| match message {
            RouteNetlinkMessage::NewNeighbour(entry) => all_zero_destination(entry),
            _ => None,
        })
        .collect())
}

fn all_zero_destination(entry: &NeighbourMessage) -> Option<(u32, IpAddr)> {
    if entry.header.family != AddressFamily::Bridge {
        return None;
    }
    let mut all_zero = false;
    let mut destination = None;
    for attribute in &entry.attributes {
        match attribute {
            NeighbourAttribute::LinkLayerAddress(mac) => {
                all_zero = mac.len() == 6 && mac.iter().all(|b| *b == 0)
            }
            NeighbourAttribute::Destination(address) => destination = ip_of(address),
            _ => {}
        }
    }
    destination
        .filter(|_| all_zero)
        .map(|d| (entry.header.ifindex, d))
}

fn ip_of(address: &NeighbourAddress) -> Option<IpAddr> {
    match address {
        NeighbourAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        NeighbourAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        NeighbourAddress::Other(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(bytes.as_slice()).ok().map(IpAddr::from),
            16 => <[u8; 16]>::try_from(bytes.as_slice())
                .ok()
                .map(IpAddr::from),
            _ => None,
        },
        _ => None,
    }
}

/// The parameters of a link's IFLA_INFO_DATA, if it is a VXLAN link's.
pub fn parse_info(data: &InfoData) -> Option<VxlanInfo> {
    let InfoData::Vxlan(attributes) = data else {
        return None;
    };
    let mut info = VxlanInfo::default();
    for attribute in attributes {
        match attribute {
            InfoVxlan::Id(vni) => info.vni = *vni,
            InfoVxlan::Local(v4) => info.local = Some(IpAddr::V4(*v4)),
            InfoVxlan::Local6(v6) => info.local = Some(IpAddr::V6(*v6)),
            InfoVxlan::Group(v4) => info.group = Some(IpAddr::V4(*v4)),
            InfoVxlan::Group6(v6) => info.group = Some(IpAddr::V6(*v6)),
            InfoVxlan::Port(port) => info.port = *port,
            InfoVxlan::Link(index) => info.device_index = Some(*index).filter(|i| *i > 0),
            InfoVxlan::Learning(learning) => info.learning = *learning,
            _ => {}
        }
    }
    // The kernel reports an unset address as all zeros.
    info.local = info.local.filter(|a| !a.is_unspecified());
    info.group = info.group.filter(|a| !a.is_unspecified());
    Some(info)
}
