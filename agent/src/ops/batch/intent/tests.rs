use super::*;
use crate::ops::route::RouteRequest;

fn named(name: &str) -> NamespaceRef {
    NamespaceRef::parse("n", name).expect("a valid name")
}

fn link(name: &str) -> LinkName {
    LinkName::parse("l", name).expect("a valid name")
}

fn prefix(text: &str) -> IpPrefix {
    let (address, len) = text.split_once('/').expect("a prefix");
    IpPrefix::parse("a", address, "l", len.parse().expect("a length")).expect("a valid prefix")
}

/// Every undo step a batch can record, written to JSON and read back, is the same step.
#[test]
fn every_undo_step_survives_the_record() {
    let steps = vec![
        Undo::Nothing,
        Undo::DeleteNamespace(NamespaceName::parse("n", "ns1").expect("valid")),
        Undo::DeleteLink {
            namespace: NamespaceRef::Host,
            name: link("veth1"),
        },
        Undo::SetLink {
            namespace: named("ns1"),
            name: link("eth0"),
            change: SetLink {
                up: Some(false),
                mtu: Some(1500),
                mac: Some("02:00:00:00:00:01".parse().expect("a MAC")),
                master: Some(MasterChange::Release),
                move_to: Some(NamespaceRef::Host),
            },
        },
        Undo::SetLink {
            namespace: NamespaceRef::Host,
            name: link("veth1"),
            change: SetLink {
                master: Some(MasterChange::Set(link("br0"))),
                ..SetLink::default()
            },
        },
        Undo::DeleteAddress {
            namespace: named("ns1"),
            link: link("eth0"),
            prefix: prefix("172.20.0.10/16"),
        },
        Undo::DeleteRoute(RouteRequest {
            namespace: named("ns1"),
            destination: prefix("0.0.0.0/0"),
            gateway: Some("172.20.0.1".parse().expect("an address")),
            device: Some(link("eth0")),
            metric: Some(10),
            table: Some(254),
            scope: Some(Scope::Global),
            source: None,
            marked: false,
        }),
        Undo::SetForwarding {
            namespace: NamespaceRef::Host,
            family: Family::V6,
            enabled: false,
        },
        Undo::DeleteNatRule {
            namespace: NamespaceRef::Host,
            id: "0123456789ab".into(),
        },
    ];
    for step in steps {
        let record = UndoRecord::from_undo(&step);
        let json = serde_json::to_value(&record).expect("serializable");
        let read: UndoRecord = serde_json::from_value(json).expect("readable");
        assert_eq!(read, record);
        let back = read.to_undo().expect("valid names");
        assert_eq!(format!("{back:?}"), format!("{step:?}"));
    }
}

#[test]
fn a_record_with_a_name_the_api_would_refuse_is_refused() {
    let record = UndoRecord::DeleteLink {
        namespace: String::new(),
        name: "far-too-long-for-a-link".into(),
        namespace_cookie: None,
        ifindex: None,
    };
    let error = record.to_undo().expect_err("an invalid link name");
    assert_eq!(error.field, "name");
}

#[test]
fn unknown_fields_and_kinds_are_refused() {
    let extra = serde_json::json!({"entry": "undone", "op": 1, "more": true});
    assert!(serde_json::from_value::<Entry>(extra).is_err());
    let kind = serde_json::json!({"entry": "after", "op": 1, "undo": {"kind": "format_disk"}});
    assert!(serde_json::from_value::<Entry>(kind).is_err());
}

#[test]
fn a_replaced_route_is_restored_exactly_from_its_record() {
    let step = Undo::RestoreRoute {
        namespace: named("ns1"),
        previous: crate::kernel::route::Route {
            destination: prefix("10.0.0.0/8"),
            gateway: Some("192.0.2.1".parse().expect("an address")),
            device_index: Some(7),
            metric: Some(20),
            table: 254,
            scope: Scope::Global,
            protocol: crate::kernel::route::RouteProtocol::from(211),
            kind: crate::kernel::route::RouteType::Unicast,
            source: Some("192.0.2.9".parse().expect("an address")),
            flags: Vec::new(),
        },
    };
    let record = UndoRecord::from_undo(&step);
    let json = serde_json::to_value(&record).expect("serializable");
    let read: UndoRecord = serde_json::from_value(json).expect("readable");
    let back = read.to_undo().expect("valid fields");
    assert_eq!(format!("{back:?}"), format!("{step:?}"));
}

fn create_namespace(name: &str) -> Operation {
    Operation::CreateNamespace(NamespaceName::parse("n", name).expect("valid"))
}

fn veth(host_end: &str, peer: &str, peer_namespace: &str) -> Operation {
    Operation::CreateLink(crate::ops::link::CreateLink {
        namespace: NamespaceRef::Host,
        name: link(host_end),
        kind: LinkKindSpec::Veth {
            peer: link(peer),
            peer_namespace: named(peer_namespace),
        },
        mtu: None,
        marker: None,
    })
}

fn set_link(namespace: NamespaceRef, name: &str, change: SetLink) -> Operation {
    Operation::SetLink {
        namespace,
        name: link(name),
        change,
    }
}

#[test]
fn what_acts_only_inside_a_new_namespace_or_on_a_new_link_needs_no_entries() {
    let mut created = Created::default();
    let up = SetLink {
        up: Some(true),
        ..SetLink::default()
    };
    let in_a = set_link(named("a"), "lo", up.clone());
    assert!(!created.covers(&in_a), "a is not the batch's yet");
    created.note(&create_namespace("a"), true);
    assert!(created.covers(&in_a));

    let port = set_link(NamespaceRef::Host, "va", up.clone());
    let new_veth = veth("va", "eth0", "a");
    assert!(!created.covers(&new_veth), "its host end is outside a");
    assert!(!created.covers(&port));
    created.note(&new_veth, true);
    assert!(created.covers(&port), "va is the batch's now");
    assert!(created.covers(&set_link(named("a"), "eth0", up.clone())));
}

#[test]
fn what_existed_before_moved_away_or_was_deleted_is_not_covered() {
    let mut created = Created::default();
    created.note(&create_namespace("old"), false);
    let up = SetLink {
        up: Some(true),
        ..SetLink::default()
    };
    assert!(
        !created.covers(&set_link(named("old"), "lo", up.clone())),
        "an unchanged create is not the batch's namespace"
    );

    created.note(&veth("vb", "eth0", "old"), true);
    let away = SetLink {
        move_to: Some(named("other")),
        ..SetLink::default()
    };
    assert!(!created.covers(&set_link(NamespaceRef::Host, "vb", away.clone())));
    created.note(&set_link(NamespaceRef::Host, "vb", away), true);
    assert!(!created.covers(&set_link(NamespaceRef::Host, "vb", up.clone())));

    created.note(&create_namespace("gone"), true);
    created.note(
        &Operation::DeleteNamespace {
            name: NamespaceName::parse("n", "gone").expect("valid"),
            ignore_missing: false,
        },
        true,
    );
    assert!(!created.covers(&set_link(named("gone"), "lo", up)));
}
