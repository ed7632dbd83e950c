//! nsfleet-bench: builds the tutorial's topology (namespace + veth to br0 + address + lo up + default
//! route) for N namespaces with `ip`, `ip -batch`, `nsfleet batch` and one `nsfleet` call per command,
//! tears it down, lists it, and prints medians, ratios and the agent's memory as Markdown.
//!
//! Everything happens inside a simulated host that this process makes for itself (see `sandbox`); run
//! it as root after `cargo build --release --workspace`. Not part of the test suite: it takes minutes.
//! `nsfleet-bench per-command` instead compares one invocation per tutorial command (see `per_command`);
//! `nsfleet-bench topology` applies the tutorial as a topology file against `nsfleet batch` and times
//! plans that find nothing to do (see `declarative`); `nsfleet-bench ab` times one command against two
//! builds, alternating, to measure a single change (see `ab`).

mod ab;
mod agent;
mod checks;
mod declarative;
mod error;
mod fresh_copy;
mod methods;
mod per_command;
mod process_cost;
mod report;
mod run;
mod sandbox;
mod stats;
mod topology;
mod tutorial;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use agent::Agent;
use error::{BenchError, Result};
use methods::{Context, Method};
use run::Tools;
use stats::{Results, Sample};

/// From this N on, runs are fewer: one (a) run alone takes about a minute there.
const LARGE: usize = 1000;

#[derive(Debug)]
struct Options {
    sizes: Vec<usize>,
    /// Runs per method for N below LARGE.
    runs: usize,
    /// Runs of (b) and (c) at LARGE and above.
    large_runs: usize,
    /// Runs of (a) at LARGE and above (about two minutes each); 0 skips it.
    slow_large_runs: usize,
    /// Runs of (d) at LARGE and above (about as long as (a)); skipped unless asked for, to keep the whole
    /// benchmark near ten minutes on two cores.
    per_call_large_runs: usize,
}

const USAGE: &str = "usage: nsfleet-bench [--sizes 10,100,1000] [--runs 5] [--large-runs 2] [--slow-large-runs 1] [--per-call-large-runs 0]
       nsfleet-bench per-command [--runs 20] [--as-built]
       nsfleet-bench topology [--sizes 100,1000] [--runs 5] [--large-runs 1] [--plans 20]
       nsfleet-bench ab --before DIR [--after DIR] [--runs 500] [--each SHELL] -- NSFLEET-ARGS...";

/// Paired runs per command in `per-command`: about a minute in all.
const PER_COMMAND_RUNS: usize = 20;

/// What to run: the topology at scale (the default) or the tutorial's commands one invocation each.
enum Mode {
    Scale(Options),
    PerCommand {
        runs: usize,
        client: per_command::ClientFile,
    },
    Topology(declarative::Options),
    Ab(ab::Options),
}

fn parse_mode(mut args: std::iter::Peekable<impl Iterator<Item = String>>) -> Result<Mode> {
    if args.peek().map(String::as_str) == Some("ab") {
        args.next();
        return ab::Options::parse(args).map(Mode::Ab);
    }
    if args.peek().map(String::as_str) == Some("topology") {
        args.next();
        return declarative::Options::parse(args).map(Mode::Topology);
    }
    if args.peek().map(String::as_str) != Some("per-command") {
        return Options::parse(args).map(Mode::Scale);
    }
    args.next();
    let mut runs = PER_COMMAND_RUNS;
    let mut client = per_command::ClientFile::FreshCopy;
    while let Some(flag) = args.next() {
        if flag == "--as-built" {
            client = per_command::ClientFile::AsBuilt;
            continue;
        }
        match (flag.as_str(), args.next()) {
            ("--runs", Some(value)) => {
                runs = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        BenchError::Usage(format!("{value:?} is not a count\n{USAGE}"))
                    })?
            }
            ("-h" | "--help", _) => return Err(BenchError::Usage(USAGE.into())),
            _ => {
                return Err(BenchError::Usage(format!(
                    "per-command: unexpected {flag}\n{USAGE}"
                )))
            }
        }
    }
    Ok(Mode::PerCommand { runs, client })
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self> {
        let mut options = Options {
            sizes: vec![10, 100, 1000],
            runs: 5,
            large_runs: 2,
            slow_large_runs: 1,
            per_call_large_runs: 0,
        };
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value\n{USAGE}")))
            };
            let number = |text: String| {
                text.parse::<usize>()
                    .map_err(|_| BenchError::Usage(format!("{text:?} is not a count\n{USAGE}")))
            };
            match flag.as_str() {
                "--sizes" => {
                    options.sizes = value()?
                        .split(',')
                        .map(|s| number(s.to_string()))
                        .collect::<Result<_>>()?
                }
                "--runs" => options.runs = number(value()?)?.max(1),
                "--large-runs" => options.large_runs = number(value()?)?.max(1),
                "--slow-large-runs" => options.slow_large_runs = number(value()?)?,
                "--per-call-large-runs" => options.per_call_large_runs = number(value()?)?,
                "-h" | "--help" => return Err(BenchError::Usage(USAGE.into())),
                other => {
                    return Err(BenchError::Usage(format!(
                        "unknown option {other}\n{USAGE}"
                    )))
                }
            }
        }
        if options.sizes.iter().any(|n| *n == 0 || *n > 60_000) {
            return Err(BenchError::Usage(
                "sizes must be between 1 and 60000 (172.20.0.0/16)".into(),
            ));
        }
        Ok(options)
    }

    fn runs_of(&self, n: usize, method: Method) -> usize {
        match (n >= LARGE, method) {
            (false, _) => self.runs,
            (true, Method::Ip) => self.slow_large_runs,
            (true, Method::NsfleetPerCall) => self.per_call_large_runs,
            (true, _) => self.large_runs,
        }
    }
}

