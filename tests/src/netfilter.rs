//! The oracle for netfilter state inside a simulated host: `nft`, `iptables` and `conntrack`, run in
//! the host's own namespace (where nsfleet's NAT rules live in these tests).

use serde_json::Value;

use crate::sim_host::SimHost;

/// nsfleet's table, as `nft` names it.
pub const NSFLEET_TABLE: &str = "table inet nsfleet";

impl SimHost {
    /// `nft list tables`, one "table FAMILY NAME" per entry.
    pub fn nft_tables(&self) -> Vec<String> {
        self.run_ok("", &["nft", "list", "tables"])
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(String::from)
            .collect()
    }

    /// `nft -j list table inet nsfleet` parsed, or None when the table does not exist.
    pub fn nsfleet_table(&self) -> Option<Value> {
        let listed = self.run_in("", &["nft", "-j", "list", "table", "inet", "nsfleet"]);
        if !listed.success() {
            assert!(
                listed.stderr.contains("No such file or directory"),
                "{}: nft failed for another reason than a missing table: {listed}",
                self.label()
            );
            return None;
        }
        let parsed = serde_json::from_str(&listed.stdout).unwrap_or_else(|err| {
            panic!("{}: nft printed no JSON ({err}): {listed}", self.label())
        });
        Some(parsed)
    }

    /// The `rule` objects of [`SimHost::nsfleet_table`] (none without the table).
    pub fn nsfleet_table_rules(&self) -> Vec<Value> {
        let Some(table) = self.nsfleet_table() else {
            return Vec::new();
        };
        table["nftables"]
            .as_array()
            .map(|objects| {
                objects
                    .iter()
                    .filter_map(|object| object.get("rule").cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `iptables -t nat -S`: the legacy view of table `ip nat`.
    pub fn iptables_nat(&self) -> String {
        self.run_ok("", &["iptables", "-t", "nat", "-S"])
    }

    /// `conntrack -L ARGS...` in the host's namespace: one entry per line.
    pub fn conntrack_entries(&self, filter: &[&str]) -> Vec<String> {
        let mut argv = vec!["conntrack", "-L"];
        argv.extend(filter);
        self.run_ok("", &argv)
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(String::from)
            .collect()
    }
}
