//! `nsfleet graph`: a picture of the topology, as the hosts hold it (`live`) or as a file declares
//! it (`declared`). Both become one `model::Graph`, which `dot`, `mermaid` and `svg` draw; the SVG
//! is laid out by `layout`, with no external program.
//!
//! Exit status: 0 drawn; 1 a host could not be read, or the file or the output could not be; 2 a
//! usage error (`--declared` without FILE, `--host` not in FILE, `-o json`).

pub mod declared;
pub mod dot;
pub mod layout;
pub mod live;
pub mod mermaid;
pub mod model;
pub mod nat;
pub mod svg;

use std::{io::Write, path::PathBuf};

use clap::{Args, ValueEnum};

use crate::{
    app::{EXIT_FAILED, EXIT_SUCCESS, EXIT_USAGE},
    cli::{Cli, GlobalOptions, Object, OutputFormat, TopologyEndpoints},
    commands::CallContext,
    connect::Host,
    topology::{self, calls, targets},
};
use model::Graph;

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Topology file: draw its hosts (found as `apply` finds them), or with --declared what it
    /// declares; without it, the --host hosts (or the inventory's) are drawn
    pub file: Option<String>,
    /// Draw what FILE declares (each host's HostTopology, as `apply` would send it) instead of what
    /// the hosts hold; contacts no agent
    #[arg(long)]
    pub declared: bool,
    /// dot (Graphviz), mermaid (flowchart) or svg (drawn by nsfleet) [default: from the extension
    /// of --out (.svg, .mmd, .dot/.gv), else dot]
    #[arg(long, value_enum)]
    pub format: Option<GraphFormat>,
    /// Write the picture to PATH instead of standard output (`--output` is the global -o option)
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub endpoints: TopologyEndpoints,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Svg,
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("-o json: a picture has no JSON form; choose one with --format dot|mermaid|svg")]
    JsonOutput,
    #[error("--declared draws a topology file: give its path (nsfleet graph FILE --declared)")]
    DeclaredWithoutFile,
    #[error(
        "--endpoint NAME=ENDPOINT names hosts of a topology file: give its path, or use --host"
    )]
    EndpointWithoutFile,
    #[error("--endpoint: --declared contacts no agent")]
    EndpointWhenDeclared,
    #[error("--host {given}: {file} has no host \"{given}\"{hint}")]
    UnknownHost {
        given: String,
        file: String,
        hint: String,
    },
    #[error(
        "--host {0}: with a topology file, name the file's hosts (groups are the inventory's)"
    )]
    GroupWithFile(String),
}

/// Runs `graph`; `None` for every other command.
pub fn run(cli: &Cli) -> Option<u8> {
    let Object::Graph(args) = &cli.object else {
        return None;
    };
    Some(match draw(args, &cli.global) {
        Ok(()) => EXIT_SUCCESS,
        Err(status) => status,
    })
}

fn draw(args: &GraphArgs, global: &GlobalOptions) -> Result<(), u8> {
    check_usage(args, global).map_err(|error| usage(&error))?;
    let format = args
        .format
        .or_else(|| args.out.as_deref().and_then(format_from_extension))
        .unwrap_or(GraphFormat::Dot);
    let graph = match &args.file {
        Some(file) => {
            let loaded = topology::load(file).map_err(|error| {
                fail(&error.to_string());
                EXIT_FAILED
            })?;
            let chosen =
                chosen_hosts(file, &loaded, &global.hosts).map_err(|error| usage(&error))?;
            if args.declared {
                declared::graph(
                    chosen
                        .iter()
                        .map(|host| (host.name.as_str(), &host.topology)),
                )
            } else {
                let targets = targets::resolve(file, &loaded, &args.endpoints.endpoints, global)
                    .map_err(|error| {
                        fail(&format!("nsfleet: {error}"));
                        EXIT_FAILED
                    })?;
                let hosts: Vec<(String, Host)> = targets
                    .into_iter()
                    .filter(|target| chosen.iter().any(|host| host.name == target.name))
                    .map(|target| (target.name, target.host))
                    .collect();
                read_hosts(&hosts, global)?
            }
        }
        None => {
            let options = crate::plan::security_options(global);
            let hosts = crate::plan::hosts(global, &options).map_err(|error| {
                fail(&format!("nsfleet: {error}"));
                EXIT_USAGE
            })?;
            let hosts: Vec<(String, Host)> = hosts
                .into_iter()
                .map(|host| (host.label.clone(), host))
                .collect();
            read_hosts(&hosts, global)?
        }
    };
    let picture = match format {
        GraphFormat::Dot => dot::render(&graph),
        GraphFormat::Mermaid => mermaid::render(&graph),
        GraphFormat::Svg => svg::render(&graph),
    };
    write_picture(args.out.as_deref(), &picture)
}

