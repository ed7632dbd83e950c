//! Deployment: the systemd unit, the DaemonSet, the man pages, JSON logs, and the agent under a
//! sandbox's private mount namespace (`--host-mount-namespace`), proven in a simulated host.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nsfleet_tests::deploy_tools::{kubernetes_validate, shipped};
use nsfleet_tests::{binaries, run_bounded, Lab, Nsfleet, SimHost};
use serde_json::Value;

const TOOL_LIMIT: Duration = Duration::from_secs(120);
const UNIT: &str = "systemd/nsfleet-agent.service";

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(shipped(UNIT)).expect("the shipped unit");
    assert!(
        unit.contains("--host-mount-namespace /proc/1/ns/mnt"),
        "a sandboxed unit must make its namespace mounts in the host's mount namespace"
    );
    // verify wants ExecStart's binary to exist: point it at the one just built, in a copy.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let copy = dir.path().join("nsfleet-agent.service");
    let agent = binaries().agent.display().to_string();
    std::fs::write(&copy, unit.replace("/usr/local/bin/nsfleet-agent", &agent))
        .expect("the unit's copy");
    let verified = run_bounded(
        Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&copy),
        TOOL_LIMIT,
    );
    // verify only warns about a directive it cannot parse (and ignores it): any output is a failure.
    assert!(
        verified.success() && verified.stderr.trim().is_empty(),
        "systemd-analyze verify (needs systemd installed): {verified}"
    );
}

#[test]
fn the_daemonset_passes_kubernetes_schema_validation() {
    let validated = run_bounded(
        Command::new(kubernetes_validate())
            .arg("--strict")
            .arg(shipped("kubernetes/nsfleet-agent-daemonset.yaml")),
        TOOL_LIMIT,
    );
    assert!(validated.success(), "{validated}");
    assert!(
        validated.stdout.contains("daemonset/nsfleet-agent"),
        "the DaemonSet itself was validated: {validated}"
    );
}

#[test]
fn both_man_pages_render_without_groff_warnings() {
    let agent_page = run_bounded(Command::new(&binaries().agent).arg("--man"), TOOL_LIMIT);
    assert!(agent_page.success(), "{agent_page}");
    assert!(
        agent_page.stdout.contains(".TH nsfleet-agent"),
        "{agent_page}"
    );
    assert!(
        agent_page.stdout.contains("host\\-mount\\-namespace"),
        "{agent_page}"
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let agent_file = dir.path().join("nsfleet-agent.1");
    std::fs::write(&agent_file, &agent_page.stdout).expect("the agent's page");
    let client = run_bounded(
        Command::new(&binaries().client)
            .args(["man", "--dir"])
            .arg(dir.path()),
        TOOL_LIMIT,
    );
    assert!(client.success(), "{client}");
    let pages: Vec<_> = std::fs::read_dir(dir.path())
        .expect("the man page directory")
        .map(|entry| entry.expect("a man page").path())
        .collect();
    for name in ["nsfleet.1", "nsfleet-netns.1", "nsfleet-agent.1"] {
        assert!(
            pages.iter().any(|page| page.ends_with(name)),
            "{name} missing from {pages:?}"
        );
    }
    for page in pages {
        let rendered = run_bounded(
            Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .arg(&page),
            TOOL_LIMIT,
        );
        assert!(
            rendered.success() && rendered.stderr.trim().is_empty(),
            "{} (groff is needed): {rendered}",
            page.display()
        );
    }
}

#[test]
fn json_logs_are_one_object_a_line() {
    let lab = Lab::start_with_args(1, &["--log-format".into(), "json".into()]);
    let host = lab.host(0);
    host.cli("netns list").result();
    let log = host.agent_log();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\nwhole log:\n{log}"))
        })
        .collect();
    assert!(
        lines.iter().any(
            |line| line["level"] == "INFO" && line["fields"]["message"] == "serving nsfleet.v1"
        ),
        "no JSON line says the agent serves:\n{log}"
    );
}

/// An agent started like systemd's sandbox starts it: in a mount namespace that is a slave of the
/// simulated host's, with only the unit's capabilities and no new privileges; /run read-only unless
/// `writable_run` (ProtectSystem=strict makes it so). Killed when dropped.
struct SandboxedAgent {
    child: Child,
    endpoint: String,
    log: std::path::PathBuf,
}

