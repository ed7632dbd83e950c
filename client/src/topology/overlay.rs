//! `overlays:`: VXLAN tunnels that join a bridge on each of several hosts into one Ethernet segment.
//! Each member becomes a VXLAN link on its host, a port of the member's bridge, whose remotes are the
//! other members' local addresses: two members are a point-to-point tunnel, more a full mesh
//! (head-end replication). Checked against the whole file, so a typo in a host or bridge name is an
//! error at its place, not a tunnel to nowhere.

use std::collections::HashMap;
use std::net::IpAddr;

use nsfleet_proto::v1::{create_link_request::Kind, CreateLinkRequest, TopologyLink, VxlanSpec};
use schemars::JsonSchema;
use serde::Deserialize;

use super::error::Problems;
use super::file::{Located, NameMap, TopologyFile};
use super::LoadedHost;
use crate::grammar::values::{check_new_link_name, parse_ethernet_mtu};

/// The kernel's and IANA's VXLAN port; what `port:` defaults to.
const DEFAULT_PORT: u32 = 4789;

/// One overlay: a VNI, and the hosts whose bridges it joins.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverlaySpec {
    /// The VXLAN network identifier, 1 to 16777215; unique (with the port) among the file's overlays.
    pub vni: Located<u32>,
    /// The UDP destination port; default 4789.
    #[serde(default)]
    pub port: Option<Located<u32>>,
    /// The VXLAN link's name on every member (at most 15 bytes); default "vx" and the VNI.
    #[serde(default)]
    pub link: Option<Located<String>>,
    /// The VXLAN links' MTU. Default: derived by the kernel from the underlay (its MTU less 50 bytes
    /// over IPv4, 70 over IPv6); the plan warns where the bridge's other ports are larger.
    #[serde(default)]
    pub mtu: Option<Located<u32>>,
    /// The hosts it joins, by host name (at least two).
    pub members: NameMap<OverlayMember>,
}

/// One host's end of an overlay, in its host namespace.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverlayMember {
    /// The bridge of the host namespace the tunnel becomes a port of; declared under the host's
    /// `bridges`.
    pub bridge: Located<String>,
    /// The existing link of the host namespace that carries the encapsulated packets.
    pub underlay: Located<String>,
    /// This host's tunnel address, on the underlay; the other members send to it.
    pub local: Located<String>,
}

/// The hosts each overlay joins, in file order: both ends of a tunnel should change together.
pub fn overlay_host_groups(file: &TopologyFile) -> Vec<Vec<String>> {
    file.overlays
        .0
        .iter()
        .map(|(_, overlay)| {
            overlay
                .members
                .0
                .iter()
                .map(|(host, _)| host.value.clone())
                .collect()
        })
        .collect()
}

/// Adds each overlay member's VXLAN link to its host's topology, or the problems that stop it.
pub fn add_links(file: &TopologyFile, hosts: &mut [LoadedHost], problems: &mut Problems) {
    let mut endpoints: HashMap<(u32, u32), &Located<String>> = HashMap::new();
    let mut locals: HashMap<IpAddr, &Located<String>> = HashMap::new();
    for (name, overlay) in &file.overlays.0 {
        let Some(checked) = check_overlay(name, overlay, problems) else {
            continue;
        };
        if let Some(first) = endpoints.insert((checked.vni, checked.port), name) {
            problems.add(
                name.pos(),
                format!(
                    "overlay \"{}\": VNI {} and port {} are already those of overlay \"{}\" (at {})",
                    name.value,
                    checked.vni,
                    checked.port,
                    first.value,
                    first.pos()
                ),
            );
        }
        let mut members = Vec::new();
        for (host, member) in &overlay.members.0 {
            let Some(local) = parse_local(name, member, checked.family, problems) else {
                continue;
            };
            if let Some(first) = locals.insert(local, &member.local) {
                problems.add(
                    member.local.pos(),
                    format!(
                        "overlay \"{}\": local address {local} is already used at {}",
                        name.value,
                        first.pos()
                    ),
                );
                continue;
            }
            members.push((host, member, local));
        }
        for (host, member, local) in &members {
            let remotes = members
                .iter()
                .filter(|(_, _, other)| other != local)
                .map(|(_, _, other)| other.to_string())
                .collect();
            let Some(loaded) = hosts.iter_mut().find(|h| h.name == host.value) else {
                problems.add(
                    host.pos(),
                    format!(
                        "overlay \"{}\": host \"{}\" is not one of the file's hosts",
                        name.value, host.value
                    ),
                );
                continue;
            };
            if !check_member_links(name, &checked.link, member, loaded, problems) {
                continue;
            }
            loaded.topology.links.push(TopologyLink {
                link: Some(CreateLinkRequest {
                    namespace: String::new(),
                    name: checked.link.value.clone(),
                    kind: Some(Kind::Vxlan(VxlanSpec {
                        vni: checked.vni,
                        local: local.to_string(),
                        remotes,
                        port: checked.port,
                        device: member.underlay.value.clone(),
                        learning: None,
                    })),
                    mtu: checked.mtu,
                }),
                up: true,
                master: member.bridge.value.clone(),
                ..TopologyLink::default()
            });
        }
    }
}

