//! The plan in memory: desired states against simulated hosts. `simulate` applies a plan's operations to
//! an `Observed` as the kernel would, so "apply, then plan again" is checked without a kernel.

use std::net::IpAddr;

use super::*;
use crate::domain::{Family, IpPrefix, LinkName, NamespaceName, NamespaceRef};
use crate::ops::address::{AddAddress, Broadcast};
use crate::ops::link::{CreateLink, LinkKindSpec, MasterChange};
use crate::ops::route::RouteRequest;
use crate::topology::desired::{Desired, DesiredForwarding, DesiredLink, TopologyName};
use crate::topology::ledger::Record;
use crate::topology::observe::{ObservedLink, ObservedRoute, Space};

pub(super) fn ns(name: &str) -> NamespaceRef {
    NamespaceRef::Named(NamespaceName::parse("n", name).expect("a namespace name"))
}

pub(super) fn link(name: &str) -> LinkName {
    LinkName::parse("l", name).expect("a link name")
}

fn prefix(text: &str) -> IpPrefix {
    let (address, len) = text.split_once('/').expect("ADDRESS/LEN");
    IpPrefix::new(
        address.parse().expect("an address"),
        len.parse().expect("a length"),
    )
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

/// Namespace `a` on bridge br0 (10.0.0.1/24) with 10.0.0.2/24 and a default route; forwarding on.
pub(super) fn desired() -> Desired {
    let mut desired = Desired::empty(TopologyName::parse("t", "lab").expect("a name"));
    desired
        .namespaces
        .push(NamespaceName::parse("n", "a").expect("a name"));
    desired.links.push(DesiredLink {
        create: CreateLink {
            namespace: NamespaceRef::Host,
            name: link("veth-a"),
            kind: LinkKindSpec::Veth {
                peer: link("eth0"),
                peer_namespace: ns("a"),
            },
            mtu: None,
            marker: None,
        },
        up: true,
        peer_up: true,
        master: Some(link("br0")),
        peer_master: None,
    });
    desired.links.push(DesiredLink {
        create: CreateLink {
            namespace: NamespaceRef::Host,
            name: link("br0"),
            kind: LinkKindSpec::Bridge,
            mtu: None,
            marker: None,
        },
        up: true,
        peer_up: false,
        master: None,
        peer_master: None,
    });
    for (namespace, name, address) in [
        (NamespaceRef::Host, "br0", "10.0.0.1/24"),
        (ns("a"), "eth0", "10.0.0.2/24"),
    ] {
        desired.addresses.push(AddAddress {
            namespace,
            link: link(name),
            prefix: prefix(address),
            broadcast: Broadcast::Computed,
            label: None,
            scope: None,
            marked: false,
        });
    }
    desired.routes.push(RouteRequest {
        namespace: ns("a"),
        destination: prefix("0.0.0.0/0"),
        gateway: Some(ip("10.0.0.1")),
        device: None,
        metric: None,
        table: None,
        scope: None,
        source: None,
        marked: false,
    });
    desired.forwarding.push(DesiredForwarding {
        namespace: NamespaceRef::Host,
        family: Family::V4,
        enabled: true,
    });
    desired.check().expect("a valid desired state");
    desired
}

/// A host with nothing but its own loopback.
pub(super) fn empty_host() -> Observed {
    let mut observed = Observed::default();
    observed.spaces.insert(NamespaceRef::Host, space_with_lo());
    observed
        .spaces
        .get_mut(&NamespaceRef::Host)
        .expect("host")
        .forwarding = Some((false, false));
    observed
}

fn space_with_lo() -> Space {
    let mut space = Space::default();
    space
        .links
        .insert("lo".into(), observed_link(1, None, false));
    space
}

pub(super) fn observed_link(index: u32, kind: Option<&str>, up: bool) -> ObservedLink {
    ObservedLink {
        vxlan: None,
        index,
        kind: kind.map(str::to_string),
        up,
        mtu: 1500,
        master: None,
        peer_index: None,
        marker: None,
    }
}

/// Applies operations to `observed` as the kernel would (for what plans emit).
fn simulate(observed: &mut Observed, operations: &[Operation]) {
    let mut next_index = 100;
    for operation in operations {
        next_index += 2;
        match operation {
            Operation::CreateNamespace(name) => {
                let mut space = space_with_lo();
                space.forwarding = Some((false, false));
                observed
                    .spaces
                    .insert(NamespaceRef::Named(name.clone()), space);
            }
            Operation::DeleteNamespace { name, .. } => {
                observed.spaces.remove(&NamespaceRef::Named(name.clone()));
            }
            Operation::CreateLink(create) => {
                let kind = match &create.kind {
                    LinkKindSpec::Veth { .. } => "veth",
                    LinkKindSpec::Bridge => "bridge",
                    LinkKindSpec::Vxlan(_) => "vxlan",
                };
                let mut made = observed_link(next_index, Some(kind), false);
                if let LinkKindSpec::Vxlan(params) = &create.kind {
                    made.vxlan = Some(params.clone());
                }
                made.marker = create.marker.clone();
                made.mtu = create.mtu.unwrap_or(1500);
                if let LinkKindSpec::Veth {
                    peer,
                    peer_namespace,
                } = &create.kind
                {
                    made.peer_index = Some(next_index + 1);
                    let mut other = made.clone();
                    other.index = next_index + 1;
                    other.peer_index = Some(next_index);
                    space(observed, peer_namespace)
                        .links
                        .insert(peer.to_string(), other);
                }
                space(observed, &create.namespace)
                    .links
                    .insert(create.name.to_string(), made);
            }
            Operation::DeleteLink {
                namespace, name, ..
            } => {
                space(observed, namespace).links.remove(name.as_str());
            }
            Operation::SetLink {
                namespace,
                name,
                change,
            } => {
                let link = space(observed, namespace)
                    .links
                    .get_mut(name.as_str())
                    .expect("the link exists");
                if let Some(up) = change.up {
                    link.up = up;
                }
                if let Some(mtu) = change.mtu {
                    link.mtu = mtu;
                }
                match &change.master {
                    Some(MasterChange::Set(master)) => link.master = Some(master.to_string()),
                    Some(MasterChange::Release) => link.master = None,
                    None => {}
                }
            }
            Operation::AddAddress(address) => {
                let protocol = if address.marked { NSFLEET_PROTOCOL } else { 0 };
                let space = space(observed, &address.namespace);
                if !space.has_address(address.link.as_str(), &address.prefix) {
                    space
                        .addresses
                        .push((address.link.to_string(), address.prefix, protocol));
                }
            }
            Operation::DeleteAddress {
                namespace,
                link,
                prefix,
                ..
            } => {
                space(observed, namespace)
                    .addresses
                    .retain(|(l, p, _)| !(l == link.as_str() && p == prefix));
            }
            Operation::AddRoute { request, .. } => {
                let space = space(observed, &request.namespace);
                space
                    .routes
                    .retain(|r| r.destination != request.destination);
                space.routes.push(ObservedRoute {
                    destination: request.destination,
                    table: route_table(request),
                    metric: default_metric(request),
                    gateway: request.gateway,
                    device: request.device.as_ref().map(ToString::to_string),
                    protocol: if request.marked { NSFLEET_PROTOCOL } else { 3 },
                });
            }
            Operation::DeleteRoute { request, .. } => {
                space(observed, &request.namespace)
                    .routes
                    .retain(|r| r.destination != request.destination);
            }
            Operation::SetForwarding {
                namespace,
                family,
                enabled,
            } => {
                let space = space(observed, namespace);
                let (v4, v6) = space.forwarding.unwrap_or_default();
                space.forwarding = Some(match family {
                    Family::V4 => (*enabled, v6),
                    Family::V6 => (v4, *enabled),
                });
            }
            Operation::AddNatRule(_) | Operation::DeleteNatRule { .. } => {}
        }
    }
}

pub(super) fn space<'a>(observed: &'a mut Observed, namespace: &NamespaceRef) -> &'a mut Space {
    observed
        .spaces
        .get_mut(namespace)
        .expect("the namespace exists")
}

