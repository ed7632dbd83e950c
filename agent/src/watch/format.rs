//! Kernel objects in `ip monitor` words, their identity within a namespace (to tell new from changed),
//! the key the agent remembers its own changes under, and whether the kernel marks them as nsfleet's.

use std::collections::HashMap;
use std::fmt::Write;

use crate::domain::Scope;
use crate::kernel::address::Address;
use crate::kernel::link::{Link, OperState};
use crate::kernel::monitor::Notification;
use crate::kernel::neighbor::{Neighbor, NudState};
use crate::kernel::route::{self, Route, MAIN_TABLE};
use crate::ops::marker::NSFLEET_PROTOCOL;

use super::Kind;

/// Link names by index, for the objects that name a link only by its index.
pub type LinkNames = HashMap<u32, String>;

/// What a notification is about, worked out once.
pub struct Described {
    pub kind: Kind,
    /// Same object, same identity: a second notification for it is a change.
    pub identity: String,
    /// The key the agent remembers its own changes under (`recent.rs`).
    pub object: String,
    pub summary: String,
    /// The kernel object carries nsfleet's marker.
    pub marked: bool,
}

pub fn describe(notification: &Notification, names: &LinkNames) -> Described {
    match notification {
        Notification::Link { link, .. } => Described {
            kind: Kind::Link,
            identity: link.index.to_string(),
            object: link.name.clone(),
            summary: link_summary(link, names),
            marked: link
                .alt_names
                .iter()
                .any(|name| name.starts_with("nsfleet.")),
        },
        Notification::Address { address, .. } => Described {
            kind: Kind::Address,
            identity: format!("{} {}", address.link_index, address.prefix),
            object: address.prefix.to_string(),
            summary: address_summary(address, names),
            marked: address.protocol == NSFLEET_PROTOCOL,
        },
        Notification::Route { route, .. } => Described {
            kind: Kind::Route,
            identity: format!(
                "{} {} {} {:?}",
                route.table,
                route.destination,
                route.effective_metric(),
                route.kind
            ),
            object: route.destination.to_string(),
            summary: route_summary(route, names),
            marked: u8::from(route.protocol) == NSFLEET_PROTOCOL,
        },
        Notification::Neighbor { neighbor, .. } => Described {
            kind: Kind::Neighbor,
            identity: format!("{} {}", neighbor.link_index, neighbor.address),
            object: neighbor.address.to_string(),
            summary: neighbor_summary(neighbor, names),
            marked: false,
        },
    }
}

fn link_name(index: u32, names: &LinkNames) -> String {
    names
        .get(&index)
        .cloned()
        .unwrap_or_else(|| format!("if{index}"))
}

fn link_summary(link: &Link, names: &LinkNames) -> String {
    let mut text = format!(
        "{}: {}: <{}> mtu {}",
        link.index,
        link.name,
        link.flags.join(","),
        link.mtu
    );
    if let Some(master) = link.master {
        let _ = write!(text, " master {}", link_name(master, names));
    }
    let _ = write!(text, " state {}", oper_state(link.oper_state));
    if let Some(mac) = &link.mac {
        let _ = write!(text, " link/ether {mac}");
    }
    text
}

fn oper_state(state: OperState) -> &'static str {
    match state {
        OperState::Unknown => "UNKNOWN",
        OperState::NotPresent => "NOTPRESENT",
        OperState::Down => "DOWN",
        OperState::LowerLayerDown => "LOWERLAYERDOWN",
        OperState::Testing => "TESTING",
        OperState::Dormant => "DORMANT",
        OperState::Up => "UP",
    }
}

fn scope_name(scope: Scope) -> String {
    match scope {
        Scope::Global => "global".to_string(),
        Scope::Site => "site".to_string(),
        Scope::Link => "link".to_string(),
        Scope::Host => "host".to_string(),
        Scope::Nowhere => "nowhere".to_string(),
        Scope::Other(value) => value.to_string(),
    }
}

