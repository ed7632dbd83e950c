//! `nsfleet lab`: simulated hosts on this machine, to rehearse on before the fleet. Each host is an
//! `nsfleet-agent` in a throwaway network and mount namespace, reached over a unix socket; nothing touches
//! the machine's own network. `up` prints the endpoints in the `--endpoint NAME=ENDPOINT` form the
//! topology verbs take; `down` removes every trace.
//!
//! Runs entirely before (and without) the async runtime: starting a host forks.

mod host;
mod layout;
mod process;

use std::{
    fs,
    io::{self, Write},
    os::fd::AsRawFd,
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

use clap::{Args, Subcommand};
use serde_json::json;

use crate::app::{EXIT_FAILED, EXIT_SUCCESS, EXIT_USAGE};
use crate::cli::OutputFormat;
use layout::{lab_names, HostLayout, LabLayout, LabState};
pub use layout::{LabName, DEFAULT_LABS_ROOT, MAX_HOSTS};
use process::AgentRecord;

/// How long all of a lab's agents together may take to accept connections.
const STARTUP_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum LabVerb {
    /// Start NAME's simulated hosts and print their endpoints (run again: prints them again)
    #[command(after_help = "Example:\n  nsfleet lab up demo --hosts 2\n  \
                            --endpoint host1=unix:/run/nsfleet/labs/demo/host1.sock\n  \
                            --endpoint host2=unix:/run/nsfleet/labs/demo/host2.sock")]
    Up {
        /// The lab's name: 1-32 letters, digits, '-' or '_'
        #[arg(value_parser = LabName::parse)]
        name: LabName,
        /// Number of hosts, named host1 ... hostN
        // Its own id: `hosts` is already the global --host list's.
        #[arg(long = "hosts", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_HOSTS)))]
        host_count: u16,
        /// The nsfleet-agent to run [default: the one next to this nsfleet]
        #[arg(long, value_name = "PATH")]
        agent: Option<PathBuf>,
        #[command(flatten)]
        root: LabsRoot,
    },
    /// Stop NAME's agents and remove its directory
    #[command(visible_alias = "delete")]
    Down {
        /// The lab's name: 1-32 letters, digits, '-' or '_'
        #[arg(value_parser = LabName::parse)]
        name: LabName,
        /// Succeed without a change if there is no such lab (for teardown scripts run twice)
        #[arg(long)]
        ignore_missing: bool,
        #[command(flatten)]
        root: LabsRoot,
    },
    /// List the labs: name, hosts, running or broken
    #[command(visible_aliases = ["ls", "show"])]
    List {
        #[command(flatten)]
        root: LabsRoot,
    },
}

#[derive(Debug, Args)]
pub struct LabsRoot {
    /// Directory holding the labs, one directory each
    #[arg(long = "lab-dir", value_name = "DIR", env = "NSFLEET_LAB_DIR", default_value = DEFAULT_LABS_ROOT)]
    pub dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "{path} is too long for a unix socket (at most 107 bytes): choose a shorter --lab-dir"
    )]
    SocketPathTooLong { path: PathBuf },
    #[error("{0} contains a NUL byte")]
    NulInPath(PathBuf),
    #[error("nsfleet lab up needs root: each host is a network and mount namespace of its own")]
    NotRoot,
    #[error("no nsfleet-agent at {0}: build it next to nsfleet, or pass --agent PATH")]
    NoAgent(PathBuf),
    #[error("{host}: cannot start {agent}: {source}")]
    Spawn {
        agent: PathBuf,
        host: String,
        source: io::Error,
    },
    // The log itself goes with the half-started lab: its end is in the message.
    #[error("{host}: the agent {what}; its log ends with:\n{tail}")]
    AgentFailed {
        host: String,
        what: String,
        tail: String,
    },
    #[error("lab {name} runs {running} hosts, not {asked}: `{down}` first to start it anew")]
    OtherHostCount {
        name: String,
        running: u16,
        asked: u16,
        down: String,
    },
    #[error("lab {name} is broken ({problem}): `{down}` removes what is left")]
    Broken {
        name: String,
        problem: String,
        down: String,
    },
    #[error("lab {name}: {problem}")]
    CannotIdentify { name: String, problem: String },
    #[error("no lab named {name} in {root} (--ignore-missing to succeed anyway)")]
    NoSuchLab { name: String, root: PathBuf },
    #[error("{dir} is not a lab (it holds {entry}): leaving it alone; check --lab-dir")]
    NotALab { dir: PathBuf, entry: String },
    #[error("process {pid} in the lab's namespaces did not exit after SIGKILL")]
    Unstoppable { pid: u32 },
}

