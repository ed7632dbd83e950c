//! `nsfleet hosts`: the inventory's hosts (or the `--host` ones), each with whether its agent answers
//! the gRPC health check and which agent it is (DiagnosticsService.GetAgentInfo).

use std::io::Write;

use nsfleet_proto::v1::{
    diagnostics_service_client::DiagnosticsServiceClient, GetAgentInfoRequest, GetAgentInfoResponse,
};
use serde_json::json;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

use crate::{
    app::{EXIT_FAILED, EXIT_SUCCESS, EXIT_USAGE, MAX_CONNECT_TIMEOUT},
    cli::{Cli, Object, OutputFormat},
    commands::CallContext,
    connect::{ClientSecurity, Host},
    failure::HostFailure,
    fleet::{self, MAX_CONCURRENT_HOSTS},
    inventory::{inventory_host, load_chosen},
    output::Progress,
};

/// How long each host may take when `--timeout` is not given: a listing should not hang on one host.
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `None` unless the command is `hosts`.
pub fn run(cli: &Cli) -> Option<u8> {
    if !matches!(cli.object, Object::Hosts) {
        return None;
    }
    Some(match list(cli) {
        Ok(true) => EXIT_SUCCESS,
        Ok(false) => EXIT_FAILED,
        Err(message) => {
            eprintln!("nsfleet: {message}");
            EXIT_USAGE
        }
    })
}

fn list(cli: &Cli) -> Result<bool, String> {
    let global = &cli.global;
    let options = crate::plan::security_options(global);
    let security = options.load().map_err(|error| error.to_string())?;
    let hosts: Vec<Host> = if global.hosts.iter().any(|text| !text.trim().is_empty()) {
        crate::plan::hosts(global, &options).map_err(|error| error.to_string())?
    } else {
        let (inventory, missing) =
            load_chosen(global.inventory.as_deref()).map_err(|error| error.to_string())?;
        let Some(inventory) = inventory else {
            return Err(format!(
                "no inventory to list{}; give one with --inventory FILE, or hosts with --host",
                missing
                    .map(|path| format!(" ({path} does not exist)"))
                    .unwrap_or_default()
            ));
        };
        inventory
            .hosts
            .iter()
            .map(|host| inventory_host(&inventory, host, &options))
            .collect::<Result<_, _>>()
            .map_err(|error| error.to_string())?
    };
    let context = CallContext::for_command(
        &security,
        global.timeout.unwrap_or(DEFAULT_TIMEOUT),
        global.output == OutputFormat::Text,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    let mut all_reachable = true;
    let format = global.output;
    runtime.block_on(fleet::run_in_order(
        &hosts,
        MAX_CONCURRENT_HOSTS,
        |host: &Host| probe(host.clone(), &security, context),
        |host, result| {
            all_reachable &= result.is_ok();
            print(format, host, &result);
        },
        &mut Progress::for_fleet(hosts.len(), format == OutputFormat::Text),
    ));
    Ok(all_reachable)
}

/// Health first: an agent that answers it but not GetAgentInfo (an older agent) is still reachable.
async fn probe(
    host: Host,
    security: &ClientSecurity,
    context: CallContext,
) -> Result<Option<GetAgentInfoResponse>, HostFailure> {
    let context = context.for_host(&host);
    let channel = host
        .connect(context.timeout.min(MAX_CONNECT_TIMEOUT), security)
        .await?;
    let call = async {
        let health = HealthClient::new(channel.clone())
            .check(context.request(HealthCheckRequest {
                service: String::new(),
            }))
            .await?
            .into_inner();
        if health.status() != ServingStatus::Serving {
            return Err(tonic::Status::unavailable(format!(
                "health: {}",
                health.status().as_str_name()
            )));
        }
        let info = DiagnosticsServiceClient::new(channel)
            .get_agent_info(context.request(GetAgentInfoRequest {}))
            .await;
        match info {
            Ok(info) => Ok(Some(info.into_inner())),
            Err(status) if status.code() == tonic::Code::Unimplemented => Ok(None),
            Err(status) => Err(status),
        }
    };
    match tokio::time::timeout(context.timeout, call).await {
        Ok(Ok(info)) => Ok(info),
        Ok(Err(status)) => Err(crate::app::call_failure(&host, security, status)),
        Err(_) => Err(HostFailure::deadline(context.timeout)),
    }
}

fn print(
    format: OutputFormat,
    host: &Host,
    result: &Result<Option<GetAgentInfoResponse>, HostFailure>,
) {
    let line = match (format, result) {
        (OutputFormat::Json, Ok(info)) => json!({
            "host": host.label,
            "reachable": true,
            "version": info.as_ref().map(|info| info.version.clone()),
            "build_profile": info.as_ref().map(|info| info.build_profile.clone()),
            "hostname": info.as_ref().map(|info| info.hostname.clone()),
            "uptime_seconds": info.as_ref().map(|info| info.uptime_seconds),
        })
        .to_string(),
        (OutputFormat::Json, Err(failure)) => json!({
            "host": host.label,
            "reachable": false,
            "error": {"code": failure.code_name(), "message": failure.message},
        })
        .to_string(),
        (OutputFormat::Text, Ok(Some(info))) => format!(
            "{}: reachable, nsfleet-agent {} ({}), on {}, up {} s",
            host.label, info.version, info.build_profile, info.hostname, info.uptime_seconds
        ),
        (OutputFormat::Text, Ok(None)) => format!(
            "{}: reachable, nsfleet-agent of unknown version (no GetAgentInfo)",
            host.label
        ),
        (OutputFormat::Text, Err(failure)) => {
            format!("{}: unreachable: {}", host.label, failure.message)
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
