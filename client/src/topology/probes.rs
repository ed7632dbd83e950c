//! The file's `probes:` checked against the expanded topology: each entry becomes one [`Probe`] whose
//! host and namespace the file declares and whose target parses, or a problem at its place.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::error::Problems;
use super::expand::Topology;
use super::file::{Located, ProbeSpec};

/// A check to run after a change and before confirming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The host whose stage the probe belongs to: it runs there (ping, tcp) or is about it (agent).
    pub host: String,
    pub check: Check,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// ICMP echo from `namespace` ("" = the host namespace).
    Ping { namespace: String, target: IpAddr },
    /// A TCP connection from `namespace`.
    Tcp {
        namespace: String,
        target: SocketAddr,
    },
    /// The host's agent answers the client over a new connection.
    Agent,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = |namespace: &str| {
            if namespace.is_empty() {
                self.host.clone()
            } else {
                format!("{}/{namespace}", self.host)
            }
        };
        match &self.check {
            Check::Ping { namespace, target } => {
                write!(f, "ping {target} from {}", from(namespace))
            }
            Check::Tcp { namespace, target } => write!(f, "tcp {target} from {}", from(namespace)),
            Check::Agent => write!(f, "agent of {}", self.host),
        }
    }
}

pub fn check(
    specs: &[Located<ProbeSpec>],
    topology: &Topology,
    problems: &mut Problems,
) -> Vec<Probe> {
    specs
        .iter()
        .filter_map(|spec| check_one(spec, topology, problems))
        .collect()
}

fn check_one(
    located: &Located<ProbeSpec>,
    topology: &Topology,
    problems: &mut Problems,
) -> Option<Probe> {
    let spec = &located.value;
    let kinds = [
        spec.ping.is_some(),
        spec.tcp.is_some(),
        spec.agent.is_some(),
    ];
    if kinds.iter().filter(|set| **set).count() != 1 {
        problems.add(
            located.pos(),
            "a probe needs exactly one of `ping`, `tcp` or `agent`",
        );
        return None;
    }
    if let Some(agent) = &spec.agent {
        for field in [&spec.host, &spec.namespace].into_iter().flatten() {
            problems.add(
                field.pos(),
                "an `agent` probe names its host in `agent:` alone",
            );
        }
        known_host(agent, topology, problems)?;
        return Some(Probe {
            host: agent.value.clone(),
            check: Check::Agent,
        });
    }
    let Some(host) = &spec.host else {
        problems.add(located.pos(), "a `ping` or `tcp` probe needs `host`");
        return None;
    };
    let declared = known_host(host, topology, problems)?;
    let namespace = match &spec.namespace {
        None => String::new(),
        Some(namespace) => {
            let on_host = declared
                .spaces
                .iter()
                .any(|space| !space.name.value.is_empty() && space.name.value == namespace.value);
            if !on_host {
                problems.add(
                    namespace.pos(),
                    format!(
                        "namespace {:?} is not declared on host {:?} in this file",
                        namespace.value, host.value
                    ),
                );
                return None;
            }
            namespace.value.clone()
        }
    };
    let check = if let Some(ping) = &spec.ping {
        let target = ping.value.trim().parse::<IpAddr>().map_err(|_| {
            problems.add(
                ping.pos(),
                format!("ping: {:?} is not an IPv4 or IPv6 address", ping.value),
            )
        });
        Check::Ping {
            namespace,
            target: target.ok()?,
        }
    } else {
        let tcp = spec.tcp.as_ref()?;
        let target = parse_tcp_target(&tcp.value).map_err(|why| problems.add(tcp.pos(), why));
        Check::Tcp {
            namespace,
            target: target.ok()?,
        }
    };
    Some(Probe {
        host: host.value.clone(),
        check,
    })
}

fn known_host<'t>(
    name: &Located<String>,
    topology: &'t Topology,
    problems: &mut Problems,
) -> Option<&'t super::expand::Host> {
    let found = topology
        .hosts
        .iter()
        .find(|host| host.name.value == name.value);
    if found.is_none() {
        problems.add(
            name.pos(),
            format!("host {:?} is not in this file's hosts", name.value),
        );
    }
    found
}

