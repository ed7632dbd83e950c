//! The four ways of building and tearing down the topology. Everything a method needs (argument lists,
//! batch files) is prepared before the clock starts; only running the programs is timed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{BenchError, Result};
use crate::run::{run, Tools};
use crate::topology::{self, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// (a) The tutorial's `ip` commands, one process each.
    Ip,
    /// (b) `ip -batch`: one batch for the host, one `ip -n NS -batch` per namespace.
    IpBatch,
    /// (c) `nsfleet batch`: one file, one ApplyBatch call.
    NsfleetBatch,
    /// (d) One `nsfleet` invocation per command.
    NsfleetPerCall,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::Ip,
        Method::IpBatch,
        Method::NsfleetBatch,
        Method::NsfleetPerCall,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Method::Ip => "(a) ip, one process per command",
            Method::IpBatch => "(b) ip -batch",
            Method::NsfleetBatch => "(c) nsfleet batch",
            Method::NsfleetPerCall => "(d) nsfleet, one call per command",
        }
    }

    /// How the method tears down, for the table.
    pub fn teardown_label(self) -> &'static str {
        match self {
            Method::Ip => "ip link del per veth + ip netns del",
            Method::IpBatch => "ip -batch: netns del each + link del br0",
            Method::NsfleetBatch => "nsfleet batch: netns del each + link del br0",
            Method::NsfleetPerCall => "nsfleet netns del per namespace + link del br0",
        }
    }
}

/// Where the programs are and which agent nsfleet talks to.
pub struct Context<'a> {
    pub tools: &'a Tools,
    pub endpoint: String,
    pub scratch: &'a Path,
}

/// One method's work for one N, ready to run.
pub enum Prepared {
    Ip {
        setup: Vec<Vec<String>>,
        teardown: Vec<Vec<String>>,
    },
    IpBatch {
        host: PathBuf,
        namespaces: Vec<(String, PathBuf)>,
        teardown: PathBuf,
    },
    NsfleetBatch {
        setup: PathBuf,
        teardown: PathBuf,
    },
    NsfleetPerCall {
        setup: Vec<Vec<String>>,
        teardown: Vec<Vec<String>>,
    },
}

pub fn prepare(method: Method, n: usize, context: &Context<'_>) -> Result<Prepared> {
    let args = |steps: Vec<Step>| steps.iter().map(Step::args).collect::<Vec<_>>();
    let nsfleet_args = |steps: Vec<Step>| {
        steps
            .iter()
            .map(|step| {
                let mut words = vec!["--host".to_string(), context.endpoint.clone()];
                words.extend(step.args());
                words
            })
            .collect::<Vec<_>>()
    };
    Ok(match method {
        Method::Ip => Prepared::Ip {
            setup: args(topology::setup_steps(n)),
            teardown: args(topology::teardown_one_by_one(n)),
        },
        Method::IpBatch => {
            let (bridge, per_namespace) = topology::setup(n);
            // The host's part of every namespace goes into the host batch; the rest into one batch per
            // namespace (ip -batch lines cannot carry -n).
            let mut host_steps = bridge;
            let mut namespaces = Vec::new();
            for (i, steps) in per_namespace.into_iter().enumerate() {
                let (inside, outside): (Vec<Step>, Vec<Step>) =
                    steps.into_iter().partition(|s| s.netns.is_some());
                host_steps.extend(outside);
                let name = topology::namespace(i + 1);
                let file = context.scratch.join(format!("ip-{name}.batch"));
                write_lines(&file, inside.iter().map(|s| s.words.join(" ")))?;
                namespaces.push((name, file));
            }
            let host = context.scratch.join("ip-host.batch");
            write_lines(&host, host_steps.iter().map(|s| s.words.join(" ")))?;
            let teardown = context.scratch.join("ip-teardown.batch");
            write_lines(
                &teardown,
                topology::teardown_by_namespace(n)
                    .iter()
                    .map(|s| s.words.join(" ")),
            )?;
            Prepared::IpBatch {
                host,
                namespaces,
                teardown,
            }
        }
        Method::NsfleetBatch => {
            let setup = context.scratch.join("nsfleet-setup.batch");
            write_lines(
                &setup,
                topology::setup_steps(n).iter().map(|s| s.args().join(" ")),
            )?;
            let teardown = context.scratch.join("nsfleet-teardown.batch");
            write_lines(
                &teardown,
                topology::teardown_by_namespace(n)
                    .iter()
                    .map(|s| s.args().join(" ")),
            )?;
            Prepared::NsfleetBatch { setup, teardown }
        }
        Method::NsfleetPerCall => Prepared::NsfleetPerCall {
            setup: nsfleet_args(topology::setup_steps(n)),
            teardown: nsfleet_args(topology::teardown_by_namespace(n)),
        },
    })
}

