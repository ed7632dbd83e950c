//! `nsfleet lab up/down/list`: the user's own lab, driven through the real CLI. Each test keeps its labs
//! in a temporary directory (never the machine's /run/nsfleet) behind a guard that runs `lab down` even
//! when the test fails. The machine's side is checked with iproute2 and /proc, not with nsfleet.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use nsfleet_tests::{poll_until, require_root, CliRun, Nsfleet};

/// A lab started by `nsfleet lab up`; dropping it runs `nsfleet lab down`, then removes the labs root.
struct UserLab {
    name: String,
    // Declared last: removed after `lab down` ran in `drop`.
    root: tempfile::TempDir,
}

impl UserLab {
    fn new(name: &str) -> UserLab {
        Self::new_in(name, &std::env::temp_dir())
    }

    fn new_in(name: &str, parent: &Path) -> UserLab {
        require_root();
        let root = tempfile::Builder::new()
            .prefix("nsfleet-labs-")
            .tempdir_in(parent)
            .expect("a temporary labs root");
        UserLab {
            name: name.to_string(),
            root,
        }
    }

    fn root(&self) -> &Path {
        self.root.path()
    }

    fn dir(&self) -> PathBuf {
        self.root().join(&self.name)
    }

    /// `nsfleet [-o json] lab WORDS... --lab-dir ROOT`.
    fn lab(&self, words: &str) -> Nsfleet {
        Nsfleet::new()
            .line(&format!("lab {words}"))
            .args(["--lab-dir", &self.root().display().to_string()])
    }

    /// `lab up NAME --hosts N` in text form; returns the endpoints it printed, in order.
    fn up(&self, hosts: u32) -> Vec<String> {
        let run = self
            .lab(&format!("up {} --hosts {hosts}", self.name))
            .text()
            .run();
        assert_eq!(run.exit_code(), Some(0), "lab up failed\n{run}");
        endpoints(&run)
    }

    fn down(&self) -> CliRun {
        self.lab(&format!("down {}", self.name)).text().run()
    }

    /// `lab list -o json`: one object per lab.
    fn list(&self) -> Vec<Value> {
        let run = self.lab("list").run();
        assert_eq!(run.exit_code(), Some(0), "lab list failed\n{run}");
        run.lines
    }
}

impl Drop for UserLab {
    fn drop(&mut self) {
        let run = self
            .lab(&format!("down {} --ignore-missing", self.name))
            .text()
            .run();
        if run.exit_code() != Some(0) && !std::thread::panicking() {
            panic!("lab down in the guard failed\n{run}");
        }
    }
}

/// The `--endpoint host1=unix:...` lines of `lab up`, checked for form; returns the endpoints.
fn endpoints(run: &CliRun) -> Vec<String> {
    run.stdout()
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let expected_prefix = format!("--endpoint host{}=", index + 1);
            let endpoint = line.strip_prefix(&expected_prefix).unwrap_or_else(|| {
                panic!("line {line:?} is not `{expected_prefix}ENDPOINT`\n{run}")
            });
            assert!(
                endpoint.starts_with("unix:/"),
                "not a unix endpoint: {line}"
            );
            endpoint.to_string()
        })
        .collect()
}

fn on(endpoint: &str, line: &str) -> CliRun {
    Nsfleet::new().endpoint(endpoint).line(line).run()
}

