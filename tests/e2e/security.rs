//! Safe remote access, end to end: TLS and mTLS, tokens and roles, the management-path guard, the audit
//! log, and a cancelled batch.
//!
//! Each test starts one simulated host whose agent listens on its unix socket (the lab's) and on TCP
//! 0.0.0.0:50051 with TLS. Over the unix socket the test builds the management path: a namespace
//! `client` inside the simulated host and a veth `veth-mgmt` (192.0.2.1/24) whose peer `eth0`
//! (192.0.2.2/24) sits in `client`. Remote calls run the real CLI inside `client`, so they reach the
//! agent over that veth, never over loopback. Certificates (a CA, a server leaf with SAN 192.0.2.1, a
//! client leaf CN=ops, all leaves CA:FALSE) and the tokens file are made by the test.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nsfleet_proto::v1 as pb;
use nsfleet_tests::crash::links_named;
use nsfleet_tests::{binaries, poll_until, Finished, Lab, SimHost};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

const AGENT: &str = "192.0.2.1:50051";
const ADMIN_TOKEN: &str = "admin-7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b";
const READ_TOKEN: &str = "read-0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// PEM files of the test's own small PKI.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl Pki {
    fn make(dir: &Path) -> Pki {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "nsfleet test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |sans: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("leaf key");
            let mut params = CertificateParams::new(sans).expect("leaf params");
            params.is_ca = IsCa::ExplicitNoCa;
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &issuer).expect("leaf certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            vec!["192.0.2.1".into()],
            "agent",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(
            vec!["ops.example".into()],
            "ops",
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a PEM file");
            path
        };
        Pki {
            ca: write("ca.pem", &ca_cert.pem()),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
        }
    }
}

fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How a remote call presents itself.
#[derive(Clone, Copy, Default)]
struct Credentials {
    ca: bool,
    client_certificate: bool,
    token: Option<&'static str>,
}

const ADMIN: Credentials = Credentials {
    ca: true,
    client_certificate: false,
    token: Some(ADMIN_TOKEN),
};
const READER: Credentials = Credentials {
    ca: true,
    client_certificate: false,
    token: Some(READ_TOKEN),
};

struct Fixture {
    lab: Lab,
    /// Holds the certificates, tokens and audit log; removed after the agent is gone.
    _dir: tempfile::TempDir,
    pki: Pki,
    admin_token_file: PathBuf,
    audit_log: PathBuf,
    mtls: bool,
}