fn check_usage(args: &GraphArgs, global: &GlobalOptions) -> Result<(), GraphError> {
    if global.output == OutputFormat::Json {
        return Err(GraphError::JsonOutput);
    }
    match (
        &args.file,
        args.declared,
        args.endpoints.endpoints.is_empty(),
    ) {
        (None, true, _) => Err(GraphError::DeclaredWithoutFile),
        (None, false, false) => Err(GraphError::EndpointWithoutFile),
        (Some(_), true, false) => Err(GraphError::EndpointWhenDeclared),
        _ => Ok(()),
    }
}

/// With a file, `--host` picks some of its hosts by name; none given: all of them, in file order.
fn chosen_hosts<'a>(
    file: &str,
    loaded: &'a topology::Loaded,
    given: &[String],
) -> Result<Vec<&'a topology::LoadedHost>, GraphError> {
    let names: Vec<&str> = loaded.hosts.iter().map(|host| host.name.as_str()).collect();
    let given: Vec<&str> = given
        .iter()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
        .collect();
    for name in &given {
        if name.starts_with('@') {
            return Err(GraphError::GroupWithFile((*name).to_owned()));
        }
        if !names.contains(name) {
            return Err(GraphError::UnknownHost {
                given: (*name).to_owned(),
                file: file.to_owned(),
                hint: topology::yaml::suggestion(name, &names),
            });
        }
    }
    Ok(loaded
        .hosts
        .iter()
        .filter(|host| given.is_empty() || given.contains(&host.name.as_str()))
        .collect())
}

/// Reads every host; any host that cannot be read fails the whole picture, which would otherwise
/// show a fleet without it as if that were the truth.
fn read_hosts(hosts: &[(String, Host)], global: &GlobalOptions) -> Result<Graph, u8> {
    let security = crate::plan::security_options(global)
        .load()
        .map_err(|error| {
            fail(&format!("nsfleet: {error}"));
            EXIT_FAILED
        })?;
    let context = CallContext::for_command(
        &security,
        global.timeout.unwrap_or(calls::DEFAULT_TIMEOUT),
        true,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            fail(&format!("nsfleet: cannot start the async runtime: {error}"));
            EXIT_FAILED
        })?;
    let results = runtime.block_on(calls::each(
        hosts,
        |_, (_, host)| live::read(host, &security, context),
        |_, _| {},
    ));
    let mut graph = Graph::default();
    let mut failed = false;
    for ((name, _), result) in hosts.iter().zip(results) {
        match result {
            Ok(snapshot) => {
                if let Some(why) = &snapshot.nat_unavailable {
                    fail(&format!("{name}: warning: NAT rules not shown: {why}"));
                }
                graph.hosts.push(live::host(name, &snapshot));
            }
            Err(failure) => {
                fail(&format!("{name}: {failure}"));
                failed = true;
            }
        }
    }
    if failed {
        fail("nsfleet: no picture drawn: every host must be read for it to be true");
        return Err(EXIT_FAILED);
    }
    Ok(graph)
}

fn format_from_extension(path: &std::path::Path) -> Option<GraphFormat> {
    match path.extension()?.to_str()? {
        "svg" => Some(GraphFormat::Svg),
        "mmd" | "mermaid" => Some(GraphFormat::Mermaid),
        "dot" | "gv" => Some(GraphFormat::Dot),
        _ => None,
    }
}

fn write_picture(out: Option<&std::path::Path>, picture: &str) -> Result<(), u8> {
    match out {
        Some(path) => std::fs::write(path, picture).map_err(|error| {
            fail(&format!(
                "nsfleet: cannot write {}: {error}",
                path.display()
            ));
            EXIT_FAILED
        }),
        None => {
            // Best effort once stdout is closed (`nsfleet graph | head`).
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(picture.as_bytes());
            let _ = stdout.flush();
            Ok(())
        }
    }
}

fn usage(error: &GraphError) -> u8 {
    fail(&format!("nsfleet graph: {error}"));
    EXIT_USAGE
}

fn fail(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

#[cfg(test)]
mod tests;