fn namespace_names(endpoint: &str) -> Vec<String> {
    on(endpoint, "netns list").result()["namespaces"]
        .as_array()
        .expect("a namespaces array")
        .iter()
        .map(|namespace| namespace["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// What the machine's root namespace shows: link names (`ip -j link`), named namespaces (`ip netns`),
/// and whether /run/netns exists.
#[derive(Debug, PartialEq)]
struct Machine {
    links: Vec<String>,
    namespaces: String,
    has_run_netns: bool,
}

fn machine() -> Machine {
    let ip = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().expect("running ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let links: Value = serde_json::from_str(&ip(&["-j", "link"])).expect("ip -j link is JSON");
    let mut links: Vec<String> = links
        .as_array()
        .expect("an array of links")
        .iter()
        .map(|link| link["ifname"].as_str().unwrap_or_default().to_string())
        .collect();
    links.sort();
    Machine {
        links,
        namespaces: ip(&["netns", "list"]),
        has_run_netns: Path::new("/run/netns").exists(),
    }
}

/// The pids of `lab up -o json`'s lines (the same lab again: it prints the running lab's endpoints).
fn agent_pids(lab: &UserLab, hosts: u32) -> Vec<u32> {
    let run = lab.lab(&format!("up {} --hosts {hosts}", lab.name)).run();
    assert_eq!(run.exit_code(), Some(0), "lab up -o json failed\n{run}");
    assert_eq!(
        run.lines.len(),
        hosts as usize,
        "one JSON line per host\n{run}"
    );
    run.lines
        .iter()
        .map(|line| {
            let pid = line["pid"]
                .as_u64()
                .unwrap_or_else(|| panic!("no pid in {line}"));
            u32::try_from(pid).expect("a pid fits u32")
        })
        .collect()
}

/// A process exists and is not a zombie (a zombie holds no namespace; this machine's init may be slow
/// to reap).
fn runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            Some(
                stat.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .next()?
                    .to_string(),
            )
        })
        .is_some_and(|state| state != "Z" && state != "X")
}

fn namespace_links(pid: u32) -> Vec<PathBuf> {
    ["net", "mnt"]
        .iter()
        .map(|kind| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).expect("a namespace link"))
        .collect()
}

/// Every live process in one of `namespaces` (as /proc/PID/ns/* name them).
fn processes_in(namespaces: &[PathBuf]) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("listing /proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            ["net", "mnt"].iter().any(|kind| {
                std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
                    .is_ok_and(|link| namespaces.contains(&link))
            })
        })
        .collect()
}

fn mountinfo_mentions(path: &Path) -> bool {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("reading mountinfo");
    mountinfo.contains(&path.display().to_string())
}

