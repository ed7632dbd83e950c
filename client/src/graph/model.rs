//! What a picture shows, whatever it was read from (the hosts or a file): hosts holding namespaces
//! holding links, and the edges between links. Everything is kept sorted by name, and nothing the
//! kernel picks on its own (interface indexes, MACs, link-local addresses) gets in, so the same
//! topology always draws the same bytes.

use std::collections::{BTreeMap, BTreeSet};

/// Links that only add noise to every namespace of every picture.
pub const HIDDEN_LINKS: &[&str] = &["lo"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// In the order they were given (the file's, or `--host`'s).
    pub hosts: Vec<HostNode>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostNode {
    pub name: String,
    /// The host namespace ("") first, then the named ones by name.
    pub namespaces: Vec<NamespaceNode>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceNode {
    /// "" for the host namespace.
    pub name: String,
    pub links: Vec<LinkNode>,
    /// NAT rules tied to no link of this namespace (no interface, or one that is not here).
    pub nat: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkNode {
    pub name: String,
    pub kind: LinkKind,
    pub up: bool,
    /// The bridge this link is a port of, in the same namespace; "" if none.
    pub master: String,
    /// `ADDRESS/PREFIX`, sorted.
    pub addresses: Vec<String>,
    /// NAT rules whose interface is this link (the uplink), sorted.
    pub nat: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    Bridge,
    /// The other end: (namespace, name), when known.
    Veth(Option<(String, String)>),
    Vxlan(Vxlan),
    /// Any other kind, as the kernel names it ("" for physical devices).
    Other(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vxlan {
    pub vni: u32,
    pub local: String,
    pub remotes: Vec<String>,
    /// 0 = the default, 4789.
    pub port: u32,
}

/// A link anywhere in the graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkRef {
    pub host: String,
    pub namespace: String,
    pub link: String,
}

impl LinkRef {
    /// `host1:veth1` in the host namespace, `host1/netns1:ceth1` in a named one.
    pub fn path(&self) -> String {
        format!(
            "{}:{}",
            namespace_path(&self.host, &self.namespace),
            self.link
        )
    }
}

/// `host1` for the host namespace, `host1/netns1` for a named one.
pub fn namespace_path(host: &str, namespace: &str) -> String {
    if namespace.is_empty() {
        host.to_owned()
    } else {
        format!("{host}/{namespace}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EdgeKind {
    /// The two ends of a veth pair.
    Veth,
    /// A link and the bridge it is a port of.
    Port,
    /// Two VXLAN links of different hosts with the same VNI, each the other's remote.
    Tunnel,
}

impl EdgeKind {
    pub fn class(self) -> &'static str {
        match self {
            EdgeKind::Veth => "veth",
            EdgeKind::Port => "port",
            EdgeKind::Tunnel => "tunnel",
        }
    }
}

/// Where an edge ends: a link of the graph, or a VXLAN remote no host of the graph holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum End {
    Link(LinkRef),
    Remote(String),
}

impl End {
    pub fn path(&self) -> String {
        match self {
            End::Link(link) => link.path(),
            End::Remote(address) => format!("remote {address}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    pub kind: EdgeKind,
    pub from: LinkRef,
    pub to: End,
    pub label: String,
}

impl Edge {
    /// What the edge is, in words: `veth host1:veth1 -- host1/netns1:ceth1`.
    pub fn title(&self) -> String {
        let (what, joint) = match self.kind {
            EdgeKind::Veth => ("veth".to_owned(), "--"),
            EdgeKind::Port => ("port".to_owned(), "->"),
            EdgeKind::Tunnel => (format!("vxlan {}", self.label), "--"),
        };
        format!("{what} {} {joint} {}", self.from.path(), self.to.path())
    }
}

impl LinkNode {
    pub fn new(name: &str, kind: LinkKind) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            up: true,
            master: String::new(),
            addresses: Vec::new(),
            nat: Vec::new(),
        }
    }

    /// `bridge`, `veth`, `vxlan` or the kernel's kind, for classes and titles.
    pub fn kind_name(&self) -> &str {
        match &self.kind {
            LinkKind::Bridge => "bridge",
            LinkKind::Veth(_) => "veth",
            LinkKind::Vxlan(_) => "vxlan",
            LinkKind::Other(kind) if kind.is_empty() => "link",
            LinkKind::Other(kind) => kind,
        }
    }

    /// The lines a node shows: name and kind, then addresses, then NAT at this uplink.
    pub fn lines(&self) -> Vec<String> {
        let kind = match &self.kind {
            LinkKind::Vxlan(vxlan) => format!(" [vxlan {}]", vxlan.vni),
            LinkKind::Veth(_) => String::new(),
            LinkKind::Other(kind) if kind.is_empty() => String::new(),
            _ => format!(" [{}]", self.kind_name()),
        };
        let state = if self.up { "" } else { " (down)" };
        let mut lines = vec![format!("{}{kind}{state}", self.name)];
        lines.extend(self.addresses.iter().cloned());
        lines.extend(self.nat.iter().map(|rule| format!("NAT {rule}")));
        lines
    }
}

/// Collects one host's objects in any order; `finish` sorts them.
#[derive(Debug, Default)]
pub struct HostBuilder {
    name: String,
    namespaces: BTreeMap<String, NamespaceParts>,
}

#[derive(Debug, Default)]
struct NamespaceParts {
    links: BTreeMap<String, LinkNode>,
    nat: BTreeSet<String>,
}

impl HostBuilder {
    pub fn new(name: &str) -> Self {
        let mut builder = Self {
            name: name.to_owned(),
            namespaces: BTreeMap::new(),
        };
        builder.namespace("");
        builder
    }

    pub fn namespace(&mut self, name: &str) {
        self.namespaces.entry(name.to_owned()).or_default();
    }

    /// Adds (or replaces) a link; hidden links are dropped.
    pub fn link(&mut self, namespace: &str, link: LinkNode) {
        if HIDDEN_LINKS.contains(&link.name.as_str()) {
            return;
        }
        self.namespaces
            .entry(namespace.to_owned())
            .or_default()
            .links
            .insert(link.name.clone(), link);
    }

    /// An address on a link that is not drawn (such as `lo`) is dropped with it.
    pub fn address(&mut self, namespace: &str, link: &str, address: String) {
        let found = self
            .namespaces
            .get_mut(namespace)
            .and_then(|parts| parts.links.get_mut(link));
        if let Some(node) = found {
            if !node.addresses.contains(&address) {
                node.addresses.push(address);
            }
        }
    }

    /// A NAT rule, shown at `interface` when the namespace has that link (in the words `at_link`),
    /// else on the namespace (in the words `alone`, which name the interface).
    pub fn nat(&mut self, namespace: &str, interface: &str, at_link: String, alone: String) {
        let parts = self.namespaces.entry(namespace.to_owned()).or_default();
        match parts.links.get_mut(interface) {
            Some(node) if !interface.is_empty() => node.nat.push(at_link),
            _ => {
                parts.nat.insert(alone);
            }
        }
    }

    pub fn finish(self) -> HostNode {
        let namespaces = self
            .namespaces
            .into_iter()
            .map(|(name, parts)| NamespaceNode {
                name,
                links: parts
                    .links
                    .into_values()
                    .map(|mut link| {
                        link.addresses.sort();
                        link.nat.sort();
                        link.nat.dedup();
                        link
                    })
                    .collect(),
                nat: parts.nat.into_iter().collect(),
            })
            .collect();
        HostNode {
            name: self.name,
            namespaces,
        }
    }
}

impl Graph {
    pub fn find(&self, link: &LinkRef) -> Option<&LinkNode> {
        self.hosts
            .iter()
            .find(|host| host.name == link.host)?
            .namespaces
            .iter()
            .find(|namespace| namespace.name == link.namespace)?
            .links
            .iter()
            .find(|node| node.name == link.link)
    }

    /// Every link with where it is, in drawing order.
    pub fn links(&self) -> impl Iterator<Item = (LinkRef, &LinkNode)> {
        self.hosts.iter().flat_map(|host| {
            host.namespaces.iter().flat_map(move |namespace| {
                namespace.links.iter().map(move |link| {
                    (
                        LinkRef {
                            host: host.name.clone(),
                            namespace: namespace.name.clone(),
                            link: link.name.clone(),
                        },
                        link,
                    )
                })
            })
        })
    }

    /// Veth pairs (once each, when both ends are drawn), bridge ports, and VXLAN tunnels: a remote
    /// that is another host's VXLAN `local` (or, where `local` is empty, an address that host holds in
    /// the link's namespace) with the same VNI; remotes no host holds end at a node of their own.
    pub fn edges(&self) -> Vec<Edge> {
        let mut edges = BTreeSet::new();
        for (at, link) in self.links() {
            if !link.master.is_empty() {
                let bridge = LinkRef {
                    link: link.master.clone(),
                    ..at.clone()
                };
                if self.find(&bridge).is_some() {
                    edges.insert(Edge {
                        kind: EdgeKind::Port,
                        from: at.clone(),
                        to: End::Link(bridge),
                        label: String::new(),
                    });
                }
            }
            match &link.kind {
                LinkKind::Veth(Some((namespace, name))) => {
                    let peer = LinkRef {
                        host: at.host.clone(),
                        namespace: namespace.clone(),
                        link: name.clone(),
                    };
                    if self.find(&peer).is_some() {
                        let (from, to) = ordered(at.clone(), peer);
                        edges.insert(Edge {
                            kind: EdgeKind::Veth,
                            from,
                            to: End::Link(to),
                            label: String::new(),
                        });
                    }
                }
                LinkKind::Vxlan(vxlan) => {
                    for remote in &vxlan.remotes {
                        edges.extend(self.tunnels_to(&at, vxlan, remote));
                    }
                }
                _ => {}
            }
        }
        edges.into_iter().collect()
    }

    fn tunnels_to(&self, from: &LinkRef, vxlan: &Vxlan, remote: &str) -> Vec<Edge> {
        let label = tunnel_label(vxlan);
        let ends: Vec<LinkRef> = self
            .links()
            .filter(|(at, _)| at.host != from.host)
            .filter(|(at, link)| match &link.kind {
                LinkKind::Vxlan(other) if other.vni == vxlan.vni => {
                    other.local == remote
                        || (other.local.is_empty() && self.holds(&at.host, &at.namespace, remote))
                }
                _ => false,
            })
            .map(|(at, _)| at)
            .collect();
        if ends.is_empty() {
            return vec![Edge {
                kind: EdgeKind::Tunnel,
                from: from.clone(),
                to: End::Remote(remote.to_owned()),
                label,
            }];
        }
        ends.into_iter()
            .map(|end| {
                let (from, to) = ordered(from.clone(), end);
                Edge {
                    kind: EdgeKind::Tunnel,
                    from,
                    to: End::Link(to),
                    label: label.clone(),
                }
            })
            .collect()
    }

    /// Whether `host` has `address` on a link of `namespace`.
    fn holds(&self, host: &str, namespace: &str, address: &str) -> bool {
        self.links().any(|(at, link)| {
            at.host == host
                && at.namespace == namespace
                && link
                    .addresses
                    .iter()
                    .any(|held| held.split('/').next() == Some(address))
        })
    }

    /// Remotes no host of the graph holds, sorted.
    pub fn remotes(edges: &[Edge]) -> Vec<String> {
        let remotes: BTreeSet<&String> = edges
            .iter()
            .filter_map(|edge| match &edge.to {
                End::Remote(address) => Some(address),
                End::Link(_) => None,
            })
            .collect();
        remotes.into_iter().cloned().collect()
    }
}

fn ordered(first: LinkRef, second: LinkRef) -> (LinkRef, LinkRef) {
    if first <= second {
        (first, second)
    } else {
        (second, first)
    }
}

/// `VNI 42`, with the UDP port when it is not the IANA one.
fn tunnel_label(vxlan: &Vxlan) -> String {
    match vxlan.port {
        0 | 4789 => format!("VNI {}", vxlan.vni),
        port => format!("VNI {} udp/{port}", vxlan.vni),
    }
}

/// An identifier made of `parts` that is valid as an XML id, a Mermaid node id and a DOT id, and that
/// two different objects never share: letters and digits stay, every other byte becomes `_XX` (hex),
/// and parts are joined by `__`, which no escape produces.
pub fn identifier(kind: &str, parts: &[&str]) -> String {
    let mut id = kind.to_owned();
    for part in parts {
        id.push_str("__");
        for byte in part.bytes() {
            if byte.is_ascii_alphanumeric() {
                id.push(char::from(byte));
            } else {
                id.push_str(&format!("_{byte:02x}"));
            }
        }
    }
    id
}

pub fn host_id(host: &str) -> String {
    identifier("host", &[host])
}

pub fn namespace_id(host: &str, namespace: &str) -> String {
    identifier("ns", &[host, namespace])
}

pub fn link_id(link: &LinkRef) -> String {
    identifier("link", &[&link.host, &link.namespace, &link.link])
}

pub fn end_id(end: &End) -> String {
    match end {
        End::Link(link) => link_id(link),
        End::Remote(address) => identifier("remote", &[address]),
    }
}

pub fn edge_id(edge: &Edge) -> String {
    let to: Vec<&str> = match &edge.to {
        End::Link(link) => vec![&link.host, &link.namespace, &link.link],
        End::Remote(address) => vec!["", "", address],
    };
    let mut parts = vec![
        edge.from.host.as_str(),
        &edge.from.namespace,
        &edge.from.link,
    ];
    parts.extend(to);
    identifier(edge.kind.class(), &parts)
}

/// A namespace in words, for titles and labels.
pub fn namespace_title(host: &str, namespace: &str) -> String {
    if namespace.is_empty() {
        format!("host namespace of {host}")
    } else {
        format!("namespace {host}/{namespace}")
    }
}
