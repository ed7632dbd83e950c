//! `nsfleet` alone builds the tutorial's namespaces, veth pairs and bridge (its link-layer lines from
//! tests/src/tutorial.rs), `ip` inside the simulated host shows exactly that, and deleting it all
//! through `nsfleet` leaves the host as it was; the same command lines given once with two `--host`s do
//! it on both hosts. `link list` and `link show` report what `ip` shows, veth peers included.

use std::time::Duration;

use nsfleet_tests::json::{cli_link, has_flag, ip_kind, sorted_names};
use nsfleet_tests::tutorial::link_layer_lines;
use nsfleet_tests::{poll_until, HostSnapshot, Lab, SimHost};
use serde_json::Value;

/// Carrier and bridge port states settle asynchronously after `up`; this only bounds the wait.
const SETTLE: Duration = Duration::from_secs(15);

const TEAR_DOWN: &[&str] = &[
    "link del br0",
    "link del veth1",
    "link del veth2",
    "netns del netns1",
    "netns del netns2",
];

/// Waits until the oracle shows the tutorial's links on `host`; panics with the oracle's view.
fn assert_tutorial_links(host: &SimHost) {
    poll_until(
        &format!("{}: the tutorial's links as ip shows them", host.label()),
        SETTLE,
        || tutorial_links_mismatch(host),
    );
}

fn tutorial_links_mismatch(host: &SimHost) -> Result<(), String> {
    let host_links = host.ip_links("");
    let namespaces = host.ip_json("", &["netns", "list"]);
    let ports = host.bridge_links("");
    let mut problems = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };

    let namespace_names = sorted_names(namespaces.as_array().map_or(&[][..], |a| a), "name");
    expect(
        namespace_names == ["netns1", "netns2"],
        format!("ip netns list: {namespace_names:?}"),
    );
    expect(
        sorted_names(&host_links, "ifname") == ["br0", "lo", "veth1", "veth2"],
        "host link names".into(),
    );
    let bridge = find(&host_links, "br0");
    expect(ip_kind(&bridge) == "bridge", "br0 is a bridge".into());
    expect(
        has_flag(&bridge, "UP") && bridge["operstate"] == "UP",
        "br0 is up".into(),
    );

    let mut ns_dumps = Vec::new();
    for (veth_name, ceth_name, netns) in
        [("veth1", "ceth1", "netns1"), ("veth2", "ceth2", "netns2")]
    {
        let ns_links = host.ip_links(netns);
        let veth = find(&host_links, veth_name);
        let ceth = find(&ns_links, ceth_name);
        expect(
            ip_kind(&veth) == "veth" && ip_kind(&ceth) == "veth",
            format!("{veth_name}, {ceth_name} are veths"),
        );
        expect(
            veth["master"] == "br0",
            format!("{veth_name} has master br0"),
        );
        expect(
            ceth.get("master").is_none(),
            format!("{ceth_name} has no master"),
        );
        for (name, link) in [(veth_name, &veth), (ceth_name, &ceth)] {
            expect(
                has_flag(link, "UP") && link["operstate"] == "UP",
                format!("{name} is up"),
            );
        }
        expect(
            sorted_names(&ns_links, "ifname") == [ceth_name, "lo"],
            format!("{netns} holds {ceth_name} and lo"),
        );
        expect(
            has_flag(&find(&ns_links, "lo"), "UP"),
            format!("lo in {netns} is up"),
        );
        expect(
            veth["link_index"] == ceth["ifindex"] && ceth["link_index"] == veth["ifindex"],
            format!("{veth_name} and {ceth_name} are each other's peers"),
        );
        let nsid = namespaces
            .as_array()
            .and_then(|a| a.iter().find(|ns| ns["name"] == netns))
            .map(|ns| &ns["id"]);
        expect(
            veth.get("link_netnsid").is_some() && nsid == Some(&veth["link_netnsid"]),
            format!(
                "{veth_name}'s peer is in {netns} (link_netnsid {} vs netns id {nsid:?})",
                veth["link_netnsid"]
            ),
        );
        ns_dumps.push(format!("ip -n {netns} -d link: {}", Value::Array(ns_links)));
    }

    let port_names = sorted_names(&ports, "ifname");
    expect(
        port_names == ["veth1", "veth2"],
        format!("bridge ports {port_names:?}"),
    );
    for port in &ports {
        expect(
            port["master"] == "br0" && port["state"] == "forwarding",
            format!("port {} forwards in br0", port["ifname"]),
        );
    }

    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{problems:#?}\nip netns list: {namespaces}\nip -d link: {}\n{}\nbridge link: {}",
        Value::Array(host_links),
        ns_dumps.join("\n"),
        Value::Array(ports)
    ))
}