impl SandboxedAgent {
    fn start(host: &SimHost, name: &str, writable_run: bool, agent_args: &[String]) -> Self {
        let socket = host.dir().join(format!("{name}.sock"));
        let log = host.dir().join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("the sandboxed agent's log");
        let remount = if writable_run {
            ""
        } else {
            "mount -o remount,bind,ro /run && "
        };
        let script = format!(
            "{remount}exec setpriv --no-new-privs --inh-caps -all --bounding-set -all,{} -- \"$@\"",
            unit_capabilities()
        );
        let mut command = Command::new("nsenter");
        command
            .arg("--target")
            .arg(host.pid().to_string())
            .args(["--net", "--mount", "--"])
            .args(["unshare", "--mount", "--propagation", "slave", "--"])
            .args(["sh", "-c", &script, "sh"])
            .arg(&binaries().agent)
            .arg("--listen")
            .arg(format!("unix:{}", socket.display()))
            .arg("--state-dir")
            .arg(host.dir().join(format!("{name}-state")))
            .args(agent_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let mut child = command.spawn().expect("nsenter to start a sandboxed agent");
        let started = Instant::now();
        while UnixStream::connect(&socket).is_err() {
            if let Some(status) = child.try_wait().expect("waiting for the sandboxed agent") {
                panic!(
                    "the sandboxed agent exited ({status}) before serving; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the sandboxed agent did not serve within 30 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Self {
            child,
            endpoint: format!("unix:{}", socket.display()),
            log,
        }
    }

    fn cli(&self, line: &str) -> Value {
        let run = Nsfleet::new().endpoint(&self.endpoint).line(line).run();
        assert!(
            run.finished.success(),
            "{line}: {run:?}\nthe sandboxed agent's log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        run.result().clone()
    }
}

impl Drop for SandboxedAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The unit's CapabilityBoundingSet as setpriv wants it: `+net_admin,+sys_admin,...`.
fn unit_capabilities() -> String {
    let unit = std::fs::read_to_string(shipped(UNIT)).expect("the shipped unit");
    let line = unit
        .lines()
        .find_map(|line| line.strip_prefix("CapabilityBoundingSet="))
        .expect("the unit names its capabilities");
    line.split_whitespace()
        .map(|cap| format!("+{}", cap.trim_start_matches("CAP_").to_lowercase()))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn without_the_option_a_sandboxed_agent_mounts_where_the_host_cannot_see() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let agent = SandboxedAgent::start(host, "plain", true, &[]);
    agent.cli("netns add hidden");
    // The file is on the shared /run, the mount only in the agent's namespace: the host has an empty file.
    let entered = host.run_in("", &["ip", "netns", "exec", "hidden", "true"]);
    assert!(
        !entered.success(),
        "the mount of a sandboxed agent reached the host after all: {entered}"
    );
    drop(agent);
    host.run_ok("", &["rm", "/run/netns/hidden"]);
}

#[test]
fn with_the_option_a_sandboxed_agent_mounts_where_the_host_sees_and_uses_them() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let host_mounts = format!("/proc/{}/ns/mnt", host.pid());
    let agent = SandboxedAgent::start(
        host,
        "sandboxed",
        false,
        &["--host-mount-namespace".into(), host_mounts],
    );
    for line in [
        "netns add seen",
        "link add v-host type veth peer v-seen netns seen",
        "-n seen addr add 192.0.2.2/24 dev v-seen",
        "-n seen link set v-seen up",
        "addr add 192.0.2.1/24 dev v-host",
        "link set v-host up",
    ] {
        agent.cli(line);
    }
    assert_eq!(host.ip_netns_list(), ["seen"], "ip netns list on the host");
    // `ip netns exec` on the host enters the namespace through the agent's mount: it is the real one.
    let ping = host.ping("seen", "192.0.2.1", None);
    assert!(ping.success(), "{ping}");
    // The unit's capabilities are enough for the rest: NAT through libnftables, the ping RPC's raw sockets.
    agent.cli("nat add masquerade from 192.0.2.0/24 oif v-host");
    let ruleset = host.run_ok("", &["nft", "list", "ruleset"]);
    assert!(ruleset.contains("masquerade"), "{ruleset}");
    let echo = Nsfleet::new()
        .endpoint(&agent.endpoint)
        .line("-n seen ping -c 1 192.0.2.1")
        .run();
    assert_eq!(echo.ping_replies(0), 1, "{echo:?}");
    let listed = agent.cli("netns list");
    assert_eq!(listed["namespaces"][0]["name"], "seen", "{listed}");

    agent.cli("netns del seen");
    assert!(
        host.ip_netns_list().is_empty(),
        "the unmount reached the host too"
    );
    assert!(
        !Path::new(&format!("/proc/{}/root/run/netns/seen", host.pid())).exists(),
        "the mount point file is gone from the host's /run/netns"
    );
}
