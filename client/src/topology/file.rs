//! The topology file as written: these types are both what `yaml.rs` decodes into and what the shipped
//! JSON Schema (docs/topology.schema.json) is generated from, so the two cannot disagree. Their doc
//! comments are the schema's descriptions: write them for the person editing the file.

use std::{borrow::Cow, fmt, marker::PhantomData};

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer};

use super::yaml::Pos;

/// A declarative nsfleet topology: what one or more hosts should hold. Apply it with `nsfleet apply FILE`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "nsfleet topology")]
pub struct TopologyFile {
    /// The topology's name: 1 to 32 characters from a-z, 0-9 and '-', starting with a letter. It is the
    /// scope of ownership: applying the file deletes what nsfleet made for this name and the file no
    /// longer lists, and never touches anything else.
    pub name: Located<String>,
    /// The hosts, by name (the names `--endpoint NAME=ENDPOINT` refers to).
    pub hosts: NameMap<HostSpec>,
    /// VXLAN overlays joining bridges of different hosts into one Ethernet segment, by name.
    #[serde(default)]
    pub overlays: NameMap<super::overlay::OverlaySpec>,
    /// Checks that `nsfleet apply --confirm` runs after the change and before confirming it; a failing
    /// probe rolls the change back. Each entry is one of `{host, namespace, ping: ADDRESS}`,
    /// `{host, namespace, tcp: ADDRESS:PORT}` or `{agent: HOST}`.
    #[serde(default)]
    pub probes: Vec<Located<ProbeSpec>>,
}

/// One check: exactly one of `ping`, `tcp` or `agent`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// The host the check runs on (for `ping` and `tcp`).
    #[serde(default)]
    pub host: Option<Located<String>>,
    /// The namespace it runs in, one the file declares on that host; the host namespace if not given.
    #[serde(default)]
    pub namespace: Option<Located<String>>,
    /// An IPv4 or IPv6 address that must answer one of three echo requests.
    #[serde(default)]
    pub ping: Option<Located<String>>,
    /// `ADDRESS:PORT` (`[IPV6]:PORT`) that must accept a TCP connection.
    #[serde(default)]
    pub tcp: Option<Located<String>>,
    /// A host of the file whose agent must answer the client over a new connection.
    #[serde(default)]
    pub agent: Option<Located<String>>,
}

/// One host: its own (host) namespace, and the named namespaces on it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Where the host's agent listens: HOST:PORT, [IPV6]:PORT or unix:PATH. `--endpoint NAME=ENDPOINT`
    /// on the command line wins over it.
    #[serde(default)]
    pub endpoint: Option<Located<String>>,
    /// IP forwarding of the host namespace; a family not given is left as it is.
    #[serde(default)]
    pub forwarding: Option<Forwarding>,
    /// Bridges in the host namespace, by name.
    #[serde(default)]
    pub bridges: NameMap<BridgeSpec>,
    /// More addresses in the host namespace, by link name (for links made elsewhere in the file, or
    /// existing ones such as an uplink).
    #[serde(default)]
    pub addresses: NameMap<Vec<AddressItem>>,
    /// Routes of the host namespace, as after `nsfleet route add`: `203.0.113.0/24 via 192.0.2.1`.
    #[serde(default)]
    pub routes: Vec<Located<String>>,
    /// NAT rules of the host namespace, as after `nsfleet nat add`:
    /// `masquerade from 172.20.0.0/16 oif eth0`.
    #[serde(default)]
    pub nat: Vec<Located<String>>,
    /// Named namespaces, by name. A name with `{i}` and a `count` declares that many namespaces.
    #[serde(default)]
    pub namespaces: NameMap<NamespaceSpec>,
    /// Objects that exist on the host without nsfleet having made them for this topology, and that it
    /// takes over (it may then change them, and deletes them when the file drops them).
    #[serde(default)]
    pub adopt: Vec<AdoptSpec>,
}

/// IP forwarding (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Forwarding {
    #[serde(default)]
    pub ipv4: Option<bool>,
    #[serde(default)]
    pub ipv6: Option<bool>,
}

/// A Linux bridge.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BridgeSpec {
    /// Addresses of the bridge: `172.20.0.10/16`, optionally followed by `brd +`, `scope link`, ...
    /// as in `nsfleet addr add`.
    #[serde(default)]
    pub addresses: Vec<AddressItem>,
    /// MTU; the kernel's default if not given.
    #[serde(default)]
    pub mtu: Option<Located<u32>>,
    /// Administrative state (default: up).
    #[serde(default = "up")]
    pub up: bool,
}

