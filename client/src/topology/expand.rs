//! From the file as written to every object spelled out: series (`count`, `{i}`) unrolled in order,
//! pool addresses handed out, the host namespace and the named ones in one shape. Deterministic: the
//! same file always gives the same objects in the same order.

use std::net::IpAddr;

use super::{
    error::Problems,
    file::{
        AddressItem, AdoptSpec, BridgeSpec, Forwarding, HostSpec, Located, NamespaceSpec, PoolSpec,
        TopologyFile,
    },
    yaml::Pos,
};
use crate::grammar::values::parse_prefix;

/// What `{i}` stands for in a series.
pub const INDEX: &str = "{i}";

#[derive(Debug, Clone)]
pub struct Topology {
    pub name: Located<String>,
    pub hosts: Vec<Host>,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: Located<String>,
    pub endpoint: Option<Located<String>>,
    /// The host namespace first (name ""), then the named ones in file order.
    pub spaces: Vec<Space>,
    pub adopt: Vec<AdoptSpec>,
}

/// One network namespace and what is in it.
#[derive(Debug, Clone)]
pub struct Space {
    /// "" for the host namespace.
    pub name: Located<String>,
    pub forwarding: Option<Forwarding>,
    pub bridges: Vec<Bridge>,
    pub veths: Vec<Veth>,
    pub addresses: Vec<Address>,
    pub routes: Vec<Located<String>>,
    pub nat: Vec<Located<String>>,
}

#[derive(Debug, Clone)]
pub struct Bridge {
    pub name: Located<String>,
    pub mtu: Option<Located<u32>>,
    pub up: bool,
}

#[derive(Debug, Clone)]
pub struct Veth {
    pub name: Located<String>,
    pub mtu: Option<Located<u32>>,
    pub up: bool,
    pub bridge: Option<Located<String>>,
    pub peer_name: Located<String>,
    /// `None`: the host namespace.
    pub peer_namespace: Option<Located<String>>,
    pub peer_up: bool,
    pub peer_bridge: Option<Located<String>>,
}

/// An address as `nsfleet addr add` words (without `dev`), on `link` in namespace `namespace`.
#[derive(Debug, Clone)]
pub struct Address {
    pub namespace: String,
    pub link: String,
    pub words: Located<String>,
}

pub fn expand(file: &TopologyFile, problems: &mut Problems) -> Topology {
    let hosts = file
        .hosts
        .0
        .iter()
        .map(|(name, spec)| expand_host(name, spec, problems))
        .collect();
    Topology {
        name: file.name.clone(),
        hosts,
    }
}

fn expand_host(name: &Located<String>, spec: &HostSpec, problems: &mut Problems) -> Host {
    let host_space = located("", name.pos());
    let mut host = Space {
        name: host_space.clone(),
        forwarding: spec.forwarding.clone(),
        bridges: Vec::new(),
        veths: Vec::new(),
        addresses: Vec::new(),
        routes: spec.routes.clone(),
        nat: spec.nat.clone(),
    };
    let plain = Instance::plain();
    add_bridges(&mut host, &spec.bridges.0, &plain, problems);
    for (link, items) in &spec.addresses.0 {
        for item in items {
            if let Some(words) = address_words(item, &plain, problems) {
                host.addresses.push(Address {
                    namespace: String::new(),
                    link: link.value.clone(),
                    words,
                });
            }
        }
    }
    let mut spaces = vec![host];
    for (name, namespace) in &spec.namespaces.0 {
        for instance in instances(name, namespace, problems) {
            spaces.push(expand_namespace(name, namespace, &instance, problems));
        }
    }
    Host {
        name: name.clone(),
        endpoint: spec.endpoint.clone(),
        spaces,
        adopt: spec.adopt.clone(),
    }
}

/// One namespace of a series (or the only one of a plain entry): its number, and its position in the
/// series for pools.
struct Instance {
    index: Option<u32>,
    offset: u32,
}

impl Instance {
    fn plain() -> Self {
        Self {
            index: None,
            offset: 0,
        }
    }

    /// `text` with `{i}` replaced; a `{i}` outside a series is a problem.
    fn fill(&self, text: &Located<String>, problems: &mut Problems) -> Located<String> {
        let value = match self.index {
            Some(index) => text.value.replace(INDEX, &index.to_string()),
            None => {
                if text.value.contains(INDEX) {
                    problems.add(
                        text.pos(),
                        format!(
                            "\"{}\" uses {INDEX} outside a series: give its namespace a count",
                            text.value
                        ),
                    );
                }
                text.value.clone()
            }
        };
        Located {
            value,
            ..text.clone()
        }
    }
}

fn instances(
    name: &Located<String>,
    spec: &NamespaceSpec,
    problems: &mut Problems,
) -> Vec<Instance> {
    let Some(count) = &spec.count else {
        if let Some(start) = &spec.start {
            problems.add(start.pos(), "start without count: start numbers a series");
        }
        return vec![Instance::plain()];
    };
    if !name.value.contains(INDEX) {
        problems.add(
            name.pos(),
            format!(
                "namespace \"{}\" has a count but no {INDEX} in its name: every one would have the same name",
                name.value
            ),
        );
        return Vec::new();
    }
    if count.value == 0 {
        problems.add(
            count.pos(),
            "count 0 declares no namespace: remove the entry instead",
        );
        return Vec::new();
    }
    let start = spec.start.as_ref().map_or(1, |start| start.value);
    if start.checked_add(count.value).is_none() {
        problems.add(count.pos(), "start + count is too large");
        return Vec::new();
    }
    (0..count.value)
        .map(|offset| Instance {
            index: Some(start + offset),
            offset,
        })
        .collect()
}

