//! The checks that need the whole file: names, duplicates, what a veth's peer and a port's bridge refer
//! to. Everything here is found before any agent is asked; what only a host can tell (a name taken by
//! an object nsfleet does not own) is the agent's plan to say.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
};

use super::{
    error::Problems,
    expand::{Host, Topology},
    file::Located,
    yaml::Pos,
};
use crate::grammar::values::check_new_link_name;

/// The agent's rule for a topology name (topology.proto).
const MAX_TOPOLOGY_NAME: usize = 32;
/// A namespace name is one path component under /run/netns (namespace.proto).
const MAX_NAMESPACE_NAME: usize = 255;

pub fn check(topology: &Topology, problems: &mut Problems) {
    check_topology_name(&topology.name, problems);
    if topology.hosts.is_empty() {
        problems.add(topology.name.pos(), "the topology lists no hosts");
    }
    for host in &topology.hosts {
        check_host_name(&host.name, problems);
        check_host(host, problems);
    }
}

fn check_topology_name(name: &Located<String>, problems: &mut Problems) {
    let text = &name.value;
    let valid = !text.is_empty()
        && text.len() <= MAX_TOPOLOGY_NAME
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        problems.add(
            name.pos(),
            format!(
                "topology name \"{text}\": use 1 to {MAX_TOPOLOGY_NAME} characters from a-z, 0-9 and '-', starting with a letter"
            ),
        );
    }
}

/// A host name is what `--endpoint NAME=ENDPOINT` and every output line use.
fn check_host_name(name: &Located<String>, problems: &mut Problems) {
    let text = &name.value;
    if text.is_empty()
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '=' || c == ',')
    {
        problems.add(
            name.pos(),
            format!("host name \"{text}\": give a non-empty name without spaces, '=' or ','"),
        );
    }
}

fn check_host(host: &Host, problems: &mut Problems) {
    if let Some(endpoint) = &host.endpoint {
        if let Err(error) = crate::connect::Host::parse(&endpoint.value) {
            problems.add(endpoint.pos(), format!("endpoint: {error}"));
        }
    }
    let mut namespaces: HashMap<&str, Pos> = HashMap::new();
    for space in host.spaces.iter().skip(1) {
        check_namespace_name(&space.name, problems);
        if let Some(first) = namespaces.insert(&space.name.value, space.name.pos()) {
            problems.add(
                space.name.pos(),
                format!(
                    "namespace \"{}\" is declared twice (first at {first})",
                    space.name.value
                ),
            );
            namespaces.insert(&space.name.value, first);
        }
    }
    let bridges = bridges_by_space(host);
    check_links(host, &namespaces, &bridges, problems);
    check_addresses(host, problems);
}

fn check_namespace_name(name: &Located<String>, problems: &mut Problems) {
    let text = &name.value;
    let reason = if text.is_empty() {
        Some("is empty".to_owned())
    } else if text.len() > MAX_NAMESPACE_NAME {
        Some(format!("is longer than {MAX_NAMESPACE_NAME} bytes"))
    } else if text.contains(['/', '\0']) {
        Some("contains '/' or NUL".to_owned())
    } else if text == "." || text == ".." {
        Some("is \".\" or \"..\"".to_owned())
    } else {
        None
    };
    if let Some(reason) = reason {
        problems.add(name.pos(), format!("namespace name \"{text}\" {reason}"));
    }
}

fn bridges_by_space(host: &Host) -> HashSet<(&str, &str)> {
    host.spaces
        .iter()
        .flat_map(|space| {
            space
                .bridges
                .iter()
                .map(move |bridge| (space.name.value.as_str(), bridge.name.value.as_str()))
        })
        .collect()
}

