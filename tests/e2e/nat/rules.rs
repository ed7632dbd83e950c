//! `nat list`, rule ids and idempotence.

use serde_json::Value;

use super::world::*;

#[test]
fn nat_list_shows_exactly_nsfleets_rules_with_counters_that_grow_with_traffic() {
    let (lab, foreign) = tutorial_with_uplink(1);
    let host = lab.host(0);
    let _upstream = host.start_peer_echo("upstream", UPSTREAM_PORT, "upstream");
    let _listener = host.start_peer_echo("netns1", 80, "netns1");

    let empty = host.cli("nat list");
    assert_eq!(empty.result()["rules"], serde_json::json!([]), "{empty}");

    let masquerade = host.cli_args(&[
        "nat",
        "add",
        "masquerade",
        "from",
        "172.20.0.0/16",
        "oif",
        "up0",
        "comment",
        "to the internet",
    ]);
    let masquerade_id = rule_id(&masquerade);
    let forward = host.cli(PORT_FORWARD);
    let forward_id = rule_id(&forward);
    assert_ne!(masquerade_id, forward_id);

    let listed = list_rules(host);
    let mut listed_ids: Vec<&str> = listed
        .iter()
        .filter_map(|rule| rule["id"].as_str())
        .collect();
    listed_ids.sort_unstable();
    let mut expected_ids = vec![masquerade_id.as_str(), forward_id.as_str()];
    expected_ids.sort_unstable();
    assert_eq!(
        listed_ids, expected_ids,
        "exactly nsfleet's two rules, not iptables' one: {listed:#?}"
    );
    let listed_masquerade = rule_by_id(&listed, &masquerade_id);
    assert_eq!(listed_masquerade["comment"], "to the internet");
    assert_eq!(
        listed_masquerade["masquerade"],
        masquerade.result()["rule"]["masquerade"]
    );
    assert_eq!(
        rule_by_id(&listed, &forward_id)["dnat"],
        forward.result()["rule"]["dnat"]
    );
    assert_same_counters_as_nft(host, &listed);

    let before = counters(&listed);
    poll_answer("TCP netns2 -> upstream", || {
        host.tcp_ask("netns2", UPSTREAM_ADDRESS, UPSTREAM_PORT)
    });
    poll_answer("TCP upstream -> 203.0.113.1:8080", || {
        host.tcp_ask("upstream", HOST_UPLINK_ADDRESS, 8080)
    });
    let after_traffic = list_rules(host);
    let after = counters(&after_traffic);
    for id in [&masquerade_id, &forward_id] {
        let (old, new) = (before[id.as_str()], after[id.as_str()]);
        assert!(
            new.0 > old.0 && new.1 > old.1,
            "rule {id}: packets/bytes should grow with a new connection: {old:?} -> {new:?}\n{after_traffic:#?}"
        );
    }
    assert_same_counters_as_nft(host, &after_traffic);

    // Deleting one rule keeps the table for the other; deleting the last removes it.
    host.cli(&format!("nat del {masquerade_id}")).result();
    let left = list_rules(host);
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(left[0]["id"], forward_id.as_str());
    assert_nsfleet_table(host, true);
    host.cli(&format!("nat del {forward_id}")).result();
    assert!(list_rules(host).is_empty());
    assert_nsfleet_table(host, false);
    foreign[0].assert_untouched(host);
}

#[test]
fn re_adding_an_identical_rule_changes_nothing_and_keeps_its_id() {
    let (lab, foreign) = tutorial_with_uplink(1);
    let host = lab.host(0);

    for (line, same_rule_spelled_otherwise) in [
        (
            MASQUERADE_VIA_UPLINK,
            // Host bits in the prefix: the same network.
            "nat add masquerade from 172.20.7.9/16 oif up0",
        ),
        (PORT_FORWARD, PORT_FORWARD),
    ] {
        let first = host.cli(line);
        assert_eq!(first.result()["changed"], true, "{first}");
        let id = rule_id(&first);
        for again in [
            host.cli(line),
            host.cli(same_rule_spelled_otherwise),
            // The comment is not part of the match: still the same rule, which keeps its own comment.
            host.cli_args(
                &line
                    .split_whitespace()
                    .chain(["comment", "again"])
                    .collect::<Vec<_>>(),
            ),
        ] {
            assert_eq!(again.result()["changed"], false, "{again}");
            assert_eq!(rule_id(&again), id, "{again}");
            assert_eq!(again.result()["rule"]["comment"], "", "{again}");
        }
        let in_nft: Vec<Value> = host
            .nsfleet_table_rules()
            .into_iter()
            .filter(|rule| nft_comment(rule).starts_with(&format!("nsfleet:{id}")))
            .collect();
        assert_eq!(in_nft.len(), 1, "rule {id} once in nft: {in_nft:#?}");
    }
    assert_eq!(list_rules(host).len(), 2);
    assert_eq!(host.nsfleet_table_rules().len(), 2);
    foreign[0].assert_untouched(host);
}

#[test]
fn the_same_rule_gets_the_same_id_on_two_hosts() {
    let (lab, foreign) = tutorial_with_uplink(2);
    for line in [MASQUERADE_VIA_UPLINK, PORT_FORWARD] {
        let added = lab.cli(line);
        let results = added.results();
        let ids: Vec<&Value> = results.iter().map(|result| &result["rule"]["id"]).collect();
        assert!(ids[0].as_str().is_some_and(|id| !id.is_empty()), "{added}");
        assert_eq!(ids[0], ids[1], "one rule, one id on every host\n{added}");
        for host in lab.hosts() {
            let tagged = format!("nsfleet:{}", ids[0].as_str().unwrap_or_default());
            assert!(
                host.nsfleet_table_rules()
                    .iter()
                    .any(|rule| nft_comment(rule) == tagged),
                "{}: no nft rule commented {tagged:?}",
                host.label()
            );
        }
    }
    let listed = lab.cli("nat list");
    let per_host: Vec<Vec<&Value>> = listed
        .results()
        .iter()
        .map(|result| {
            result["rules"]
                .as_array()
                .map(|rules| rules.iter().map(|rule| &rule["id"]).collect())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(per_host[0], per_host[1], "{listed}");
    for (host, foreign) in lab.hosts().into_iter().zip(&foreign) {
        foreign.assert_untouched(host);
    }
}
