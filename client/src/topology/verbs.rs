//! `nsfleet validate|plan|apply|drift|destroy` (apply in `apply.rs`): the file split per host, one
//! TopologyService call per host in parallel, results printed in the file's host order.
//!
//! Exit status: 0 success (plan: no changes; drift: none), 1 an error in the file or on a host, 2 changes
//! (`plan --detailed-exitcode`) or drift.

use std::io::Write;

use nsfleet_proto::v1::{
    DestroyTopologyRequest, GetTopologyStateRequest, PlanTopologyRequest, PlanTopologyResponse,
};
use serde_json::json;

use super::{
    calls::{self, Caller, DEFAULT_TIMEOUT},
    render::{self, changes_text, plan_header, summary, Style},
    targets::{self, Target},
    Loaded, TopologyError,
};
use crate::{
    cli::{Cli, DestroyArgs, DriftArgs, GlobalOptions, Object, OutputFormat, PlanArgs},
    commands::CallContext,
    failure::HostFailure,
    output::json::ProtoMessage,
};

pub(crate) use crate::app::{EXIT_FAILED, EXIT_SUCCESS};
/// With `--detailed-exitcode`: a host differs from the file (as `terraform plan -detailed-exitcode`).
pub const EXIT_CHANGES: u8 = 2;

/// Runs a topology verb; `None` for every other command.
pub fn run(cli: &Cli) -> Option<u8> {
    let global = &cli.global;
    let status = match &cli.object {
        Object::Validate(args) => validate(&args.file, global.output),
        Object::Plan(args) => block_on(plan(args, global)),
        Object::Apply(args) => block_on(super::apply::apply(args, global)),
        Object::Drift(args) => block_on(drift(args, global)),
        Object::Destroy(args) => block_on(destroy(args, global)),
        _ => return None,
    };
    Some(status)
}

pub(super) fn block_on(work: impl std::future::Future<Output = u8>) -> u8 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(work),
        Err(error) => {
            write_err(&format!(
                "nsfleet: cannot start the async runtime: {error}\n"
            ));
            EXIT_FAILED
        }
    }
}

fn validate(file: &str, format: OutputFormat) -> u8 {
    let Some(loaded) = load(file, format) else {
        return EXIT_FAILED;
    };
    for host in &loaded.hosts {
        match format {
            OutputFormat::Json => write_out(&render::success_line(&host.name, &host.topology)),
            OutputFormat::Text => write_out(&format!("{}: {}\n", host.name, counts(host))),
        }
    }
    EXIT_SUCCESS
}

/// `3 namespaces, 7 links, 5 addresses, 3 routes, 1 forwarding setting, 1 NAT rule`.
fn counts(host: &super::LoadedHost) -> String {
    let topology = &host.topology;
    let plural = |count: usize, one: &str, many: &str| {
        format!("{count} {}", if count == 1 { one } else { many })
    };
    [
        plural(topology.namespaces.len(), "namespace", "namespaces"),
        plural(topology.links.len(), "link", "links"),
        plural(topology.addresses.len(), "address", "addresses"),
        plural(topology.routes.len(), "route", "routes"),
        plural(
            topology.forwarding.len(),
            "forwarding setting",
            "forwarding settings",
        ),
        plural(topology.nat_rules.len(), "NAT rule", "NAT rules"),
    ]
    .join(", ")
}

async fn plan(args: &PlanArgs, global: &GlobalOptions) -> u8 {
    let Some((_, targets, caller)) = prepare(
        &args.file,
        &args.endpoints.endpoints,
        global,
        DEFAULT_TIMEOUT,
    ) else {
        return EXIT_FAILED;
    };
    let results = plans(&caller, &targets).await;
    let style = Style::for_stdout();
    let mut outcome = Tally::default();
    for (target, result) in targets.iter().zip(&results) {
        outcome.count(result.as_ref().map(|response| !response.changes.is_empty()));
        emit(global.output, &target.name, result, |response| {
            changes_text(
                &plan_header(&target.name, &response.changes),
                &response.changes,
                &response.warnings,
                style,
            )
        });
    }
    outcome.status(args.detailed_exitcode)
}