/// Link names are unique per namespace, whichever entry of the file puts a link there; a veth's peer
/// and a port's bridge must be declared.
fn check_links(
    host: &Host,
    namespaces: &HashMap<&str, Pos>,
    bridges: &HashSet<(&str, &str)>,
    problems: &mut Problems,
) {
    let mut links: HashMap<(String, String), Pos> = HashMap::new();
    let mut claim = |namespace: &str, name: &Located<String>, problems: &mut Problems| {
        if let Err(error) = check_new_link_name("name", &name.value) {
            problems.add(name.pos(), error.to_string());
        }
        if name.value == "lo" {
            problems.add(
                name.pos(),
                "\"lo\" is every namespace's loopback, and nsfleet brings it up: give the link another name",
            );
        }
        let key = (namespace.to_owned(), name.value.clone());
        if let Some(first) = links.get(&key) {
            problems.add(
                name.pos(),
                format!(
                    "link \"{}\" is declared twice in {} (first at {first})",
                    name.value,
                    space_label(namespace)
                ),
            );
        } else {
            links.insert(key, name.pos());
        }
    };
    for space in &host.spaces {
        let here = space.name.value.as_str();
        for bridge in &space.bridges {
            claim(here, &bridge.name, problems);
        }
        for veth in &space.veths {
            claim(here, &veth.name, problems);
            let peer_space = match &veth.peer_namespace {
                None => "",
                Some(namespace) => {
                    if !namespaces.contains_key(namespace.value.as_str()) {
                        problems.add(
                            namespace.pos(),
                            format!(
                                "the peer's namespace \"{}\" is not declared on host {}{}",
                                namespace.value,
                                host.name.value,
                                closest(&namespace.value, namespaces.keys().copied())
                            ),
                        );
                    }
                    namespace.value.as_str()
                }
            };
            claim(peer_space, &veth.peer_name, problems);
            check_bridge(here, veth.bridge.as_ref(), bridges, problems);
            check_bridge(peer_space, veth.peer_bridge.as_ref(), bridges, problems);
        }
    }
}

fn check_bridge(
    namespace: &str,
    bridge: Option<&Located<String>>,
    bridges: &HashSet<(&str, &str)>,
    problems: &mut Problems,
) {
    let Some(bridge) = bridge else { return };
    if !bridges.contains(&(namespace, bridge.value.as_str())) {
        let known = bridges
            .iter()
            .filter(|(space, _)| *space == namespace)
            .map(|(_, name)| *name);
        problems.add(
            bridge.pos(),
            format!(
                "bridge \"{}\" is not declared in {}{}",
                bridge.value,
                space_label(namespace),
                closest(&bridge.value, known)
            ),
        );
    }
}

/// An address given twice on one host is a typo far more often than a design: namespaces are
/// isolated, but a copied block that keeps its addresses breaks the traffic of both.
fn check_addresses(host: &Host, problems: &mut Problems) {
    let mut seen: HashMap<IpAddr, (Pos, String)> = HashMap::new();
    for space in &host.spaces {
        for address in &space.addresses {
            let Some(ip) = address.words.value.split_whitespace().next() else {
                continue;
            };
            // One that does not parse is reported by the conversion, with the grammar's reason.
            let Ok(ip) = ip.split('/').next().unwrap_or(ip).parse::<IpAddr>() else {
                continue;
            };
            let place = format!("{} in {}", address.link, space_label(&address.namespace));
            if let Some((first, first_place)) = seen.get(&ip) {
                problems.add(
                    address.words.pos(),
                    format!(
                        "address {ip} on {place} is already given to {first_place} at {first}: each address once per host"
                    ),
                );
            } else {
                seen.insert(ip, (address.words.pos(), place));
            }
        }
    }
}

pub fn space_label(namespace: &str) -> String {
    if namespace.is_empty() {
        "the host namespace".to_owned()
    } else {
        format!("namespace {namespace}")
    }
}

/// `; did you mean "x"?` when one of `known` is close to `given`.
fn closest<'a>(given: &str, known: impl Iterator<Item = &'a str>) -> String {
    let best = known
        .map(|candidate| (strsim::damerau_levenshtein(given, candidate), candidate))
        .min();
    match best {
        Some((distance, candidate)) if distance <= given.len().max(candidate.len()) / 2 => {
            format!("; did you mean \"{candidate}\"?")
        }
        _ => String::new(),
    }
}
