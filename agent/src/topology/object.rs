//! Object identities: what a topology names, owns and records. Two desired objects with the same
//! identity are a duplicate; the ledger stores identities; the plan looks each one up in the kernel.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{Family, IpPrefix, LinkName, NamespaceName, NamespaceRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Namespace,
    Link,
    Address,
    Route,
    Forwarding,
    NatRule,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Namespace => "namespace",
            Self::Link => "link",
            Self::Address => "address",
            Self::Route => "route",
            Self::Forwarding => "forwarding",
            Self::NatRule => "nat rule",
        }
    }
}

/// One object on the host, in the shape of the API's `ObjectRef`: `namespace` is "" for the host (and for
/// a namespace itself), `name` is the object's name in that namespace, `link` only for addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectId {
    pub kind: ObjectKind,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub link: String,
}

impl ObjectId {
    pub fn namespace(name: &NamespaceName) -> Self {
        Self::new(ObjectKind::Namespace, "", name.as_str(), "")
    }

    pub fn link(namespace: &NamespaceRef, name: &LinkName) -> Self {
        Self::new(ObjectKind::Link, namespace.as_api_str(), name.as_str(), "")
    }

    pub fn address(namespace: &NamespaceRef, link: &LinkName, prefix: &IpPrefix) -> Self {
        Self::new(
            ObjectKind::Address,
            namespace.as_api_str(),
            &prefix.to_string(),
            link.as_str(),
        )
    }

    /// `default` for a default route; a table other than main is part of the name (`10.0.0.0/8 table 7`).
    pub fn route(namespace: &NamespaceRef, destination: &IpPrefix, table: u32) -> Self {
        let mut name = if destination.prefix_len == 0 {
            "default".to_string()
        } else {
            destination.to_string()
        };
        if destination.prefix_len == 0 && destination.family() == Family::V6 {
            name = "default ipv6".to_string();
        }
        if table != crate::kernel::route::MAIN_TABLE {
            name = format!("{name} table {table}");
        }
        Self::new(ObjectKind::Route, namespace.as_api_str(), &name, "")
    }

    pub fn forwarding(namespace: &NamespaceRef, family: Family) -> Self {
        let name = match family {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        };
        Self::new(ObjectKind::Forwarding, namespace.as_api_str(), name, "")
    }

    pub fn nat_rule(namespace: &NamespaceRef, id: &str) -> Self {
        Self::new(ObjectKind::NatRule, namespace.as_api_str(), id, "")
    }

    fn new(kind: ObjectKind, namespace: &str, name: &str, link: &str) -> Self {
        Self {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
            link: link.to_string(),
        }
    }

    /// The named namespace the object lives in, or is (for a namespace): deleting that namespace takes
    /// the object with it.
    pub fn container(&self) -> Option<&str> {
        match self.kind {
            ObjectKind::Namespace => Some(&self.name),
            _ if self.namespace.is_empty() => None,
            _ => Some(&self.namespace),
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.name)?;
        if !self.link.is_empty() {
            write!(f, " on {}", self.link)?;
        }
        if !self.namespace.is_empty() {
            write!(f, " in namespace {}", self.namespace)?;
        }
        Ok(())
    }
}