/// Every host's plan, or none: validate everything, then change anything. When one host cannot plan,
/// each host's line says why (the others `ABORTED`) and nothing is returned.
pub(super) async fn plan_every_host(
    caller: &Caller,
    targets: &[Target],
    output: OutputFormat,
) -> Option<Vec<PlanTopologyResponse>> {
    let planned = plans(caller, targets).await;
    if planned.iter().any(Result::is_err) {
        for (target, result) in targets.iter().zip(&planned) {
            let failure = match result {
                Err(failure) => failure.clone(),
                Ok(_) => HostFailure::new(
                    tonic::Code::Aborted,
                    "not applied: the plan failed on another host",
                ),
            };
            emit_failure(output, &target.name, &failure);
        }
        return None;
    }
    Some(planned.into_iter().flatten().collect())
}

pub(super) async fn plans(
    caller: &Caller,
    targets: &[Target],
) -> Vec<Result<PlanTopologyResponse, HostFailure>> {
    calls::each(
        targets,
        |_, target| {
            caller.plan(
                &target.host,
                PlanTopologyRequest {
                    topology: Some(target.topology.clone()),
                },
            )
        },
        |_, _| {},
    )
    .await
}

async fn drift(args: &DriftArgs, global: &GlobalOptions) -> u8 {
    let Some((loaded, targets, caller)) = prepare(
        &args.file,
        &args.endpoints.endpoints,
        global,
        DEFAULT_TIMEOUT,
    ) else {
        return EXIT_FAILED;
    };
    let results = calls::each(
        &targets,
        |_, target| {
            caller.state(
                &target.host,
                GetTopologyStateRequest {
                    name: loaded.name.clone(),
                    desired: Some(target.topology.clone()),
                },
            )
        },
        |_, _| {},
    )
    .await;
    let style = Style::for_stdout();
    let mut outcome = Tally::default();
    for (target, result) in targets.iter().zip(&results) {
        outcome.count(result.as_ref().map(|response| !response.drift.is_empty()));
        emit(global.output, &target.name, result, |response| {
            let header = match (response.known, response.drift.is_empty()) {
                (_, true) => format!("{}: no drift", target.name),
                (false, false) => format!(
                    "{}: topology {} was never applied here; applying would: {}",
                    target.name,
                    loaded.name,
                    summary(&response.drift)
                ),
                (true, false) => format!(
                    "{}: drifted; applying would: {}",
                    target.name,
                    summary(&response.drift)
                ),
            };
            changes_text(&header, &response.drift, &[], style)
        });
    }
    outcome.status(true)
}

async fn destroy(args: &DestroyArgs, global: &GlobalOptions) -> u8 {
    let hosts = match crate::plan::hosts(global, &crate::plan::security_options(global)) {
        Ok(hosts) => hosts,
        Err(error) => {
            write_err(&format!("nsfleet: {error}\n"));
            return EXIT_FAILED;
        }
    };
    let Some(caller) = caller(global, DEFAULT_TIMEOUT) else {
        return EXIT_FAILED;
    };
    let results = calls::each(
        &hosts,
        |_, host| {
            caller.destroy(
                host,
                DestroyTopologyRequest {
                    name: args.name.clone(),
                    ignore_missing: args.ignore_missing,
                    force: caller.force,
                },
            )
        },
        |_, _| {},
    )
    .await;
    let style = Style::for_stdout();
    let mut outcome = Tally::default();
    for (host, result) in hosts.iter().zip(&results) {
        outcome.count(result.as_ref().map(|_| false));
        emit(global.output, &host.label, result, |response| {
            let header = if response.changed {
                format!(
                    "{}: destroyed {}: {}",
                    host.label,
                    args.name,
                    summary(&response.changes)
                )
            } else {
                format!("{}: nothing of {} to destroy", host.label, args.name)
            };
            changes_text(&header, &response.changes, &response.warnings, style)
        });
    }
    outcome.status(false)
}

