//! Bad input: each is refused with its status, and neither nft nor iptables changes.

use serde_json::Value;

use nsfleet_tests::SimHost;

use super::world::*;

/// What a bad command line must end in.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// Exit 2 from the CLI's own parser, before any agent is asked.
    Usage,
    /// Exit 1 with this gRPC code from the agent.
    Status(&'static str),
}

#[test]
fn malformed_values_are_usage_errors_that_reach_no_agent() {
    let (lab, foreign) = uplink_only();
    let host = lab.host(0);
    let cases: &[&str] = &[
        "nat add masquerade from 172.20.0/16 oif up0",
        "nat add masquerade from 172.20.0.0/x oif up0",
        "nat add masquerade from 172.20.0.0/33 oif up0",
        "nat add snat from 172.20.0.0/-1 oif up0 to 203.0.113.1",
        "nat add dnat proto tcp dport 0 to 172.20.0.11",
        "nat add dnat proto tcp dport 65536 to 172.20.0.11",
        "nat add dnat proto tcp dport 80-65536 to 172.20.0.11",
        "nat add dnat proto tcp dport 8080 to 172.20.0.11:0",
        "nat add dnat proto tcp dport 8080 to 172.20.0.11:65536",
        // NAT rules take tcp and udp only; the CLI has no way to send another protocol to the agent.
        "nat add dnat proto icmp dport 80 to 172.20.0.11",
        "nat add dnat proto sctp dport 80 to 172.20.0.11",
    ];
    for_table_absent_and_present(host, |host| {
        for line in cases {
            assert_refused(host, &words(line), Refusal::Usage, "");
        }
    });
    foreign[0].assert_untouched(host);
}

/// The CLI refuses it itself; the agent's own refusal stays pinned in service/validate/tests.rs.
#[test]
fn a_reversed_port_range_is_a_usage_error() {
    let (lab, foreign) = uplink_only();
    let host = lab.host(0);
    for_table_absent_and_present(host, |host| {
        for line in [
            "nat add dnat proto tcp dport 90-80 to 172.20.0.11",
            "nat add dnat proto udp dport 90-80 iif up0 to 172.20.0.11:9000",
        ] {
            assert_refused(host, &words(line), Refusal::Usage, "");
        }
    });
    foreign[0].assert_untouched(host);
}

#[test]
fn an_unknown_interface_is_not_found() {
    let (lab, foreign) = uplink_only();
    let host = lab.host(0);
    for_table_absent_and_present(host, |host| {
        for line in [
            "nat add masquerade from 172.20.0.0/16 oif nosuch0",
            "nat add snat from 172.20.0.0/16 oif nosuch0 to 203.0.113.1",
            "nat add dnat proto tcp dport 8080 iif nosuch0 to 172.20.0.11:80",
        ] {
            assert_refused(host, &words(line), Refusal::Status("NOT_FOUND"), "nosuch0");
        }
    });
    foreign[0].assert_untouched(host);
}

#[test]
fn deleting_a_rule_nsfleet_does_not_own_is_not_found() {
    let (lab, foreign) = uplink_only();
    let host = lab.host(0);
    let unknown_ids = ["0123456789ab", "not-an-id"];
    for id in unknown_ids {
        assert_refused(host, &["nat", "del", id], Refusal::Status("NOT_FOUND"), id);
    }

    let added = host.cli(MASQUERADE_VIA_UPLINK);
    let id = rule_id(&added);
    // A rule made by hand inside nsfleet's table: not nsfleet's, so never listed, deleted or flushed
    // away with the table.
    add_rule_by_hand(host, &["counter"], "hand-made");
    assert_eq!(
        list_rules(host)
            .iter()
            .map(|rule| rule["id"].clone())
            .collect::<Vec<_>>(),
        [Value::from(id.as_str())],
        "nat list must not show the hand-made rule"
    );
    for bad in unknown_ids.into_iter().chain(["hand-made"]) {
        assert_refused(
            host,
            &["nat", "del", bad],
            Refusal::Status("NOT_FOUND"),
            bad,
        );
    }

    host.cli(&format!("nat del {id}")).result();
    assert_refused(
        host,
        &["nat", "del", &id],
        Refusal::Status("NOT_FOUND"),
        &id,
    );
    let left = host.nsfleet_table_rules();
    assert_eq!(left.len(), 1, "the hand-made rule stays: {left:#?}");
    assert_eq!(nft_comment(&left[0]), "hand-made");
    assert!(list_rules(host).is_empty());
    foreign[0].assert_untouched(host);
}

