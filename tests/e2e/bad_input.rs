//! Malformed requests: each fails with its documented status code and a message that names the field,
//! and nothing in the simulated host's kernel changes.

use nsfleet_tests::tables::{ip_address_rows, ip_route_rows, AddressRow, RouteRow};
use nsfleet_tests::{Lab, Nsfleet, SimHost};

#[path = "shared/raw_grpc.rs"]
mod raw_grpc;
use raw_grpc::{malformed_protobuf, RawBytes};

/// What a rejected request must leave alone, per namespace (host, "inside"): each link's name, flags,
/// master and MTU; IPv4 addresses; IPv4 routes. Timers and IPv6 DAD flags move on their own and are left
/// out.
#[derive(Debug, PartialEq)]
struct KernelState {
    links: Vec<(String, String, String, u64)>,
    addresses: Vec<AddressRow>,
    routes: Vec<RouteRow>,
}

fn kernel_state(host: &SimHost) -> Vec<KernelState> {
    ["", "inside"]
        .iter()
        .map(|netns| KernelState {
            links: host
                .ip_links(netns)
                .iter()
                .map(|l| {
                    (
                        l["ifname"].to_string(),
                        l["flags"].to_string(),
                        l["master"].to_string(),
                        l["mtu"].as_u64().unwrap_or_default(),
                    )
                })
                .collect(),
            addresses: ip_address_rows(&host.ip_addresses(netns)),
            routes: ip_route_rows(&host.ip_routes(netns)),
        })
        .collect()
}

fn setup(host: &SimHost) {
    for line in [
        "netns add inside",
        "link add br0 type bridge",
        "link set br0 up",
        "addr add 172.20.0.10/16 dev br0",
        "link add veth1 type veth peer name ceth1 netns inside",
        "-n inside link set ceth1 up",
    ] {
        host.cli(line).result();
    }
}

/// (command line, status code, text the message must contain: the field's name).
const REJECTED_BY_THE_AGENT: &[(&str, &str, &str)] = &[
    (
        "route add 10.0.0.0/8 via 2001:db8::1",
        "INVALID_ARGUMENT",
        "route.gateway",
    ),
    (
        "route add 2001:db8::/32 via 172.20.0.1",
        "INVALID_ARGUMENT",
        "route.gateway",
    ),
    (
        "route add 10.0.0.0/8 dev nope0",
        "NOT_FOUND",
        "route.device",
    ),
    (
        "route add 10.0.0.1/8 dev br0",
        "INVALID_ARGUMENT",
        "route.destination",
    ),
    (
        "route add 10.0.0.0/8 via 172.20.0.1 src 2001:db8::1",
        "INVALID_ARGUMENT",
        "route.source",
    ),
    ("addr add 172.20.0.1/16 dev nope0", "NOT_FOUND", "link"),
    ("ping -c 1 -I nope0 172.20.0.10", "NOT_FOUND", "interface"),
    (
        "ping -c 1 -I 203.0.113.99 172.20.0.10",
        "NOT_FOUND",
        "source",
    ),
    ("-n nope forwarding show", "NOT_FOUND", "nope"),
    ("-n nope forwarding set ipv4 on", "NOT_FOUND", "nope"),
    (
        "-n nope addr add 172.20.0.1/16 dev ceth1",
        "NOT_FOUND",
        "nope",
    ),
    (
        "-n nope route add default via 172.20.0.10",
        "NOT_FOUND",
        "nope",
    ),
    // Addresses the kernel refuses or silently drops: judged by the agent, never passed on.
    ("addr add ::/0 dev br0", "INVALID_ARGUMENT", "address"),
    ("addr add ff02::1/64 dev br0", "INVALID_ARGUMENT", "address"),
    ("addr add ::1/128 dev br0", "INVALID_ARGUMENT", "address"),
    ("addr add 0.0.0.0/0 dev br0", "INVALID_ARGUMENT", "address"),
    (
        "-n inside route add default via 192.0.2.1",
        "FAILED_PRECONDITION",
        "unreachable",
    ),
];

#[test]
fn malformed_requests_get_their_code_and_name_the_field_and_change_nothing() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    setup(host);
    let before = kernel_state(host);
    for (line, code, field) in REJECTED_BY_THE_AGENT {
        let run = host.cli(line);
        let error = run.error(code);
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field),
            "`nsfleet {line}`: the message should name {field:?}\n{run}"
        );
    }
    assert_eq!(
        kernel_state(host),
        before,
        "a rejected request changed the kernel's state"
    );
}