impl LabError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        LabError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    fn exit_code(&self) -> u8 {
        match self {
            LabError::SocketPathTooLong { .. } | LabError::NulInPath(_) => EXIT_USAGE,
            _ => EXIT_FAILED,
        }
    }
}

/// Runs a `lab` verb; prints its results and errors; returns the exit status.
pub fn run(verb: &LabVerb, format: OutputFormat) -> u8 {
    let result = match verb {
        LabVerb::Up {
            name,
            host_count,
            agent,
            root,
        } => up(&root.dir, name, *host_count, agent.as_deref(), format),
        LabVerb::Down {
            name,
            ignore_missing,
            root,
        } => down(&root.dir, name, *ignore_missing, format),
        LabVerb::List { root } => list(&root.dir, format),
    };
    match result {
        Ok(()) => EXIT_SUCCESS,
        Err(error) => {
            eprintln!("nsfleet: {error}");
            error.exit_code()
        }
    }
}

fn up(
    root: &Path,
    name: &LabName,
    hosts: u16,
    agent: Option<&Path>,
    format: OutputFormat,
) -> Result<(), LabError> {
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(LabError::NotRoot);
    }
    let agent = match agent {
        Some(agent) => agent.to_path_buf(),
        None => default_agent()?,
    };
    if !agent.is_file() {
        return Err(LabError::NoAgent(agent));
    }
    LabLayout::new(root, name.clone()).check_socket_paths(hosts)?;
    fs::create_dir_all(root).map_err(|source| LabError::io("create", root, source))?;
    // The agents see the lab at this path from inside their private /run: no symlink in the way.
    let root = fs::canonicalize(root).map_err(|source| LabError::io("resolve", root, source))?;
    let lab = LabLayout::new(&root, name.clone());
    lab.check_socket_paths(hosts)?;
    let fresh = match fs::create_dir(&lab.dir) {
        Ok(()) => true,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => false,
        Err(source) => return Err(LabError::io("create", &lab.dir, source)),
    };
    let _lock = lock(&lab.dir)?;
    if !fresh {
        if let Some(entry) = lab.foreign_entry() {
            return Err(LabError::NotALab {
                dir: lab.dir.clone(),
                entry,
            });
        }
        return match lab.inspect() {
            LabState::Running { hosts: running } if running == hosts => {
                eprintln!("lab {} already runs {hosts} hosts", name.as_str());
                print_endpoints(&lab, hosts, format);
                Ok(())
            }
            LabState::Running { hosts: running } => Err(LabError::OtherHostCount {
                name: name.as_str().to_string(),
                running,
                asked: hosts,
                down: down_command(name, &root),
            }),
            LabState::Broken { problem, .. } => Err(LabError::Broken {
                name: name.as_str().to_string(),
                problem,
                down: down_command(name, &root),
            }),
            // Removed by a `lab down` that held the lock before us.
            LabState::Absent => Err(LabError::Broken {
                name: name.as_str().to_string(),
                problem: "it was removed while starting".into(),
                down: down_command(name, &root),
            }),
        };
    }
    if let Err(error) = start_hosts(&agent, &lab, hosts) {
        // Leave nothing behind: a half-started lab would only be in the way of the next `up`.
        if let Err(cleanup) = remove(&lab) {
            eprintln!("nsfleet: removing the half-started lab: {cleanup}");
        }
        return Err(error);
    }
    eprintln!(
        "lab {}: {hosts} hosts running; logs in {}/hostN/agent.log; remove it with `{}`",
        name.as_str(),
        lab.dir.display(),
        down_command(name, &root),
    );
    print_endpoints(&lab, hosts, format);
    Ok(())
}