/// Problems, noting whether any was added (one overlay's checks end in one verdict).
struct Counted<'a> {
    problems: &'a mut Problems,
    added: bool,
}

impl Counted<'_> {
    fn add(&mut self, at: super::yaml::Pos, message: String) {
        self.added = true;
        self.problems.add(at, message);
    }
}

struct Checked {
    vni: u32,
    port: u32,
    mtu: u32,
    link: Located<String>,
    /// Whether the members' addresses are IPv6 (decided by the first member's).
    family: Option<bool>,
}

fn check_overlay(
    name: &Located<String>,
    overlay: &OverlaySpec,
    problems: &mut Problems,
) -> Option<Checked> {
    let mut problems = Counted {
        problems,
        added: false,
    };
    let vni = overlay.vni.value;
    if !(1..=16_777_215).contains(&vni) {
        problems.add(
            overlay.vni.pos(),
            format!("overlay \"{}\": vni {vni} is not 1 to 16777215", name.value),
        );
    }
    let port = overlay.port.as_ref().map_or(DEFAULT_PORT, |p| p.value);
    if let Some(given) = overlay
        .port
        .as_ref()
        .filter(|p| !(1..=65535).contains(&p.value))
    {
        problems.add(
            given.pos(),
            format!("overlay \"{}\": port {port} is not 1 to 65535", name.value),
        );
    }
    let link = overlay.link.clone().unwrap_or_else(|| Located {
        line: name.line,
        column: name.column,
        value: format!("vx{vni}"),
    });
    if let Err(error) = check_new_link_name("link", &link.value) {
        problems.add(link.pos(), format!("overlay \"{}\": {error}", name.value));
    }
    let mtu = match &overlay.mtu {
        Some(mtu) => match parse_ethernet_mtu("mtu", &mtu.value.to_string()) {
            Ok(value) => value,
            Err(error) => {
                problems.add(mtu.pos(), format!("overlay \"{}\": {error}", name.value));
                0
            }
        },
        None => 0,
    };
    if overlay.members.0.len() < 2 {
        problems.add(
            name.pos(),
            format!(
                "overlay \"{}\" joins {} host(s): give at least two members",
                name.value,
                overlay.members.0.len()
            ),
        );
    }
    let family = overlay
        .members
        .0
        .first()
        .and_then(|(_, m)| m.local.value.parse::<IpAddr>().ok())
        .map(|a| a.is_ipv6());
    (!problems.added).then_some(Checked {
        vni,
        port,
        mtu,
        link,
        family,
    })
}

fn parse_local(
    name: &Located<String>,
    member: &OverlayMember,
    family: Option<bool>,
    problems: &mut Problems,
) -> Option<IpAddr> {
    let text = &member.local.value;
    let reason = match text.parse::<IpAddr>() {
        Err(_) => "is not an IPv4 or IPv6 address".to_owned(),
        Ok(address) if address.is_unspecified() || address.is_multicast() => {
            "is not a unicast address".to_owned()
        }
        Ok(address) if Some(address.is_ipv6()) != family => {
            "is not of the family of the overlay's first member: one tunnel carries one family"
                .to_owned()
        }
        Ok(address) => return Some(address),
    };
    problems.add(
        member.local.pos(),
        format!("overlay \"{}\": local \"{text}\" {reason}", name.value),
    );
    None
}

/// The member's bridge is declared in the host namespace, and the tunnel's name is free there.
fn check_member_links(
    name: &Located<String>,
    link: &Located<String>,
    member: &OverlayMember,
    host: &LoadedHost,
    problems: &mut Problems,
) -> bool {
    let host_links: Vec<(&str, bool)> = host
        .topology
        .links
        .iter()
        .filter_map(|l| l.link.as_ref())
        .flat_map(|l| {
            let own = l
                .namespace
                .is_empty()
                .then_some((l.name.as_str(), matches!(l.kind, Some(Kind::Bridge(_)))));
            let peer = match &l.kind {
                Some(Kind::Veth(v))
                    if v.peer_namespace
                        .as_deref()
                        .unwrap_or(&l.namespace)
                        .is_empty() =>
                {
                    Some((v.peer_name.as_str(), false))
                }
                _ => None,
            };
            own.into_iter().chain(peer)
        })
        .collect();
    let mut fine = true;
    if !host_links
        .iter()
        .any(|(l, bridge)| *bridge && *l == member.bridge.value)
    {
        problems.add(
            member.bridge.pos(),
            format!(
                "overlay \"{}\": bridge \"{}\" is not declared in the bridges of host \"{}\"",
                name.value, member.bridge.value, host.name
            ),
        );
        fine = false;
    }
    if host_links.iter().any(|(l, _)| *l == link.value) {
        problems.add(
            link.pos(),
            format!(
                "overlay \"{}\": link \"{}\" is already a link of host \"{}\"; name the tunnel with link:",
                name.value, link.value, host.name
            ),
        );
        fine = false;
    }
    fine
}

