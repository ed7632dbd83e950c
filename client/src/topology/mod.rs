//! Declarative topologies on the client side: the YAML file (`file` types, decoded by `yaml`), its
//! series unrolled (`expand`), checked as a whole (`check`) and split per host into the
//! `HostTopology` messages the agent's TopologyService takes (`convert`); then the verbs that send them
//! and print what came back (`verbs`, `render`). The client diffs nothing itself: plans, drift and
//! ownership are the agent's.

pub mod apply;
pub mod calls;
pub mod check;
pub mod commit;
pub mod convert;
pub mod error;
pub mod expand;
pub mod file;
pub mod overlay;
pub mod probes;
pub mod render;
pub mod rollout;
pub mod schema;
pub mod targets;
pub mod verbs;
pub mod yaml;

use nsfleet_proto::v1::HostTopology;

use error::Problems;
pub use error::{Problem, TopologyError};

/// A valid topology file, one `HostTopology` per host in file order.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub name: String,
    pub hosts: Vec<LoadedHost>,
    /// The file's `probes:`, checked.
    pub probes: Vec<probes::Probe>,
    /// Hosts a staged rollout changes in one stage: the members of each overlay, so that both ends of a
    /// tunnel change together.
    pub together: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct LoadedHost {
    pub name: String,
    /// The endpoint the file gives, if any.
    pub endpoint: Option<String>,
    pub topology: HostTopology,
}

/// Reads and checks the file at `path`.
pub fn load(path: &str) -> Result<Loaded, TopologyError> {
    let text = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
        file: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// Checks `text`; errors name `file` with the line and column of each problem.
pub fn parse(file: &str, text: &str) -> Result<Loaded, TopologyError> {
    let mut problems = Problems::default();
    let parsed: file::TopologyFile = match yaml::from_str(text) {
        Ok(parsed) => parsed,
        Err(error) => {
            problems.add(error.at.unwrap_or_default(), error.message);
            return Err(problems.into_error(file));
        }
    };
    let topology = expand::expand(&parsed, &mut problems);
    check::check(&topology, &mut problems);
    let probes = probes::check(&parsed.probes, &topology, &mut problems);
    let mut hosts: Vec<LoadedHost> = topology
        .hosts
        .iter()
        .map(|host| LoadedHost {
            name: host.name.value.clone(),
            endpoint: host
                .endpoint
                .as_ref()
                .map(|endpoint| endpoint.value.clone()),
            topology: convert::host_topology(&topology.name.value, host, &mut problems),
        })
        .collect();
    overlay::add_links(&parsed, &mut hosts, &mut problems);
    if !problems.is_empty() {
        return Err(problems.into_error(file));
    }
    Ok(Loaded {
        name: topology.name.value.clone(),
        hosts,
        probes,
        together: overlay::overlay_host_groups(&parsed),
    })
}

#[cfg(test)]
mod tests;