/// The file loaded and checked, each host's agent found, and how to call them; `None` after saying
/// what is wrong.
pub(super) fn prepare(
    file: &str,
    endpoints: &[String],
    global: &GlobalOptions,
    default_timeout: std::time::Duration,
) -> Option<(Loaded, Vec<Target>, Caller)> {
    let loaded = load(file, global.output)?;
    let targets = match targets::resolve(file, &loaded, endpoints, global) {
        Ok(targets) => targets,
        Err(error) => {
            write_err(&format!("nsfleet: {error}\n"));
            return None;
        }
    };
    let caller = caller(global, default_timeout)?;
    Some((loaded, targets, caller))
}

fn load(file: &str, format: OutputFormat) -> Option<Loaded> {
    match super::load(file) {
        Ok(loaded) => Some(loaded),
        Err(error) => {
            report_file_error(&error, file, format);
            None
        }
    }
}

/// Text: every problem as `FILE:LINE:COL: what` on stderr, as compilers print them. JSON: one line
/// with the problems, each with its line and column.
fn report_file_error(error: &TopologyError, file: &str, format: OutputFormat) {
    match (format, error) {
        (OutputFormat::Text, _) => write_err(&format!("{error}\n")),
        (OutputFormat::Json, TopologyError::Invalid { problems, .. }) => {
            let problems: Vec<_> = problems
                .iter()
                .map(|problem| {
                    json!({"line": problem.at.line, "column": problem.at.column, "message": problem.message})
                })
                .collect();
            write_out(&format!(
                "{}\n",
                json!({"file": file, "ok": false, "error": {"code": "INVALID_ARGUMENT",
                       "message": error.to_string(), "problems": problems}})
            ));
        }
        (OutputFormat::Json, TopologyError::Read { .. }) => write_out(&format!(
            "{}\n",
            json!({"file": file, "ok": false, "error": {"code": "NOT_FOUND", "message": error.to_string()}})
        )),
    }
}

pub(super) fn caller(
    global: &GlobalOptions,
    default_timeout: std::time::Duration,
) -> Option<Caller> {
    let security = crate::plan::security_options(global).load();
    let security = match security {
        Ok(security) => security,
        Err(error) => {
            write_err(&format!("nsfleet: {error}\n"));
            return None;
        }
    };
    let context = CallContext::for_command(
        &security,
        global.timeout.unwrap_or(default_timeout),
        global.output == OutputFormat::Text,
    );
    Some(Caller {
        security,
        context,
        force: global.force,
    })
}

/// A host's answer on stdout (text or a JSON line), or its failure (stderr in text, a JSON line).
pub(super) fn emit<M: ProtoMessage>(
    format: OutputFormat,
    host: &str,
    result: &Result<M, HostFailure>,
    text: impl FnOnce(&M) -> String,
) {
    match (result, format) {
        (Ok(response), OutputFormat::Json) => write_out(&render::success_line(host, response)),
        (Ok(response), OutputFormat::Text) => write_out(&text(response)),
        (Err(failure), _) => emit_failure(format, host, failure),
    }
}

pub(super) fn emit_failure(format: OutputFormat, host: &str, failure: &HostFailure) {
    match format {
        OutputFormat::Json => write_out(&render::failure_line(host, failure)),
        OutputFormat::Text => write_err(&render::failure_text(host, failure)),
    }
}

/// What the hosts answered, for the exit status.
#[derive(Debug, Default)]
pub struct Tally {
    failed: bool,
    changes: bool,
}

impl Tally {
    /// `Ok(true)`: the host has (or had) changes or drift.
    pub fn count(&mut self, host: Result<bool, &HostFailure>) {
        match host {
            Ok(changes) => self.changes |= changes,
            Err(_) => self.failed = true,
        }
    }

    /// 1 if a host failed, else 2 if `changes_matter` and a host had changes, else 0.
    pub fn status(&self, changes_matter: bool) -> u8 {
        if self.failed {
            EXIT_FAILED
        } else if changes_matter && self.changes {
            EXIT_CHANGES
        } else {
            EXIT_SUCCESS
        }
    }
}

/// Output is best effort once stdout or stderr is closed (`nsfleet plan F | head`): the exit status
/// still tells what the hosts did.
pub(super) fn write_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

pub(super) fn write_err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}
