//! `nsfleet-agent`: serves the nsfleet.v1 API for the host it runs on.

use std::process::ExitCode;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use nsfleet_agent::auth::Role;
use nsfleet_agent::server::{self, Limits, ListenAddr, MetricsListener, ServerConfig, TlsFiles};
use tracing_subscriber::EnvFilter;

/// Manage this host's network namespaces, links, addresses, routes and NAT over gRPC.
#[derive(Parser, Debug)]
#[command(name = "nsfleet-agent", version)]
struct Args {
    /// Address to serve on: HOST:PORT or unix:PATH. Repeat to serve on several. [default:
    /// unix:/run/nsfleet/agent.sock, open to root and --socket-group only]
    #[arg(long = "listen", value_name = "ADDR")]
    listen: Vec<ListenAddr>,

    /// Allow a TCP listener without authentication (loopback included: any local user could call it), or
    /// a non-loopback one without TLS. Logs a warning at every start.
    #[arg(long)]
    insecure: bool,

    /// Serve TCP listeners over TLS with this certificate (PEM; a leaf with CA:FALSE and a SAN).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        help_heading = "Security"
    )]
    tls_cert: Option<PathBuf>,

    /// Private key of --tls-cert (PEM).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        help_heading = "Security"
    )]
    tls_key: Option<PathBuf>,

    /// Require TCP clients to present a certificate signed by this CA (PEM): mTLS. The certificate's
    /// subject CN becomes the caller's identity.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        help_heading = "Security"
    )]
    client_ca: Option<PathBuf>,

    /// Callers and roles: lines `NAME ROLE SHA256HEX` (a bearer token's SHA-256, never the token) or
    /// `CN ROLE cert` (a client certificate's subject CN); ROLE is read or admin; `#` comments.
    #[arg(long, value_name = "FILE", help_heading = "Security")]
    tokens: Option<PathBuf>,

    /// Role of a verified client certificate whose CN the --tokens file does not list: read, admin or
    /// none [default: admin without --tokens, none with it].
    #[arg(long, value_name = "ROLE", value_parser = parse_certificate_role, help_heading = "Security")]
    cert_role: Option<CertificateRole>,

    /// Group owning the unix sockets, which are created with mode 0660 (name or number).
    #[arg(long, value_name = "GROUP", help_heading = "Security")]
    socket_group: Option<String>,

    /// Append audit records (one JSON line per mutation or refused call) to this file instead of stderr.
    #[arg(long, value_name = "FILE", help_heading = "Security")]
    audit_log: Option<PathBuf>,

    /// Largest request message accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_message_bytes, help_heading = "Limits")]
    max_message_bytes: usize,

    /// Calls handled at once across all connections; more wait (within their deadline).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_concurrent_requests, help_heading = "Limits")]
    max_concurrent_requests: usize,

    /// Calls handled at once on one connection.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_requests_per_connection, help_heading = "Limits")]
    max_requests_per_connection: usize,

    /// Seconds a call may take before the agent answers DEADLINE_EXCEEDED (a change already under way
    /// still finishes).
    #[arg(long, value_name = "SECONDS", default_value = "120", value_parser = parse_seconds, help_heading = "Limits")]
    request_timeout: Duration,

    /// Connections open at once, all listeners together; more are closed as soon as accepted (logged).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_connections, help_heading = "Limits")]
    max_connections: usize,

    /// Connections open at once from one source address (TCP) or one user (unix socket).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_connections_per_peer, help_heading = "Limits")]
    max_connections_per_peer: usize,

    /// Seconds from accept to a connection's first call (TLS handshake and HTTP/2 preface included);
    /// a connection that misses it is closed.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds, help_heading = "Limits")]
    first_call_timeout: Duration,

    /// Seconds a connection may stay open with no call in progress before it is closed.
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_seconds, help_heading = "Limits")]
    idle_timeout: Duration,

    /// Directory for what must survive a restart: which topology owns which object, and the intent of a
    /// change under way. Created (mode 0700) if missing; must be writable.
    #[arg(long, value_name = "DIR", default_value = nsfleet_agent::state::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,

    /// Make the mounts under /run/netns in this mount namespace (e.g. /proc/1/ns/mnt, the host's) instead
    /// of the agent's own: needed when a sandbox (systemd's ProtectSystem, PrivateTmp, ...) gives the
    /// agent a private mount namespace, whose mounts `ip netns` on the host would never see. Needs
    /// CAP_SYS_CHROOT as well.
    #[arg(long, value_name = "PATH")]
    host_mount_namespace: Option<PathBuf>,

    /// Serve Prometheus metrics at http://ADDR/metrics (HOST:PORT; plain HTTP, no authentication). A
    /// non-loopback address needs --metrics-insecure.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_metrics_addr, help_heading = "Metrics")]
    metrics: Option<std::net::SocketAddr>,

    /// Allow --metrics on a non-loopback address: anyone who can reach it sees the call counts and the
    /// host's namespace and topology sizes.
    #[arg(long, requires = "metrics", help_heading = "Metrics")]
    metrics_insecure: bool,

    /// How log lines look on stderr: text for people, json (one object a line) for log collectors.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Print the man page (roff) to stdout and exit.
    #[arg(long, exclusive = true)]
    man: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| format!("{value:?} is not a positive number of seconds"))
}

