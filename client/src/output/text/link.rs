//! `ip link` lines: `3: veth1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state UP`, then
//! `    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netns netns1`.

use std::fmt::Write;

use super::shown;
use nsfleet_proto::v1::{Link, OperState};

use crate::commands::LinkListing;

pub fn render(listing: &LinkListing) -> String {
    let mut out = String::new();
    for link in &listing.links {
        out.push_str(&header(link, listing.all_namespaces));
        out.push_str(&link_layer(link));
        out.push_str(&vxlan_details(link));
    }
    out
}

/// The first line of a link, also the header of `addr show`.
pub fn header(link: &Link, show_namespace: bool) -> String {
    let mut line = format!(
        "{}: {}{}: <{}> mtu {}",
        link.index,
        shown(&link.name),
        peer_suffix(link),
        link.flags.join(","),
        link.mtu
    );
    if !link.master.is_empty() {
        let _ = write!(line, " master {}", shown(&link.master));
    }
    let _ = write!(line, " state {}", oper_state_name(link.oper_state()));
    if show_namespace && !link.namespace.is_empty() {
        let _ = write!(line, " netns {}", shown(&link.namespace));
    }
    line.push('\n');
    line
}

/// `@peer` when the veth peer is in the same namespace, `@ifN` (its index) when it is elsewhere, as `ip` does.
fn peer_suffix(link: &Link) -> String {
    match &link.peer {
        Some(peer) if peer.known && peer.namespace == link.namespace && !peer.name.is_empty() => {
            format!("@{}", shown(&peer.name))
        }
        Some(peer) if peer.index != 0 => format!("@if{}", peer.index),
        _ => String::new(),
    }
}

pub fn link_layer(link: &Link) -> String {
    let has_flag = |flag: &str| link.flags.iter().any(|present| present == flag);
    let mut line = if has_flag("LOOPBACK") {
        format!("    link/loopback {0} brd {0}", link.mac)
    } else if link.mac.is_empty() {
        "    link/none".to_owned()
    } else if has_flag("BROADCAST") {
        format!("    link/ether {} brd ff:ff:ff:ff:ff:ff", link.mac)
    } else {
        format!("    link/ether {}", link.mac)
    };
    if let Some(peer) = &link.peer {
        if peer.known && !peer.namespace.is_empty() && peer.namespace != link.namespace {
            let _ = write!(line, " link-netns {}", shown(&peer.namespace));
        }
    }
    line.push('\n');
    line
}

/// `    vxlan id 42 remote 192.0.2.2 local 192.0.2.1 dev wire0 dstport 4789`, as `ip -d link` shows a
/// tunnel (several remotes, each a forwarding entry, one `remote` each); empty for other links.
pub fn vxlan_details(link: &Link) -> String {
    let Some(vxlan) = &link.vxlan else {
        return String::new();
    };
    let mut line = format!("    vxlan id {}", vxlan.vni);
    for remote in &vxlan.remotes {
        let _ = write!(line, " remote {}", shown(remote));
    }
    if !vxlan.local.is_empty() {
        let _ = write!(line, " local {}", shown(&vxlan.local));
    }
    if !vxlan.device.is_empty() {
        let _ = write!(line, " dev {}", shown(&vxlan.device));
    }
    let _ = write!(line, " dstport {}", vxlan.port);
    if vxlan.learning == Some(false) {
        line.push_str(" nolearning");
    }
    line.push('\n');
    line
}