fn record(plan: &Plan) -> Record {
    Record {
        topology: "lab".into(),
        applied_at: String::new(),
        objects: plan.owned_after.clone(),
        desired: String::new(),
        digest: String::new(),
    }
}

pub(super) fn shown(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.object))
        .collect()
}

fn operations(plan: &Plan) -> Vec<Operation> {
    plan.changes
        .iter()
        .flat_map(|c| c.operations.clone())
        .collect()
}

/// Plans `desired` on `host`, applies it in memory and returns the plan and its record.
pub(super) fn applied(desired: &Desired, host: &mut Observed) -> (Plan, Record) {
    let plan = plan(desired, None, &OtherOwners::new(), host).expect("a plan");
    simulate(host, &operations(&plan));
    let record = record(&plan);
    (plan, record)
}

#[test]
fn an_empty_host_gets_every_object_in_dependency_order() {
    let plan = plan(&desired(), None, &OtherOwners::new(), &empty_host()).expect("a plan");
    assert_eq!(
        shown(&plan),
        vec![
            "+ namespace a",
            "+ link br0",
            "+ link veth-a",
            "+ address 10.0.0.1/24 on br0",
            "+ address 10.0.0.2/24 on eth0 in namespace a",
            "+ route default in namespace a",
            "~ forwarding ipv4",
        ]
    );
    assert!(plan.changes.iter().all(|c| !c.operations.is_empty()));
    assert!(plan.changes[0].reason.contains("not on the host"));
    // Created links carry the topology's marker; addresses and routes nsfleet's protocol.
    assert!(operations(&plan).iter().any(|o| matches!(o,
        Operation::CreateLink(c) if c.marker.as_deref() == Some("lab"))));
    assert!(operations(&plan).iter().all(|o| match o {
        Operation::AddAddress(a) => a.marked,
        Operation::AddRoute { request, .. } => request.marked,
        _ => true,
    }));
}

