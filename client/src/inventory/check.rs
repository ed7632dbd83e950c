//! The inventory as a whole: names, endpoints, group membership (no self-reference, no cycles) and
//! each host's TLS and token settings, its own or its groups'. A group's setting reaches its member
//! hosts (through nested groups too) that set none themselves; two groups that give one host different
//! settings are refused rather than ranked: set it on the host to choose.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use serde::de::IgnoredAny;

use super::file::{GroupEntry, InventoryFile, TlsEntry};
use crate::{
    connect::Host,
    topology::{
        file::Located,
        yaml::{suggestion, Pos},
    },
};

/// A checked inventory: hosts in file order, groups expanded to host indices.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub file: String,
    pub hosts: Vec<InventoryHost>,
    groups: Vec<(String, Vec<usize>)>,
}

#[derive(Debug, Clone)]
pub struct InventoryHost {
    pub name: String,
    pub endpoint: String,
    pub access: Access,
}

/// How the client proves itself to one host; `None` fields fall back to the command line's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub tls: Option<TlsSettings>,
    pub token: Option<TokenSource>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub ca: PathBuf,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub server_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    File(PathBuf),
    Env(String),
}

impl Inventory {
    pub fn host(&self, name: &str) -> Option<&InventoryHost> {
        self.hosts.iter().find(|host| host.name == name)
    }

    /// The hosts of group `name`, in file order of first mention; `None` if there is no such group.
    pub fn group(&self, name: &str) -> Option<Vec<&InventoryHost>> {
        self.groups
            .iter()
            .find(|(group, _)| group == name)
            .map(|(_, members)| members.iter().map(|&index| &self.hosts[index]).collect())
    }

    pub fn host_names(&self) -> Vec<&str> {
        self.hosts.iter().map(|host| host.name.as_str()).collect()
    }

    pub fn group_names(&self) -> Vec<&str> {
        self.groups.iter().map(|(name, _)| name.as_str()).collect()
    }
}

pub struct Problem {
    pub at: Pos,
    pub message: String,
}

fn problem(at: Pos, message: impl Into<String>) -> Problem {
    Problem {
        at,
        message: message.into(),
    }
}

pub fn check(file: &str, parsed: &InventoryFile, base: &Path) -> Result<Inventory, Problem> {
    let host_names: Vec<&str> = parsed
        .hosts
        .0
        .iter()
        .map(|(name, _)| name.value.as_str())
        .collect();
    let group_names: Vec<&str> = parsed
        .groups
        .0
        .iter()
        .map(|(name, _)| name.value.as_str())
        .collect();
    let mut seen: HashMap<&str, Pos> = HashMap::new();
    let names = parsed
        .hosts
        .0
        .iter()
        .map(|(name, _)| name)
        .chain(parsed.groups.0.iter().map(|(name, _)| name));
    for name in names {
        check_name(name)?;
        if let Some(first) = seen.insert(name.value.as_str(), name.pos()) {
            return Err(problem(
                name.pos(),
                format!(
                    "\"{}\" is already a host or group (line {}): --host NAME must say which",
                    name.value, first.line
                ),
            ));
        }
    }
    let mut hosts = Vec::new();
    for (name, entry) in &parsed.hosts.0 {
        if let Err(error) = Host::parse(&entry.endpoint.value) {
            return Err(problem(
                entry.endpoint.pos(),
                format!("host {}: endpoint {error}", name.value),
            ));
        }
        hosts.push(InventoryHost {
            name: name.value.clone(),
            endpoint: entry.endpoint.value.trim().to_owned(),
            access: access(
                &entry.tls,
                &entry.token_file,
                &entry.token_env,
                &entry.token,
                base,
            )?,
        });
    }
    let mut group_access = Vec::new();
    for (name, group) in &parsed.groups.0 {
        // `--host @empty` would otherwise mean no host at all, which falls back to the local agent.
        if group.members.is_empty() {
            return Err(problem(
                name.pos(),
                format!("group {} has no members", name.value),
            ));
        }
        for member in &group.members {
            if member.value == name.value {
                return Err(problem(
                    member.pos(),
                    format!("group {} names itself", name.value),
                ));
            }
            let known = host_names.contains(&member.value.as_str())
                || group_names.contains(&member.value.as_str());
            if !known {
                let candidates: Vec<&str> =
                    host_names.iter().chain(&group_names).copied().collect();
                return Err(problem(
                    member.pos(),
                    format!(
                        "group {}: no host or group \"{}\"{}",
                        name.value,
                        member.value,
                        suggestion(&member.value, &candidates)
                    ),
                ));
            }
        }
        group_access.push(access(
            &group.tls,
            &group.token_file,
            &group.token_env,
            &group.token,
            base,
        )?);
    }
    let groups = &parsed.groups.0;
    let mut expanded = Vec::new();
    // For each host, the groups that contain it (directly or through nested groups).
    let mut containing: Vec<Vec<usize>> = vec![Vec::new(); hosts.len()];
    for index in 0..groups.len() {
        let mut path = vec![index];
        let mut members = Vec::new();
        expand(groups, &host_names, &mut path, &mut members)?;
        for &host in &members {
            containing[host].push(index);
        }
        expanded.push((groups[index].0.value.clone(), members));
    }
    for (host_index, host) in hosts.iter_mut().enumerate() {
        let at = parsed.hosts.0[host_index].0.pos();
        let from_groups: Vec<(&Located<String>, &Access)> = containing[host_index]
            .iter()
            .map(|&group| (&groups[group].0, &group_access[group]))
            .collect();
        if host.access.tls.is_none() {
            host.access.tls = inherit(at, &host.name, ("tls", "tls"), &from_groups, |access| {
                access.tls.as_ref()
            })?;
        }
        if host.access.token.is_none() {
            host.access.token = inherit(
                at,
                &host.name,
                ("token", "token_file or token_env"),
                &from_groups,
                |access| access.token.as_ref(),
            )?;
        }
    }
    Ok(Inventory {
        file: file.to_owned(),
        hosts,
        groups: expanded,
    })
}

