//! `nat list` reports what happened to nsfleet's table behind its back: the table deleted, or rules in
//! it that nsfleet did not make.

use nsfleet_tests::Nsfleet;

use super::world::*;

#[test]
fn nat_list_says_the_table_is_missing_after_someone_deletes_it() {
    let (lab, foreign) = uplink_only();
    let host = lab.host(0);
    rule_id(&host.cli(PORT_FORWARD));
    let listed = host.cli("nat list");
    assert_eq!(listed.result()["table_missing"], false, "{listed}");

    host.run_ok("", &["nft", "delete", "table", "inet", "nsfleet"]);
    let listed = host.cli("nat list");
    assert_eq!(listed.result()["table_missing"], true, "{listed}");
    assert_eq!(listed.result()["rules"], serde_json::json!([]), "{listed}");
    let text = Nsfleet::on(host).line("nat list").text().run();
    assert!(
        text.stdout()
            .starts_with("warning: table inet nsfleet does not exist here"),
        "{text}"
    );
    foreign[0].assert_untouched(host);
}

#[test]
fn a_rule_added_by_hand_to_nsfleets_table_is_reported_as_foreign() {
    let (lab, foreign) = uplink_only();
    let host = lab.host(0);
    let ours = rule_id(&host.cli(MASQUERADE_VIA_UPLINK));
    add_rule_by_hand(host, &["counter", "masquerade"], "by hand");
    let by_hand = host
        .nsfleet_table_rules()
        .into_iter()
        .find(|rule| nft_comment(rule) == "by hand")
        .expect("the hand-made rule in nft");

    let listed = host.cli("nat list");
    let result = listed.result();
    let rules = result["rules"].as_array().cloned().unwrap_or_default();
    assert_eq!(rules.len(), 1, "{listed}");
    assert_eq!(rules[0]["id"], ours.as_str(), "{listed}");
    assert_eq!(result["table_missing"], false, "{listed}");
    let foreign_rules = result["foreign_rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(foreign_rules.len(), 1, "{listed}");
    assert_eq!(foreign_rules[0]["chain"], "postrouting", "{listed}");
    assert_eq!(foreign_rules[0]["comment"], "by hand", "{listed}");
    assert_eq!(foreign_rules[0]["handle"], by_hand["handle"], "{listed}");

    let text = Nsfleet::on(host).line("nat list").text().run();
    assert!(
        text.stdout().starts_with(&format!(
            "warning: rule handle {} in chain \"postrouting\" of table inet nsfleet is not nsfleet's",
            by_hand["handle"]
        )),
        "{text}"
    );
    assert!(
        text.stdout().contains(&format!("{ours}: ipv4 masquerade")),
        "{text}"
    );
    foreign[0].assert_untouched(host);
}
