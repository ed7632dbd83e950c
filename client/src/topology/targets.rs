//! Which agent each host of the file is: `--endpoint NAME=ENDPOINT` wins over the file's `endpoint:`,
//! so the same file runs in a lab and in production; a host given neither is looked up by name in the
//! inventory (with its TLS and token).

use std::collections::HashMap;

use nsfleet_proto::v1::HostTopology;

use super::Loaded;
use crate::{
    cli::GlobalOptions,
    connect::{EndpointError, Host},
    inventory::{inventory_host, Inventory},
};

/// One host of the file, ready to be called.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub host: Host,
    pub topology: HostTopology,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("--endpoint {0}: write it as NAME=ENDPOINT")]
    NotAssignment(String),
    #[error("--endpoint {given}: {file} has no host \"{name}\"{hint}")]
    UnknownHost {
        given: String,
        file: String,
        name: String,
        hint: String,
    },
    #[error("--endpoint for host \"{0}\" is given twice")]
    Repeated(String),
    #[error("host {name}: endpoint {source}")]
    Endpoint { name: String, source: EndpointError },
    #[error("hosts {first} and {second} are both {endpoint}: one agent would get two hosts' topologies of one name, each deleting what the other made")]
    SameAgent {
        first: String,
        second: String,
        endpoint: String,
    },
    #[error("{0}")]
    Inventory(String),
    #[error("no endpoint for host{} {}: give each an `endpoint:` in {file}, --endpoint NAME=ENDPOINT or an inventory entry", if .names.len() > 1 { "s" } else { "" }, .names.join(", "))]
    Missing { file: String, names: Vec<String> },
}

pub fn resolve(
    file: &str,
    loaded: &Loaded,
    overrides: &[String],
    global: &GlobalOptions,
) -> Result<Vec<Target>, TargetError> {
    let needs_inventory = loaded.hosts.iter().any(|host| {
        host.endpoint.is_none()
            && !overrides
                .iter()
                .any(|text| text.split_once('=').map(|(name, _)| name) == Some(&host.name))
    });
    let inventory = if needs_inventory {
        crate::inventory::load_chosen(global.inventory.as_deref())
            .map_err(|error| TargetError::Inventory(error.to_string()))?
            .0
    } else {
        None
    };
    resolve_with(file, loaded, overrides, inventory.as_ref(), global)
}

fn resolve_with(
    file: &str,
    loaded: &Loaded,
    overrides: &[String],
    inventory: Option<&Inventory>,
    global: &GlobalOptions,
) -> Result<Vec<Target>, TargetError> {
    let known: Vec<&str> = loaded.hosts.iter().map(|host| host.name.as_str()).collect();
    let mut given: HashMap<&str, &str> = HashMap::new();
    for text in overrides {
        let (name, endpoint) = text
            .split_once('=')
            .ok_or_else(|| TargetError::NotAssignment(text.clone()))?;
        if !known.contains(&name) {
            return Err(TargetError::UnknownHost {
                given: text.clone(),
                file: file.to_owned(),
                name: name.to_owned(),
                hint: super::yaml::suggestion(name, &known),
            });
        }
        if given.insert(name, endpoint).is_some() {
            return Err(TargetError::Repeated(name.to_owned()));
        }
    }
    let mut missing = Vec::new();
    let mut targets = Vec::new();
    for host in &loaded.hosts {
        let endpoint = given
            .get(host.name.as_str())
            .copied()
            .or(host.endpoint.as_deref());
        let listed = inventory.and_then(|inventory| Some((inventory, inventory.host(&host.name)?)));
        let parsed = match (endpoint, listed) {
            (Some(endpoint), _) => {
                Host::parse(endpoint).map_err(|source| TargetError::Endpoint {
                    name: host.name.clone(),
                    source,
                })?
            }
            (None, Some((inventory, listed))) => {
                inventory_host(inventory, listed, &crate::plan::security_options(global))
                    .map_err(|error| TargetError::Inventory(error.to_string()))?
            }
            (None, None) => {
                missing.push(host.name.clone());
                continue;
            }
        };
        if let Some(other) = targets
            .iter()
            .find(|target: &&Target| target.host.label == parsed.label)
        {
            return Err(TargetError::SameAgent {
                first: other.name.clone(),
                second: host.name.clone(),
                endpoint: parsed.label,
            });
        }
        targets.push(Target {
            name: host.name.clone(),
            host: parsed,
            topology: host.topology.clone(),
        });
    }
    if !missing.is_empty() {
        return Err(TargetError::Missing {
            file: file.to_owned(),
            names: missing,
        });
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::parse;

    /// Without an inventory: these tests are about the file and the command line.
    fn resolve(
        file: &str,
        loaded: &Loaded,
        overrides: &[String],
    ) -> Result<Vec<Target>, TargetError> {
        use clap::Parser;
        let global = crate::cli::Cli::parse_from(["nsfleet", "netns"]).global;
        resolve_with(file, loaded, overrides, None, &global)
    }

    const FILE: &str = "name: t\nhosts:\n  a:\n    endpoint: unix:/run/a.sock\n  b: {}\n";

    fn names_and_labels(targets: &[Target]) -> Vec<(String, String)> {
        targets
            .iter()
            .map(|target| (target.name.clone(), target.host.label.clone()))
            .collect()
    }

    #[test]
    fn the_command_line_wins_over_the_file() {
        let loaded = parse("f", FILE).unwrap();
        let targets = resolve(
            "f",
            &loaded,
            &["b=10.0.0.2:50051".into(), "a=unix:/tmp/x".into()],
        )
        .unwrap();
        assert_eq!(
            names_and_labels(&targets),
            [
                ("a".to_owned(), "unix:/tmp/x".to_owned()),
                ("b".to_owned(), "10.0.0.2:50051".to_owned())
            ]
        );
    }

    #[test]
    fn a_host_without_endpoint_is_named() {
        let loaded = parse("f", FILE).unwrap();
        let error = resolve("f", &loaded, &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no endpoint for host b: give each an `endpoint:` in f, --endpoint NAME=ENDPOINT or an inventory entry"
        );
    }

    #[test]
    fn an_unknown_or_repeated_name_is_refused() {
        let loaded = parse("f", FILE).unwrap();
        let error = resolve("f", &loaded, &["c=unix:/x".into()]).unwrap_err();
        assert!(matches!(error, TargetError::UnknownHost { .. }), "{error}");
        let error = resolve("f", &loaded, &["b=unix:/x".into(), "b=unix:/y".into()]).unwrap_err();
        assert_eq!(error, TargetError::Repeated("b".into()));
        let error = resolve("f", &loaded, &["b".into()]).unwrap_err();
        assert_eq!(error, TargetError::NotAssignment("b".into()));
        let error = resolve("f", &loaded, &["b=unix:/run/a.sock".into()]).unwrap_err();
        assert!(matches!(error, TargetError::SameAgent { .. }), "{error}");
    }
}