/// (command line, text stderr must contain): values out of range that the CLI refuses itself. The agent
/// refuses them too (other clients exist); `service/validate/tests.rs` holds those cases.
const REFUSED_BY_THE_CLI: &[(&str, &str)] = &[
    ("addr add 172.20.0.1/33 dev br0", "prefix"),
    ("addr add 2001:db8::1/129 dev br0", "prefix"),
    ("route add 10.0.0.0/33 dev br0", "prefix"),
    ("route add 10.0.0.0/8 dev br0 table 0", "table"),
    ("ping -c 0 172.20.0.10", "-c <COUNT>"),
    ("ping -c 1 -W 100 172.20.0.10", "-W <SECONDS>"),
    ("link add br1 mtu 0 type bridge", "MTU"),
    ("link add veth-to-netns-one type veth peer c1", "15"),
];

#[test]
fn values_out_of_range_are_usage_errors_before_any_host_is_contacted() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    setup(host);
    let before = kernel_state(host);
    for (line, what) in REFUSED_BY_THE_CLI {
        let run = host.cli(line);
        assert_eq!(
            run.exit_code(),
            Some(2),
            "`nsfleet {line}` should be a usage error\n{run}"
        );
        assert!(
            run.stderr().contains(what),
            "`nsfleet {line}` should say what is wrong\n{run}"
        );
    }
    assert_eq!(
        kernel_state(host),
        before,
        "a usage error changed the kernel's state"
    );
}

#[test]
fn malformed_protobuf_is_invalid_argument_not_internal() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut wrong = Vec::new();
    runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(host.endpoint())
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        // A read and a mutation: mutations are also decoded by the audit summary first.
        for method in [
            "/nsfleet.v1.NamespaceService/GetNamespace",
            "/nsfleet.v1.NamespaceService/CreateNamespace",
        ] {
            for (what, body) in malformed_protobuf() {
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                grpc.ready().await.expect("the channel is ready");
                let path = tonic::codegen::http::uri::PathAndQuery::from_static(method);
                match grpc.unary(tonic::Request::new(body), path, RawBytes).await {
                    Err(status) if status.code() == tonic::Code::InvalidArgument => {}
                    other => wrong.push(format!("{method}, {what}: {other:?}")),
                }
            }
        }
        // An unknown enum value is not malformed: it decodes, and validation names the field.
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.expect("the channel is ready");
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(
            "/nsfleet.v1.RouteService/ListRoutes",
        );
        match grpc
            .unary(tonic::Request::new(vec![0x10, 0x63]), path, RawBytes)
            .await
        {
            Err(status)
                if status.code() == tonic::Code::InvalidArgument
                    && status.message().starts_with("family") => {}
            other => wrong.push(format!("ListRoutes, family 99: {other:?}")),
        }
    });
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
    assert!(
        host.ip_json("", &["netns", "list"])
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "a malformed CreateNamespace made a namespace"
    );
}

/// Names made behind nsfleet's back (with `ip`), each with what the CLI's text output must show instead.
const DECEPTIVE_LINK_NAMES: &[(&str, &str)] = &[
    ("a\u{1b}[31mb", "a\\u{1b}[31mb"),
    ("br\u{200b}0", "br\\u{200b}0"),
    ("x\u{202e}y", "x\\u{202e}y"),
];

#[test]
fn deceptive_names_are_refused_and_shown_escaped() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let namespace = "one\ntwo";
    host.run_ok("", &["ip", "netns", "add", namespace]);
    for (name, _) in DECEPTIVE_LINK_NAMES {
        host.run_ok("", &["ip", "link", "add", name, "type", "bridge"]);
    }

    let links = Nsfleet::on(host).line("link show").text().run();
    let namespaces = Nsfleet::on(host).line("netns list").text().run();
    for (name, escaped) in DECEPTIVE_LINK_NAMES {
        assert!(
            links.stdout().contains(&format!(": {escaped}: <")) && !links.stdout().contains(name),
            "link {name:?} should be shown as {escaped}\n{links}"
        );
    }
    assert_eq!(
        namespaces.stdout(),
        "one\\ntwo\n",
        "one namespace must be one line\n{namespaces}"
    );

    // The agent makes none of them itself, but what exists can still be named and removed.
    let (first, _) = DECEPTIVE_LINK_NAMES[0];
    Nsfleet::on(host)
        .args(["link", "del", first])
        .run()
        .result();
    assert!(
        host.ip_link("", first).is_none(),
        "link {first:?} is still there"
    );
    Nsfleet::on(host)
        .args(["netns", "del", namespace])
        .run()
        .result();
    assert!(
        !host.run_ok("", &["ip", "netns", "list"]).contains("one"),
        "namespace {namespace:?} is still there"
    );
    for (name, _) in DECEPTIVE_LINK_NAMES {
        let run = Nsfleet::on(host)
            .args(["link", "add", &format!("n{name}"), "type", "bridge"])
            .run();
        let message = run.error("INVALID_ARGUMENT")["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.starts_with("name:"), "{run}");
    }
    let run = Nsfleet::on(host)
        .args(["netns", "add", "three\nfour"])
        .run();
    run.error("INVALID_ARGUMENT");
    assert!(
        host.ip_link("", "na\u{1b}[31mb").is_none(),
        "the agent made a link with an escape sequence in its name"
    );
}
