//! `ip addr`: each link's header, then `    inet 172.20.0.1/16 brd 172.20.255.255 scope global br0`.

use std::fmt::Write;

use nsfleet_proto::v1::{Address, AddressFamily};

use super::{link, scope_name, shown};
use crate::commands::AddressListing;

pub fn render(listing: &AddressListing) -> String {
    let mut out = String::new();
    if listing.links.is_empty() {
        // Without the links (JSON mode never gets here; a failed link read does) group by the addresses.
        let mut current = None;
        for address in &listing.response.addresses {
            if current != Some(address.link_index) {
                let _ = writeln!(out, "{}: {}:", address.link_index, shown(&address.link));
                current = Some(address.link_index);
            }
            out.push_str(&address_line(address));
        }
        return out;
    }
    for link in &listing.links {
        out.push_str(&link::header(link, false));
        out.push_str(&link::link_layer(link));
        for address in listing
            .response
            .addresses
            .iter()
            .filter(|address| address.link_index == link.index)
        {
            out.push_str(&address_line(address));
        }
    }
    out
}

/// Flags as `ip` prints them: "permanent" is the normal case and goes unmentioned.
pub fn address_line(address: &Address) -> String {
    let ipv4 = address.family() == AddressFamily::Ipv4;
    let mut line = format!(
        "    {} {}/{}",
        if ipv4 { "inet" } else { "inet6" },
        address.address,
        address.prefix_len
    );
    if !address.broadcast.is_empty() {
        let _ = write!(line, " brd {}", address.broadcast);
    }
    if let Some(scope) = scope_name(address.scope()) {
        let _ = write!(line, " scope {scope}");
    }
    for flag in address.flags.iter().filter(|flag| *flag != "permanent") {
        let _ = write!(line, " {flag}");
    }
    if ipv4 {
        let label = if address.label.is_empty() {
            &address.link
        } else {
            &address.label
        };
        let _ = write!(line, " {}", shown(label));
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use nsfleet_proto::v1::{ListAddressesResponse, Scope};

    use super::*;
    use crate::output::text::link::tests::{host_veth, loopback};

    fn v4(link: &str, index: u32, address: &str, prefix_len: u32) -> Address {
        Address {
            namespace: String::new(),
            link: link.into(),
            link_index: index,
            family: AddressFamily::Ipv4.into(),
            address: address.into(),
            prefix_len,
            broadcast: String::new(),
            label: String::new(),
            scope: Scope::Global.into(),
            flags: vec!["permanent".into()],
        }
    }

    #[test]
    fn addresses_under_their_links() {
        let mut loopback_address = v4("lo", 1, "127.0.0.1", 8);
        loopback_address.scope = Scope::Host.into();
        let mut bridge_port = v4("veth1", 3, "172.20.0.1", 16);
        bridge_port.broadcast = "172.20.255.255".into();
        let ipv6 = Address {
            family: AddressFamily::Ipv6.into(),
            address: "fe80::1".into(),
            prefix_len: 64,
            scope: Scope::Link.into(),
            flags: vec!["permanent".into(), "tentative".into()],
            ..v4("veth1", 3, "", 0)
        };
        let listing = AddressListing {
            response: ListAddressesResponse {
                addresses: vec![loopback_address, bridge_port, ipv6],
            },
            links: vec![loopback(), host_veth()],
        };
        assert_eq!(
            render(&listing),
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 state UNKNOWN\n\
             \x20   link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n\
             \x20   inet 127.0.0.1/8 scope host lo\n\
             3: veth1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state UP\n\
             \x20   link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netns netns1\n\
             \x20   inet 172.20.0.1/16 brd 172.20.255.255 scope global veth1\n\
             \x20   inet6 fe80::1/64 scope link tentative\n"
        );
    }

    #[test]
    fn without_links_groups_by_address() {
        let mut labelled = v4("br0", 4, "172.20.0.10", 16);
        labelled.label = "br0:gw".into();
        let listing = AddressListing {
            response: ListAddressesResponse {
                addresses: vec![v4("br0", 4, "172.20.0.1", 16), labelled],
            },
            links: vec![],
        };
        assert_eq!(
            render(&listing),
            "4: br0:\n    inet 172.20.0.1/16 scope global br0\n    inet 172.20.0.10/16 scope global br0:gw\n"
        );
    }
}