#[test]
fn up_serves_isolated_hosts_and_down_removes_every_trace() {
    let before = machine();
    let lab = UserLab::new("demo");
    let endpoints = lab.up(2);
    assert_eq!(endpoints.len(), 2);
    let pids = agent_pids(&lab, 2);
    let namespaces: Vec<PathBuf> = pids.iter().flat_map(|pid| namespace_links(*pid)).collect();

    // The printed endpoints work with the CLI, and each host is a world of its own.
    on(&endpoints[0], "netns add x").result();
    on(&endpoints[0], "link add br-lab type bridge").result();
    on(
        &endpoints[0],
        "link add veth-lab type veth peer name veth-lab-p netns x",
    )
    .result();
    assert_eq!(namespace_names(&endpoints[0]), ["x"]);
    assert_eq!(namespace_names(&endpoints[1]), Vec::<String>::new());
    let links = on(&endpoints[0], "link list").result().clone();
    for name in ["lo", "br-lab", "veth-lab"] {
        assert!(
            nsfleet_tests::json::find_by(&links["links"], "name", name).is_some(),
            "{name} missing from host1's links: {links:#}"
        );
    }
    let lo = nsfleet_tests::json::cli_link(&links, "lo");
    assert_eq!(
        lo["admin_up"],
        Value::Bool(true),
        "lo is down in host1: {lo:#}"
    );
    assert_eq!(
        machine(),
        before,
        "a namespace or link made in a lab host showed up in the machine's root namespace"
    );

    // Something else holding a host's namespaces (a shell someone entered) goes too.
    let mut holder = Command::new("nsenter")
        .args([
            "--target",
            &pids[0].to_string(),
            "--net",
            "--mount",
            "sleep",
            "600",
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("starting nsenter");
    poll_until("nsenter to enter host1", Duration::from_secs(10), || {
        let inside = processes_in(&namespaces).contains(&holder.id());
        inside
            .then_some(())
            .ok_or_else(|| "not in host1's namespaces yet".to_string())
    });

    let down = lab.down();
    assert_eq!(down.exit_code(), Some(0), "lab down failed\n{down}");
    let holder_status = holder.try_wait().expect("waiting for nsenter");
    if holder_status.is_none() {
        let _ = holder.kill();
        let _ = holder.wait();
        panic!("lab down left a process inside host1's namespaces");
    }
    for pid in &pids {
        assert!(!runs(*pid), "agent {pid} still runs after lab down");
    }
    let left = processes_in(&namespaces);
    assert!(
        left.is_empty(),
        "processes {left:?} still hold the lab's namespaces"
    );
    assert!(!lab.dir().exists(), "{} still exists", lab.dir().display());
    assert!(
        !mountinfo_mentions(lab.root()),
        "a mount of the lab is left in the machine's mountinfo"
    );
    assert_eq!(lab.list(), Vec::<Value>::new(), "lab list after down");
    assert_eq!(machine(), before, "the machine's root namespace changed");
}

#[test]
fn up_again_prints_the_same_endpoints_and_refuses_another_host_count() {
    let lab = UserLab::new("twice");
    let first = lab.up(2);
    assert_eq!(lab.up(2), first, "a second lab up of the running lab");
    let pids_before = agent_pids(&lab, 2);
    assert_eq!(agent_pids(&lab, 2), pids_before, "lab up restarted agents");

    let other = lab.lab("up twice --hosts 3").text().run();
    assert_eq!(
        other.exit_code(),
        Some(1),
        "another host count must fail\n{other}"
    );
    assert!(other.stderr().contains("runs 2 hosts, not 3"), "{other}");
    assert_eq!(
        other.stdout(),
        "",
        "no endpoints for a refused lab up\n{other}"
    );

    let listed = lab.list();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["lab"], "twice");
    assert_eq!(listed[0]["hosts"], 2);
    assert_eq!(listed[0]["state"], "running");
}

#[test]
fn a_lab_whose_agent_died_is_broken_until_down() {
    let lab = UserLab::new("broken");
    lab.up(2);
    let pids = agent_pids(&lab, 2);
    // SAFETY: kill(2) on a pid the lab just reported as its running agent.
    assert_eq!(
        unsafe { libc::kill(pids[1] as libc::pid_t, libc::SIGKILL) },
        0
    );
    poll_until("host2's agent to die", Duration::from_secs(10), || {
        (!runs(pids[1]))
            .then_some(())
            .ok_or_else(|| "still running".to_string())
    });

    let listed = lab.list();
    assert_eq!(listed[0]["state"], "broken", "{listed:?}");
    assert!(
        listed[0]["problem"]
            .as_str()
            .is_some_and(|p| p.starts_with("host2:")),
        "the problem names the host: {listed:?}"
    );
    let up = lab.lab("up broken --hosts 2").text().run();
    assert_eq!(up.exit_code(), Some(1), "lab up of a broken lab\n{up}");
    assert!(
        up.stderr().contains("is broken") && up.stderr().contains("lab down broken"),
        "{up}"
    );

    let down = lab.down();
    assert_eq!(
        down.exit_code(),
        Some(0),
        "lab down of a broken lab\n{down}"
    );
    assert!(!runs(pids[0]), "host1's agent survived lab down");
    assert!(!lab.dir().exists());
}

#[test]
fn down_of_an_absent_lab_fails_unless_told_to_ignore_it() {
    let lab = UserLab::new("absent");
    let strict = lab.down();
    assert_eq!(strict.exit_code(), Some(1), "{strict}");
    assert!(strict.stderr().contains("no lab named absent"), "{strict}");
    let lenient = lab.lab("down absent --ignore-missing").run();
    assert_eq!(lenient.exit_code(), Some(0), "{lenient}");
    assert_eq!(lenient.lines.len(), 1, "{lenient}");
    assert_eq!(lenient.lines[0]["removed"], false);
}

#[test]
fn an_agent_that_fails_to_start_fails_up_and_leaves_nothing() {
    let lab = UserLab::new("failing");
    let agent = lab.root().join("broken-agent");
    std::fs::write(&agent, "#!/bin/sh\necho \"refusing $1\" >&2\nexit 3\n").expect("a fake agent");
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("making the fake agent executable");
    let up = lab
        .lab("up failing --hosts 2")
        .args(["--agent", &agent.display().to_string()])
        .text()
        .run();
    assert_eq!(up.exit_code(), Some(1), "{up}");
    assert!(
        up.stderr().contains("host1: the agent exited")
            && up.stderr().contains("refusing --listen"),
        "the error shows the end of the agent's log\n{up}"
    );
    assert_eq!(up.stdout(), "", "no endpoints for a failed lab up\n{up}");
    assert!(
        !lab.dir().exists(),
        "a failed lab up left {}",
        lab.dir().display()
    );
}

#[test]
fn down_never_removes_a_directory_that_is_not_a_lab() {
    let lab = UserLab::new("notalab");
    std::fs::create_dir(lab.dir()).expect("a directory");
    std::fs::write(lab.dir().join("precious"), "keep me").expect("a file");
    let down = lab.down();
    assert_eq!(down.exit_code(), Some(1), "{down}");
    assert!(down.stderr().contains("is not a lab"), "{down}");
    assert!(
        lab.dir().join("precious").exists(),
        "lab down removed a directory it did not make"
    );
    assert_eq!(
        lab.list(),
        Vec::<Value>::new(),
        "lab list shows a directory that is not a lab"
    );
    std::fs::remove_file(lab.dir().join("precious")).expect("removing the file");
}

#[test]
fn bad_names_and_host_counts_are_usage_errors() {
    let lab = UserLab::new("usage");
    for line in [
        "up ../x --hosts 1",
        "up a/b --hosts 1",
        "up -x --hosts 1",
        "up ok --hosts 0",
        "up ok --hosts 65",
        "up ok --hosts two",
        "up ok",
        "down a/b",
    ] {
        let run = lab.lab(line).text().run();
        assert_eq!(
            run.exit_code(),
            Some(2),
            "`lab {line}` must be a usage error\n{run}"
        );
    }
    assert_eq!(
        std::fs::read_dir(lab.root())
            .expect("the labs root")
            .count(),
        0,
        "a refused lab up left something in the labs root"
    );
}

/// The default labs root is under /run, which each host covers with a /run of its own: the lab's
/// directory must stay reachable there. A temporary root under /run takes the same path.
#[test]
fn a_lab_under_run_is_served_at_the_same_paths() {
    let lab = UserLab::new_in("underrun", Path::new("/run"));
    let endpoints = lab.up(1);
    on(&endpoints[0], "netns add y").result();
    assert_eq!(namespace_names(&endpoints[0]), ["y"]);
    assert!(
        !Path::new("/run/netns/y").exists(),
        "host1's namespace appeared in the machine's /run"
    );
    let down = lab.down();
    assert_eq!(down.exit_code(), Some(0), "{down}");
    assert!(!lab.dir().exists());
}

#[test]
fn the_labs_root_comes_from_the_environment() {
    let lab = UserLab::new("fromenv");
    let run = Nsfleet::new()
        .text()
        .env("NSFLEET_LAB_DIR", &lab.root().display().to_string())
        .line("lab up fromenv --hosts 1")
        .run();
    assert_eq!(run.exit_code(), Some(0), "{run}");
    let endpoint = &endpoints(&run)[0];
    assert!(
        endpoint.starts_with(&format!("unix:{}/fromenv/", lab.root().display())),
        "{endpoint} is not under NSFLEET_LAB_DIR"
    );
}
