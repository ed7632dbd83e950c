use nsfleet_proto::v1::{
    nat_rule, AddressFamily, Dnat, Link, ListNatRulesResponse, ListNeighborsResponse, NatProtocol,
    NatRule, Neighbor, NeighborState, OperState, PingSummary, VethPeer, VethSpec,
};
use serde_json::{json, Value};

use super::*;

#[test]
fn every_named_message_has_a_descriptor() {
    for name in ALL_NAMES {
        let pool = pool_declaring(name).unwrap();
        assert!(pool.get_message_by_name(name).is_some(), "{name}");
    }
}

/// Every top-level message of the served set finds a pool that holds it and the same descriptor as the
/// whole set's (field by field, the types of message fields included), so mapping from the smaller
/// pool changes no output.
#[test]
fn each_message_finds_a_pool_with_its_whole_descriptor() {
    let whole = DescriptorPool::decode(nsfleet_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut checked = 0;
    for message in whole
        .all_messages()
        .filter(|message| message.parent_message().is_none())
    {
        let name: &'static str = message.full_name().to_owned().leak();
        let pool = pool_declaring(name).unwrap();
        let found = pool.get_message_by_name(name).unwrap();
        let shape = |message: &prost_reflect::MessageDescriptor| {
            message
                .fields()
                .map(|field| {
                    (
                        field.number(),
                        field.name().to_owned(),
                        format!("{:?}", field.kind()),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&found), shape(&message), "{name}");
        checked += 1;
    }
    assert!(checked > 50, "only {checked} messages");
}

/// The message as `-o json` writes it, read back as a `Value`.
fn value_of<M: ProtoMessage>(message: &M) -> Value {
    serde_json::to_value(to_json(message).unwrap()).unwrap()
}

fn sample_link() -> Link {
    Link {
        namespace: "netns1".into(),
        name: "ceth1".into(),
        index: 2,
        kind: "veth".into(),
        admin_up: true,
        oper_state: OperState::LowerLayerDown.into(),
        mtu: 1500,
        mac: "02:00:00:00:00:01".into(),
        master: String::new(),
        flags: vec!["BROADCAST".into(), "UP".into()],
        peer: None,
        vxlan: None,
    }
}

#[test]
fn link_fields_in_proto_order_with_enum_names_and_null_peer() {
    let value = value_of(&sample_link());
    assert_eq!(
        value,
        json!({
            "namespace": "netns1", "name": "ceth1", "index": 2, "kind": "veth", "admin_up": true,
            "oper_state": "lower_layer_down", "mtu": 1500, "mac": "02:00:00:00:00:01", "master": "",
            "flags": ["BROADCAST", "UP"], "peer": null, "vxlan": null
        })
    );
    // As written, not only as parsed: a `Value` compares objects whatever their order.
    let written = serde_json::to_string(&to_json(&sample_link()).unwrap()).unwrap();
    assert_eq!(
        written,
        concat!(
            r#"{"namespace":"netns1","name":"ceth1","index":2,"kind":"veth","admin_up":true,"#,
            r#""oper_state":"lower_layer_down","mtu":1500,"mac":"02:00:00:00:00:01","master":"","#,
            r#""flags":["BROADCAST","UP"],"peer":null,"vxlan":null}"#
        )
    );
}

#[test]
fn set_message_fields_are_objects() {
    let link = Link {
        peer: Some(VethPeer {
            index: 7,
            name: "veth1".into(),
            namespace: String::new(),
            known: true,
        }),
        vxlan: None,
        ..sample_link()
    };
    let value = value_of(&link);
    assert_eq!(
        value["peer"],
        json!({"index": 7, "name": "veth1", "namespace": "", "known": true})
    );
}

#[test]
fn oneof_shows_only_the_chosen_field_and_u64_is_a_number() {
    let rule = NatRule {
        id: "r1".into(),
        family: AddressFamily::Ipv4.into(),
        kind: Some(nat_rule::Kind::Dnat(Dnat {
            protocol: NatProtocol::Tcp.into(),
            port: 8080,
            to_address: "172.20.0.11".into(),
            to_port: 80,
            ..Dnat::default()
        })),
        comment: String::new(),
        packets: u64::from(u32::MAX) + 5,
        bytes: 0,
    };
    let value = value_of(&ListNatRulesResponse {
        rules: vec![rule],
        ..ListNatRulesResponse::default()
    });
    let rule = &value["rules"][0];
    let object = rule.as_object().unwrap();
    assert!(!object.contains_key("masquerade"));
    assert!(!object.contains_key("snat"));
    assert_eq!(rule["family"], "ipv4");
    assert_eq!(rule["dnat"]["protocol"], "tcp");
    assert_eq!(rule["dnat"]["port_end"], 0);
    assert_eq!(rule["packets"], json!(4_294_967_300_u64));
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["id", "family", "dnat", "comment", "packets", "bytes"]
    );
}

#[test]
fn unset_oneof_is_absent() {
    let rule = NatRule {
        id: "r2".into(),
        ..NatRule::default()
    };
    let value = value_of(&ListNatRulesResponse {
        rules: vec![rule],
        ..ListNatRulesResponse::default()
    });
    let object = value["rules"][0].as_object().unwrap();
    assert!(["masquerade", "snat", "dnat"]
        .iter()
        .all(|kind| !object.contains_key(*kind)));
    assert_eq!(object["family"], "unspecified");
}

#[test]
fn neighbour_state_and_unknown_enum_numbers() {
    let neighbor = Neighbor {
        state: NeighborState::Reachable.into(),
        family: AddressFamily::Ipv6.into(),
        ..Neighbor::default()
    };
    let strange = Neighbor {
        state: 99,
        ..Neighbor::default()
    };
    let value = value_of(&ListNeighborsResponse {
        neighbors: vec![neighbor, strange],
    });
    assert_eq!(value["neighbors"][0]["state"], "reachable");
    assert_eq!(value["neighbors"][0]["family"], "ipv6");
    assert_eq!(value["neighbors"][1]["state"], 99);
}

#[test]
fn doubles_are_numbers() {
    let summary = PingSummary {
        target: "172.20.0.11".into(),
        transmitted: 4,
        received: 3,
        loss_percent: 25.0,
        ..PingSummary::default()
    };
    let value = value_of(&summary);
    assert_eq!(value["loss_percent"], json!(25.0));
    assert_eq!(value["rtt_min_ms"], json!(0.0));
}

#[test]
fn doubles_json_cannot_hold_are_null() {
    let summary = PingSummary {
        loss_percent: f64::NAN,
        rtt_max_ms: f64::INFINITY,
        ..PingSummary::default()
    };
    let value = value_of(&summary);
    assert_eq!(value["loss_percent"], Value::Null);
    assert_eq!(value["rtt_max_ms"], Value::Null);
    assert_eq!(value["rtt_min_ms"], json!(0.0));
}

#[test]
fn proto3_optional_scalars_are_null_when_unset() {
    let pool = pool_declaring("nsfleet.v1.VethSpec").unwrap();
    let descriptor = pool.get_message_by_name("nsfleet.v1.VethSpec").unwrap();
    let unset = VethSpec {
        peer_name: "ceth1".into(),
        peer_namespace: None,
    };
    let set = VethSpec {
        peer_name: "ceth1".into(),
        peer_namespace: Some(String::new()),
    };
    let decode = |spec: &VethSpec| {
        serde_json::to_value(MessageJson(
            DynamicMessage::decode(
                descriptor.clone(),
                prost::Message::encode_to_vec(spec).as_slice(),
            )
            .unwrap(),
        ))
        .unwrap()
    };
    assert_eq!(
        decode(&unset),
        json!({"peer_name": "ceth1", "peer_namespace": null})
    );
    assert_eq!(
        decode(&set),
        json!({"peer_name": "ceth1", "peer_namespace": ""})
    );
}

#[test]
fn enum_prefixes() {
    assert_eq!(screaming_snake("OperState"), "OPER_STATE");
    assert_eq!(screaming_snake("Scope"), "SCOPE");
    assert_eq!(screaming_snake("NatProtocol"), "NAT_PROTOCOL");
}

#[test]
fn base64_padding() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

#[test]
fn a_vxlan_links_parameters_are_an_object() {
    let link = Link {
        kind: "vxlan".into(),
        vxlan: Some(nsfleet_proto::v1::VxlanSpec {
            vni: 42,
            local: "192.0.2.1".into(),
            remotes: vec!["192.0.2.2".into()],
            port: 4789,
            device: "wire0".into(),
            learning: Some(true),
        }),
        ..sample_link()
    };
    let value = value_of(&link);
    assert_eq!(
        value["vxlan"],
        json!({"vni": 42, "local": "192.0.2.1", "remotes": ["192.0.2.2"], "port": 4789,
               "device": "wire0", "learning": true})
    );
}