impl Fixture {
    /// A host whose TCP listener wants TLS; with `mtls`, client certificates too.
    fn start(mtls: bool) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("nsfleet-security-")
            .tempdir()
            .expect("a temporary directory");
        let pki = Pki::make(dir.path());
        let tokens = dir.path().join("tokens");
        std::fs::write(
            &tokens,
            format!(
                "# name  role  credential\nci admin {}\ngrafana read {}\nops admin cert\n",
                sha256_hex(ADMIN_TOKEN),
                sha256_hex(READ_TOKEN)
            ),
        )
        .expect("the tokens file");
        let admin_token_file = dir.path().join("admin.token");
        std::fs::write(&admin_token_file, format!("{ADMIN_TOKEN}\n")).expect("the token file");
        let audit_log = dir.path().join("audit.jsonl");
        let path = |p: &Path| p.display().to_string();
        let mut args = vec![
            "--listen".to_string(),
            "0.0.0.0:50051".into(),
            "--tls-cert".into(),
            path(&pki.server_cert),
            "--tls-key".into(),
            path(&pki.server_key),
            "--tokens".into(),
            path(&tokens),
            "--audit-log".into(),
            path(&audit_log),
        ];
        if mtls {
            args.extend(["--client-ca".to_string(), path(&pki.ca)]);
        }
        let lab = Lab::start_with_args(1, &args);
        let fixture = Fixture {
            lab,
            _dir: dir,
            pki,
            admin_token_file,
            audit_log,
            mtls,
        };
        fixture.build_management_path();
        fixture
    }

    fn host(&self) -> &SimHost {
        self.lab.host(0)
    }

    /// Over the unix socket: the client namespace and the veth the remote calls travel over.
    fn build_management_path(&self) {
        for line in [
            "netns add client",
            "link add veth-mgmt type veth peer name eth0 netns client",
            "addr add 192.0.2.1/24 dev veth-mgmt",
            "link set veth-mgmt up",
            "-n client addr add 192.0.2.2/24 dev eth0",
            "-n client link set eth0 up",
            "-n client link set lo up",
        ] {
            self.host().cli(line).results();
        }
        let credentials = if self.mtls {
            Credentials {
                client_certificate: true,
                ..ADMIN
            }
        } else {
            ADMIN
        };
        poll_until(
            "the agent to answer over veth-mgmt",
            Duration::from_secs(20),
            || {
                let run = self.remote(credentials, &["netns", "list"]);
                if run.success() {
                    Ok(())
                } else {
                    Err(run.to_string())
                }
            },
        );
    }

    /// The real CLI, run inside namespace `client`, against the agent's TCP address.
    fn remote(&self, credentials: Credentials, words: &[&str]) -> Finished {
        let client = binaries().client.display().to_string();
        let path = |p: &Path| p.display().to_string();
        let mut argv: Vec<String> = vec!["env".into(), "-u".into(), "NSFLEET_HOSTS".into()];
        if let Some(token) = credentials.token.filter(|t| *t != ADMIN_TOKEN) {
            argv.push(format!("NSFLEET_TOKEN={token}"));
        }
        argv.extend([
            client,
            "--host".into(),
            AGENT.into(),
            "-o".into(),
            "json".into(),
            "--timeout".into(),
            "10".into(),
        ]);
        if credentials.ca {
            argv.extend(["--ca".into(), path(&self.pki.ca)]);
        }
        if credentials.client_certificate {
            argv.extend([
                "--cert".into(),
                path(&self.pki.client_cert),
                "--key".into(),
                path(&self.pki.client_key),
            ]);
        }
        if credentials.token == Some(ADMIN_TOKEN) {
            argv.extend(["--token-file".into(), path(&self.admin_token_file)]);
        }
        argv.extend(words.iter().map(|w| w.to_string()));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.host().run_in("client", &argv)
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.audit_log)
            .unwrap_or_default()
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {line}"))
            })
            .collect()
    }

    /// The audit lines for `method` (the last path segment) with status `code`.
    fn audited(&self, method: &str, code: &str) -> Vec<Value> {
        self.audit()
            .into_iter()
            .filter(|r| {
                r["method"]
                    .as_str()
                    .is_some_and(|m| m.ends_with(&format!("/{method}")))
                    && r["code"] == code
            })
            .collect()
    }
}

/// The one JSON line of a single-host CLI run.
fn line(run: &Finished) -> Value {
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(lines.len(), 1, "expected one JSON line\n{run}");
    lines[0].clone()
}

fn assert_ok(run: &Finished) -> Value {
    let line = line(run);
    assert!(
        run.success() && line["ok"] == true,
        "expected success\n{run}"
    );
    line["result"].clone()
}

