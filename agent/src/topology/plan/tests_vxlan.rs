//! VXLAN links in plans and lint: parameters compared, changes replace, MTUs judged against the underlay.

use super::*;
use crate::domain::{RawVxlan, VxlanParams};

fn params(vni: u32) -> VxlanParams {
    let remotes = ["192.0.2.2".to_string()];
    VxlanParams::parse(
        "vxlan",
        RawVxlan {
            vni,
            local: "192.0.2.1",
            remotes: &remotes,
            port: 0,
            device: "wire0",
            learning: None,
        },
    )
    .expect("valid parameters")
}

/// The example topology plus vx100 on br0 over wire0, a host link of MTU 1500.
fn with_vxlan(vni: u32, mtu: Option<u32>) -> (Desired, Observed) {
    let mut desired = desired();
    desired.links.push(DesiredLink {
        create: CreateLink {
            namespace: NamespaceRef::Host,
            name: link("vx100"),
            kind: LinkKindSpec::Vxlan(params(vni)),
            mtu,
            marker: None,
        },
        up: true,
        peer_up: false,
        master: Some(link("br0")),
        peer_master: None,
    });
    desired.check().expect("a valid desired state");
    let mut host = empty_host();
    space(&mut host, &NamespaceRef::Host)
        .links
        .insert("wire0".into(), observed_link(2, Some("veth"), true));
    (desired, host)
}

#[test]
fn a_vxlan_link_plans_nothing_once_applied_and_a_new_vni_is_a_replace() {
    let (desired, mut host) = with_vxlan(100, None);
    let (first, record) = applied(&desired, &mut host);
    assert!(shown(&first).contains(&"+ link vx100".to_string()));
    let again = plan(&desired, Some(&record), &OtherOwners::new(), &host).expect("a plan");
    assert!(again.changes.is_empty(), "{:#?}", shown(&again));

    let (edited, _) = with_vxlan(101, None);
    let replanned = plan(&edited, Some(&record), &OtherOwners::new(), &host).expect("a plan");
    assert_eq!(shown(&replanned), vec!["-/+ link vx100"]);
    assert_eq!(replanned.changes[0].reason, "vxlan vni 100 (wanted 101)");
    let operations: Vec<&Operation> = replanned.changes[0].operations.iter().collect();
    assert!(matches!(operations[0], Operation::DeleteLink { .. }));
    assert!(
        matches!(operations[1], Operation::CreateLink(c) if c.marker.as_deref() == Some("lab"))
    );
}

#[test]
fn vxlan_mtus_are_judged_against_the_underlay_and_the_bridges_other_ports() {
    // Derived MTU (1450): the 1500-byte veth port of br0 does not fit through the tunnel.
    let (desired, host) = with_vxlan(100, None);
    let codes = lint_codes(&desired, &host);
    assert_eq!(codes, vec!["BRIDGE_PORT_MTU_ABOVE_VXLAN"]);
    let warning = &crate::topology::lint::lint(&desired, &host)[0];
    assert!(warning.message.contains("veth-a") && warning.message.contains("vx100"));
    assert_eq!(
        warning.fix,
        "nsfleet link set veth-a mtu 1450 (and the same on the other end of veth-a, where the frames start)"
    );

    // An MTU the underlay cannot carry.
    let (desired, host) = with_vxlan(100, Some(1500));
    let codes = lint_codes(&desired, &host);
    assert_eq!(codes, vec!["VXLAN_MTU_EXCEEDS_UNDERLAY"]);

    // Everything fits: ports at 1450, the tunnel derived.
    let (mut desired, host) = with_vxlan(100, None);
    desired.links[0].create.mtu = Some(1450);
    assert!(
        lint_codes(&desired, &host).is_empty(),
        "{:?}",
        lint_codes(&desired, &host)
    );
}
