//! The inventory file as written (YAML, decoded by the topology file's decoder so that errors carry
//! `LINE:COL` and unknown keys get a "did you mean").

use serde::{de, Deserialize};

use crate::topology::file::{Located, NameMap};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryFile {
    #[serde(default)]
    pub hosts: NameMap<HostEntry>,
    #[serde(default)]
    pub groups: NameMap<GroupEntry>,
}

/// One agent: where it listens and how to prove oneself to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    pub endpoint: Located<String>,
    #[serde(default)]
    pub tls: Option<Located<TlsEntry>>,
    #[serde(default)]
    pub token_file: Option<Located<String>>,
    #[serde(default)]
    pub token_env: Option<Located<String>>,
    /// Read only to be refused with a reason: a token is not written in the inventory.
    #[serde(default)]
    pub token: Option<Located<de::IgnoredAny>>,
}

/// Hosts and other groups (`@NAME`-less: a member is a host's or a group's name), and the TLS and
/// token settings every member host takes unless it sets its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    pub members: Vec<Located<String>>,
    #[serde(default)]
    pub tls: Option<Located<TlsEntry>>,
    #[serde(default)]
    pub token_file: Option<Located<String>>,
    #[serde(default)]
    pub token_env: Option<Located<String>>,
    /// Read only to be refused with a reason: a token is not written in the inventory.
    #[serde(default)]
    pub token: Option<Located<de::IgnoredAny>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsEntry {
    /// The CA that signed the agent's certificate.
    pub ca: String,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    /// The name the agent's certificate carries when it is not the endpoint's host (an IP endpoint,
    /// a tunnel).
    #[serde(default)]
    pub server_name: Option<String>,
}
