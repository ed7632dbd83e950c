use std::time::Instant;

use crate::cli::{run_lines, CliRun, Nsfleet};
use crate::root::require_root;
use crate::sim_host::SimHost;

/// A set of simulated hosts for one test. Dropping it (also while a test panics) kills every agent and
/// with them every namespace, link and mount made inside.
pub struct Lab {
    hosts: Vec<SimHost>,
}

impl Lab {
    /// Starts `count` simulated hosts, named host1, host2, ..., and waits until each agent accepts
    /// connections. Keep the Lab on the calling thread (see [`SimHost`]'s death signal).
    pub fn start(count: usize) -> Lab {
        Self::start_with_args(count, &[])
    }

    /// [`Lab::start`], with `agent_args` added to every agent's command line.
    pub fn start_with_args(count: usize, agent_args: &[String]) -> Lab {
        require_root();
        let started = Instant::now();
        // Spawn all first, then wait: the agents start up concurrently.
        let mut lab = Lab {
            hosts: (1..=count)
                .map(|i| SimHost::spawn(&format!("host{i}"), agent_args))
                .collect(),
        };
        for host in &mut lab.hosts {
            host.wait_ready(started);
        }
        lab
    }

    /// Like [`Lab::start`], but each host's namespaces are held by a process of their own, so its agent
    /// can be killed and restarted in the same host ([`SimHost::kill_agent`], [`SimHost::restart_agent`]).
    pub fn start_restartable(count: usize) -> Lab {
        require_root();
        let started = Instant::now();
        let mut lab = Lab {
            hosts: (1..=count)
                .map(|i| SimHost::spawn_restartable(&format!("host{i}"), &[]))
                .collect(),
        };
        for host in &mut lab.hosts {
            host.wait_ready(started);
        }
        lab
    }

    /// One simulated host whose agent has no `--listen`: it serves its default unix socket, in the host's
    /// private `/run`.
    pub fn start_with_default_listener(agent_args: &[String]) -> Lab {
        require_root();
        let started = Instant::now();
        let mut lab = Lab {
            hosts: vec![SimHost::spawn_with_default_listener("host1", agent_args)],
        };
        lab.hosts[0].wait_ready(started);
        lab
    }

    /// The `index`-th host, from 0.
    pub fn host(&self, index: usize) -> &SimHost {
        &self.hosts[index]
    }

    /// The `index`-th host, to kill or restart its agent.
    pub fn host_mut(&mut self, index: usize) -> &mut SimHost {
        &mut self.hosts[index]
    }

    pub fn hosts(&self) -> Vec<&SimHost> {
        self.hosts.iter().collect()
    }

    /// A CLI invocation addressed to every host, in order.
    pub fn nsfleet(&self) -> Nsfleet {
        Nsfleet::on_all(&self.hosts())
    }

    /// Runs one `-o json` command line (split on whitespace) against every host at once.
    pub fn cli(&self, line: &str) -> CliRun {
        self.nsfleet().line(line).run()
    }

    /// [`run_lines`] on every host of the lab.
    pub fn run_lines(&self, lines: &[&str]) {
        run_lines(&self.hosts(), lines);
    }
}
