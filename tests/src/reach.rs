//! Reachability, checked twice: with the agent's Ping through `nsfleet`, and with real `ping` run inside
//! the simulated host.

use std::time::Duration;

use crate::cli::Nsfleet;
use crate::poll::poll_until;
use crate::sim_host::SimHost;

/// Bounds the wait for ARP, carrier and bridge port states; never a measure of success.
const REACH_LIMIT: Duration = Duration::from_secs(15);

/// Every host reaches `target` from `netns`: per one nsfleet Ping addressed to all hosts, and per real
/// `ping` on each (bounded retries: the first packet may wait for ARP or a bridge port).
pub fn assert_reaches(hosts: &[&SimHost], netns: &str, target: &str, interface: Option<&str>) {
    let interface_option = interface
        .map(|dev| format!(" -I {dev}"))
        .unwrap_or_default();
    let what = format!("{netns:?} -> {target}{interface_option}");
    let line = format!("ping {target}{interface_option} -c 1 -W 1");
    poll_until(&format!("{what} with nsfleet ping"), REACH_LIMIT, || {
        let run = Nsfleet::on_all(hosts).netns(netns).line(&line).run();
        let every_host_got_a_reply = (0..hosts.len()).all(|i| run.ping_replies(i) > 0);
        if run.exit_code() == Some(0) && every_host_got_a_reply {
            Ok(())
        } else {
            Err(run.to_string())
        }
    });
    for host in hosts {
        poll_until(
            &format!("{}: {what} with real ping", host.label()),
            REACH_LIMIT,
            || {
                let ping = host.ping(netns, target, interface);
                if ping.success() {
                    Ok(())
                } else {
                    Err(ping.to_string())
                }
            },
        );
    }
}
