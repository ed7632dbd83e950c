//! NAT in batches: consecutive additions to one namespace are one nftables transaction, and a batch that
//! fails later takes them back, again in one. `nft monitor` counts the transactions: the kernel reports
//! each commit as a new ruleset generation.

use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

use nsfleet_tests::{CliRun, Nsfleet, SimHost};

use super::world::*;

const RULES: u16 = 120;
const FIRST_PORT: u16 = 20000;

fn forward_lines() -> String {
    (0..RULES)
        .map(|i| {
            format!(
                "nat add dnat proto tcp dport {} iif up0 to 172.20.0.11:80\n",
                FIRST_PORT + i
            )
        })
        .collect()
}

fn batch(host: &SimHost, lines: &str) -> CliRun {
    let file = host.dir().join("nat-batch.txt");
    std::fs::write(&file, lines).expect("write the batch file");
    Nsfleet::on(host)
        .args(["batch", file.to_str().expect("a UTF-8 path")])
        .run()
}

/// `nft monitor` inside the simulated host, killed on drop.
struct Monitor(Option<Child>);

impl Monitor {
    fn start(host: &SimHost) -> Monitor {
        let child = Command::new("nsenter")
            .arg("--target")
            .arg(host.pid().to_string())
            .args(["--net", "--", "nft", "monitor"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nft monitor");
        // Subscribing takes a moment; a commit before it would go uncounted.
        sleep(Duration::from_millis(500));
        Monitor(Some(child))
    }

    /// Ruleset generations committed since the start: one per transaction.
    fn transactions(mut self) -> usize {
        sleep(Duration::from_millis(300));
        let mut child = self.0.take().expect("monitor running");
        let _ = child.kill();
        let output = child.wait_with_output().expect("wait for nft monitor");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.starts_with("# new generation"))
            .count()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn nft_rules_with_port(host: &SimHost, port: u16) -> usize {
    host.nsfleet_table_rules()
        .iter()
        .filter(|rule| {
            nft_comment(rule).starts_with("nsfleet:")
                && rule["expr"]
                    .to_string()
                    .contains(&format!("\"right\":{port}}}"))
        })
        .count()
}

#[test]
fn a_batch_of_many_nat_rules_is_one_nft_transaction_and_every_rule_is_in_nft() {
    let (lab, foreign) = uplink_only();
    let host = lab.host(0);
    let monitor = Monitor::start(host);
    let run = batch(host, &forward_lines());
    let results = run.result()["results"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no results\n{run}"));
    assert_eq!(results.len(), usize::from(RULES), "{run}");
    assert!(
        results.iter().all(|result| result["changed"] == true),
        "{run}"
    );
    assert_eq!(
        monitor.transactions(),
        1,
        "{RULES} rules in one batch should be one nftables transaction"
    );

    for port in FIRST_PORT..FIRST_PORT + RULES {
        assert_eq!(nft_rules_with_port(host, port), 1, "dport {port} in nft");
    }
    let listed = list_rules(host);
    assert_eq!(listed.len(), usize::from(RULES));
    assert_same_counters_as_nft(host, &listed);

    // The same batch again finds every rule in place.
    let again = batch(host, &forward_lines());
    let results = again.result()["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        results.len() == usize::from(RULES) && results.iter().all(|r| r["changed"] == false),
        "{again}"
    );
    assert_eq!(list_rules(host).len(), usize::from(RULES));
    foreign[0].assert_untouched(host);
}

#[test]
fn a_batch_failing_after_its_nat_rules_leaves_no_rule_and_undoes_them_in_one_transaction() {
    let (lab, foreign) = uplink_only();
    let host = lab.host(0);
    let monitor = Monitor::start(host);
    // Valid on its own, so the batch is applied; it fails at the kernel, after every NAT rule.
    let lines = forward_lines() + "addr add 192.0.2.9/24 dev nosuch0\n";
    let run = batch(host, &lines);
    assert_eq!(run.exit_code(), Some(1), "{run}");
    assert!(
        run.stdout().contains(&format!("line {}", RULES + 1)),
        "the failure names the address line\n{run}"
    );
    assert_eq!(
        monitor.transactions(),
        2,
        "one transaction adds the rules, one takes them back"
    );
    assert_nsfleet_table(host, false);
    assert!(list_rules(host).is_empty());
    foreign[0].assert_untouched(host);
}

#[test]
fn a_batch_of_nat_deletions_is_one_nft_transaction_and_a_missing_rule_is_named() {
    let (lab, foreign) = uplink_only();
    let host = lab.host(0);
    let added = batch(host, &forward_lines());
    assert!(added.finished.success(), "{added}");
    let ids: Vec<String> = list_rules(host)
        .iter()
        .map(|rule| rule["id"].as_str().expect("a rule id").to_string())
        .collect();
    assert_eq!(ids.len(), usize::from(RULES));
    let deletions = |flags: &str| -> String {
        ids.iter()
            .map(|id| format!("nat del {id}{flags}\n"))
            .collect()
    };

    // Half of them first, so the table stays: the rest must be deleted by the second transaction.
    let half: String = deletions("")
        .lines()
        .take(ids.len() / 2)
        .map(|l| format!("{l}\n"))
        .collect();
    let monitor = Monitor::start(host);
    let run = batch(host, &half);
    let results = run.result()["results"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no results\n{run}"));
    assert!(
        results.len() == ids.len() / 2 && results.iter().all(|r| r["changed"] == true),
        "{run}"
    );
    assert_eq!(
        monitor.transactions(),
        1,
        "{} deletions in one batch should be one nftables transaction",
        ids.len() / 2
    );
    assert_eq!(list_rules(host).len(), ids.len() - ids.len() / 2);

    // A deletion of a rule already gone, without --ignore-missing, is NOT_FOUND for that line alone;
    // nothing else is deleted (the rest of the batch does not start).
    let run = batch(host, &deletions(""));
    assert!(!run.finished.success(), "{run}");
    let answer: serde_json::Value =
        serde_json::from_str(run.stdout().trim()).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(answer["error"]["code"], "NOT_FOUND", "{run}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("line 1: no NAT rule with id")),
        "{run}"
    );
    assert_eq!(list_rules(host).len(), ids.len() - ids.len() / 2, "{run}");

    // With --ignore-missing, the whole list is one transaction that deletes what is left.
    let monitor = Monitor::start(host);
    let run = batch(host, &deletions(" --ignore-missing"));
    assert!(run.finished.success(), "{run}");
    let results = run.result()["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let changed = results.iter().filter(|r| r["changed"] == true).count();
    assert_eq!(changed, ids.len() - ids.len() / 2, "{run}");
    assert_eq!(monitor.transactions(), 1, "one transaction for the rest");
    assert!(list_rules(host).is_empty());
    foreign[0].assert_untouched(host);
}
