//! `nsfleet monitor`: every host's WatchService stream, merged in arrival order and printed like
//! `ip monitor label` (the host first when there are several), or one JSON object a line. Runs until
//! Ctrl-C; a host whose stream breaks is reported on stderr and the others go on.

use std::io::Write;

use clap::{Args, ValueEnum};
use nsfleet_proto::v1::{
    watch_service_client::WatchServiceClient, WatchAction, WatchEvent, WatchKind, WatchOrigin,
    WatchRequest,
};
use serde_json::json;
use tokio::sync::mpsc;

use crate::{
    app::{EXIT_FAILED, EXIT_SUCCESS, EXIT_USAGE, MAX_CONNECT_TIMEOUT},
    cli::{Cli, Object, OutputFormat},
    commands::CallContext,
    connect::{ClientSecurity, Host},
    failure::HostFailure,
    output::{line::JsonLine, text::shown},
};

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// What to watch; several may be given [default: all]
    #[arg(value_enum, value_name = "OBJECT")]
    pub objects: Vec<MonitorObject>,
    /// Watch the host namespace and every named namespace, also those created later
    #[arg(long, short = 'a')]
    pub all_namespaces: bool,
    /// First print what exists now (as new objects), then a "snapshot done" line, then the changes
    #[arg(long)]
    pub snapshot: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MonitorObject {
    All,
    Link,
    #[value(alias = "addr")]
    Address,
    Route,
    #[value(aliases = ["neighbour", "neighbor"])]
    Neigh,
    Netns,
    Nat,
}

/// `None` unless the command is `monitor`.
pub fn run(cli: &Cli) -> Option<u8> {
    let Object::Monitor(args) = &cli.object else {
        return None;
    };
    Some(match monitor(cli, args) {
        Ok(true) => EXIT_SUCCESS,
        Ok(false) => EXIT_FAILED,
        Err(message) => {
            eprintln!("nsfleet: {message}");
            EXIT_USAGE
        }
    })
}

fn request(cli: &Cli, args: &MonitorArgs) -> Result<WatchRequest, String> {
    let namespace = cli.global.netns.clone().unwrap_or_default();
    if args.all_namespaces && !namespace.is_empty() {
        return Err("give either -n NS or --all-namespaces, not both".to_string());
    }
    let kinds = if args.objects.contains(&MonitorObject::All) {
        Vec::new()
    } else {
        args.objects
            .iter()
            .map(|object| {
                let kind = match object {
                    MonitorObject::All | MonitorObject::Link => WatchKind::Link,
                    MonitorObject::Address => WatchKind::Address,
                    MonitorObject::Route => WatchKind::Route,
                    MonitorObject::Neigh => WatchKind::Neighbor,
                    MonitorObject::Netns => WatchKind::Namespace,
                    MonitorObject::Nat => WatchKind::Nat,
                };
                kind as i32
            })
            .collect()
    };
    Ok(WatchRequest {
        namespace,
        all_namespaces: args.all_namespaces,
        kinds,
        snapshot: args.snapshot,
    })
}

/// What a host's stream produced.
enum Arrived {
    Event(WatchEvent),
    /// The stream broke, or never started; no more from this host.
    Failed(HostFailure),
}