fn assert_code(run: &Finished, code: &str) -> String {
    let line = line(run);
    assert_eq!(run.status.code(), Some(1), "expected exit 1\n{run}");
    assert_eq!(line["error"]["code"], code, "wrong code\n{run}");
    line["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Per-host credentials from the inventory, with no security option on the command line: the agent's
/// TLS address gets the CA and the admin token from its entry, the same agent's unix socket gets none,
/// in one invocation; an entry whose group gives the read token may list but not create.
#[test]
fn inventory_hosts_carry_their_own_tls_and_token() {
    let fixture = Fixture::start(false);
    let path = |p: &Path| p.display().to_string();
    let inventory = fixture._dir.path().join("hosts.yaml");
    std::fs::write(
        &inventory,
        format!(
            "hosts:\n  remote:\n    endpoint: {AGENT}\n    tls: {{ca: {}}}\n    token_file: {}\n  \
             reader:\n    endpoint: {AGENT}\n  local:\n    endpoint: {}\n\
             groups:\n  readers:\n    members: [reader]\n    tls: {{ca: {}}}\n    token_env: NSFLEET_TEST_READ_TOKEN\n",
            path(&fixture.pki.ca),
            path(&fixture.admin_token_file),
            fixture.host().endpoint(),
            path(&fixture.pki.ca),
        ),
    )
    .expect("the inventory");
    let client = path(&binaries().client);
    let read_token = format!("NSFLEET_TEST_READ_TOKEN={READ_TOKEN}");
    let inventory = path(&inventory);
    let run = |words: &[&str]| {
        let mut argv = vec![
            "env",
            "-u",
            "NSFLEET_HOSTS",
            "-u",
            "NSFLEET_TOKEN",
            &read_token,
            &client,
            "--inventory",
            &inventory,
            "-o",
            "json",
            "--timeout",
            "10",
        ];
        argv.extend(words);
        fixture.host().run_in("client", &argv)
    };
    let both = run(&["--host", "remote,local", "netns", "add", "inv1"]);
    let lines: Vec<Value> = both
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert!(both.success(), "{both}");
    let hosts: Vec<&Value> = lines.iter().map(|line| &line["host"]).collect();
    assert_eq!(hosts, ["remote", "local"], "{both}");
    assert!(fixture.host().ip_netns_list().contains(&"inv1".to_string()));
    assert_ok(&run(&["--host", "reader", "netns", "list"]));
    assert_code(
        &run(&["--host", "reader", "netns", "add", "inv2"]),
        "PERMISSION_DENIED",
    );
}

#[test]
fn plaintext_to_a_tls_agent_fails_and_tls_with_the_ca_works() {
    let fixture = Fixture::start(false);
    let plaintext = fixture.remote(Credentials { ca: false, ..ADMIN }, &["link", "list"]);
    assert_code(&plaintext, "UNAVAILABLE");
    let listed = assert_ok(&fixture.remote(ADMIN, &["link", "list"]));
    assert!(
        listed["links"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["name"] == "veth-mgmt")),
        "{listed}"
    );
}

#[test]
fn an_mtls_agent_refuses_clients_without_a_certificate_and_names_those_with_one() {
    let fixture = Fixture::start(true);
    let anonymous = fixture.remote(
        Credentials {
            ca: true,
            ..Credentials::default()
        },
        &["netns", "add", "nocert"],
    );
    // The TLS handshake fails: the call never reaches the agent's services.
    assert_code(&anonymous, "UNAVAILABLE");
    let certified = Credentials {
        ca: true,
        client_certificate: true,
        token: None,
    };
    assert_ok(&fixture.remote(certified, &["netns", "add", "viacert"]));
    assert!(fixture
        .host()
        .ip_netns_list()
        .contains(&"viacert".to_string()));
    assert!(!fixture
        .host()
        .ip_netns_list()
        .contains(&"nocert".to_string()));
    let audited = fixture.audited("CreateNamespace", "OK");
    assert!(
        audited.iter().any(|r| r["identity"] == "cert:ops"
            && r["request"]["name"] == "viacert"
            && r["peer"]
                .as_str()
                .is_some_and(|p| p.starts_with("192.0.2.2:"))),
        "{audited:?}"
    );
}

#[test]
fn a_read_token_lists_but_cannot_create_and_an_admin_token_can() {
    let fixture = Fixture::start(false);
    assert_ok(&fixture.remote(READER, &["link", "list"]));
    let denied = assert_code(
        &fixture.remote(READER, &["netns", "add", "byreader"]),
        "PERMISSION_DENIED",
    );
    assert!(
        denied.contains("token:grafana") && denied.contains("admin"),
        "{denied}"
    );
    assert!(!fixture
        .host()
        .ip_netns_list()
        .contains(&"byreader".to_string()));

    assert_ok(&fixture.remote(ADMIN, &["netns", "add", "byadmin"]));
    assert!(fixture
        .host()
        .ip_netns_list()
        .contains(&"byadmin".to_string()));

    assert_code(
        &fixture.remote(
            Credentials {
                ca: true,
                ..Credentials::default()
            },
            &["link", "list"],
        ),
        "UNAUTHENTICATED",
    );
    assert_code(
        &fixture.remote(
            Credentials {
                token: Some("guessed-token"),
                ..READER
            },
            &["link", "list"],
        ),
        "UNAUTHENTICATED",
    );

    let denied = fixture.audited("CreateNamespace", "PERMISSION_DENIED");
    assert!(
        denied
            .iter()
            .any(|r| r["identity"] == "token:grafana" && r["request"]["name"] == "byreader"),
        "{denied:?}"
    );
    let allowed = fixture.audited("CreateNamespace", "OK");
    assert!(
        allowed
            .iter()
            .any(|r| r["identity"] == "token:ci" && r["request"]["name"] == "byadmin"),
        "{allowed:?}"
    );
    let unauthenticated = fixture.audited("ListLinks", "UNAUTHENTICATED");
    assert_eq!(unauthenticated.len(), 2, "{unauthenticated:?}");
    assert!(
        unauthenticated.iter().all(|r| r["request"].is_null()),
        "an unauthenticated request body was read"
    );
    // Successful reads are not mutations: they stay out of the log.
    assert!(fixture.audited("ListLinks", "OK").is_empty());
}

#[test]
fn the_guard_refuses_to_cut_the_management_path_and_force_overrides_it() {
    let fixture = Fixture::start(false);
    let host = fixture.host();
    for (words, mentions) in [
        (&["link", "del", "veth-mgmt"][..], "veth-mgmt"),
        (&["link", "set", "veth-mgmt", "down"][..], "bringing down"),
        (
            &["link", "set", "veth-mgmt", "netns", "client"][..],
            "moving link veth-mgmt to namespace client",
        ),
        (
            &["addr", "del", "192.0.2.1/24", "dev", "veth-mgmt"][..],
            "192.0.2.1",
        ),
        (
            &["route", "del", "192.0.2.0/24"][..],
            "192.0.2.0/24 dev veth-mgmt",
        ),
        (&["netns", "del", "client"][..], "veth-mgmt"),
        (
            &["-n", "client", "link", "del", "eth0"][..],
            "veth peer veth-mgmt",
        ),
    ] {
        let message = assert_code(&fixture.remote(ADMIN, words), "FAILED_PRECONDITION");
        assert!(
            message.contains(mentions) && message.contains("force"),
            "{words:?}: {message}"
        );
    }
    let link = host
        .ip_link("", "veth-mgmt")
        .expect("veth-mgmt survives every refused change");
    assert!(
        link["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "UP")),
        "{link}"
    );
    // Changes that leave the path alone are not refused.
    assert_ok(&fixture.remote(ADMIN, &["link", "set", "veth-mgmt", "mtu", "1400"]));

    let batch_refusal = guarded_batch_over_tcp(&fixture);
    assert_eq!(
        batch_refusal.code(),
        tonic::Code::FailedPrecondition,
        "{batch_refusal:?}"
    );
    assert!(
        batch_refusal
            .message()
            .starts_with("operations[1]: deleting link veth-mgmt"),
        "{batch_refusal:?}"
    );
    assert!(
        !host.ip_netns_list().contains(&"batchns".to_string()),
        "a refused batch applied an operation"
    );

    // With force the link goes, and with it the connection: the answer may never arrive.
    let _ = fixture.remote(ADMIN, &["--force", "link", "del", "veth-mgmt"]);
    poll_until(
        "veth-mgmt to be deleted",
        Duration::from_secs(20),
        || match host.ip_link("", "veth-mgmt") {
            None => Ok(()),
            Some(link) => Err(link.to_string()),
        },
    );

    let refused = fixture.audited("DeleteLink", "FAILED_PRECONDITION");
    assert!(
        refused
            .iter()
            .any(|r| r["request"]["name"] == "veth-mgmt" && r["request"].get("force").is_none()),
        "{refused:?}"
    );
    for method in [
        "SetLink",
        "DeleteAddress",
        "DeleteRoute",
        "DeleteNamespace",
        "ApplyBatch",
    ] {
        assert!(
            !fixture.audited(method, "FAILED_PRECONDITION").is_empty(),
            "no audit line for the refused {method}"
        );
    }
    let forced: Vec<Value> = fixture
        .audit()
        .into_iter()
        .filter(|r| {
            r["method"] == "/nsfleet.v1.LinkService/DeleteLink" && r["request"]["force"] == true
        })
        .collect();
    assert_eq!(forced.len(), 1, "{forced:?}");
    assert!(
        forced[0]["code"] == "OK" || forced[0]["code"] == "CANCELLED",
        "{forced:?}"
    );
    assert_eq!(forced[0]["identity"], "token:ci");
}

/// `--force` in a batch, from the CLI over TCP: the guarded step is deleting the management address,
/// and the next line puts it back, so the answer still arrives over veth-mgmt.
#[test]
fn force_reaches_the_agent_from_a_batch_line_and_from_the_batch_command() {
    let fixture = Fixture::start(false);
    let host = fixture.host();
    let write = |name: &str, text: &str| {
        let path = fixture._dir.path().join(name);
        std::fs::write(&path, text).expect("a batch file");
        path.display().to_string()
    };
    let bounce = "addr del 192.0.2.1/24 dev veth-mgmt\naddr add 192.0.2.1/24 dev veth-mgmt\n";
    let unforced = write("unforced.batch", bounce);
    let line_forced = write("line-forced.batch", &format!("--force {bounce}"));

    let message = assert_code(
        &fixture.remote(ADMIN, &["batch", &unforced]),
        "FAILED_PRECONDITION",
    );
    assert!(
        message.contains("192.0.2.1") && message.contains("force"),
        "{message}"
    );
    for words in [
        &["batch", line_forced.as_str()][..],
        &["--force", "batch", unforced.as_str()],
    ] {
        let result = assert_ok(&fixture.remote(ADMIN, words));
        assert_eq!(result["ok"], true, "{words:?}: {result}");
        assert_eq!(
            result["results"][0]["changed"], true,
            "{words:?}: the address was deleted\n{result}"
        );
        let addresses = host.ip_addresses("");
        assert!(
            addresses.iter().any(|link| link["ifname"] == "veth-mgmt"
                && link["addr_info"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|a| a["local"] == "192.0.2.1"))),
            "{words:?}: 192.0.2.1 is back on veth-mgmt: {addresses:?}"
        );
    }
    let forced: Vec<Value> = fixture.audited("ApplyBatch", "OK");
    assert_eq!(forced.len(), 2, "{forced:?}");
}

/// ApplyBatch over TLS from inside namespace `client`: [create namespace batchns, delete veth-mgmt].
/// Straight through tonic, not the CLI, so that the status code and message are the agent's own: a thread
/// joins the client namespace and calls ApplyBatch.
fn guarded_batch_over_tcp(fixture: &Fixture) -> tonic::Status {
    let namespace = format!("/proc/{}/root/run/netns/client", fixture.host().pid());
    let ca = std::fs::read(&fixture.pki.ca).expect("the CA");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&namespace).expect("the client namespace");
        // This thread only: the test's other threads stay where they are.
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("setns into the client namespace");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let tls = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca));
            let channel = tonic::transport::Endpoint::from_static("https://192.0.2.1:50051")
                .tls_config(tls)
                .expect("TLS config")
                .connect()
                .await
                .expect("connect over veth-mgmt");
            let mut client = pb::batch_service_client::BatchServiceClient::new(channel);
            let operations = vec![
                pb::batch_operation::Operation::CreateNamespace(pb::CreateNamespaceRequest {
                    name: "batchns".into(),
                }),
                pb::batch_operation::Operation::DeleteLink(pb::DeleteLinkRequest {
                    name: "veth-mgmt".into(),
                    ..Default::default()
                }),
            ];
            let mut request = tonic::Request::new(pb::ApplyBatchRequest {
                operations: operations
                    .into_iter()
                    .map(|o| pb::BatchOperation { operation: Some(o) })
                    .collect(),
                continue_on_error: false,
            });
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {ADMIN_TOKEN}").parse().expect("header"),
            );
            client
                .apply_batch(request)
                .await
                .expect_err("the batch must be refused")
        })
    })
    .join()
    .expect("the batch thread")
}

