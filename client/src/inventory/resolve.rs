//! `--host` entries to hosts. Precedence, for each entry:
//! 1. `@GROUP`: the group's hosts (an inventory is needed);
//! 2. a host name of the inventory: that host, with its own TLS and token;
//! 3. anything that is plainly an endpoint (`unix:PATH`, `HOST:PORT`, `[IPV6]:PORT`, an IP address):
//!    that endpoint, with the command line's TLS and token, as without an inventory;
//! 4. any other word: an unknown host if an inventory exists (a typo must not become a DNS lookup of
//!    `web-1:50051`), else an endpoint with the default port, as before inventories existed.
//!
//! A host's TLS and token settings that the inventory leaves unset fall back to the command line's.

use std::net::IpAddr;

use super::{Access, Inventory, InventoryHost, TokenSource};
use crate::{
    connect::{ClientSecurity, EndpointError, Host, SecurityError, SecurityOptions},
    topology::yaml::suggestion,
};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("--host {0}")]
    Endpoint(#[from] EndpointError),
    #[error("--host @{name}: groups come from the inventory, and there is none{where_}")]
    NoInventory { name: String, where_: String },
    #[error("--host @{name}: {file} has no group \"{name}\"{hint}")]
    UnknownGroup {
        name: String,
        file: String,
        hint: String,
    },
    #[error("--host {name}: {file} has no host \"{name}\"{hint} (an endpoint is written HOST:PORT, [IPV6]:PORT or unix:PATH)")]
    UnknownHost {
        name: String,
        file: String,
        hint: String,
    },
    #[error("{file}: host {host}: {source}")]
    Security {
        file: String,
        host: String,
        source: SecurityError,
    },
    #[error("{file}: host {host}: token_env {variable} is not set")]
    UnsetToken {
        file: String,
        host: String,
        variable: String,
    },
}

/// The hosts `given` names, in order; a host named twice (directly or through groups) is called once.
pub fn resolve_hosts(
    given: &[String],
    inventory: Option<&Inventory>,
    command_line: &SecurityOptions,
    missing_inventory: Option<&str>,
) -> Result<Vec<Host>, ResolveError> {
    let mut hosts: Vec<Host> = Vec::new();
    let mut named: Vec<String> = Vec::new();
    let mut add_named = |host: &InventoryHost, inventory: &Inventory, hosts: &mut Vec<Host>| {
        if named.contains(&host.name) {
            return Ok(());
        }
        named.push(host.name.clone());
        hosts.push(inventory_host(inventory, host, command_line)?);
        Ok::<(), ResolveError>(())
    };
    for text in given
        .iter()
        .map(|text| text.trim())
        .filter(|text| !text.is_empty())
    {
        if let Some(group) = text.strip_prefix('@') {
            let Some(inventory) = inventory else {
                return Err(ResolveError::NoInventory {
                    name: group.to_owned(),
                    where_: missing_inventory
                        .map(|path| {
                            format!(" ({path} does not exist; choose one with --inventory FILE)")
                        })
                        .unwrap_or_default(),
                });
            };
            let members = inventory
                .group(group)
                .ok_or_else(|| ResolveError::UnknownGroup {
                    name: group.to_owned(),
                    file: inventory.file.clone(),
                    hint: suggestion(group, &inventory.group_names()),
                })?;
            for host in members {
                add_named(host, inventory, &mut hosts)?;
            }
            continue;
        }
        if let Some((inventory, host)) =
            inventory.and_then(|inventory| Some((inventory, inventory.host(text)?)))
        {
            add_named(host, inventory, &mut hosts)?;
            continue;
        }
        match inventory {
            Some(inventory) if !plainly_an_endpoint(text) => {
                return Err(ResolveError::UnknownHost {
                    name: text.to_owned(),
                    file: inventory.file.clone(),
                    hint: suggestion(text, &inventory.host_names()),
                })
            }
            _ => hosts.push(Host::parse(text)?),
        }
    }
    Ok(hosts)
}

fn plainly_an_endpoint(text: &str) -> bool {
    text.starts_with("unix:")
        || text.starts_with('[')
        || text.contains(':')
        || text.parse::<IpAddr>().is_ok()
}

/// The host's endpoint under its inventory name, with its credentials loaded now, so that a missing
/// certificate or token fails before any host is contacted.
pub fn inventory_host(
    inventory: &Inventory,
    host: &InventoryHost,
    command_line: &SecurityOptions,
) -> Result<Host, ResolveError> {
    let endpoint = Host::parse(&host.endpoint)?;
    let security = match &host.access {
        Access {
            tls: None,
            token: None,
        } => None,
        access => Some(&*Box::leak(Box::new(load(
            inventory,
            host,
            access,
            command_line,
        )?))),
    };
    Ok(endpoint.named(&host.name, security))
}

fn load(
    inventory: &Inventory,
    host: &InventoryHost,
    access: &Access,
    command_line: &SecurityOptions,
) -> Result<ClientSecurity, ResolveError> {
    let mut options = command_line.clone();
    if let Some(tls) = &access.tls {
        options.ca = Some(tls.ca.clone());
        options.cert = tls.cert.clone();
        options.key = tls.key.clone();
        options.server_name = tls.server_name.clone();
    }
    match &access.token {
        None => {}
        Some(TokenSource::File(path)) => {
            options.token_file = Some(path.clone());
            options.token = None;
        }
        Some(TokenSource::Env(variable)) => {
            let value = std::env::var(variable)
                .ok()
                .filter(|value| !value.is_empty());
            let Some(value) = value else {
                return Err(ResolveError::UnsetToken {
                    file: inventory.file.clone(),
                    host: host.name.clone(),
                    variable: variable.clone(),
                });
            };
            options.token_file = None;
            options.token = Some(value);
            options.token_variable = Some(variable.clone());
        }
    }
    options.load().map_err(|source| ResolveError::Security {
        file: inventory.file.clone(),
        host: host.name.clone(),
        source,
    })
}
