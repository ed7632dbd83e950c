//! The whole run: parse, plan, fan out, print, and the exit status (0 all hosts succeeded, 1 a host
//! failed, 2 usage error).

use std::{
    io::Write,
    time::{Duration, Instant},
};

use crate::{
    cli::{Object, OutputFormat},
    commands::{self, Action, CallContext, Outcome},
    connect::{ClientSecurity, Host},
    failure::HostFailure,
    fleet::{self, MAX_CONCURRENT_HOSTS},
    output::{Emitted, HostProgress, Printer, Progress},
    plan::{self, Plan},
};

/// Connecting gets at most this long, so that an unreachable host fails well before `--timeout` runs out.
pub(crate) const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The program's exit statuses, as the module comment gives them.
pub(crate) const EXIT_SUCCESS: u8 = 0;
pub(crate) const EXIT_FAILED: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;

pub fn main() -> u8 {
    // clap prints its own usage errors and exits with status 2.
    let cli = crate::command_line::parse();
    // Before any runtime exists: starting a lab's hosts forks.
    if let Object::Lab(verb) = &cli.object {
        return crate::lab::run(verb, cli.global.output);
    }
    if let Some(status) = crate::local::run(&cli.object) {
        return status;
    }
    if let Some(status) = crate::topology::verbs::run(&cli) {
        return status;
    }
    if let Some(status) = crate::graph::run(&cli) {
        return status;
    }
    if let Some(status) = crate::topology::commit::run(&cli) {
        return status;
    }
    if let Some(status) = crate::hosts::run(&cli) {
        return status;
    }
    if let Some(status) = crate::monitor::run(&cli) {
        return status;
    }
    let plan = match plan::plan(cli) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("nsfleet: {error}");
            if let Some(hint) = error.help_hint() {
                eprintln!("Try '{hint}'.");
            }
            return EXIT_USAGE;
        }
    };
    // Timers, and IO unless the one host is a unix socket, whose calls then block (`socket_call/`).
    // The IO driver brings an epoll instance, an eventfd and, because the workspace builds tokio with
    // `signal` for the agent, the signal driver's socket pair.
    let mut runtime = tokio::runtime::Builder::new_current_thread();
    runtime.enable_time();
    if !one_unix_host(&plan) {
        runtime.enable_io();
    }
    let runtime = match runtime.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("nsfleet: cannot start the async runtime: {error}");
            return EXIT_FAILED;
        }
    };
    if runtime.block_on(run(&plan)) {
        EXIT_SUCCESS
    } else {
        EXIT_FAILED
    }
}

/// A command for one host over a unix socket: the host's calls are made one after the other with
/// blocking reads and writes, and nothing else in the run needs the runtime's IO.
fn one_unix_host(plan: &Plan) -> bool {
    matches!(plan.hosts.as_slice(), [host] if !host.is_tcp())
}

/// Runs the plan on every host and prints as results come in; true if every host succeeded.
pub async fn run(plan: &Plan) -> bool {
    let several_hosts = plan.hosts.len() > 1;
    let text = plan.format == OutputFormat::Text;
    let context = CallContext {
        live_ping: text && !several_hosts && matches!(plan.action, Action::Ping(_)),
        alone: one_unix_host(plan),
        ..CallContext::for_command(&plan.security, plan.timeout, text)
    };
    let mut printer = Printer::new(plan.format, several_hosts);
    // A batch on several hosts is a long fleet operation: a line per host as its work starts and ends,
    // as `nsfleet apply` shows, instead of the counter.
    let operations = match &plan.action {
        Action::Batch(batch) if several_hosts => Some(batch.request().operations.len()),
        _ => None,
    };
    let host_progress = HostProgress::for_terminal(text && operations.is_some());
    let mut progress = if host_progress.is_enabled() {
        Progress::disabled()
    } else {
        Progress::for_fleet(plan.hosts.len(), text)
    };
    if let Some(count) = operations {
        let work = format!("{count} operation{}", if count == 1 { "" } else { "s" });
        for host in &plan.hosts {
            host_progress.started(&host.label, &work);
        }
    }
    let job = |host: &Host| {
        let call = run_on_host(host.clone(), &plan.action, &plan.security, context);
        let label = host.label.clone();
        async move {
            let result = call.await;
            host_progress.finished(&label, result.is_ok());
            result
        }
    };
    let deliver = |host: &Host, result| write_out(printer.host(&host.label, result));
    fleet::run_in_order(
        &plan.hosts,
        MAX_CONCURRENT_HOSTS,
        job,
        deliver,
        &mut progress,
    )
    .await;
    !printer.any_failed()
}

async fn run_on_host(
    host: Host,
    action: &Action,
    security: &ClientSecurity,
    context: CallContext,
) -> Result<Outcome, HostFailure> {
    let context = context.for_host(&host);
    let connect_timeout = context.timeout.min(MAX_CONNECT_TIMEOUT);
    let channel = if context.alone {
        host.connect_alone(connect_timeout, security).await?
    } else {
        host.connect(connect_timeout, security).await?
    };
    let deadline = action.deadline(context.timeout);
    let started = Instant::now();
    match tokio::time::timeout(deadline, commands::execute(action, channel, &context)).await {
        Ok(Ok(outcome)) => Ok(outcome),
        // The agent enforces the same deadline (grpc-timeout) and may answer CANCELLED just before the
        // client's own timer fires: past the deadline, the deadline is the cause either way.
        Ok(Err(_)) if started.elapsed() >= deadline => Err(HostFailure::deadline(deadline)),
        Ok(Err(status)) => Err(call_failure(&host, security, status)),
        Err(_) => Err(HostFailure::deadline(deadline)),
    }
}

/// A call that failed below gRPC is UNAVAILABLE, as a failed connect is: tonic made the status itself
/// (it carries the broken connection as its source; statuses from the agent never have one). Over
/// plaintext TCP the likeliest cause is an agent that serves TLS and dropped the connection, which
/// surfaces as a broken pipe or as TLS bytes read as a malformed HTTP/2 frame.
pub(crate) fn call_failure(
    host: &Host,
    security: &ClientSecurity,
    status: tonic::Status,
) -> HostFailure {
    let security = host.security(security);
    let broken = std::error::Error::source(&status).is_some();
    let mut failure = HostFailure::from(status);
    if broken {
        failure.code = tonic::Code::Unavailable;
        let hint = match (&security.tls, security.client_certificate) {
            (None, _) => " (if the agent serves TLS, pass --ca)",
            (Some(_), false) => {
                " (if the agent requires client certificates, pass --cert and --key)"
            }
            (Some(_), true) => "",
        };
        if host.is_tcp() {
            failure.message.push_str(hint);
        }
    }
    failure
}

/// Output is best effort once stdout or stderr is closed (`nsfleet ... | head`): the exit status still
/// tells what the hosts did.
fn write_out(emitted: Emitted) {
    if !emitted.stderr.is_empty() {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(emitted.stderr.as_bytes());
        let _ = stderr.flush();
    }
    if !emitted.stdout.is_empty() {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(emitted.stdout.as_bytes());
        let _ = stdout.flush();
    }
}