/// `nsfleet-agent` in the directory of the running `nsfleet`, as cargo and packages install them.
fn default_agent() -> Result<PathBuf, LabError> {
    let exe = std::env::current_exe()
        .map_err(|source| LabError::io("locate", Path::new("the nsfleet binary"), source))?;
    Ok(exe.with_file_name("nsfleet-agent"))
}

fn start_hosts(agent: &Path, lab: &LabLayout, hosts: u16) -> Result<(), LabError> {
    // Spawn all first, then wait: the agents start up concurrently.
    let mut started: Vec<(HostLayout, Child)> = Vec::new();
    for index in 1..=hosts {
        let host = lab.host(index);
        let mut child = host::spawn(agent, &lab.dir, &host)?;
        let recorded = AgentRecord::of(child.id())
            .map_err(|source| LabError::io("read the start time of", &host.record, source))
            .and_then(|record| record.write(&host.record));
        if let Err(error) = recorded {
            // Without its record, `lab down` could not tell this agent from a process that reused its pid.
            let _ = child.kill();
            let _ = child.wait();
            return Err(error);
        }
        started.push((host, child));
    }
    let since = Instant::now();
    for (host, child) in &mut started {
        wait_ready(host, child, since)?;
    }
    lab.write_manifest(hosts)
}