#[test]
fn after_an_apply_the_same_desired_state_plans_nothing_and_the_fingerprint_is_stable() {
    let mut host = empty_host();
    let (_, record) = applied(&desired(), &mut host);
    let again = plan(&desired(), Some(&record), &OtherOwners::new(), &host).expect("a plan");
    assert!(again.changes.is_empty(), "{:#?}", shown(&again));
    let once_more = plan(&desired(), Some(&record), &OtherOwners::new(), &host).expect("a plan");
    assert_eq!(again.fingerprint, once_more.fingerprint);
    // What the plan depends on changes: so does the fingerprint.
    space(&mut host, &NamespaceRef::Host)
        .links
        .get_mut("br0")
        .expect("br0")
        .up = false;
    let changed = plan(&desired(), Some(&record), &OtherOwners::new(), &host).expect("a plan");
    assert_ne!(changed.fingerprint, again.fingerprint);
    assert_eq!(shown(&changed), vec!["~ link br0"]);
    assert_eq!(changed.changes[0].reason, "down -> up");
}

#[test]
fn a_dropped_namespace_is_one_delete_and_its_contents_go_with_it() {
    let mut host = empty_host();
    let (_, record) = applied(&desired(), &mut host);
    let mut smaller = desired();
    smaller.namespaces.clear();
    smaller.links.retain(|l| l.is_bridge());
    smaller
        .addresses
        .retain(|a| a.namespace == NamespaceRef::Host);
    smaller.routes.clear();
    let plan = plan(&smaller, Some(&record), &OtherOwners::new(), &host).expect("a plan");
    // The host end of the veth goes with its peer's namespace.
    assert_eq!(shown(&plan), vec!["- namespace a"]);
    assert!(plan.changes[0].reason.contains("no longer in the topology"));
}