fn address_summary(address: &Address, names: &LinkNames) -> String {
    let family = match address.prefix.address {
        std::net::IpAddr::V4(_) => "inet",
        std::net::IpAddr::V6(_) => "inet6",
    };
    let mut text = format!(
        "{}: {} {family} {}",
        address.link_index,
        link_name(address.link_index, names),
        address.prefix
    );
    if let Some(broadcast) = address.broadcast {
        let _ = write!(text, " brd {broadcast}");
    }
    let _ = write!(text, " scope {}", scope_name(address.scope));
    if address.protocol != 0 {
        let _ = write!(text, " proto {}", address.protocol);
    }
    text
}

fn route_summary(route: &Route, names: &LinkNames) -> String {
    let mut text = String::new();
    if !matches!(route.kind, route::RouteType::Unicast) {
        let _ = write!(text, "{} ", route::type_name(route.kind));
    }
    if route.destination.prefix_len == 0 {
        text.push_str("default");
    } else if route.destination.prefix_len == route.destination.family().max_prefix_len() {
        let _ = write!(text, "{}", route.destination.address);
    } else {
        let _ = write!(text, "{}", route.destination);
    }
    if let Some(gateway) = route.gateway {
        let _ = write!(text, " via {gateway}");
    }
    if let Some(device) = route.device_index {
        let _ = write!(text, " dev {}", link_name(device, names));
    }
    if route.table != MAIN_TABLE {
        let table = match route.table {
            255 => "local".to_string(),
            other => other.to_string(),
        };
        let _ = write!(text, " table {table}");
    }
    if route.protocol != route::PROTOCOL_BOOT {
        let _ = write!(text, " proto {}", route::protocol_name(route.protocol));
    }
    if route.scope != Scope::Global {
        let _ = write!(text, " scope {}", scope_name(route.scope));
    }
    if let Some(source) = route.source {
        let _ = write!(text, " src {source}");
    }
    if let Some(metric) = route.metric.filter(|m| *m != 0) {
        let _ = write!(text, " metric {metric}");
    }
    text
}

fn neighbor_summary(neighbor: &Neighbor, names: &LinkNames) -> String {
    let mut text = format!(
        "{} dev {}",
        neighbor.address,
        link_name(neighbor.link_index, names)
    );
    if let Some(mac) = &neighbor.mac {
        let _ = write!(text, " lladdr {mac}");
    }
    if neighbor.router {
        text.push_str(" router");
    }
    let state = match neighbor.state {
        NudState::Incomplete => "INCOMPLETE",
        NudState::Reachable => "REACHABLE",
        NudState::Stale => "STALE",
        NudState::Delay => "DELAY",
        NudState::Probe => "PROBE",
        NudState::Failed => "FAILED",
        NudState::Noarp => "NOARP",
        NudState::Permanent => "PERMANENT",
        NudState::None => "NONE",
    };
    let _ = write!(text, " {state}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IpPrefix;
    use crate::kernel::route::RouteProtocol;

    fn route(destination: &str, protocol: u8) -> Route {
        let (address, len) = destination.split_once('/').unwrap_or((destination, "32"));
        Route {
            destination: IpPrefix {
                address: address
                    .parse()
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
                prefix_len: len.parse().unwrap_or(32),
            },
            gateway: Some(
                "10.0.0.254"
                    .parse()
                    .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
            ),
            device_index: Some(5),
            metric: None,
            table: MAIN_TABLE,
            scope: Scope::Global,
            protocol: RouteProtocol::from(protocol),
            kind: route::RouteType::Unicast,
            source: None,
            flags: vec![],
        }
    }

    #[test]
    fn routes_read_like_ip_and_protocol_211_is_nsfleet_s() {
        let names = LinkNames::from([(5, "veth1".to_string())]);
        let ours = describe(
            &Notification::Route {
                deleted: false,
                route: route("0.0.0.0/0", NSFLEET_PROTOCOL),
            },
            &names,
        );
        assert_eq!(ours.summary, "default via 10.0.0.254 dev veth1 proto 211");
        assert!(ours.marked);
        assert_eq!(ours.object, "0.0.0.0/0");
        let boot = describe(
            &Notification::Route {
                deleted: false,
                route: route("192.0.2.0/24", 3),
            },
            &names,
        );
        assert_eq!(boot.summary, "192.0.2.0/24 via 10.0.0.254 dev veth1");
        assert!(!boot.marked);
    }
}
