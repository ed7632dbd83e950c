//! The rule lifecycle against the real kernel, checked against nft's own listing.

use super::netns::{nft_rules_of_nsfleet_table, sh, NetnsThread};
use crate::nat::{
    IpPrefix, NatBackend, NatError, NatProtocol, NatRuleSpec, NftBackend, PortRange,
    MAX_COMMENT_BYTES,
};

fn prefix(addr: &str, len: u8) -> IpPrefix {
    IpPrefix::new(addr.parse().unwrap(), len)
}

/// Every kind in both families, with and without the optional fields.
fn every_kind() -> Vec<NatRuleSpec> {
    vec![
        NatRuleSpec::Masquerade {
            source: prefix("172.20.0.0", 16),
            output_interface: Some("veth-up0".into()),
        },
        NatRuleSpec::Masquerade {
            source: prefix("192.0.2.9", 32),
            output_interface: None,
        },
        NatRuleSpec::Masquerade {
            source: prefix("::", 0),
            output_interface: None,
        },
        NatRuleSpec::Snat {
            source: prefix("172.20.0.0", 24),
            output_interface: "br0".into(),
            to_address: "198.51.100.1".parse().unwrap(),
        },
        NatRuleSpec::Snat {
            source: prefix("2001:db8:1::", 64),
            output_interface: "br0".into(),
            to_address: "2001:db8:ff::1".parse().unwrap(),
        },
        NatRuleSpec::Dnat {
            protocol: NatProtocol::Tcp,
            ports: PortRange::single(8080),
            input_interface: Some("eth0".into()),
            destination: Some("203.0.113.5".parse().unwrap()),
            to_address: "172.20.0.2".parse().unwrap(),
            to_port: Some(80),
        },
        NatRuleSpec::Dnat {
            protocol: NatProtocol::Tcp,
            ports: PortRange {
                first: 9000,
                last: 9099,
            },
            input_interface: None,
            destination: None,
            to_address: "172.20.0.3".parse().unwrap(),
            to_port: None,
        },
        NatRuleSpec::Dnat {
            protocol: NatProtocol::Udp,
            ports: PortRange {
                first: 5000,
                last: 5003,
            },
            input_interface: None,
            destination: Some("2001:db8::5".parse().unwrap()),
            to_address: "2001:db8::2".parse().unwrap(),
            to_port: Some(6000),
        },
    ]
}

fn comment_of_oracle_rule(rule: &serde_json::Value) -> &str {
    rule["comment"].as_str().unwrap_or_default()
}

#[test]
fn nat_rules_round_trip_through_libnftables() {
    let through = NetnsThread::new().run(|| crate::nat::nft_available().unwrap());
    assert!(
        through.contains("libnftables"),
        "libnftables1 comes with nftables, but the agent would use {through}"
    );
    rules_round_trip_through_the_kernel(NftBackend::new);
}

#[test]
fn nat_rules_round_trip_through_the_nft_command() {
    rules_round_trip_through_the_kernel(|| NftBackend::with_program("nft"));
}