/// `ADDRESS:PORT` or `[IPV6]:PORT`, port 1-65535.
pub fn parse_tcp_target(text: &str) -> Result<SocketAddr, String> {
    let target: SocketAddr = text.trim().parse().map_err(|_| {
        format!("tcp: {text:?} is not ADDRESS:PORT (write an IPv6 address as [ADDRESS]:PORT)")
    })?;
    if target.port() == 0 {
        return Err(format!("tcp: port 0 in {text:?} is out of range 1-65535"));
    }
    Ok(target)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;
    use crate::topology::{parse, TopologyError};

    const HOSTS: &str = "name: t\nhosts:\n  h1:\n    namespaces:\n      n1: {}\n  h2: {}\n";

    fn with_probes(probes: &str) -> String {
        format!("{HOSTS}probes:\n{probes}")
    }

    /// The only problem of the file, as `LINE:COL: message`.
    fn problem(probes: &str) -> String {
        match parse("f.yaml", &with_probes(probes)) {
            Err(TopologyError::Invalid { problems, .. }) => {
                assert_eq!(problems.len(), 1, "{problems:?}");
                format!("{}: {}", problems[0].at, problems[0].message)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_kind_of_probe_is_read() {
        let loaded = parse(
            "f.yaml",
            &with_probes(
                "  - {host: h1, namespace: n1, ping: 172.20.0.12}\n  - {host: h1, tcp: '[2001:db8::1]:443'}\n  - {agent: h2}\n",
            ),
        )
        .unwrap();
        assert_eq!(
            loaded.probes,
            [
                Probe {
                    host: "h1".into(),
                    check: Check::Ping {
                        namespace: "n1".into(),
                        target: "172.20.0.12".parse().unwrap()
                    }
                },
                Probe {
                    host: "h1".into(),
                    check: Check::Tcp {
                        namespace: String::new(),
                        target: "[2001:db8::1]:443".parse().unwrap()
                    }
                },
                Probe {
                    host: "h2".into(),
                    check: Check::Agent
                },
            ]
        );
        assert_eq!(loaded.probes[0].to_string(), "ping 172.20.0.12 from h1/n1");
    }

    #[test]
    fn mistakes_are_placed_and_named() {
        assert_eq!(
            problem("  - {host: h9, ping: 192.0.2.1}\n"),
            "8:12: host \"h9\" is not in this file's hosts"
        );
        assert_eq!(
            problem("  - {agent: h9}\n"),
            "8:13: host \"h9\" is not in this file's hosts"
        );
        // n1 is declared, but on h1.
        assert_eq!(
            problem("  - {host: h2, namespace: n1, ping: 192.0.2.1}\n"),
            "8:27: namespace \"n1\" is not declared on host \"h2\" in this file"
        );
        assert!(problem("  - {host: h1, ping: 192.0.2.300}\n")
            .starts_with("8:22: ping: \"192.0.2.300\" is not"));
        assert!(problem("  - {host: h1, tcp: 192.0.2.1}\n")
            .starts_with("8:21: tcp: \"192.0.2.1\" is not ADDRESS:PORT"));
        assert!(problem("  - {host: h1, tcp: '192.0.2.1:70000'}\n").starts_with("8:21: tcp:"));
        assert!(problem("  - {host: h1, tcp: '192.0.2.1:0'}\n").contains("out of range 1-65535"));
        assert!(problem("  - {host: h1}\n").contains("exactly one of"));
        assert!(problem("  - {host: h1, ping: 192.0.2.1, agent: h1}\n").contains("exactly one of"));
        assert!(problem("  - {ping: 192.0.2.1}\n").contains("needs `host`"));
        assert!(problem("  - {host: h1, agent: h2}\n").contains("in `agent:` alone"));
        assert!(problem("  - {host: h1, dns: x}\n").contains("unknown key \"dns\""));
    }
}
