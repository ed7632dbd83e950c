//! Links over route netlink: one function per kernel operation, no policy.

use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo as NlLinkInfo,
    LinkMessage, Prop, State,
};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::RouteNetlinkMessage;
use nix::errno::Errno;
use rtnetlink::{LinkMessageBuilder, LinkUnspec};

use super::{request, KernelError, RouteSocket};
use crate::domain::MacAddr;

/// RFC 2863 operational state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperState {
    Unknown,
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
}

/// The other end of a veth, as its own namespace numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerRef {
    pub index: u32,
    /// The peer's namespace as an nsid of the namespace that was asked; `None` = the same namespace.
    pub netnsid: Option<i32>,
}

/// A link as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// IFLA_INFO_KIND ("veth", "bridge", ...); `None` for loopback and physical devices.
    pub kind: Option<String>,
    pub admin_up: bool,
    pub oper_state: OperState,
    pub flags: Vec<&'static str>,
    pub mtu: u32,
    pub min_mtu: Option<u32>,
    pub max_mtu: Option<u32>,
    pub mac: Option<MacAddr>,
    pub master: Option<u32>,
    pub peer: Option<PeerRef>,
    /// Alternative names (IFLA_ALT_IFNAME), where nsfleet's ownership marker lives.
    pub alt_names: Vec<String>,
    /// A VXLAN link's parameters (without the remotes of its forwarding entries).
    pub vxlan: Option<super::vxlan::VxlanInfo>,
}

/// Nothing here reads counters: without them each link's answer is about half as long to send and to
/// parse, which a plan reading every namespace feels, and so does every single call (a `link set` reads
/// its link twice), since the kernel also skips summing the per-CPU counters.
fn query_without_stats() -> LinkMessage {
    let mut query = LinkMessage::default();
    query
        .attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    query
}

pub fn list(socket: &RouteSocket) -> Result<Vec<Link>, KernelError> {
    let query = query_without_stats();
    let messages = request::dump(socket, RouteNetlinkMessage::GetLink(query), "dump links")?;
    Ok(messages.iter().filter_map(link_of).collect())
}

pub fn get_by_name(socket: &RouteSocket, name: &str) -> Result<Option<Link>, KernelError> {
    let mut query = query_without_stats();
    query
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    get(socket, query, format!("get link {name}"))
}

pub fn get_by_index(socket: &RouteSocket, index: u32) -> Result<Option<Link>, KernelError> {
    let mut query = query_without_stats();
    query.header.index = index;
    get(socket, query, format!("get link #{index}"))
}

/// One link, or `None` if the kernel has no such device (ENODEV).
fn get(
    socket: &RouteSocket,
    query: LinkMessage,
    context: String,
) -> Result<Option<Link>, KernelError> {
    match request::get(socket, RouteNetlinkMessage::GetLink(query), context) {
        Ok(answer) => Ok(answer.as_ref().and_then(link_of)),
        Err(e) if e.errno() == Some(Errno::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

fn link_of(message: &RouteNetlinkMessage) -> Option<Link> {
    match message {
        RouteNetlinkMessage::NewLink(link) => Some(parse(link)),
        _ => None,
    }
}

/// `ip link add NAME type veth peer name PEER [netns PEER_NS]`. The pair is created in one request, so
/// a failure leaves no half pair behind; EEXIST if either name is taken.
pub fn create_veth(
    socket: &RouteSocket,
    name: &str,
    peer: &str,
    peer_namespace: Option<BorrowedFd<'_>>,
    mtu: Option<u32>,
) -> Result<(), KernelError> {
    let mut peer_message = LinkMessageBuilder::<LinkUnspec>::new().name(peer);
    if let Some(fd) = peer_namespace {
        peer_message = peer_message.setns_by_fd(fd.as_raw_fd());
    }
    if let Some(mtu) = mtu {
        peer_message = peer_message.mtu(mtu);
    }
    let mut builder = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth)
        .name(name)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_message.build())));
    if let Some(mtu) = mtu {
        builder = builder.mtu(mtu);
    }
    let context = format!("create veth pair {name}/{peer}");
    request::acked(
        socket,
        RouteNetlinkMessage::NewLink(builder.build()),
        NLM_F_CREATE | NLM_F_EXCL,
        context,
    )
}

/// `ip link property add dev NAME altname ALT_NAME` (RTM_NEWLINKPROP). The kernel finds the link by
/// name, so a link just created needs no lookup first.
pub fn add_alt_name(socket: &RouteSocket, name: &str, alt_name: &str) -> Result<(), KernelError> {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    message
        .attributes
        .push(LinkAttribute::PropList(vec![Prop::AltIfName(
            alt_name.to_string(),
        )]));
    request::acked(
        socket,
        RouteNetlinkMessage::NewLinkProp(message),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("add alternative name {alt_name} to {name}"),
    )
}