pub fn oper_state_name(state: OperState) -> &'static str {
    match state {
        OperState::Unspecified | OperState::Unknown => "UNKNOWN",
        OperState::NotPresent => "NOTPRESENT",
        OperState::Down => "DOWN",
        OperState::LowerLayerDown => "LOWERLAYERDOWN",
        OperState::Testing => "TESTING",
        OperState::Dormant => "DORMANT",
        OperState::Up => "UP",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use nsfleet_proto::v1::VethPeer;

    use super::*;

    pub(crate) fn host_veth() -> Link {
        Link {
            namespace: String::new(),
            name: "veth1".into(),
            index: 3,
            kind: "veth".into(),
            admin_up: true,
            oper_state: OperState::Up.into(),
            mtu: 1500,
            mac: "02:00:00:00:00:01".into(),
            master: "br0".into(),
            flags: vec![
                "BROADCAST".into(),
                "MULTICAST".into(),
                "UP".into(),
                "LOWER_UP".into(),
            ],
            peer: Some(VethPeer {
                index: 2,
                name: "ceth1".into(),
                namespace: "netns1".into(),
                known: true,
            }),
            vxlan: None,
        }
    }

    pub(crate) fn loopback() -> Link {
        Link {
            namespace: String::new(),
            name: "lo".into(),
            index: 1,
            kind: String::new(),
            admin_up: true,
            oper_state: OperState::Unknown.into(),
            mtu: 65536,
            mac: "00:00:00:00:00:00".into(),
            master: String::new(),
            flags: vec!["LOOPBACK".into(), "UP".into(), "LOWER_UP".into()],
            peer: None,
            vxlan: None,
        }
    }

    #[test]
    fn veth_with_peer_in_another_namespace() {
        let listing = LinkListing {
            links: vec![loopback(), host_veth()],
            all_namespaces: false,
        };
        assert_eq!(
            render(&listing),
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 state UNKNOWN\n\
             \x20   link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n\
             3: veth1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state UP\n\
             \x20   link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netns netns1\n"
        );
    }

    #[test]
    fn peer_in_same_namespace_is_named() {
        let mut link = host_veth();
        link.peer = Some(VethPeer {
            index: 4,
            name: "veth1b".into(),
            namespace: String::new(),
            known: true,
        });
        link.master.clear();
        link.oper_state = OperState::LowerLayerDown.into();
        assert_eq!(
            header(&link, false),
            "3: veth1@veth1b: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state LOWERLAYERDOWN\n"
        );
        assert_eq!(
            link_layer(&link),
            "    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff\n"
        );
    }

    #[test]
    fn unknown_peer_namespace_shows_the_index_only() {
        let mut link = host_veth();
        link.peer = Some(VethPeer {
            index: 9,
            name: String::new(),
            namespace: String::new(),
            known: false,
        });
        assert!(header(&link, false).starts_with("3: veth1@if9: "));
        assert!(!link_layer(&link).contains("link-netns"));
    }

    #[test]
    fn all_namespaces_names_the_namespace() {
        let mut link = host_veth();
        link.namespace = "netns2".into();
        assert!(header(&link, true).ends_with(" state UP netns netns2\n"));
        assert!(!header(&link, false).contains("netns2"));
    }

    #[test]
    fn link_without_mac() {
        let link = Link {
            name: "tun0".into(),
            index: 5,
            flags: vec![],
            ..Link::default()
        };
        assert_eq!(
            render(&LinkListing {
                links: vec![link],
                all_namespaces: false
            }),
            "5: tun0: <> mtu 0 state UNKNOWN\n    link/none\n"
        );
    }

    #[test]
    fn a_vxlan_link_shows_its_tunnel_as_ip_d_does() {
        let link = Link {
            name: "vx0".into(),
            index: 6,
            vxlan: Some(nsfleet_proto::v1::VxlanSpec {
                vni: 42,
                local: "192.0.2.1".into(),
                remotes: vec!["192.0.2.2".into()],
                port: 4789,
                device: "wire0".into(),
                learning: Some(true),
            }),
            ..Link::default()
        };
        assert_eq!(
            vxlan_details(&link),
            "    vxlan id 42 remote 192.0.2.2 local 192.0.2.1 dev wire0 dstport 4789\n"
        );
        assert_eq!(vxlan_details(&host_veth()), "");
    }
}