fn wait_ready(host: &HostLayout, child: &mut Child, since: Instant) -> Result<(), LabError> {
    let failed = |what: String| LabError::AgentFailed {
        host: host.label.clone(),
        what,
        tail: log_tail(&host.log),
    };
    loop {
        if std::os::unix::net::UnixStream::connect(&host.socket).is_ok() {
            return Ok(());
        }
        match child.try_wait() {
            Ok(Some(status)) => return Err(failed(format!("exited ({status}) before serving"))),
            Ok(None) => {}
            Err(error) => return Err(failed(format!("cannot be waited for: {error}"))),
        }
        if since.elapsed() > STARTUP_LIMIT {
            return Err(failed(format!(
                "did not accept connections within {} s",
                STARTUP_LIMIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return "(nothing: the log is empty)".into();
    }
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn print_endpoints(lab: &LabLayout, hosts: u16, format: OutputFormat) {
    let mut out = String::new();
    for index in 1..=hosts {
        let host = lab.host(index);
        match format {
            OutputFormat::Text => {
                out.push_str(&format!("--endpoint {}={}\n", host.label, host.endpoint()))
            }
            OutputFormat::Json => {
                let pid = AgentRecord::read(&host.record)
                    .ok()
                    .map(|record| record.pid);
                let line = json!({
                    "lab": lab.name.as_str(),
                    "host": host.label,
                    "endpoint": host.endpoint(),
                    "pid": pid,
                    "log": host.log.display().to_string(),
                });
                out.push_str(&format!("{line}\n"));
            }
        }
    }
    write_stdout(&out);
}

fn down(
    root: &Path,
    name: &LabName,
    ignore_missing: bool,
    format: OutputFormat,
) -> Result<(), LabError> {
    let lab = LabLayout::new(root, name.clone());
    if !lab.dir.is_dir() {
        if !ignore_missing {
            return Err(LabError::NoSuchLab {
                name: name.as_str().to_string(),
                root: root.to_path_buf(),
            });
        }
        eprintln!(
            "no lab named {} in {}: nothing to do",
            name.as_str(),
            root.display()
        );
        report_down(name, false, format);
        return Ok(());
    }
    let _lock = lock(&lab.dir)?;
    remove(&lab)?;
    report_down(name, true, format);
    Ok(())
}

fn report_down(name: &LabName, removed: bool, format: OutputFormat) {
    match format {
        OutputFormat::Json => write_stdout(&format!(
            "{}\n",
            json!({ "lab": name.as_str(), "removed": removed })
        )),
        OutputFormat::Text if removed => eprintln!("lab {} removed", name.as_str()),
        OutputFormat::Text => {}
    }
}

/// Stops every agent the lab's directory records (and whatever else holds their namespaces), then
/// removes the directory. An agent whose record is missing or damaged cannot be identified and is left
/// alone; that is reported and the directory is kept, so the log stays for whoever looks.
fn remove(lab: &LabLayout) -> Result<(), LabError> {
    if let Some(entry) = lab.foreign_entry() {
        return Err(LabError::NotALab {
            dir: lab.dir.clone(),
            entry,
        });
    }
    let mut agents = Vec::new();
    for host in lab.existing_hosts() {
        // No record: its agent never started (`up` records each agent as soon as it is spawned, and
        // kills it if it cannot).
        if !host.record.exists() {
            continue;
        }
        match AgentRecord::read(&host.record) {
            Ok(record) => agents.push(record),
            Err(problem) => {
                return Err(LabError::CannotIdentify {
                    name: lab.name.as_str().to_string(),
                    problem: format!(
                        "{}: {problem}; its agent cannot be told from another process: stop it by hand, \
                         then remove {}",
                        host.label,
                        lab.dir.display()
                    ),
                })
            }
        }
    }
    process::stop_all(&agents)?;
    match fs::remove_dir_all(&lab.dir) {
        // Another `lab down` removed it while this one waited for the lock.
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other.map_err(|source| LabError::io("remove", &lab.dir, source)),
    }
}

fn list(root: &Path, format: OutputFormat) -> Result<(), LabError> {
    let mut out = String::new();
    for name in lab_names(root)? {
        let lab = LabLayout::new(root, name.clone());
        if lab.foreign_entry().is_some() {
            continue;
        }
        let (hosts, state, problem) = match lab.inspect() {
            LabState::Absent => continue,
            LabState::Running { hosts } => (Some(hosts), "running", None),
            LabState::Broken { hosts, problem } => (hosts, "broken", Some(problem)),
        };
        match format {
            OutputFormat::Json => {
                let line = json!({ "lab": name.as_str(), "hosts": hosts, "state": state, "problem": problem });
                out.push_str(&format!("{line}\n"));
            }
            OutputFormat::Text => {
                let hosts = hosts.map_or("?".to_string(), |hosts| hosts.to_string());
                let problem = problem.map(|p| format!(": {p}")).unwrap_or_default();
                out.push_str(&format!(
                    "{}: {hosts} hosts, {state}{problem}\n",
                    name.as_str()
                ));
            }
        }
    }
    write_stdout(&out);
    Ok(())
}

/// Serializes `up` and `down` of one lab: an exclusive flock on its directory, released when the
/// returned handle is dropped (also when the directory is gone by then).
fn lock(dir: &Path) -> Result<fs::File, LabError> {
    let handle = fs::File::open(dir).map_err(|source| LabError::io("open", dir, source))?;
    // SAFETY: flock(2) on a descriptor `handle` owns.
    if unsafe { libc::flock(handle.as_raw_fd(), libc::LOCK_EX) } < 0 {
        return Err(LabError::io("lock", dir, io::Error::last_os_error()));
    }
    Ok(handle)
}

/// The command that removes this lab, with the `--lab-dir` it needs (none for the default).
fn down_command(name: &LabName, root: &Path) -> String {
    let mut command = format!("nsfleet lab down {}", name.as_str());
    if root != Path::new(DEFAULT_LABS_ROOT) {
        command.push_str(&format!(" --lab-dir {}", root.display()));
    }
    command
}

/// A reader that stopped reading (`| head`) is not an error worth a message.
fn write_stdout(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