/// `ip link add NAME address MAC type bridge`: created down, as ip does. (rtnetlink's `LinkBridge::new`
/// would also set it up, which makes the tutorial's `link set br0 up` a silent no-op.)
///
/// A bridge created without an address takes the lowest of its ports' addresses, and a new one each time
/// that port leaves, while its neighbours keep the old one in their ARP caches for up to a minute: a
/// namespace deleted from a bridge cuts the others off from the bridge's own address. An address given
/// at creation counts as set by the user (`NET_ADDR_SET`), and the kernel then never changes it.
pub fn create_bridge(
    socket: &RouteSocket,
    name: &str,
    mac: MacAddr,
    mtu: Option<u32>,
) -> Result<(), KernelError> {
    let mut builder = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Bridge)
        .name(name)
        .address(mac.0.to_vec());
    if let Some(mtu) = mtu {
        builder = builder.mtu(mtu);
    }
    let context = format!("create bridge {name}");
    request::acked(
        socket,
        RouteNetlinkMessage::NewLink(builder.build()),
        NLM_F_CREATE | NLM_F_EXCL,
        context,
    )
}

/// One attribute change on an existing link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChange {
    Up(bool),
    Mtu(u32),
    Mac(MacAddr),
    /// `Some(index)`: enslave to that master; `None`: release from the current one.
    Master(Option<u32>),
}

pub fn change(
    socket: &RouteSocket,
    index: u32,
    name: &str,
    change: &LinkChange,
) -> Result<(), KernelError> {
    let builder = LinkUnspec::new_with_index(index);
    let (builder, what) = match change {
        LinkChange::Up(true) => (builder.up(), "set up".to_string()),
        LinkChange::Up(false) => (builder.down(), "set down".to_string()),
        LinkChange::Mtu(mtu) => (builder.mtu(*mtu), format!("set mtu {mtu}")),
        LinkChange::Mac(mac) => (
            builder.address(mac.0.to_vec()),
            format!("set address {mac}"),
        ),
        LinkChange::Master(Some(master)) => {
            (builder.controller(*master), format!("set master #{master}"))
        }
        LinkChange::Master(None) => (builder.nocontroller(), "set nomaster".to_string()),
    };
    request::acked(
        socket,
        RouteNetlinkMessage::SetLink(builder.build()),
        0,
        format!("{what} on {name}"),
    )
}

/// `ip link set NAME netns NS`: the link leaves the namespace of `socket`.
pub fn move_to_namespace(
    socket: &RouteSocket,
    index: u32,
    name: &str,
    target: BorrowedFd<'_>,
) -> Result<(), KernelError> {
    let message = LinkUnspec::new_with_index(index)
        .setns_by_fd(target.as_raw_fd())
        .build();
    let context = format!("move {name} to another namespace");
    request::acked(socket, RouteNetlinkMessage::SetLink(message), 0, context)
}

pub fn delete(socket: &RouteSocket, index: u32, name: &str) -> Result<(), KernelError> {
    let mut message = LinkMessage::default();
    message.header.index = index;
    request::acked(
        socket,
        RouteNetlinkMessage::DelLink(message),
        0,
        format!("delete link {name}"),
    )
}

/// The nsid that the namespace of `socket` uses for the namespace behind `other`, if one is assigned.
/// Peers in other namespaces are reported by nsid only; this is how they get names.
pub fn nsid_of(socket: &RouteSocket, other: BorrowedFd<'_>) -> Result<Option<i32>, KernelError> {
    let mut message = NsidMessage::default();
    message
        .attributes
        .push(NsidAttribute::Fd(other.as_raw_fd() as u32));
    let answer = request::get(socket, RouteNetlinkMessage::GetNsId(message), "get nsid")?;
    let id = match answer {
        Some(RouteNetlinkMessage::NewNsId(reply)) => {
            reply.attributes.iter().find_map(|a| match a {
                NsidAttribute::Id(id) => Some(*id),
                _ => None,
            })
        }
        _ => None,
    };
    Ok(id.filter(|id| *id >= 0))
}