#[test]
fn teardown_runs_in_reverse_order_and_skips_what_goes_along() {
    let mut host = empty_host();
    let (_, record) = applied(&desired(), &mut host);
    let nothing = Desired::empty(TopologyName::parse("t", "lab").expect("a name"));
    let plan = plan(&nothing, Some(&record), &OtherOwners::new(), &host).expect("a plan");
    // br0's address goes with br0, veth-a with its peer's namespace: no operation of their own.
    assert_eq!(
        shown(&plan),
        vec!["- forwarding ipv4", "- link br0", "- namespace a"]
    );
    simulate(&mut host, &operations(&plan));
    assert_eq!(host.spaces.len(), 1);
    assert_eq!(
        host.space(&NamespaceRef::Host).and_then(|s| s.forwarding),
        Some((false, false))
    );
}

#[test]
fn settings_changes_name_old_and_new_values() {
    let mut host = empty_host();
    let (_, record) = applied(&desired(), &mut host);
    let mut changed = desired();
    changed.links[1].create.mtu = Some(1400);
    changed.links[0].master = None;
    let plan = plan(&changed, Some(&record), &OtherOwners::new(), &host).expect("a plan");
    let reasons: Vec<&str> = plan.changes.iter().map(|c| c.reason.as_str()).collect();
    assert_eq!(reasons, vec!["mtu 1500 -> 1400", "master br0 -> none"]);
}

#[test]
fn an_object_someone_else_made_is_refused_unless_adopted() {
    let mut host = empty_host();
    space(&mut host, &NamespaceRef::Host)
        .links
        .insert("br0".into(), observed_link(7, Some("bridge"), true));
    let refused = plan(&desired(), None, &OtherOwners::new(), &host).expect_err("a clash");
    assert!(matches!(&refused, OwnershipError::NotOwned { object, .. } if object.name == "br0"));
    assert!(refused.to_string().contains("adopt"), "{refused}");

    let mut adopting = desired();
    adopting
        .adopt
        .insert(ObjectId::link(&NamespaceRef::Host, &link("br0")));
    let plan = plan(&adopting, None, &OtherOwners::new(), &host).expect("adopted");
    assert!(
        !shown(&plan).contains(&"+ link br0".to_string()),
        "{:?}",
        shown(&plan)
    );
}

#[test]
fn another_topologys_object_is_refused_by_name() {
    let mut others = OtherOwners::new();
    others.insert(
        ObjectId::namespace(&NamespaceName::parse("n", "a").expect("a name")),
        "first".into(),
    );
    let refused = plan(&desired(), None, &others, &empty_host()).expect_err("first's namespace");
    assert!(refused.to_string().contains("topology first"), "{refused}");

    // Its marker says so even without a record.
    let mut host = empty_host();
    let mut marked = observed_link(7, Some("bridge"), true);
    marked.marker = Some("first".into());
    space(&mut host, &NamespaceRef::Host)
        .links
        .insert("br0".into(), marked);
    let refused = plan(&desired(), None, &OtherOwners::new(), &host).expect_err("first's bridge");
    assert!(matches!(refused, OwnershipError::OwnedByOther { owner, .. } if owner == "first"));
}

#[test]
fn a_recorded_link_that_lost_its_marker_is_refused_and_not_deleted() {
    let mut host = empty_host();
    let (_, record) = applied(&desired(), &mut host);
    space(&mut host, &NamespaceRef::Host)
        .links
        .get_mut("br0")
        .expect("br0")
        .marker = None;
    let refused = plan(&desired(), Some(&record), &OtherOwners::new(), &host).expect_err("re-made");
    assert!(matches!(refused, OwnershipError::NotOwned { object, .. } if object.name == "br0"));
    let nothing = Desired::empty(TopologyName::parse("t", "lab").expect("a name"));
    let teardown = plan(&nothing, Some(&record), &OtherOwners::new(), &host).expect("a plan");
    assert!(
        !shown(&teardown).contains(&"- link br0".to_string()),
        "{:?}",
        shown(&teardown)
    );
}

