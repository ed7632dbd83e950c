//! The world every NAT test starts from, and the helpers they share.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use nsfleet_tests::tutorial::tutorial_lines;
use nsfleet_tests::{
    assert_reaches, poll_until, Answer, CliRun, Finished, Lab, SimHost, ATTEMPT_TIMEOUT,
    NSFLEET_TABLE,
};

/// Bounds waits for carrier, ARP and the first answer; never a measure of success.
pub const SETTLE: Duration = Duration::from_secs(15);

/// The uplink to the simulated internet, after the tutorial.
pub const UPLINK_LINES: &[&str] = &[
    "netns add upstream",
    "link add up0 type veth peer up1 netns upstream",
    "-n upstream addr add 203.0.113.2/24 dev up1",
    "-n upstream link set up1 up",
    "-n upstream link set lo up",
    "addr add 203.0.113.1/24 dev up0",
    "link set up0 up",
    "route add default via 203.0.113.2",
];

pub const HOST_UPLINK_ADDRESS: &str = "203.0.113.1";
pub const UPSTREAM_ADDRESS: &str = "203.0.113.2";
/// Where upstream's echo server listens.
pub const UPSTREAM_PORT: u16 = 7000;

pub const MASQUERADE_VIA_UPLINK: &str = "nat add masquerade from 172.20.0.0/16 oif up0";
pub const MASQUERADE_ANYWHERE: &str = "nat add masquerade from 172.20.0.0/16";
pub const PORT_FORWARD: &str = "nat add dnat proto tcp dport 8080 iif up0 to 172.20.0.11:80";

/// The test's own rule in iptables' `ip nat` table, in a prefix none of the traffic uses.
pub const FOREIGN_RULE: &[&str] = &[
    "iptables",
    "-t",
    "nat",
    "-A",
    "POSTROUTING",
    "-s",
    "198.51.100.0/24",
    "-j",
    "MASQUERADE",
];

// ---- the world ----

/// The iptables rule of the test's own, added before nsfleet's first NAT call.
pub struct ForeignRule {
    iptables_before: String,
    /// iptables-nft keeps its rules in nft's `table ip nat`; iptables-legacy does not show in nft.
    in_nft: bool,
}

impl ForeignRule {
    pub fn install(host: &SimHost) -> ForeignRule {
        assert_nsfleet_table(host, false);
        host.run_ok("", FOREIGN_RULE);
        let iptables_before = host.iptables_nat();
        assert!(
            iptables_before.contains("-A POSTROUTING -s 198.51.100.0/24 -j MASQUERADE"),
            "{}: iptables -t nat -S should show the test's rule:\n{iptables_before}",
            host.label()
        );
        let in_nft = host.run_ok("", &["iptables", "-V"]).contains("nf_tables");
        ForeignRule {
            iptables_before,
            in_nft,
        }
    }

    pub fn assert_untouched(&self, host: &SimHost) {
        assert_eq!(
            host.iptables_nat(),
            self.iptables_before,
            "{}: iptables -t nat -S changed",
            host.label()
        );
        let tables = host.nft_tables();
        assert!(
            !self.in_nft || tables.iter().any(|table| table == "table ip nat"),
            "{}: iptables' table ip nat is gone: {tables:?}",
            host.label()
        );
    }
}

/// The tutorial plus the uplink on `count` hosts, each with its foreign rule; checks the tutorial's
/// connectivity (all but the internet).
pub fn tutorial_with_uplink(count: usize) -> (Lab, Vec<ForeignRule>) {
    let lab = Lab::start(count);
    let hosts = lab.hosts();
    let foreign = hosts
        .iter()
        .map(|host| ForeignRule::install(host))
        .collect();
    lab.run_lines(&tutorial_lines());
    lab.run_lines(UPLINK_LINES);
    for host in &hosts {
        assert_reaches(&[host], "", "172.20.0.11", None);
        assert_reaches(&[host], "netns1", "172.20.0.12", None);
        assert_reaches(&[host], "netns2", "172.20.0.10", None);
        assert_reaches(&[host], "", UPSTREAM_ADDRESS, None);
        assert_eq!(
            host.sysctl("", "net/ipv4/ip_forward"),
            "1",
            "{}",
            host.label()
        );
        let upstream_routes = host.ip_routes("upstream");
        assert!(
            upstream_routes
                .iter()
                .all(|route| route["dst"] == "203.0.113.0/24"),
            "{}: upstream must have no way back to 172.20.0.0/16: {upstream_routes:#?}",
            host.label()
        );
    }
    (lab, foreign)
}

/// Only the uplink (for the interface rules name): the bad-input tests need no traffic.
pub fn uplink_only() -> (Lab, Vec<ForeignRule>) {
    let lab = Lab::start(1);
    let foreign = vec![ForeignRule::install(lab.host(0))];
    lab.run_lines(UPLINK_LINES);
    (lab, foreign)
}