fn find(links: &[Value], name: &str) -> Value {
    links
        .iter()
        .find(|link| link["ifname"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Waits until `host` shows the same links and namespaces as `fresh` (veth ends of deleted namespaces
/// vanish a little after the delete returns).
fn assert_back_to(host: &SimHost, fresh: &HostSnapshot) {
    poll_until(
        &format!("{}: back to its fresh state", host.label()),
        SETTLE,
        || {
            let now = host.snapshot();
            if &now == fresh {
                Ok(())
            } else {
                Err(format!("fresh: {fresh:#?}\nnow: {now:#?}"))
            }
        },
    );
}

#[test]
fn nsfleet_builds_the_tutorial_links_and_deleting_them_restores_the_host() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let fresh = host.snapshot();

    lab.run_lines(&link_layer_lines());
    assert_tutorial_links(host);

    lab.run_lines(TEAR_DOWN);
    assert_back_to(host, &fresh);
}

#[test]
fn one_invocation_with_two_hosts_builds_and_removes_the_links_on_both() {
    let lab = Lab::start(2);
    let fresh: Vec<HostSnapshot> = lab.hosts().iter().map(|host| host.snapshot()).collect();

    lab.run_lines(&link_layer_lines());
    for host in lab.hosts() {
        assert_tutorial_links(host);
    }

    lab.run_lines(TEAR_DOWN);
    for (host, fresh) in lab.hosts().into_iter().zip(&fresh) {
        assert_back_to(host, fresh);
    }
}

#[test]
fn link_list_json_shows_what_ip_shows() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    lab.run_lines(&link_layer_lines());
    assert_tutorial_links(host);

    for netns in ["", "netns1", "netns2"] {
        poll_until(
            &format!("`link list` in {netns:?} to match ip"),
            SETTLE,
            || {
                let listed = host.cli_in(netns, "link list");
                link_list_mismatch(&host.ip_links(netns), listed.result())
            },
        );
    }
}

#[test]
fn link_show_reports_the_veth_peer_and_its_namespace() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    lab.run_lines(&link_layer_lines());
    assert_tutorial_links(host);

    for (veth_name, ceth_name, netns) in
        [("veth1", "ceth1", "netns1"), ("veth2", "ceth2", "netns2")]
    {
        let veth_index = &find(&host.ip_links(""), veth_name)["ifindex"];
        let ceth_index = &find(&host.ip_links(netns), ceth_name)["ifindex"];

        let shown = host.cli(&format!("link show {veth_name}"));
        let links = shown.result()["links"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            links.len(),
            1,
            "`link show {veth_name}` gives one link\n{shown}"
        );
        let expected = serde_json::json!({"index": ceth_index, "name": ceth_name, "namespace": netns, "known": true});
        assert_eq!(links[0]["peer"], expected, "{veth_name}'s peer\n{shown}");

        let inside = host.cli(&format!("-n {netns} link show {ceth_name}"));
        let ceth = cli_link(inside.result(), ceth_name);
        assert_eq!(
            ceth["namespace"], netns,
            "{ceth_name}'s own namespace\n{inside}"
        );
        let expected = serde_json::json!({"index": veth_index, "name": veth_name, "namespace": "", "known": true});
        assert_eq!(
            ceth["peer"], expected,
            "{ceth_name}'s peer is in the host namespace\n{inside}"
        );
    }
}

/// Compares every field `link list` shares with `ip -j -d link`.
fn link_list_mismatch(ip_links: &[Value], listed: &Value) -> Result<(), String> {
    let cli_links = listed["links"].as_array().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    if sorted_names(&cli_links, "name") != sorted_names(ip_links, "ifname") {
        problems.push("different link names".to_string());
    }
    for ip in ip_links {
        let name = ip["ifname"].as_str().unwrap_or_default();
        let Some(cli) = cli_links.iter().find(|link| link["name"] == name) else {
            continue;
        };
        let oper_state = cli["oper_state"]
            .as_str()
            .unwrap_or_default()
            .replace('_', "")
            .to_uppercase();
        let same = [
            ("index", cli["index"] == ip["ifindex"]),
            ("kind", cli["kind"] == ip_kind(ip)),
            ("mtu", cli["mtu"] == ip["mtu"]),
            ("admin_up", cli["admin_up"] == has_flag(ip, "UP")),
            ("oper_state", ip["operstate"] == oper_state.as_str()),
            (
                "master",
                cli["master"] == ip["master"].as_str().unwrap_or(""),
            ),
            // lo's all-zero address may be reported as "" ("no MAC"); ethernet links must match.
            (
                "mac",
                ip["link_type"] != "ether" || cli["mac"] == ip["address"],
            ),
        ];
        for (field, _) in same.iter().filter(|(_, equal)| !equal) {
            problems.push(format!("{name}: {field} differs"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{problems:?}\nnsfleet link list: {listed:#}\nip -j -d link: {:#}",
            Value::Array(ip_links.to_vec())
        ))
    }
}