#[test]
fn drift_behind_nsfleets_back_is_named_so() {
    let mut host = empty_host();
    let (_, record) = applied(&desired(), &mut host);
    space(&mut host, &ns("a")).addresses.clear();
    let plan = plan(&desired(), Some(&record), &OtherOwners::new(), &host).expect("a plan");
    assert_eq!(
        shown(&plan),
        vec!["+ address 10.0.0.2/24 on eth0 in namespace a"]
    );
    assert_eq!(plan.changes[0].reason, "deleted behind nsfleet's back");
}

#[test]
fn a_new_address_in_the_subnet_of_a_dropped_one_comes_after_it_and_routes_are_added_back() {
    let mut host = empty_host();
    let (_, record) = applied(&desired(), &mut host);
    let mut moved = desired();
    moved.addresses[1].prefix = prefix("10.0.0.3/24");
    let plan = plan(&moved, Some(&record), &OtherOwners::new(), &host).expect("a plan");
    assert_eq!(
        shown(&plan),
        vec![
            "- address 10.0.0.2/24 on eth0 in namespace a",
            "+ address 10.0.0.3/24 on eth0 in namespace a",
            "~ route default in namespace a",
        ]
    );
}

#[test]
fn a_route_through_a_veth_made_again_is_added_back_even_when_only_its_gateway_is_named() {
    // The host end of the veth has an address, and a route via a gateway behind it (no `dev`).
    let mut through_veth = desired();
    through_veth.addresses.push(AddAddress {
        namespace: NamespaceRef::Host,
        link: link("veth-a"),
        prefix: prefix("10.9.0.1/24"),
        broadcast: Broadcast::Computed,
        label: None,
        scope: None,
        marked: false,
    });
    through_veth.routes.push(RouteRequest {
        namespace: NamespaceRef::Host,
        destination: prefix("198.51.100.0/24"),
        gateway: Some(ip("10.9.0.2")),
        device: None,
        metric: None,
        table: None,
        scope: None,
        source: None,
        marked: false,
    });
    let mut host = empty_host();
    let (_, record) = applied(&through_veth, &mut host);
    // The kernel reports the device it picked; then `ip netns del a` leaves veth-a without its peer
    // for a while (the namespace dies later), so the plan replaces veth-a.
    for route in &mut space(&mut host, &NamespaceRef::Host).routes {
        if route.destination == prefix("198.51.100.0/24") {
            route.device = Some("veth-a".into());
        }
    }
    host.spaces.remove(&ns("a"));
    let plan = plan(&through_veth, Some(&record), &OtherOwners::new(), &host).expect("a plan");
    let shown = shown(&plan);
    assert!(
        shown.contains(&"-/+ link veth-a".to_string()),
        "the veth is made again: {shown:?}"
    );
    assert!(
        shown.contains(&"+ route 198.51.100.0/24".to_string()),
        "deleting veth-a takes the route along: {shown:?}"
    );
}

// Lint runs at plan time, on the same desired states.

pub(super) fn lint_codes(desired: &Desired, host: &Observed) -> Vec<&'static str> {
    crate::topology::lint::lint(desired, host)
        .iter()
        .map(|w| w.code.as_str())
        .collect()
}

#[test]
fn the_example_topology_lints_clean() {
    assert!(lint_codes(&desired(), &empty_host()).is_empty());
}