/// A named namespace, or with `count` a numbered series of them. Its loopback `lo` is always brought up.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamespaceSpec {
    /// Declare this many namespaces: `{i}` in the name, and in every name, address, route and NAT rule
    /// below, becomes each one's number.
    #[serde(default)]
    pub count: Option<Located<u32>>,
    /// The first number of a series (default 1).
    #[serde(default)]
    pub start: Option<Located<u32>>,
    /// IP forwarding inside the namespace; a family not given is left as it is.
    #[serde(default)]
    pub forwarding: Option<Forwarding>,
    /// Bridges inside the namespace, by name.
    #[serde(default)]
    pub bridges: NameMap<BridgeSpec>,
    /// Veth pairs with one end in this namespace, by the name of that end.
    #[serde(default)]
    pub veths: NameMap<VethSpec>,
    /// Routes, as after `nsfleet route add`: `default via 172.20.0.10`.
    #[serde(default)]
    pub routes: Vec<Located<String>>,
    /// NAT rules, as after `nsfleet nat add`.
    #[serde(default)]
    pub nat: Vec<Located<String>>,
}

/// A veth pair: this end, in the namespace that lists it, and its peer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VethSpec {
    /// The other end.
    pub peer: PeerSpec,
    /// Addresses of this end.
    #[serde(default)]
    pub addresses: Vec<AddressItem>,
    /// MTU of the pair; the kernel's default if not given.
    #[serde(default)]
    pub mtu: Option<Located<u32>>,
    /// Administrative state of this end (default: up).
    #[serde(default = "up")]
    pub up: bool,
    /// A bridge of this namespace to make this end a port of.
    #[serde(default)]
    pub bridge: Option<Located<String>>,
}

/// The other end of a veth pair.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerSpec {
    /// Its link name.
    pub name: Located<String>,
    /// The namespace it is in (declared in this file); the host namespace if not given.
    #[serde(default)]
    pub namespace: Option<Located<String>>,
    /// A bridge of the peer's namespace to make the peer a port of.
    #[serde(default)]
    pub bridge: Option<Located<String>>,
    /// Addresses of the peer (a bridge port should have none: give them to the bridge).
    #[serde(default)]
    pub addresses: Vec<AddressItem>,
    /// Administrative state of the peer (default: up).
    #[serde(default = "up")]
    pub up: bool,
}

/// An address: `ADDRESS/LEN [brd +|ADDR] [scope S] [label L]` as in `nsfleet addr add`, or the next
/// address of a pool.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum AddressItem {
    Written(Located<String>),
    Pool(PoolSpec),
}

/// The next address of a prefix: in a series (`count`), namespace number k (counting from 0) takes
/// the k-th address from `first`, so 1000 namespaces get 1000 distinct addresses in a deterministic order.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// The prefix, e.g. `172.20.0.0/16`: every address stays inside it, and has its length.
    pub pool: Located<String>,
    /// The address taken by the first namespace of the series (default: the prefix's first address
    /// after the network address).
    #[serde(default)]
    pub first: Option<Located<String>>,
}

/// An object nsfleet did not make for this topology and that it takes over.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdoptSpec {
    pub kind: Located<AdoptKind>,
    /// The namespace the object is in (the host namespace if not given).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Its name: a namespace or link name, `ADDRESS/LEN`, `DESTINATION/LEN` or `default` for a route,
    /// `ipv4`/`ipv6` for forwarding, the rule id for NAT.
    pub name: Located<String>,
    /// For an address: the link it is on.
    #[serde(default)]
    pub link: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdoptKind {
    Namespace,
    Link,
    Address,
    Route,
    Forwarding,
    NatRule,
}

fn up() -> bool {
    true
}

/// A value and where the file says it. Decoded through `yaml.rs`'s `LOCATED` convention; its schema
/// is its value's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename = "$nsfleet::Located")]
pub struct Located<T> {
    pub line: usize,
    pub column: usize,
    pub value: T,
}

impl<T> Located<T> {
    pub fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A mapping from names to values, in file order, each name with its place.
#[derive(Debug, Clone)]
pub struct NameMap<T>(pub Vec<(Located<String>, T)>);

impl<T> Default for NameMap<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: JsonSchema> JsonSchema for NameMap<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("NameMap_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": generator.subschema_for::<T>(),
        })
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NameMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Entries<T> {
            type Value = NameMap<T>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a mapping from names")
            }

            // An empty mapping written as `bridges:` with nothing after it.
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(NameMap::default())
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(name) = map.next_key::<Located<String>>()? {
                    entries.push((name, map.next_value()?));
                }
                Ok(NameMap(entries))
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}

impl<'de> Deserialize<'de> for AddressItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Decoded by hand rather than `untagged`: serde's untagged enums lose the inner error ("did not
        // match any variant"), and a typo inside a pool deserves its own message.
        let located = Located::<PoolOrText>::deserialize(deserializer)?;
        let (line, column) = (located.line, located.column);
        Ok(match located.value {
            PoolOrText::Text(value) => AddressItem::Written(Located {
                line,
                column,
                value,
            }),
            PoolOrText::Pool(pool) => AddressItem::Pool(pool),
        })
    }
}

enum PoolOrText {
    Text(String),
    Pool(PoolSpec),
}

impl<'de> Deserialize<'de> for PoolOrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;

        impl<'de> de::Visitor<'de> for Either {
            type Value = PoolOrText;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an address (ADDRESS/LEN ...) or a pool ({pool: PREFIX})")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(PoolOrText::Text(text.to_owned()))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                PoolSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(PoolOrText::Pool)
            }
        }

        deserializer.deserialize_any(Either)
    }
}