/// A batch creating `pairs` veth pairs cx0/px0, cx1/px1, ... in the host namespace: slow enough (the
/// operations share a namespace, so they run one after another) to be interrupted.
fn veth_batch(pairs: usize) -> pb::ApplyBatchRequest {
    let operations = (0..pairs)
        .map(|i| pb::BatchOperation {
            operation: Some(pb::batch_operation::Operation::CreateLink(
                pb::CreateLinkRequest {
                    name: format!("cx{i}"),
                    kind: Some(pb::create_link_request::Kind::Veth(pb::VethSpec {
                        peer_name: format!("px{i}"),
                        peer_namespace: None,
                    })),
                    ..Default::default()
                },
            )),
        })
        .collect();
    pb::ApplyBatchRequest {
        operations,
        continue_on_error: false,
    }
}

/// Waits until the number of cx* links has not changed for two seconds, and returns it.
fn settled_batch_links(host: &SimHost) -> usize {
    let count = || {
        host.ip_links("")
            .iter()
            .filter(|l| l["ifname"].as_str().is_some_and(|n| n.starts_with("cx")))
            .count()
    };
    let mut last = (count(), std::time::Instant::now());
    poll_until("the batch to settle", Duration::from_secs(60), || {
        let now = count();
        if now != last.0 {
            last = (now, std::time::Instant::now());
        }
        if last.1.elapsed() >= Duration::from_secs(2) {
            Ok(now)
        } else {
            Err(format!("{now} links so far"))
        }
    })
}

