//! Stubs from another language: Python stubs generated from proto/nsfleet/v1/*.proto with grpcio-tools
//! drive a simulated host on their own (tests/python/stub_client.py), the ip oracle confirms what they
//! built, and server reflection lists every service both in v1alpha (grpcurl 1.8) and v1 (grpcio).
//!
//! Neither client is told to send a usable `:authority`: over a unix socket grpcio and grpcurl send the
//! socket path, which the agent rewrites for its HTTP/2 server (agent/src/server/unix_authority/). Both
//! target spellings grpcio knows are used, `unix:PATH` and `unix:///ABSOLUTE`.
//!
//! The Python tools come from PyPI into a virtual environment under target/ (tests/src/python_tools.rs).

use std::process::Command;

use nsfleet_tests::python_tools::{generate_stubs, must, python_tools, workspace, RUN_LIMIT};
use nsfleet_tests::{run_bounded, Lab, SimHost};
use serde_json::Value;

/// `nsfleet.v1.XService` for every service the .proto files declare.
fn declared_services() -> Vec<String> {
    let dir = workspace().join("proto").join("nsfleet").join("v1");
    let mut services: Vec<String> = std::fs::read_dir(&dir)
        .expect("proto/nsfleet/v1")
        .flat_map(|entry| {
            let text = std::fs::read_to_string(entry.expect("a proto file").path())
                .expect("a readable .proto");
            text.lines()
                .filter_map(|line| line.trim().strip_prefix("service "))
                .filter_map(|rest| rest.split_whitespace().next())
                .map(|name| format!("nsfleet.v1.{name}"))
                .collect::<Vec<_>>()
        })
        .collect();
    services.sort();
    services
}

/// Runs tests/python/stub_client.py against `host` through gRPC target `target`, checks with the ip
/// oracle what it built, and returns the services it listed over reflection v1.
fn stubs_build_on(
    host: &SimHost,
    venv: &std::path::Path,
    stubs: &std::path::Path,
    target: &str,
) -> Vec<String> {
    let mut client = Command::new(venv.join("bin").join("python"));
    client
        .arg(
            workspace()
                .join("tests")
                .join("python")
                .join("stub_client.py"),
        )
        .arg(stubs)
        .arg(target);
    let printed = must(
        run_bounded(&mut client, RUN_LIMIT),
        &format!("tests/python/stub_client.py {target}"),
    );
    let seen: Value = serde_json::from_str(printed.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {printed}"));

    // The kernel agrees with what the Python client read back.
    assert!(
        host.ip_netns_list().contains(&"pyns".to_string()),
        "{:?}",
        host.ip_netns_list()
    );
    let host_end = host
        .ip_link("", "pyveth0")
        .expect("pyveth0 in the host namespace");
    assert_eq!(host_end["linkinfo"]["info_kind"], "veth");
    assert_eq!(seen["host_end"]["index"], host_end["ifindex"]);
    assert!(
        host.ip_link("pyns", "pyceth0").is_some(),
        "pyceth0 inside pyns"
    );
    let addresses = host.ip_addresses("pyns");
    let on_peer: Vec<String> = addresses
        .iter()
        .filter(|link| link["ifname"] == "pyceth0")
        .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
        .map(|a| {
            format!(
                "{}/{}",
                a["local"].as_str().unwrap_or_default(),
                a["prefixlen"]
            )
        })
        .collect();
    assert!(
        on_peer.contains(&"172.20.5.2/24".to_string()),
        "{on_peer:?}"
    );
    assert_eq!(seen["addresses"], serde_json::json!(["172.20.5.2/24"]));
    seen["reflection_v1"]
        .as_array()
        .expect("reflection_v1 list")
        .iter()
        .map(|name| name.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn python_stubs_build_a_namespace_a_veth_and_an_address_and_reflection_lists_every_service() {
    let venv = python_tools();
    let stubs = tempfile::tempdir().expect("a directory for the stubs");
    generate_stubs(&venv, stubs.path());
    let lab = Lab::start(2);
    let socket = lab
        .host(0)
        .endpoint()
        .trim_start_matches("unix:")
        .to_string();
    let listed_v1 = stubs_build_on(lab.host(0), &venv, stubs.path(), &lab.host(0).endpoint());
    let absolute = format!(
        "unix://{}",
        lab.host(1).endpoint().trim_start_matches("unix:")
    );
    assert!(absolute.starts_with("unix:///"), "{absolute}");
    let listed_v1_absolute = stubs_build_on(lab.host(1), &venv, stubs.path(), &absolute);

    // Reflection: every declared service, health too, in both protocol versions.
    let mut expected = declared_services();
    expected.push("grpc.health.v1.Health".into());
    let mut grpcurl = Command::new(venv.join("bin").join("grpcurl"));
    grpcurl.args(["-plaintext", "-unix", &socket, "list"]);
    let listed_v1alpha = must(run_bounded(&mut grpcurl, RUN_LIMIT), "grpcurl list");
    let listed_v1alpha: Vec<&str> = listed_v1alpha.lines().map(str::trim).collect();
    for service in &expected {
        assert!(
            listed_v1alpha.contains(&service.as_str()),
            "grpcurl (v1alpha) misses {service}: {listed_v1alpha:?}"
        );
        assert!(
            listed_v1.contains(service),
            "reflection v1 misses {service}: {listed_v1:?}"
        );
        assert!(
            listed_v1_absolute.contains(service),
            "reflection v1 (unix:///) misses {service}: {listed_v1_absolute:?}"
        );
    }
}