pub fn assert_bridge_netfilter_on(host: &SimHost) {
    assert_eq!(
        host.sysctl("", "net/bridge/bridge-nf-call-iptables"),
        "1",
        "{}: br_netfilter should hand bridged IPv4 to iptables/nft in a new namespace",
        host.label()
    );
}

// ---- nsfleet ----

pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

pub fn rule_id(added: &CliRun) -> String {
    added.result()["rule"]["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| panic!("no rule id\n{added}"))
        .to_string()
}

pub fn list_rules(host: &SimHost) -> Vec<Value> {
    let listed = host.cli("nat list");
    listed.result()["rules"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no rules array\n{listed}"))
}

pub fn rule_by_id<'a>(rules: &'a [Value], id: &str) -> &'a Value {
    rules
        .iter()
        .find(|rule| rule["id"] == id)
        .unwrap_or_else(|| panic!("no rule {id} in {rules:#?}"))
}

/// (packets, bytes) per rule id.
pub fn counters(rules: &[Value]) -> HashMap<String, (u64, u64)> {
    rules
        .iter()
        .map(|rule| {
            let count = |key: &str| {
                rule[key]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no numeric {key} in {rule:#}"))
            };
            (
                rule["id"].as_str().unwrap_or_default().to_string(),
                (count("packets"), count("bytes")),
            )
        })
        .collect()
}

// ---- the oracle ----

/// `nft list tables` shows `inet nsfleet` exactly when nsfleet should have rules.
pub fn assert_nsfleet_table(host: &SimHost, present: bool) {
    let tables = host.nft_tables();
    assert_eq!(
        tables.iter().any(|table| table == NSFLEET_TABLE),
        present,
        "{}: nft list tables: {tables:?}",
        host.label()
    );
}

pub fn nft_comment(rule: &Value) -> &str {
    rule["comment"].as_str().unwrap_or_default()
}

/// Every listed rule's counters equal those nft shows on the rule tagged with its id.
pub fn assert_same_counters_as_nft(host: &SimHost, listed: &[Value]) {
    let in_nft = host.nsfleet_table_rules();
    for rule in listed {
        let id = rule["id"].as_str().unwrap_or_default();
        let nft_rule = in_nft
            .iter()
            .find(|nft_rule| nft_comment(nft_rule).starts_with(&format!("nsfleet:{id}")))
            .unwrap_or_else(|| panic!("no nft rule tagged {id}: {in_nft:#?}"));
        let counter = nft_rule["expr"]
            .as_array()
            .and_then(|exprs| exprs.iter().find_map(|expr| expr.get("counter")))
            .unwrap_or_else(|| panic!("nft rule without a counter: {nft_rule:#}"));
        assert_eq!(
            (&rule["packets"], &rule["bytes"]),
            (&counter["packets"], &counter["bytes"]),
            "rule {id}: nat list vs nft\n{rule:#}\n{nft_rule:#}"
        );
    }
}

pub fn answer(label: &str, peer: &str) -> Answer {
    Answer {
        label: label.to_string(),
        peer: peer.to_string(),
    }
}

pub fn poll_answer(what: &str, mut ask: impl FnMut() -> Result<Answer, Finished>) -> Answer {
    poll_until(what, SETTLE, || ask().map_err(|failed| failed.to_string()))
}

pub fn expect_no_answer(attempt: Result<Answer, Finished>, what: &str) {
    if let Ok(answer) = attempt {
        panic!("{what}: expected no answer (within {ATTEMPT_TIMEOUT:?}), got {answer}");
    }
}

/// One nsfleet ping and one real ping, each `-c 1 -W 1`, get no reply.
pub fn assert_cannot_reach(host: &SimHost, netns: &str, target: &str) {
    let run = nsfleet_ping(host, netns, target);
    assert!(
        run.exit_code() == Some(1) && run.ping_replies(0) == 0,
        "{}: {netns:?} -> {target}: nsfleet ping should get no reply\n{run}",
        host.label()
    );
    let ping = host.ping(netns, target, None);
    assert!(
        !ping.success(),
        "{}: {netns:?} -> {target}: ping should get no reply\n{ping}",
        host.label()
    );
}

/// Adds a rule for 198.51.100.0/24 to nsfleet's own postrouting chain with `nft`, behind the agent's back:
/// a rule nsfleet did not make, so it must never list it as its own, delete or flush it.
pub fn add_rule_by_hand(host: &SimHost, action: &[&str], comment: &str) {
    let comment = format!("\"{comment}\"");
    let mut argv = vec![
        "nft",
        "add",
        "rule",
        "inet",
        "nsfleet",
        "postrouting",
        "ip",
        "saddr",
        "198.51.100.0/24",
    ];
    argv.extend(action);
    argv.extend(["comment", comment.as_str()]);
    host.run_ok("", &argv);
}

pub fn nsfleet_ping(host: &SimHost, netns: &str, target: &str) -> CliRun {
    host.cli_in(netns, &format!("ping {target} -c 1 -W 1"))
}
