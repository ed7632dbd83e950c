//! Checks, outside the timed parts, that a method really built the topology and that a teardown really
//! left nothing behind: a fast method that does not do the work would otherwise win.

use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};
use crate::run::{output, Tools};
use crate::topology::{self, BRIDGE, GATEWAY};

/// How long the kernel may take to free deleted namespaces and their veth ends.
const SETTLE_LIMIT: Duration = Duration::from_secs(180);

pub fn topology_built(tools: &Tools, n: usize) -> Result<()> {
    topology_built_with(tools, n, n)
}

/// The same, on a host that holds `namespaces` namespaces in all (the series and others).
pub fn topology_built_with(tools: &Tools, n: usize, expected_namespaces: usize) -> Result<()> {
    let namespaces = output(&tools.ip, &["netns", "list"])?.lines().count();
    let ports = output(&tools.ip, &["-o", "link", "show", "master", BRIDGE])?
        .lines()
        .count();
    if namespaces != expected_namespaces || ports != n {
        return Err(BenchError::Check(format!(
            "expected {expected_namespaces} namespaces and {n} bridge ports, found {namespaces} and {ports}"
        )));
    }
    // The last namespace, in full: what the kernel holds, not what the tool said.
    let last = topology::namespace(n);
    let route = output(
        &tools.ip,
        &["-n", last.as_str(), "route", "show", "default"],
    )?;
    let lo = output(
        &tools.ip,
        &["-n", last.as_str(), "-o", "link", "show", "lo"],
    )?;
    let peer = output(
        &tools.ip,
        &[
            "-n",
            last.as_str(),
            "-o",
            "addr",
            "show",
            "dev",
            &format!("ceth{n}"),
        ],
    )?;
    if !route.contains(&format!("via {GATEWAY}"))
        || !lo.contains(",UP")
        || !peer.contains("172.20.")
    {
        return Err(BenchError::Check(format!(
            "{last} is incomplete: route {route:?}, lo {lo:?}, ceth {peer:?}"
        )));
    }
    Ok(())
}

/// Waits until no namespace, veth or bridge is left; returns how long that took.
pub fn wait_until_clean(tools: &Tools) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let links = output(&tools.ip, &["-o", "link", "show"])?;
        let namespaces = output(&tools.ip, &["netns", "list"])?;
        let leftover_links = links.lines().filter(|line| !line.contains(": lo:")).count();
        if leftover_links == 0 && namespaces.trim().is_empty() {
            return Ok(started.elapsed());
        }
        if started.elapsed() > SETTLE_LIMIT {
            return Err(BenchError::Check(format!(
                "after {SETTLE_LIMIT:?} still {leftover_links} links and namespaces {:?}",
                namespaces.lines().take(5).collect::<Vec<_>>()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
