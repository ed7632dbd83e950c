//! `nsfleet-agent`: serves the nsfleet.v1 API for the host it runs on.

use std::process::ExitCode;

use clap::Parser;
use nsfleet_agent::server::{self, ListenAddr, ServerConfig};
use tracing_subscriber::EnvFilter;

/// Manage this host's network namespaces, links, addresses, routes and NAT over gRPC.
#[derive(Parser, Debug)]
#[command(name = "nsfleet-agent", version)]
struct Args {
    /// Address to serve on: HOST:PORT or unix:PATH. Repeat to serve on several.
    #[arg(long = "listen", value_name = "ADDR", default_value = "127.0.0.1:50051")]
    listen: Vec<ListenAddr>,

    /// Allow listening without TLS on a non-loopback address.
    #[arg(long)]
    insecure: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("nsfleet-agent: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = ServerConfig { listen: args.listen, insecure: args.insecure };
    match runtime.block_on(server::run(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsfleet-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot install signal handlers; stop the agent with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = int.recv() => tracing::info!("SIGINT"),
    }
}