/// `--metrics`: what `--listen` accepts for TCP (IP:PORT, [IPV6]:PORT, localhost:PORT), no unix sockets:
/// Prometheus scrapes over TCP.
fn parse_metrics_addr(value: &str) -> Result<std::net::SocketAddr, String> {
    match value.parse::<ListenAddr>() {
        Ok(ListenAddr::Tcp(addr)) => Ok(addr),
        Ok(ListenAddr::Unix(_)) => Err(format!(
            "{value:?}: metrics are served over TCP only (HOST:PORT)"
        )),
        Err(e) => Err(e),
    }
}

/// `--cert-role`: a role, or `none` (such certificates are refused).
#[derive(Debug, Clone, Copy)]
struct CertificateRole(Option<Role>);

fn parse_certificate_role(value: &str) -> Result<CertificateRole, String> {
    match value {
        "none" => Ok(CertificateRole(None)),
        role => role
            .parse()
            .map(|role| CertificateRole(Some(role)))
            .map_err(|_| format!("{value:?} is not read, admin or none")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.man {
        return print_man_page();
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().with_current_span(false).init(),
    }
    if let Some(missing) = missing_capabilities() {
        eprintln!("nsfleet-agent: needs root, or the capabilities CAP_NET_ADMIN and CAP_SYS_ADMIN (missing: {missing})");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("nsfleet-agent: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(certificate), Some(key)) => Some(TlsFiles {
            certificate,
            key,
            client_ca: args.client_ca,
        }),
        _ => None,
    };
    let listen = if args.listen.is_empty() {
        vec![ListenAddr::default_socket()]
    } else {
        args.listen
    };
    let config = ServerConfig {
        listen,
        insecure: args.insecure,
        tls,
        tokens: args.tokens,
        certificate_role: args.cert_role.map(|CertificateRole(role)| role),
        socket_group: args.socket_group,
        audit_log: args.audit_log,
        limits: Limits {
            max_message_bytes: args.max_message_bytes,
            max_concurrent_requests: args.max_concurrent_requests,
            max_requests_per_connection: args.max_requests_per_connection,
            request_timeout: args.request_timeout,
            max_connections: args.max_connections,
            max_connections_per_peer: args.max_connections_per_peer,
            first_call_timeout: args.first_call_timeout,
            idle_timeout: args.idle_timeout,
        },
        state_dir: args.state_dir,
        host_mount_namespace: args.host_mount_namespace,
        metrics: args.metrics.map(|addr| MetricsListener {
            addr,
            insecure: args.metrics_insecure,
        }),
    };
    match runtime.block_on(server::run(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsfleet-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_man_page() -> ExitCode {
    use clap::CommandFactory;
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Args::command()).render(&mut page) {
        eprintln!("nsfleet-agent: cannot render the man page: {e}");
        return ExitCode::FAILURE;
    }
    match std::io::Write::write_all(&mut std::io::stdout().lock(), &page) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsfleet-agent: cannot write the man page: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The capabilities every namespace and link change needs that this process lacks, read from
/// /proc/self/status at start: without them the agent would start and then fail each call obscurely
/// (EPERM from netlink, mount). An unreadable status file is left to those later errors.
fn missing_capabilities() -> Option<String> {
    const NEEDED: [(u32, &str); 2] = [(12, "CAP_NET_ADMIN"), (21, "CAP_SYS_ADMIN")];
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))?;
    let effective = u64::from_str_radix(effective.trim(), 16).ok()?;
    let missing: Vec<&str> = NEEDED
        .iter()
        .filter(|(bit, _)| effective & (1 << bit) == 0)
        .map(|(_, name)| *name)
        .collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the agent with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = int.recv() => tracing::info!("SIGINT"),
    }
}