fn audited_in_log(host: &SimHost, method: &str, code: &str) -> bool {
    host.agent_log().lines().any(|l| {
        l.contains(&format!("\"method\":\"{method}\""))
            && l.contains(&format!("\"code\":\"{code}\""))
    })
}

async fn batch_client(
    host: &SimHost,
) -> pb::batch_service_client::BatchServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(host.endpoint())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    pb::batch_service_client::BatchServiceClient::new(channel)
}

#[test]
fn a_batch_whose_caller_goes_away_is_applied_whole_or_not_at_all() {
    const PAIRS: usize = 120;
    let lab = Lab::start(1);
    let host = lab.host(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let gave_up = runtime.block_on(async {
        let mut client = batch_client(host).await;
        let call = client.apply_batch(veth_batch(PAIRS));
        tokio::pin!(call);
        // Leave half way, once the kernel shows some of the pairs and not all (whatever this machine's
        // speed): dropping the call resets the stream, as a client that dies would.
        loop {
            tokio::select! {
                _ = &mut call => return false,
                () = tokio::time::sleep(Duration::from_millis(1)) => {
                    let made = links_named(host, "cx");
                    if made > 0 && made < PAIRS {
                        return true;
                    }
                }
            }
        }
    });
    drop(runtime);
    assert!(
        gave_up,
        "the batch finished before the client left; nothing was tested"
    );
    let settled = settled_batch_links(host);
    assert!(
        settled == PAIRS || settled == 0,
        "half a batch: {settled} of {PAIRS} veth pairs"
    );
    assert!(
        audited_in_log(host, "/nsfleet.v1.BatchService/ApplyBatch", "CANCELLED"),
        "no audit line for the abandoned batch:\n{}",
        host.agent_log()
    );
}

#[test]
fn oversized_and_overdue_calls_are_refused_and_the_socket_is_0660() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    const PAIRS: usize = 150;
    // 150 veth pairs take about 200 ms here (over 1 ms each); the deadline is a tenth of that. The batch
    // must fit in --max-message-bytes, so it cannot simply be made longer.
    let args: Vec<String> = [
        "--max-message-bytes",
        "8192",
        "--request-timeout",
        "0.02",
        "--socket-group",
        "daemon",
    ]
    .map(String::from)
    .to_vec();
    let lab = Lab::start_with_args(1, &args);
    let host = lab.host(0);
    let socket = std::fs::metadata(host.dir().join("agent.sock")).expect("the agent's socket");
    assert_eq!(socket.permissions().mode() & 0o777, 0o660);
    assert_eq!(socket.gid(), 1, "--socket-group daemon");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (oversized, overdue) = runtime.block_on(async {
        let mut client = batch_client(host).await;
        let namespaces = (0..1000)
            .map(|i| pb::BatchOperation {
                operation: Some(pb::batch_operation::Operation::CreateNamespace(
                    pb::CreateNamespaceRequest {
                        name: format!("n{i}"),
                    },
                )),
            })
            .collect();
        let oversized = client
            .apply_batch(pb::ApplyBatchRequest {
                operations: namespaces,
                continue_on_error: false,
            })
            .await
            .expect_err("a request over --max-message-bytes");
        let overdue = client
            .apply_batch(veth_batch(PAIRS))
            .await
            .expect_err("a batch slower than --request-timeout");
        (oversized, overdue)
    });
    assert_eq!(
        oversized.code(),
        tonic::Code::ResourceExhausted,
        "{oversized:?}"
    );
    assert!(
        host.ip_netns_list().is_empty(),
        "an oversized batch was applied"
    );
    assert_eq!(overdue.code(), tonic::Code::DeadlineExceeded, "{overdue:?}");
    let settled = settled_batch_links(host);
    assert!(
        settled == PAIRS || settled == 0,
        "half a batch: {settled} of {PAIRS} veth pairs"
    );
    for code in ["RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED"] {
        assert!(
            audited_in_log(host, "/nsfleet.v1.BatchService/ApplyBatch", code),
            "no {code} audit line:\n{}",
            host.agent_log()
        );
    }
}