fn rules_round_trip_through_the_kernel(backend: fn() -> NftBackend) {
    let namespace = NetnsThread::new();
    namespace.run(move || {
        let backend = backend();
        assert_eq!(
            backend.list().unwrap(),
            vec![],
            "a new namespace has no table"
        );
        let specs = every_kind();

        for (n, spec) in specs.iter().enumerate() {
            let added = backend.add(spec, &format!("rule {n}")).unwrap();
            assert!(added.changed, "{spec}");
            assert_eq!(added.rule.id, spec.id());
            assert_eq!(added.rule.spec, *spec);
            assert_eq!(
                nft_rules_of_nsfleet_table().unwrap().len(),
                n + 1,
                "one nft rule per add"
            );
        }

        let listed = backend.list().unwrap();
        assert_eq!(listed.len(), specs.len());
        for (n, spec) in specs.iter().enumerate() {
            let rule = listed
                .iter()
                .find(|rule| rule.id == spec.id())
                .unwrap_or_else(|| panic!("{spec} not listed"));
            assert_eq!(rule.spec, *spec, "read back from nft");
            assert_eq!(rule.comment, format!("rule {n}"));
            assert_eq!((rule.packets, rule.bytes), (0, 0));
        }

        // nft's own view: our comment tag, a counter on every rule, each kind in its chain.
        for rule in nft_rules_of_nsfleet_table().unwrap() {
            let comment = comment_of_oracle_rule(&rule);
            let spec = specs
                .iter()
                .find(|spec| comment.starts_with(&format!("nsfleet:{} rule ", spec.id())))
                .unwrap_or_else(|| panic!("unexpected comment {comment:?}"));
            let expected_chain = match spec {
                NatRuleSpec::Dnat { .. } => "prerouting",
                _ => "postrouting",
            };
            assert_eq!(rule["chain"], expected_chain);
            let statements = rule["expr"].as_array().unwrap();
            assert!(
                statements.iter().any(|s| s.get("counter").is_some()),
                "no counter in {rule}"
            );
        }
        let chains = sh("nft list table inet nsfleet");
        assert!(
            chains.contains("type nat hook postrouting priority srcnat; policy accept;"),
            "{chains}"
        );
        assert!(
            chains.contains("type nat hook prerouting priority dstnat; policy accept;"),
            "{chains}"
        );

        // Re-adding is recognised whatever the comment, and adds nothing.
        for (n, spec) in specs.iter().enumerate() {
            let again = backend.add(spec, "another comment").unwrap();
            assert!(!again.changed, "{spec}");
            assert_eq!(again.rule.id, spec.id());
            assert_eq!(
                again.rule.comment,
                format!("rule {n}"),
                "the existing rule comes back"
            );
        }
        let same_with_host_bits = NatRuleSpec::Masquerade {
            source: prefix("172.20.77.1", 16),
            output_interface: Some("veth-up0".into()),
        };
        assert!(!backend.add(&same_with_host_bits, "").unwrap().changed);
        assert_eq!(
            nft_rules_of_nsfleet_table().unwrap().len(),
            specs.len(),
            "no duplicates"
        );

        for (deleted, spec) in specs.iter().enumerate() {
            let outcome = backend.delete(&spec.id()).unwrap();
            assert!(outcome.changed);
            assert!(
                outcome.conntrack_error.is_none(),
                "{:?}",
                outcome.conntrack_error
            );
            let remaining = specs.len() - deleted - 1;
            assert_eq!(backend.list().unwrap().len(), remaining);
            match nft_rules_of_nsfleet_table() {
                Some(rules) => assert_eq!(rules.len(), remaining),
                None => assert_eq!(remaining, 0, "the table went away early"),
            }
        }
        assert!(
            nft_rules_of_nsfleet_table().is_none(),
            "deleting the last rule deletes the table"
        );

        match backend.delete(&specs[0].id()) {
            Err(NatError::NotFound { id }) => assert_eq!(id, specs[0].id()),
            other => panic!("expected NotFound, got {other:?}"),
        }
    });
}

#[test]
fn nat_add_recreates_a_base_chain_deleted_by_hand() {
    let namespace = NetnsThread::new();
    namespace.run(|| {
        let backend = NftBackend::new();
        let specs = every_kind();
        backend.add(&specs[0], "").unwrap();
        sh("nft delete chain inet nsfleet prerouting");
        let dnat = &specs[5];
        assert!(backend.add(dnat, "").unwrap().changed);
        let listed = backend.list().unwrap();
        assert_eq!(listed.len(), 2, "{listed:?}");
        let table = sh("nft list table inet nsfleet");
        assert!(
            table.contains("type nat hook prerouting priority dstnat; policy accept;"),
            "{table}"
        );
    });
}