#[test]
fn comments_over_107_bytes_or_with_a_double_quote_are_invalid_argument() {
    let (lab, foreign) = uplink_only();
    let host = lab.host(0);
    let too_long_ascii = "x".repeat(108);
    // 54 characters but 108 bytes: the limit is nft's, in bytes.
    let too_long_bytes = "é".repeat(54);
    let quoted = "the \"uplink\"".to_string();
    for_table_absent_and_present(host, |host| {
        for comment in [&too_long_ascii, &too_long_bytes, &quoted] {
            let line = [
                "nat",
                "add",
                "dnat",
                "proto",
                "udp",
                "dport",
                "5000",
                "to",
                "172.20.0.12",
                "comment",
                comment,
            ];
            assert_refused(host, &line, Refusal::Status("INVALID_ARGUMENT"), "comment");
        }
    });

    // The limit itself fits, and comes back as given.
    let longest = format!("{}é", "y".repeat(105));
    assert_eq!(longest.len(), 107);
    let added = host.cli_args(&[
        "nat",
        "add",
        "dnat",
        "proto",
        "udp",
        "dport",
        "5000",
        "to",
        "172.20.0.12",
        "comment",
        &longest,
    ]);
    assert_eq!(
        added.result()["rule"]["comment"],
        longest.as_str(),
        "{added}"
    );
    let listed = list_rules(host);
    assert_eq!(
        rule_by_id(&listed, &rule_id(&added))["comment"],
        longest.as_str()
    );
    foreign[0].assert_untouched(host);
}

/// Runs the bad `words`, expecting `refusal` (with `mentions` in the agent's message), and checks that
/// nsfleet's table (or its absence) and iptables' rules are exactly as before.
fn assert_refused(host: &SimHost, words: &[&str], refusal: Refusal, mentions: &str) {
    let table_before = host.nsfleet_table();
    let iptables_before = host.iptables_nat();
    let run = host.cli_args(words);
    match refusal {
        Refusal::Usage => {
            assert_eq!(run.exit_code(), Some(2), "expected a usage error\n{run}");
            assert!(run.lines.is_empty(), "a usage error asks no host\n{run}");
            assert!(run.stderr().starts_with("nsfleet: "), "{run}");
        }
        Refusal::Status(code) => {
            let error = run.error(code);
            let message = error["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(mentions),
                "the message should mention {mentions:?}\n{run}"
            );
        }
    }
    assert_eq!(
        host.nsfleet_table(),
        table_before,
        "{}: nft table inet nsfleet changed after a refused `{}`",
        host.label(),
        words.join(" ")
    );
    assert_eq!(
        host.iptables_nat(),
        iptables_before,
        "after `{}`",
        words.join(" ")
    );
}

/// Runs `check` with nsfleet's table absent, then with one rule of nsfleet's in it (removed again).
fn for_table_absent_and_present(host: &SimHost, check: impl Fn(&SimHost)) {
    assert_nsfleet_table(host, false);
    check(host);
    assert_nsfleet_table(host, false);
    let added = host.cli(MASQUERADE_VIA_UPLINK);
    check(host);
    assert_eq!(list_rules(host).len(), 1);
    host.cli(&format!("nat del {}", rule_id(&added))).result();
    assert_nsfleet_table(host, false);
}