/// Names go on the command line (`--host NAME`, `--host @GROUP`, comma-separated lists), so they
/// cannot hold what separates or marks them there, nor look like an endpoint.
fn check_name(name: &Located<String>) -> Result<(), Problem> {
    let value = name.value.as_str();
    let bad = value.is_empty()
        || value.starts_with('@')
        || value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, ',' | ':' | '/' | '[' | ']'));
    if bad {
        return Err(problem(
            name.pos(),
            format!("\"{value}\" is not a host or group name: no spaces, ',', ':', '/', brackets, or a leading '@'"),
        ));
    }
    Ok(())
}

fn access(
    tls: &Option<Located<TlsEntry>>,
    token_file: &Option<Located<String>>,
    token_env: &Option<Located<String>>,
    token: &Option<Located<IgnoredAny>>,
    base: &Path,
) -> Result<Access, Problem> {
    if let Some(token) = token {
        return Err(problem(
            token.pos(),
            "a token is not written in the inventory (it is copied around; a token is a secret): give token_file or token_env",
        ));
    }
    let tls = match tls {
        None => None,
        Some(entry) => {
            let value = &entry.value;
            if value.cert.is_some() != value.key.is_some() {
                return Err(problem(entry.pos(), "tls: cert and key go together"));
            }
            Some(TlsSettings {
                ca: base.join(&value.ca),
                cert: value.cert.as_ref().map(|path| base.join(path)),
                key: value.key.as_ref().map(|path| base.join(path)),
                server_name: value.server_name.clone(),
            })
        }
    };
    let token = match (token_file, token_env) {
        (Some(_), Some(second)) => {
            return Err(problem(
                second.pos(),
                "give token_file or token_env, not both",
            ))
        }
        (Some(path), None) => Some(TokenSource::File(base.join(&path.value))),
        (None, Some(variable)) if variable.value.is_empty() => {
            return Err(problem(
                variable.pos(),
                "token_env: the name of an environment variable",
            ))
        }
        (None, Some(variable)) => Some(TokenSource::Env(variable.value.clone())),
        (None, None) => None,
    };
    Ok(Access { tls, token })
}

/// Depth first through nested groups; `path` is the chain of groups being expanded, so meeting one of
/// them again is a cycle.
fn expand(
    groups: &[(Located<String>, GroupEntry)],
    host_names: &[&str],
    path: &mut Vec<usize>,
    members: &mut Vec<usize>,
) -> Result<(), Problem> {
    let Some(&current) = path.last() else {
        return Ok(());
    };
    for member in &groups[current].1.members {
        if let Some(host) = host_names.iter().position(|name| *name == member.value) {
            if !members.contains(&host) {
                members.push(host);
            }
            continue;
        }
        let Some(group) = groups
            .iter()
            .position(|(name, _)| name.value == member.value)
        else {
            continue;
        };
        if let Some(start) = path.iter().position(|&index| index == group) {
            let mut chain: Vec<&str> = path[start..]
                .iter()
                .map(|&index| groups[index].0.value.as_str())
                .collect();
            chain.push(&groups[group].0.value);
            return Err(problem(
                member.pos(),
                format!("groups form a cycle: {}", chain.join(" -> ")),
            ));
        }
        path.push(group);
        expand(groups, host_names, path, members)?;
        path.pop();
    }
    Ok(())
}

/// The one value the host's groups agree on, or `None` if none sets it.
fn inherit<'a, T: PartialEq + Clone + 'a>(
    at: Pos,
    host: &str,
    (what, keys): (&str, &str),
    groups: &[(&Located<String>, &'a Access)],
    field: impl Fn(&'a Access) -> Option<&'a T>,
) -> Result<Option<T>, Problem> {
    let mut chosen: Option<(&Located<String>, &T)> = None;
    for (group, access) in groups {
        let Some(value) = field(access) else {
            continue;
        };
        match chosen {
            None => chosen = Some((group, value)),
            Some((first, other)) if other != value => {
                return Err(problem(
                    at,
                    format!(
                        "host {host} is in groups {} (line {}) and {} (line {}), whose {what} settings differ: set {keys} on the host to choose",
                        first.value, first.line, group.value, group.line
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(chosen.map(|(_, value)| value.clone()))
}