#[test]
fn lint_finds_each_flaw_with_a_fix() {
    let mut flawed = desired();
    // The tutorial's flaw: an address on a bridge port.
    flawed.addresses.push(AddAddress {
        namespace: NamespaceRef::Host,
        link: link("veth-a"),
        prefix: prefix("10.0.0.9/24"),
        broadcast: Broadcast::None,
        label: None,
        scope: None,
        marked: false,
    });
    // A gateway no address of the namespace makes on-link.
    flawed.routes[0].gateway = Some(ip("192.0.2.1"));
    // Another port of br0 with another MTU.
    let mut second = flawed.links[0].clone();
    second.create.name = link("veth-b");
    second.create.kind = LinkKindSpec::Veth {
        peer: link("eth1"),
        peer_namespace: ns("a"),
    };
    second.create.mtu = Some(9000);
    flawed.links.push(second);
    // NAT in the host with forwarding off, and a masquerade without output interface next to a bridge.
    flawed.forwarding[0].enabled = false;
    flawed.nat_rules.push(crate::ops::nat::NatRuleRequest {
        namespace: NamespaceRef::Host,
        spec: crate::nat::NatRuleSpec::Masquerade {
            source: prefix("10.0.0.0/24"),
            output_interface: None,
        },
        interfaces: Vec::new(),
        comment: String::new(),
    });
    let warnings = crate::topology::lint::lint(&flawed, &empty_host());
    let mut codes: Vec<&str> = warnings.iter().map(|w| w.code.as_str()).collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        vec![
            "ADDRESS_ON_BRIDGE_PORT",
            "BRIDGE_PORT_MTU_MISMATCH",
            "GATEWAY_NOT_ON_LINK",
            "MASQUERADE_WITHOUT_OUTPUT_INTERFACE",
            "NAT_WITHOUT_FORWARDING",
        ]
    );
    assert!(warnings.iter().all(|w| !w.fix.is_empty()));
}

#[test]
fn forwarding_left_out_of_the_topology_is_judged_by_the_host() {
    let mut nat = desired();
    nat.forwarding.clear();
    nat.nat_rules.push(crate::ops::nat::NatRuleRequest {
        namespace: NamespaceRef::Host,
        spec: crate::nat::NatRuleSpec::Masquerade {
            source: prefix("10.0.0.0/24"),
            output_interface: Some("br0".into()),
        },
        interfaces: Vec::new(),
        comment: String::new(),
    });
    assert_eq!(
        lint_codes(&nat, &empty_host()),
        vec!["NAT_WITHOUT_FORWARDING"]
    );
    let mut forwarding_host = empty_host();
    space(&mut forwarding_host, &NamespaceRef::Host).forwarding = Some((true, false));
    assert!(lint_codes(&nat, &forwarding_host).is_empty());
}

/// The pure part of a no-change plan of 100 and of 1000 namespaces (run with `--ignored --nocapture`).
#[test]
#[ignore = "a measurement, not a check"]
fn measure_a_no_change_plan_of_100_and_1000_namespaces_in_memory() {
    for count in [100, 1000] {
        let mut big = desired();
        let template = big.clone();
        for i in 0..count {
            let name = NamespaceName::parse("n", &format!("n{i}")).expect("a name");
            big.namespaces.push(name.clone());
            let mut port = template.links[0].clone();
            port.create.name = link(&format!("v{i}"));
            port.create.kind = LinkKindSpec::Veth {
                peer: link("eth0"),
                peer_namespace: NamespaceRef::Named(name.clone()),
            };
            big.links.push(port);
            let mut address = template.addresses[1].clone();
            address.namespace = NamespaceRef::Named(name.clone());
            address.prefix = prefix(&format!("10.0.{}.{}/16", i / 200, 10 + i % 200));
            big.addresses.push(address);
            let mut route = template.routes[0].clone();
            route.namespace = NamespaceRef::Named(name);
            big.routes.push(route);
        }
        big.check().expect("valid");
        let mut host = empty_host();
        let (_, record) = applied(&big, &mut host);
        let started = std::time::Instant::now();
        for _ in 0..5 {
            let again = plan(&big, Some(&record), &OtherOwners::new(), &host).expect("a plan");
            assert!(again.changes.is_empty());
        }
        eprintln!(
            "no-change plan of {count} namespaces in memory: {:?}",
            started.elapsed() / 5
        );
    }
}

#[test]
fn desired_links_are_checked_inside_the_topologys_namespaces_only() {
    let mut typo = desired();
    typo.addresses[1].link = link("eht0");
    let error = typo.check().expect_err("no eht0 in namespace a");
    assert_eq!(error.field, "addresses[1].link");
    let mut uplink = desired();
    uplink.addresses[0].link = link("uplink0");
    uplink.check().expect("the host has links of its own");
}

#[path = "tests_vxlan.rs"]
mod vxlan;