fn write_lines(path: &Path, lines: impl Iterator<Item = String>) -> Result<()> {
    let mut text = String::new();
    for line in lines {
        let _ = writeln!(text, "{line}");
    }
    std::fs::write(path, text).map_err(|e| BenchError::io(format!("write {}", path.display()), e))
}

fn batch_command(context: &Context<'_>, file: &Path) -> Vec<String> {
    // A generous deadline: the default 30 s is for interactive use, not for thousands of operations.
    vec![
        "--host".into(),
        context.endpoint.clone(),
        "--timeout".into(),
        "600".into(),
        "batch".into(),
        file.display().to_string(),
    ]
}

pub fn setup(prepared: &Prepared, context: &Context<'_>) -> Result<()> {
    let tools = context.tools;
    match prepared {
        Prepared::Ip { setup, .. } => setup.iter().try_for_each(|args| run(&tools.ip, args)),
        Prepared::IpBatch {
            host, namespaces, ..
        } => {
            run(
                &tools.ip,
                &[Path::new("-batch").as_os_str(), host.as_os_str()],
            )?;
            namespaces.iter().try_for_each(|(name, file)| {
                run(
                    &tools.ip,
                    &["-n", name.as_str(), "-batch", &file.display().to_string()],
                )
            })
        }
        Prepared::NsfleetBatch { setup, .. } => run(&tools.nsfleet, &batch_command(context, setup)),
        Prepared::NsfleetPerCall { setup, .. } => {
            setup.iter().try_for_each(|args| run(&tools.nsfleet, args))
        }
    }
}

pub fn teardown(prepared: &Prepared, context: &Context<'_>) -> Result<()> {
    let tools = context.tools;
    match prepared {
        Prepared::Ip { teardown, .. } => teardown.iter().try_for_each(|args| run(&tools.ip, args)),
        Prepared::IpBatch { teardown, .. } => run(
            &tools.ip,
            &[Path::new("-batch").as_os_str(), teardown.as_os_str()],
        ),
        Prepared::NsfleetBatch { teardown, .. } => {
            run(&tools.nsfleet, &batch_command(context, teardown))
        }
        Prepared::NsfleetPerCall { teardown, .. } => teardown
            .iter()
            .try_for_each(|args| run(&tools.nsfleet, args)),
    }
}

/// Links of the host and every namespace, as JSON: `ip -j link show` once per namespace.
pub fn list_with_ip(n: usize, context: &Context<'_>) -> Result<()> {
    run(&context.tools.ip, &["-j", "link", "show"])?;
    (1..=n).try_for_each(|i| {
        run(
            &context.tools.ip,
            &["-n", topology::namespace(i).as_str(), "-j", "link", "show"],
        )
    })
}

/// The same in one nsfleet call.
pub fn list_with_nsfleet(context: &Context<'_>) -> Result<()> {
    let endpoint = context.endpoint.as_str();
    run(
        &context.tools.nsfleet,
        &[
            "--host",
            endpoint,
            "-o",
            "json",
            "link",
            "list",
            "--all-namespaces",
        ],
    )
}