fn expand_namespace(
    name: &Located<String>,
    spec: &NamespaceSpec,
    instance: &Instance,
    problems: &mut Problems,
) -> Space {
    let name = instance.fill(name, problems);
    let mut space = Space {
        name: name.clone(),
        forwarding: spec.forwarding.clone(),
        bridges: Vec::new(),
        veths: Vec::new(),
        addresses: Vec::new(),
        routes: fill_all(&spec.routes, instance, problems),
        nat: fill_all(&spec.nat, instance, problems),
    };
    add_bridges(&mut space, &spec.bridges.0, instance, problems);
    for (end, veth) in &spec.veths.0 {
        let end = instance.fill(end, problems);
        let peer_name = instance.fill(&veth.peer.name, problems);
        let peer_namespace = veth
            .peer
            .namespace
            .as_ref()
            .map(|namespace| instance.fill(namespace, problems));
        for item in &veth.addresses {
            if let Some(words) = address_words(item, instance, problems) {
                space.addresses.push(Address {
                    namespace: name.value.clone(),
                    link: end.value.clone(),
                    words,
                });
            }
        }
        for item in &veth.peer.addresses {
            if let Some(words) = address_words(item, instance, problems) {
                space.addresses.push(Address {
                    namespace: peer_namespace
                        .as_ref()
                        .map_or_else(String::new, |namespace| namespace.value.clone()),
                    link: peer_name.value.clone(),
                    words,
                });
            }
        }
        space.veths.push(Veth {
            name: end,
            mtu: veth.mtu.clone(),
            up: veth.up,
            bridge: veth
                .bridge
                .as_ref()
                .map(|bridge| instance.fill(bridge, problems)),
            peer_name,
            peer_namespace,
            peer_up: veth.peer.up,
            peer_bridge: veth
                .peer
                .bridge
                .as_ref()
                .map(|bridge| instance.fill(bridge, problems)),
        });
    }
    space
}

fn add_bridges(
    space: &mut Space,
    bridges: &[(Located<String>, BridgeSpec)],
    instance: &Instance,
    problems: &mut Problems,
) {
    for (name, bridge) in bridges {
        let name = instance.fill(name, problems);
        for item in &bridge.addresses {
            if let Some(words) = address_words(item, instance, problems) {
                space.addresses.push(Address {
                    namespace: space.name.value.clone(),
                    link: name.value.clone(),
                    words,
                });
            }
        }
        space.bridges.push(Bridge {
            name,
            mtu: bridge.mtu.clone(),
            up: bridge.up,
        });
    }
}

fn fill_all(
    texts: &[Located<String>],
    instance: &Instance,
    problems: &mut Problems,
) -> Vec<Located<String>> {
    texts
        .iter()
        .map(|text| instance.fill(text, problems))
        .collect()
}

fn address_words(
    item: &AddressItem,
    instance: &Instance,
    problems: &mut Problems,
) -> Option<Located<String>> {
    match item {
        AddressItem::Written(text) => Some(instance.fill(text, problems)),
        AddressItem::Pool(pool) => pool_address(pool, instance.offset, problems),
    }
}

/// The `offset`-th address of the pool from its first one, as `ADDRESS/LEN`.
fn pool_address(pool: &PoolSpec, offset: u32, problems: &mut Problems) -> Option<Located<String>> {
    let prefix = match parse_prefix("pool", &pool.pool.value) {
        Ok(prefix) => prefix,
        Err(error) => {
            problems.add(pool.pool.pos(), error.to_string());
            return None;
        }
    };
    let network = network_of(prefix.address, prefix.len);
    if network != prefix.address {
        problems.add(
            pool.pool.pos(),
            format!(
                "pool {} has host bits set: write it as {network}/{}",
                pool.pool.value, prefix.len
            ),
        );
        return None;
    }
    let (first, first_at) = match &pool.first {
        None => (offset_address(network, 1), pool.pool.pos()),
        Some(first) => match first.value.parse::<IpAddr>() {
            Ok(address) => (Some(address), first.pos()),
            Err(_) => {
                problems.add(
                    first.pos(),
                    format!("first: \"{}\" is not an IPv4 or IPv6 address", first.value),
                );
                return None;
            }
        },
    };
    let address = first.and_then(|first| offset_address(first, u128::from(offset)));
    match address {
        Some(address) if network_of(address, prefix.len) == network => Some(Located {
            line: first_at.line,
            column: first_at.column,
            value: format!("{address}/{}", prefix.len),
        }),
        _ => {
            let what = match &pool.first {
                Some(first) if offset == 0 => format!("first address {}", first.value),
                _ => format!("address number {} of the pool", offset + 1),
            };
            problems.add(
                first_at,
                format!(
                    "{what} is outside its prefix {}: widen the pool or lower the count",
                    pool.pool.value
                ),
            );
            None
        }
    }
}

fn network_of(address: IpAddr, len: u32) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

/// `address + offset`, or `None` past the end of the family's space.
fn offset_address(address: IpAddr, offset: u128) -> Option<IpAddr> {
    match address {
        IpAddr::V4(v4) => {
            let offset = u32::try_from(offset).ok()?;
            u32::from(v4)
                .checked_add(offset)
                .map(|value| IpAddr::V4(value.into()))
        }
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(offset)
            .map(|value| IpAddr::V6(value.into())),
    }
}

fn located(value: &str, at: Pos) -> Located<String> {
    Located {
        line: at.line,
        column: at.column,
        value: value.to_owned(),
    }
}