fn monitor(cli: &Cli, args: &MonitorArgs) -> Result<bool, String> {
    let global = &cli.global;
    let request = request(cli, args)?;
    let options = crate::plan::security_options(global);
    let security: &'static ClientSecurity =
        Box::leak(Box::new(options.load().map_err(|error| error.to_string())?));
    let hosts = crate::plan::hosts(global, &options).map_err(|error| error.to_string())?;
    let context = CallContext::for_command(
        security,
        global.timeout.unwrap_or(MAX_CONNECT_TIMEOUT),
        global.output == OutputFormat::Text,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    let several = hosts.len() > 1;
    let format = global.output;
    Ok(runtime.block_on(async move {
        let (arrivals, mut arrived) = mpsc::channel(256);
        for host in &hosts {
            let host = host.clone();
            let arrivals = arrivals.clone();
            let request = request.clone();
            tokio::spawn(async move {
                let label = host.label.clone();
                if let Err(failure) = stream(host, request, security, context, &arrivals).await {
                    let _ = arrivals.send((label, Arrived::Failed(failure))).await;
                }
            });
        }
        drop(arrivals);
        let mut all_well = true;
        let mut live = hosts.len();
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        while live > 0 {
            let (label, arrival) = tokio::select! {
                _ = &mut interrupted => break,
                next = arrived.recv() => match next {
                    Some(next) => next,
                    None => break,
                },
            };
            match arrival {
                Arrived::Event(event) => print_event(format, several, &label, &event),
                Arrived::Failed(failure) => {
                    all_well = false;
                    live -= 1;
                    report_failure(format, &label, &failure);
                }
            }
        }
        all_well
    }))
}

async fn stream(
    host: Host,
    request: WatchRequest,
    security: &ClientSecurity,
    context: CallContext,
    arrivals: &mpsc::Sender<(String, Arrived)>,
) -> Result<(), HostFailure> {
    let context = context.for_host(&host);
    let channel = host
        .connect(context.timeout.min(MAX_CONNECT_TIMEOUT), security)
        .await?;
    let mut call = context.request(request);
    // A watch has no end: the deadline applies to connecting only.
    call.metadata_mut().remove("grpc-timeout");
    let failure = |status| crate::app::call_failure(&host, security, status);
    let mut events = WatchServiceClient::new(channel)
        .watch(call)
        .await
        .map_err(failure)?
        .into_inner();
    loop {
        match events.message().await {
            Ok(Some(event)) => {
                if arrivals
                    .send((host.label.clone(), Arrived::Event(event)))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
            Ok(None) => {
                return Err(HostFailure::new(
                    tonic::Code::Unavailable,
                    "the agent ended the watch",
                ))
            }
            Err(status) => return Err(failure(status)),
        }
    }
}

fn write_line(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

fn report_failure(format: OutputFormat, label: &str, failure: &HostFailure) {
    match format {
        OutputFormat::Json => write_line(JsonLine::failure(label, failure).to_line().trim_end()),
        OutputFormat::Text => {
            eprintln!("nsfleet: {}: {}", shown(label), shown(&failure.to_string()))
        }
    }
}

fn kind_name(kind: WatchKind) -> &'static str {
    match kind {
        WatchKind::Unspecified => "unspecified",
        WatchKind::Link => "link",
        WatchKind::Address => "address",
        WatchKind::Route => "route",
        WatchKind::Neighbor => "neighbour",
        WatchKind::Namespace => "netns",
        WatchKind::Nat => "nat",
    }
}

fn action_name(action: WatchAction) -> &'static str {
    match action {
        WatchAction::Unspecified => "unspecified",
        WatchAction::New => "new",
        WatchAction::Changed => "changed",
        WatchAction::Deleted => "deleted",
    }
}

fn origin_name(origin: WatchOrigin) -> &'static str {
    match origin {
        WatchOrigin::Unspecified => "unspecified",
        WatchOrigin::Nsfleet => "nsfleet",
        WatchOrigin::External => "external",
    }
}

fn print_event(format: OutputFormat, several: bool, label: &str, event: &WatchEvent) {
    let line = match format {
        OutputFormat::Json => json_line(label, event),
        OutputFormat::Text => {
            let text = text_line(event);
            if several {
                format!("{}: {text}", shown(label))
            } else {
                text
            }
        }
    };
    write_line(&line);
}

/// `[LINK] [netns blue] Deleted 5: veth1: <...> mtu 1500 state DOWN (external)`: `ip monitor label`'s
/// shape, with the namespace when it is not the host's and who made the change.
pub fn text_line(event: &WatchEvent) -> String {
    if event.lost {
        return "[LOST] events were lost: this watcher fell behind; run again with --snapshot to resync"
            .to_string();
    }
    if event.snapshot_done {
        return "[SNAPSHOT DONE]".to_string();
    }
    let mut line = format!("[{}]", kind_name(event.kind()).to_uppercase());
    if !event.namespace.is_empty() {
        line.push_str(&format!(" [netns {}]", shown(&event.namespace)));
    }
    line.push(' ');
    if event.action() == WatchAction::Deleted {
        line.push_str("Deleted ");
    }
    line.push_str(&shown(&event.summary));
    line.push_str(&format!(" ({})", origin_name(event.origin())));
    line
}

pub fn json_line(label: &str, event: &WatchEvent) -> String {
    let value = if event.lost {
        json!({"host": label, "lost": true})
    } else if event.snapshot_done {
        json!({"host": label, "snapshot_done": true})
    } else {
        json!({
            "host": label,
            "kind": kind_name(event.kind()),
            "action": action_name(event.action()),
            "namespace": event.namespace,
            "object": event.object,
            "summary": event.summary,
            "origin": origin_name(event.origin()),
        })
    };
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_like_ip_monitor_label_with_namespace_and_origin() {
        let event = WatchEvent {
            kind: WatchKind::Link as i32,
            action: WatchAction::Deleted as i32,
            namespace: "blue".into(),
            summary: "5: veth1: <BROADCAST,MULTICAST> mtu 1500 state DOWN".into(),
            origin: WatchOrigin::External as i32,
            object: "veth1".into(),
            ..Default::default()
        };
        assert_eq!(
            text_line(&event),
            "[LINK] [netns blue] Deleted 5: veth1: <BROADCAST,MULTICAST> mtu 1500 state DOWN (external)"
        );
        let json: serde_json::Value =
            serde_json::from_str(&json_line("host1", &event)).unwrap_or_default();
        assert_eq!(json["origin"], "external");
        assert_eq!(json["action"], "deleted");
        assert_eq!(json["host"], "host1");
    }
}