fn main() -> ExitCode {
    let mode = match parse_mode(std::env::args().skip(1).peekable()) {
        Ok(mode) => mode,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    // First, while this process still has one thread.
    if let Err(error) = sandbox::enter() {
        eprintln!("nsfleet-bench: {error}");
        return ExitCode::FAILURE;
    }
    let outcome = match &mode {
        Mode::Scale(options) => run_all(options),
        Mode::PerCommand { runs, client } => per_command::run(*runs, *client),
        Mode::Topology(options) => declarative::run(options),
        Mode::Ab(options) => ab::run(options),
    };
    match outcome {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("nsfleet-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_all(options: &Options) -> Result<String> {
    let tools = Tools::find()?;
    run::run(&tools.ip, &["link", "set", "lo", "up"])?;
    let scratch = tempfile::Builder::new()
        .prefix("nsfleet-bench-files-")
        .tempdir()
        .map_err(|e| BenchError::io("create a scratch directory", e))?;
    let mut results = Results::default();
    let largest = options.sizes.iter().copied().max().unwrap_or(0);
    for (position, &n) in options.sizes.iter().enumerate() {
        // A fresh agent per N: its memory then belongs to that N alone.
        let agent = Agent::start(&tools.agent)?;
        if position == 0 {
            results.idle = agent.memory()?;
        }
        let context = Context {
            tools: &tools,
            endpoint: agent.endpoint(),
            scratch: scratch.path(),
        };
        measure_size(options, n, n == largest, &agent, &context, &mut results).map_err(
            |error| {
                let log = agent.log_text();
                if log.trim().is_empty() {
                    error
                } else {
                    BenchError::Check(format!("{error}\nagent log:\n{log}"))
                }
            },
        )?;
    }
    Ok(report::render(&results, &options.sizes))
}

fn measure_size(
    options: &Options,
    n: usize,
    largest: bool,
    agent: &Agent,
    context: &Context<'_>,
    results: &mut Results,
) -> Result<()> {
    let prepared: Vec<_> = Method::ALL
        .iter()
        .map(|m| methods::prepare(*m, n, context).map(|p| (*m, p)))
        .collect::<Result<_>>()?;
    for (method, _) in &prepared {
        if options.runs_of(n, *method) == 0 {
            let flag = if *method == Method::NsfleetPerCall {
                "--per-call-large-runs"
            } else {
                "--slow-large-runs"
            };
            results.skipped.push((
                n,
                *method,
                format!("not run by default ({flag} 0); it takes as long as (a)"),
            ));
        }
    }
    let most_runs = Method::ALL
        .iter()
        .map(|m| options.runs_of(n, *m))
        .max()
        .unwrap_or(0);
    checks::wait_until_clean(context.tools)?;
    // Methods take turns within each run, so a slow drift of the machine hits them alike.
    for run in 0..most_runs {
        for (method, work) in &prepared {
            if run >= options.runs_of(n, *method) {
                continue;
            }
            let started = Instant::now();
            methods::setup(work, context)?;
            let setup = started.elapsed();
            checks::topology_built(context.tools, n)?;
            if *method == Method::NsfleetBatch {
                if largest && results.holding.is_none() {
                    results.holding = Some((n, agent.memory()?));
                }
                let ip = timed(|| methods::list_with_ip(n, context))?;
                let nsfleet = timed(|| methods::list_with_nsfleet(context))?;
                let listing = results.listings.entry(n).or_default();
                listing.0.push(ip);
                listing.1.push(nsfleet);
            }
            let teardown = timed(|| methods::teardown(work, context))?;
            let gone = teardown + checks::wait_until_clean(context.tools)?;
            eprintln!(
                "N={n} run {}: {}: setup {:.3} s, teardown {:.3} s (all gone after {:.3} s)",
                run + 1,
                method.label(),
                setup.as_secs_f64(),
                teardown.as_secs_f64(),
                gone.as_secs_f64()
            );
            results.record(
                n,
                *method,
                Sample {
                    setup,
                    teardown,
                    gone,
                },
            );
        }
    }
    Ok(())
}

fn timed(work: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let started = Instant::now();
    work()?;
    Ok(started.elapsed())
}