pub(crate) fn parse(message: &LinkMessage) -> Link {
    let flags = message.header.flags;
    let mut link = Link {
        index: message.header.index,
        name: String::new(),
        kind: None,
        admin_up: flags.contains(LinkFlags::Up),
        oper_state: OperState::Unknown,
        flags: flag_names(flags),
        mtu: 0,
        min_mtu: None,
        max_mtu: None,
        mac: None,
        master: None,
        peer: None,
        alt_names: Vec::new(),
        vxlan: None,
    };
    let mut link_attr = None;
    let mut link_netnsid = None;
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name = name.clone(),
            LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
            LinkAttribute::MinMtu(mtu) => link.min_mtu = Some(*mtu),
            LinkAttribute::MaxMtu(mtu) => link.max_mtu = Some(*mtu).filter(|m| *m > 0),
            LinkAttribute::Address(bytes) => link.mac = MacAddr::from_bytes(bytes),
            LinkAttribute::Controller(master) => link.master = Some(*master).filter(|m| *m > 0),
            LinkAttribute::OperState(state) => link.oper_state = oper_state(*state),
            LinkAttribute::Link(index) => link_attr = Some(*index),
            LinkAttribute::LinkNetNsId(id) => link_netnsid = Some(*id),
            LinkAttribute::PropList(props) => {
                link.alt_names = props
                    .iter()
                    .filter_map(|prop| match prop {
                        Prop::AltIfName(name) => Some(name.clone()),
                        _ => None,
                    })
                    .collect()
            }
            LinkAttribute::LinkInfo(infos) => {
                link.kind = infos.iter().find_map(|info| match info {
                    NlLinkInfo::Kind(kind) => Some(kind.to_string()),
                    _ => None,
                });
                link.vxlan = infos.iter().find_map(|info| match info {
                    NlLinkInfo::Data(data) => super::vxlan::parse_info(data),
                    _ => None,
                });
            }
            _ => {}
        }
    }
    if link.kind.as_deref() == Some("veth") {
        link.peer = link_attr.map(|index| PeerRef {
            index,
            netnsid: link_netnsid,
        });
    }
    link
}

fn oper_state(state: State) -> OperState {
    match state {
        State::NotPresent => OperState::NotPresent,
        State::Down => OperState::Down,
        State::LowerLayerDown => OperState::LowerLayerDown,
        State::Testing => OperState::Testing,
        State::Dormant => OperState::Dormant,
        State::Up => OperState::Up,
        _ => OperState::Unknown,
    }
}

/// Flag names in the order `ip link` prints them.
fn flag_names(flags: LinkFlags) -> Vec<&'static str> {
    const NAMES: &[(LinkFlags, &str)] = &[
        (LinkFlags::Loopback, "LOOPBACK"),
        (LinkFlags::Broadcast, "BROADCAST"),
        (LinkFlags::Pointopoint, "POINTOPOINT"),
        (LinkFlags::Multicast, "MULTICAST"),
        (LinkFlags::Noarp, "NOARP"),
        (LinkFlags::Allmulti, "ALLMULTI"),
        (LinkFlags::Promisc, "PROMISC"),
        (LinkFlags::Controller, "MASTER"),
        (LinkFlags::Port, "SLAVE"),
        (LinkFlags::Debug, "DEBUG"),
        (LinkFlags::Dynamic, "DYNAMIC"),
        (LinkFlags::Automedia, "AUTOMEDIA"),
        (LinkFlags::Portsel, "PORTSEL"),
        (LinkFlags::Notrailers, "NOTRAILERS"),
        (LinkFlags::Up, "UP"),
        (LinkFlags::LowerUp, "LOWER_UP"),
        (LinkFlags::Dormant, "DORMANT"),
        (LinkFlags::Echo, "ECHO"),
    ];
    NAMES
        .iter()
        .filter(|(flag, _)| flags.contains(*flag))
        .map(|(_, name)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use nix::errno::Errno;

    use super::{change, get_by_name, LinkChange};
    use crate::kernel::fresh_namespace::in_fresh_namespace;
    use crate::kernel::socket::RouteSocket;

    /// `ops::link` reads the index back when the kernel refuses a master with EINVAL, because a master
    /// deleted after it was looked up gets EINVAL, not ENODEV. This holds the kernel to that.
    #[test]
    fn a_master_index_that_names_no_link_is_refused_as_invalid() {
        let refused = in_fresh_namespace(|| {
            let socket = RouteSocket::open().expect("a route socket in the new namespace");
            let lo = get_by_name(&socket, "lo")
                .expect("read lo")
                .expect("lo exists");
            change(
                &socket,
                lo.index,
                "lo",
                &LinkChange::Master(Some(1_000_000)),
            )
            .expect_err("no link has index 1000000")
            .errno()
        });
        assert_eq!(refused, Some(Errno::EINVAL));
    }
}