/// A topology that takes veth-mgmt over and brings it down: a change of the management path.
fn management_path_down() -> pb::HostTopology {
    pb::HostTopology {
        name: "mgmt".into(),
        namespaces: vec![pb::CreateNamespaceRequest {
            name: "client".into(),
        }],
        links: vec![pb::TopologyLink {
            link: Some(pb::CreateLinkRequest {
                namespace: String::new(),
                name: "veth-mgmt".into(),
                kind: Some(pb::create_link_request::Kind::Veth(pb::VethSpec {
                    peer_name: "eth0".into(),
                    peer_namespace: Some("client".into()),
                })),
                mtu: 0,
            }),
            up: false,
            peer_up: true,
            ..Default::default()
        }],
        adopt: vec![
            pb::ObjectRef {
                kind: pb::ObjectKind::Namespace as i32,
                name: "client".into(),
                ..Default::default()
            },
            pb::ObjectRef {
                kind: pb::ObjectKind::Link as i32,
                name: "veth-mgmt".into(),
                ..Default::default()
            },
            pb::ObjectRef {
                kind: pb::ObjectKind::Link as i32,
                namespace: "client".into(),
                name: "eth0".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

/// TopologyService.Apply over TLS from inside namespace `client`, as `guarded_batch_over_tcp` calls
/// ApplyBatch; bounded by a 10 s deadline, since a change that cuts the path never answers.
fn topology_apply_over_tcp(
    fixture: &Fixture,
    request: pb::ApplyTopologyRequest,
) -> Result<pb::ApplyTopologyResponse, tonic::Status> {
    let namespace = format!("/proc/{}/root/run/netns/client", fixture.host().pid());
    let ca = std::fs::read(&fixture.pki.ca).expect("the CA");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&namespace).expect("the client namespace");
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("setns into the client namespace");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let tls = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca));
            let channel = tonic::transport::Endpoint::from_static("https://192.0.2.1:50051")
                .tls_config(tls)
                .expect("TLS config")
                .timeout(Duration::from_secs(10))
                .connect()
                .await
                .expect("connect over veth-mgmt");
            let mut client = pb::topology_service_client::TopologyServiceClient::new(channel);
            let mut request = tonic::Request::new(request);
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {ADMIN_TOKEN}").parse().expect("header"),
            );
            client.apply(request).await.map(tonic::Response::into_inner)
        })
    })
    .join()
    .expect("the apply thread")
}