#[test]
fn nat_leaves_iptables_rules_and_foreign_tables_alone() {
    let namespace = NetnsThread::new();
    namespace.run(|| {
        sh("iptables -t nat -A POSTROUTING -s 198.51.100.0/24 -j MASQUERADE");
        // A foreign rule wearing our comment tag: only table inet nsfleet is ours.
        sh(r#"nft add table inet foreign
              nft add chain inet foreign forward '{ type filter hook forward priority 0; policy accept; }'
              nft add rule inet foreign forward ip saddr 203.0.113.0/24 counter accept comment '"nsfleet:0123456789ab mimic"'"#);
        let snapshot = || {
            (
                sh("iptables -t nat -S"),
                sh("nft -j list table ip nat"),
                sh("nft -j list table inet foreign"),
            )
        };
        let before = snapshot();
        assert!(before.0.contains("-A POSTROUTING -s 198.51.100.0/24 -j MASQUERADE"), "{}", before.0);

        let backend = NftBackend::new();
        let specs = every_kind();
        for spec in &specs[..3] {
            backend.add(spec, "").unwrap();
        }
        assert_eq!(backend.list().unwrap().len(), 3, "only nsfleet's own rules are listed");
        assert!(matches!(backend.delete("0123456789ab"), Err(NatError::NotFound { .. })));
        for spec in &specs[..3] {
            backend.delete(&spec.id()).unwrap();
        }
        assert!(nft_rules_of_nsfleet_table().is_none());
        assert!(backend.list().unwrap().is_empty());

        assert_eq!(snapshot(), before, "foreign rules changed");
    });
}

#[test]
fn nat_rejects_invalid_requests_before_touching_nft() {
    let namespace = NetnsThread::new();
    namespace.run(|| {
        let backend = NftBackend::new();
        let bad_prefix = NatRuleSpec::Masquerade {
            source: prefix("172.20.0.0", 40),
            output_interface: None,
        };
        assert!(matches!(
            backend.add(&bad_prefix, ""),
            Err(NatError::Invalid {
                field: "source_prefix_len",
                ..
            })
        ));
        let mixed = NatRuleSpec::Snat {
            source: prefix("172.20.0.0", 16),
            output_interface: "eth0".into(),
            to_address: "2001:db8::1".parse().unwrap(),
        };
        assert!(matches!(
            backend.add(&mixed, ""),
            Err(NatError::Invalid {
                field: "to_address",
                ..
            })
        ));
        let fine = &every_kind()[0];
        let long_comment = "x".repeat(MAX_COMMENT_BYTES + 1);
        assert!(matches!(
            backend.add(fine, &long_comment),
            Err(NatError::Invalid {
                field: "comment",
                ..
            })
        ));
        assert!(
            nft_rules_of_nsfleet_table().is_none(),
            "an invalid request created the table"
        );

        // The longest comment allowed fits nft's budget and reads back whole.
        let longest = "é".repeat(MAX_COMMENT_BYTES / 2);
        backend.add(fine, &longest).unwrap();
        assert_eq!(backend.list().unwrap()[0].comment, longest);
        assert!(
            sh("nft list table inet nsfleet").contains(&longest),
            "text listing still works"
        );
    });
}

/// A rule edited by hand so that it no longer has nsfleet's shape: list skips it, add of the rule with
/// its id refuses to guess, delete still removes it.
#[test]
fn nat_hand_edited_rule_is_not_guessed_at() {
    let namespace = NetnsThread::new();
    namespace.run(|| {
        let backend = NftBackend::new();
        let spec = &every_kind()[0];
        backend.add(spec, "").unwrap();
        let id = spec.id();
        let handle = sh("nft -a list chain inet nsfleet postrouting")
            .lines()
            .find(|line| line.contains(&id))
            .and_then(|line| line.rsplit("handle ").next())
            .unwrap()
            .trim()
            .to_string();
        sh(&format!(
            r#"nft replace rule inet nsfleet postrouting handle {handle} ip saddr 172.20.0.0/16 counter accept comment '"nsfleet:{id} edited"'"#
        ));
        assert!(backend.list().unwrap().is_empty());
        assert!(matches!(backend.add(spec, ""), Err(NatError::Conflict { .. })));
        let outcome = backend.delete(&id).unwrap();
        assert!(outcome.changed);
        assert!(outcome.conntrack_error.is_some(), "nothing to flush by: the caller is told");
        assert!(nft_rules_of_nsfleet_table().is_none());
    });
}

#[test]
fn nat_nft_available_on_this_host() {
    NetnsThread::new().run(|| crate::nat::nft_available().unwrap());
}