#[cfg(test)]
mod tests {
    use super::super::{parse, TopologyError};
    use super::*;

    fn file(overlays: &str) -> String {
        format!(
            "name: lab\nhosts:\n  host1:\n    bridges:\n      br0: {{}}\n  host2:\n    bridges:\n      br0: {{}}\n  host3:\n    bridges:\n      br0: {{}}\noverlays:\n{overlays}"
        )
    }

    const MESH: &str = "  ov0:\n    vni: 100\n    members:\n      host1: {bridge: br0, underlay: wire0, local: 192.0.2.1}\n      host2: {bridge: br0, underlay: wire0, local: 192.0.2.2}\n      host3: {bridge: br0, underlay: wire0, local: 192.0.2.3}\n";

    fn problems(text: &str) -> Vec<String> {
        match parse("topo.yaml", text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(TopologyError::Invalid { problems, .. }) => problems
                .iter()
                .map(|p| format!("{}: {}", p.at, p.message))
                .collect(),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn a_mesh_gives_each_member_a_tunnel_to_every_other() {
        let loaded = parse("topo.yaml", &file(MESH)).expect("valid");
        for (i, host) in loaded.hosts.iter().enumerate() {
            let link = host
                .topology
                .links
                .iter()
                .find(|l| l.link.as_ref().is_some_and(|c| c.name == "vx100"))
                .expect("the tunnel");
            assert_eq!(link.master, "br0");
            assert!(link.up);
            let create = link.link.as_ref().expect("a create");
            assert_eq!(create.mtu, 0, "derived from the underlay");
            let Some(Kind::Vxlan(spec)) = &create.kind else {
                panic!("not a vxlan");
            };
            assert_eq!(spec.vni, 100);
            assert_eq!(spec.port, 4789);
            assert_eq!(spec.device, "wire0");
            assert_eq!(spec.local, format!("192.0.2.{}", i + 1));
            assert_eq!(spec.remotes.len(), 2);
            assert!(!spec.remotes.contains(&spec.local));
        }
        let parsed: TopologyFile = super::super::yaml::from_str(&file(MESH)).expect("yaml");
        assert_eq!(
            overlay_host_groups(&parsed),
            vec![vec!["host1", "host2", "host3"]]
        );
    }

    #[test]
    fn bad_overlays_are_refused_at_their_place() {
        let unknown_host = "  ov0:\n    vni: 100\n    members:\n      host1: {bridge: br0, underlay: wire0, local: 192.0.2.1}\n      host9: {bridge: br0, underlay: wire0, local: 192.0.2.2}\n";
        assert_eq!(
            problems(&file(unknown_host)),
            vec!["17:7: overlay \"ov0\": host \"host9\" is not one of the file's hosts"]
        );
        let unknown_bridge = "  ov0:\n    vni: 100\n    members:\n      host1: {bridge: br9, underlay: wire0, local: 192.0.2.1}\n      host2: {bridge: br0, underlay: wire0, local: 192.0.2.2}\n";
        assert_eq!(
            problems(&file(unknown_bridge)),
            vec!["16:23: overlay \"ov0\": bridge \"br9\" is not declared in the bridges of host \"host1\""]
        );
        let clash = format!(
            "{MESH}  ov1:\n    vni: 100\n    link: vx1\n    members:\n      host1: {{bridge: br0, underlay: wire0, local: 192.0.2.11}}\n      host2: {{bridge: br0, underlay: wire0, local: 192.0.2.12}}\n"
        );
        let found = problems(&file(&clash));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("19:3: overlay \"ov1\": VNI 100 and port 4789"),
            "{found:?}"
        );
        let local_twice = "  ov0:\n    vni: 100\n    members:\n      host1: {bridge: br0, underlay: wire0, local: 192.0.2.1}\n      host2: {bridge: br0, underlay: wire0, local: 192.0.2.1}\n";
        let found = problems(&file(local_twice));
        assert!(
            found[0].starts_with(
                "17:52: overlay \"ov0\": local address 192.0.2.1 is already used at 16:52"
            ),
            "{found:?}"
        );
        let name_clash = "  ov0:\n    vni: 100\n    link: br0\n    members:\n      host1: {bridge: br0, underlay: wire0, local: 192.0.2.1}\n      host2: {bridge: br0, underlay: wire0, local: 192.0.2.2}\n";
        let found = problems(&file(name_clash));
        assert!(
            found[0].contains("link \"br0\" is already a link of host"),
            "{found:?}"
        );
        let bad_values = "  ov0:\n    vni: 0\n    port: 70000\n    members:\n      host1: {bridge: br0, underlay: wire0, local: 192.0.2.1}\n";
        let found = problems(&file(bad_values));
        assert_eq!(found.len(), 3, "{found:?}");
        let mixed = "  ov0:\n    vni: 100\n    members:\n      host1: {bridge: br0, underlay: wire0, local: 192.0.2.1}\n      host2: {bridge: br0, underlay: wire0, local: '2001:db8::2'}\n";
        assert!(problems(&file(mixed))[0].contains("family"));
    }
}