fn mgmt_is_up(host: &SimHost) -> bool {
    host.ip_link("", "veth-mgmt").is_some_and(|link| {
        link["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "UP"))
    })
}

#[test]
fn a_forced_topology_change_of_the_management_path_needs_a_confirmed_commit() {
    let fixture = Fixture::start(false);
    let host = fixture.host();
    let request = |force: bool, confirm: Option<u32>| pb::ApplyTopologyRequest {
        topology: Some(management_path_down()),
        fingerprint: String::new(),
        force,
        confirm: confirm.map(|timeout_seconds| pb::CommitOptions {
            timeout_seconds,
            commit_id: "mgmt-change".into(),
        }),
    };
    let guarded =
        topology_apply_over_tcp(&fixture, request(false, None)).expect_err("the guard refuses");
    assert_eq!(
        guarded.code(),
        tonic::Code::FailedPrecondition,
        "{guarded:?}"
    );
    assert!(guarded.message().contains("force"), "{guarded:?}");
    let unconfirmed = topology_apply_over_tcp(&fixture, request(true, None))
        .expect_err("force alone is not enough");
    assert_eq!(
        unconfirmed.code(),
        tonic::Code::FailedPrecondition,
        "{unconfirmed:?}"
    );
    assert!(
        unconfirmed
            .message()
            .contains("a change of the management path needs a confirmed commit"),
        "{unconfirmed:?}"
    );
    assert!(mgmt_is_up(host), "the refusals changed nothing");

    // Forced and confirmed: the path goes down and the answer may never arrive; the host takes it back
    // by itself at the deadline, and the remote CLI reaches the agent again.
    let _ = topology_apply_over_tcp(&fixture, request(true, Some(3)));
    poll_until(
        "the commit to roll back and veth-mgmt to be up again",
        Duration::from_secs(60),
        || {
            let status = host.cli("commit status mgmt-change");
            let state = status
                .lines
                .first()
                .map(|l| l["result"]["commit"]["state"].clone());
            match state {
                Some(Value::String(s)) if s == "rolled_back" && mgmt_is_up(host) => Ok(()),
                _ => Err(status.to_string()),
            }
        },
    );
    poll_until(
        "the agent to answer over veth-mgmt again",
        Duration::from_secs(20),
        || {
            let run = fixture.remote(ADMIN, &["netns", "list"]);
            if run.success() {
                Ok(())
            } else {
                Err(run.to_string())
            }
        },
    );
}
