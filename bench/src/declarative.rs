//! `nsfleet-bench topology`: the tutorial's topology x N applied from a topology file (`nsfleet apply`)
//! against `nsfleet batch` of the same commands, in the same run and on the same agent; then plans that
//! find nothing to do, timed by the client (wall) and by the agent's own CPU (/proc/PID/stat, its
//! threads and the `nft` processes it waited for).
//!
//! The topology: br0 (172.20.0.1/16), N namespaces `ns{i}` each with a veth `ceth{i}` whose peer
//! `veth{i}` is a port of br0, an address from 172.20.0.0/16 in order and a default route via br0's
//! address; an `upstream` namespace behind `up0` (203.0.113.1/24), the host's default route through it,
//! IPv4 forwarding and a masquerade of 172.20.0.0/16 out of `up0`: the README's tutorial, scaled.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::agent::Agent;
use crate::checks;
use crate::error::{BenchError, Result};
use crate::run::{self, output, Tools};
use crate::stats::{median, percentile};
use crate::topology::{self, Step, BRIDGE, GATEWAY};

const NAME: &str = "bench";
const HOST: &str = "host1";

pub struct Options {
    pub sizes: Vec<usize>,
    /// Paired runs (apply, then batch) below 1000 namespaces.
    pub runs: usize,
    /// Paired runs at 1000 and more (each about a minute).
    pub large_runs: usize,
    /// No-change plans after each apply.
    pub plans: usize,
}

pub const USAGE: &str =
    "nsfleet-bench topology [--sizes 100,1000] [--runs 5] [--large-runs 1] [--plans 20]";

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self> {
        let mut options = Options {
            sizes: vec![100, 1000],
            runs: 5,
            large_runs: 1,
            plans: 20,
        };
        let count = |text: Option<String>| {
            text.as_deref()
                .and_then(|t| t.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| BenchError::Usage(format!("{text:?} is not a count\n{USAGE}")))
        };
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "--sizes" => {
                    let text = args.next().unwrap_or_default();
                    options.sizes = text
                        .split(',')
                        .map(|s| count(Some(s.to_string())))
                        .collect::<Result<_>>()?;
                }
                "--runs" => options.runs = count(args.next())?,
                "--large-runs" => options.large_runs = count(args.next())?,
                "--plans" => options.plans = count(args.next())?,
                "-h" | "--help" => return Err(BenchError::Usage(USAGE.into())),
                other => {
                    return Err(BenchError::Usage(format!(
                        "topology: unexpected {other}\n{USAGE}"
                    )))
                }
            }
        }
        if options.sizes.iter().any(|n| *n > 60_000) {
            return Err(BenchError::Usage(
                "sizes must be at most 60000 (172.20.0.0/16)".into(),
            ));
        }
        Ok(options)
    }
}

/// One paired run at one N.
struct Pair {
    apply: Duration,
    batch: Duration,
    /// Wall time of each no-change plan, from the client.
    plan_walls: Vec<Duration>,
    /// The agent's CPU over all no-change plans of this run, divided by their number: its own threads,
    /// then the `nft` processes it ran and waited for.
    plan_cpu: Duration,
    plan_cpu_children: Duration,
}

struct Size {
    n: usize,
    pairs: Vec<Pair>,
    operations: usize,
}

pub fn run(options: &Options) -> Result<String> {
    let tools = Tools::find()?;
    run::run(&tools.ip, &["link", "set", "lo", "up"])?;
    let scratch = tempfile::Builder::new()
        .prefix("nsfleet-bench-topology-")
        .tempdir()
        .map_err(|e| BenchError::io("create a scratch directory", e))?;
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut sizes = Vec::new();
    for &n in &options.sizes {
        let agent = Agent::start(&tools.agent)?;
        let runs = if n >= 1000 {
            options.large_runs
        } else {
            options.runs
        };
        let size =
            measure(&tools, &agent, scratch.path(), n, runs, options.plans).map_err(|error| {
                BenchError::Check(format!("{error}\nagent log:\n{}", agent.log_text()))
            })?;
        sizes.push(size);
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    Ok(render(&sizes, options, &load_before, &load_after))
}

fn measure(
    tools: &Tools,
    agent: &Agent,
    scratch: &Path,
    n: usize,
    runs: usize,
    plans: usize,
) -> Result<Size> {
    let file = scratch.join(format!("topology-{n}.yaml"));
    std::fs::write(&file, topology_file(n))
        .map_err(|e| BenchError::io(format!("write {}", file.display()), e))?;
    let setup = scratch.join(format!("setup-{n}.batch"));
    let lines = batch_lines(n);
    let operations = lines.len();
    std::fs::write(&setup, lines.join("\n") + "\n")
        .map_err(|e| BenchError::io(format!("write {}", setup.display()), e))?;
    let teardown = scratch.join(format!("teardown-{n}.batch"));
    let mut undo: Vec<String> = (1..=n)
        .map(|i| format!("netns del {}", topology::namespace(i)))
        .collect();
    undo.extend(["netns del upstream".into(), format!("link del {BRIDGE}")]);
    std::fs::write(&teardown, undo.join("\n") + "\n")
        .map_err(|e| BenchError::io(format!("write {}", teardown.display()), e))?;

    let endpoint = agent.endpoint();
    let file_text = file.display().to_string();
    let on_host = format!("{HOST}={endpoint}");
    let global = ["--host", endpoint.as_str(), "--timeout", "900"];
    let apply: Vec<&str> = global
        .iter()
        .copied()
        .chain(["apply", &file_text, "--yes", "--endpoint", &on_host])
        .collect();
    let plan: Vec<&str> = global
        .iter()
        .copied()
        .chain([
            "plan",
            &file_text,
            "--detailed-exitcode",
            "--endpoint",
            &on_host,
        ])
        .collect();
    let destroy: Vec<&str> = global.iter().copied().chain(["destroy", NAME]).collect();
    let setup_text = setup.display().to_string();
    let teardown_text = teardown.display().to_string();
    let batch: Vec<&str> = global
        .iter()
        .copied()
        .chain(["batch", &setup_text])
        .collect();
    let unbatch: Vec<&str> = global
        .iter()
        .copied()
        .chain(["batch", &teardown_text])
        .collect();

    checks::wait_until_clean(tools)?;
    let mut pairs = Vec::new();
    for round in 1..=runs {
        forwarding_off()?;
        let started = Instant::now();
        run::run(&tools.nsfleet, &apply)?;
        let applied = started.elapsed();
        built(tools, n)?;
        let mut plan_walls = Vec::with_capacity(plans);
        let cpu_before = agent_cpu(agent)?;
        for _ in 0..plans {
            let started = Instant::now();
            // --detailed-exitcode: status 2 (changes) fails the run, so every plan timed found nothing.
            run::run(&tools.nsfleet, &plan)?;
            plan_walls.push(started.elapsed());
        }
        let cpu_after = agent_cpu(agent)?;
        let plan_cpu = (cpu_after.0 - cpu_before.0) / plans as u32;
        let plan_cpu_children = (cpu_after.1 - cpu_before.1) / plans as u32;
        run::run(&tools.nsfleet, &destroy)?;
        checks::wait_until_clean(tools)?;
        nat_rules_gone()?;

        forwarding_off()?;
        let started = Instant::now();
        run::run(&tools.nsfleet, &batch)?;
        let batched = started.elapsed();
        built(tools, n)?;
        run::run(&tools.nsfleet, &unbatch)?;
        // The batch's masquerade rule has no owner to remove it; this sandbox's ruleset is ours alone.
        run::run(Path::new("nft"), &["flush", "ruleset"])?;
        checks::wait_until_clean(tools)?;
        eprintln!(
            "N={n} run {round}: apply {:.3} s, batch {:.3} s, no-change plan median {:.1} ms wall, {:.1} ms agent CPU + {:.1} ms nft",
            applied.as_secs_f64(),
            batched.as_secs_f64(),
            ms(median(plan_walls.clone())),
            ms(plan_cpu),
            ms(plan_cpu_children),
        );
        pairs.push(Pair {
            apply: applied,
            batch: batched,
            plan_walls,
            plan_cpu,
            plan_cpu_children,
        });
    }
    Ok(Size {
        n,
        pairs,
        operations,
    })
}

/// The topology file: the tutorial with its two namespaces made a series of N.
fn topology_file(n: usize) -> String {
    format!(
        "name: {NAME}
hosts:
  {HOST}:
    forwarding: {{ipv4: true}}
    bridges:
      {BRIDGE}:
        addresses: [{GATEWAY}/16]
    namespaces:
      \"ns{{i}}\":
        count: {n}
        start: 1
        veths:
          \"ceth{{i}}\":
            peer: {{name: \"veth{{i}}\", bridge: {BRIDGE}}}
            addresses: [{{pool: 172.20.0.0/16, first: 172.20.0.2}}]
        routes: [default via {GATEWAY}]
      upstream:
        veths:
          up1:
            peer: {{name: up0, addresses: [203.0.113.1/24]}}
            addresses: [203.0.113.2/24]
    routes: [default via 203.0.113.2]
    nat: [masquerade from 172.20.0.0/16 oif up0]
"
    )
}

/// The same topology as `nsfleet batch` lines, in the tutorial's order.
fn batch_lines(n: usize) -> Vec<String> {
    let upstream = [
        Step::host("netns add upstream"),
        Step::host("link add up0 type veth peer name up1 netns upstream"),
        Step::host("addr add 203.0.113.1/24 dev up0"),
        Step::host("link set up0 up"),
        Step::inside("upstream", "addr add 203.0.113.2/24 dev up1"),
        Step::inside("upstream", "link set up1 up"),
        Step::inside("upstream", "link set lo up"),
        Step::host("route add default via 203.0.113.2"),
        Step::host("forwarding set ipv4 on"),
        Step::host("nat add masquerade from 172.20.0.0/16 oif up0"),
    ];
    topology::setup_steps(n)
        .into_iter()
        .chain(upstream)
        .map(|step| step.args().join(" "))
        .collect()
}

/// The tutorial's checks on the series, plus the upstream namespace and the NAT rule.
fn built(tools: &Tools, n: usize) -> Result<()> {
    checks::topology_built_with(tools, n, n + 1)?;
    let ruleset = output(Path::new("nft"), &["list", "ruleset"])?;
    if !ruleset.contains("masquerade") {
        return Err(BenchError::Check(format!(
            "no masquerade rule after the setup: {ruleset}"
        )));
    }
    Ok(())
}

fn nat_rules_gone() -> Result<()> {
    let ruleset = output(Path::new("nft"), &["list", "ruleset"])?;
    if ruleset.contains("masquerade") {
        return Err(BenchError::Check(format!(
            "destroy left a masquerade rule: {ruleset}"
        )));
    }
    Ok(())
}

/// Both methods start from forwarding off, as on an empty host.
fn forwarding_off() -> Result<()> {
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "0\n")
        .map_err(|e| BenchError::io("turn IPv4 forwarding off in the sandbox", e))
}

/// The agent's CPU time so far: its threads (utime, stime), and the children it waited for (cutime,
/// cstime: `nft`). Clock ticks (10 ms), so measured over many plans.
fn agent_cpu(agent: &Agent) -> Result<(Duration, Duration)> {
    let path = format!("/proc/{}/stat", agent.pid());
    let stat =
        std::fs::read_to_string(&path).map_err(|e| BenchError::io(format!("read {path}"), e))?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| BenchError::Check(format!("unexpected {path}: {stat}")))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |range: std::ops::RangeInclusive<usize>| {
        range
            .map(|index| fields.get(index).and_then(|f| f.parse::<u64>().ok()))
            .sum::<Option<u64>>()
            .ok_or_else(|| BenchError::Check(format!("unexpected {path}: {stat}")))
    };
    let (own, children) = (ticks(11..=12)?, ticks(13..=14)?);
    // SAFETY: sysconf only reads a constant.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|t| *t > 0)
        .unwrap_or(100);
    let time = |ticks: u64| Duration::from_nanos(ticks * 1_000_000_000 / per_second);
    Ok((time(own), time(children)))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn spread(values: &[f64]) -> String {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{low:.2}-{high:.2}")
}

fn median_f(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        len if len % 2 == 1 => values[len / 2],
        len => (values[len / 2 - 1] + values[len / 2]) / 2.0,
    }
}

struct Summary {
    n: usize,
    apply_s: f64,
    batch_s: f64,
    ratio: f64,
    /// The agent's threads and its `nft` children.
    plan_cpu_ms: f64,
    /// The agent's threads alone.
    plan_own_ms: f64,
    plan_wall_ms: f64,
}

fn summarize(size: &Size) -> Summary {
    let ratios: Vec<f64> = size
        .pairs
        .iter()
        .map(|p| p.apply.as_secs_f64() / p.batch.as_secs_f64())
        .collect();
    let walls: Vec<Duration> = size
        .pairs
        .iter()
        .flat_map(|p| p.plan_walls.iter().copied())
        .collect();
    Summary {
        n: size.n,
        apply_s: median(size.pairs.iter().map(|p| p.apply).collect()).as_secs_f64(),
        batch_s: median(size.pairs.iter().map(|p| p.batch).collect()).as_secs_f64(),
        ratio: median_f(ratios),
        plan_cpu_ms: ms(median(
            size.pairs
                .iter()
                .map(|p| p.plan_cpu + p.plan_cpu_children)
                .collect(),
        )),
        plan_own_ms: ms(median(size.pairs.iter().map(|p| p.plan_cpu).collect())),
        plan_wall_ms: ms(median(walls)),
    }
}

fn render(sizes: &[Size], options: &Options, load_before: &str, load_after: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Load average (1, 5, 15 min) at the start: {}; at the end: {}; plans per run: {}.\n",
        load_before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(", "),
        load_after
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(", "),
        options.plans
    );
    let _ = writeln!(
        out,
        "### Apply to an empty host vs nsfleet batch (paired runs)\n"
    );
    let _ = writeln!(
        out,
        "| N | batch lines | runs | apply s (median) | batch s (median) | apply / batch (median of pairs) | spread of the pairs |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for size in sizes {
        let summary = summarize(size);
        let ratios: Vec<f64> = size
            .pairs
            .iter()
            .map(|p| p.apply.as_secs_f64() / p.batch.as_secs_f64())
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {:.3} | {:.2}x | {} |",
            size.n,
            size.operations,
            size.pairs.len(),
            summary.apply_s,
            summary.batch_s,
            summary.ratio,
            spread(&ratios)
        );
    }
    let _ = writeln!(out, "\n### A plan that finds nothing to do\n");
    let _ = writeln!(
        out,
        "| N | plans | agent CPU per plan, ms (median of runs; with its nft children) | of which the agent's threads | spread of runs | client wall per plan, ms (median) | p90 |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for size in sizes {
        let summary = summarize(size);
        let cpus: Vec<f64> = size
            .pairs
            .iter()
            .map(|p| ms(p.plan_cpu + p.plan_cpu_children))
            .collect();
        let walls: Vec<Duration> = size
            .pairs
            .iter()
            .flat_map(|p| p.plan_walls.iter().copied())
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {} | {:.1} | {:.1} |",
            size.n,
            walls.len(),
            summary.plan_cpu_ms,
            summary.plan_own_ms,
            spread(&cpus),
            summary.plan_wall_ms,
            ms(percentile(walls, 90))
        );
    }
    let summaries: Vec<Summary> = sizes.iter().map(summarize).collect();
    let _ = writeln!(out, "\n### Targets\n");
    let _ = writeln!(out, "| target | measured | verdict |");
    let _ = writeln!(out, "|---|---|---|");
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    for s in &summaries {
        if s.n == 100 {
            let _ = writeln!(
                out,
                "| N=100: apply at most 1.2x nsfleet batch | {:.2}x | {} |",
                s.ratio,
                verdict(s.ratio <= 1.2)
            );
            let _ = writeln!(
                out,
                "| N=100: no-change plan under 30 ms of agent time | {:.1} ms CPU ({:.1} ms wall at the client) | {} |",
                s.plan_cpu_ms,
                s.plan_wall_ms,
                verdict(s.plan_cpu_ms < 30.0)
            );
        }
    }
    let small = summaries.iter().find(|s| s.n == 100);
    let large = summaries.iter().find(|s| s.n == 1000);
    if let (Some(small), Some(large)) = (small, large) {
        let per = |value: f64, n: usize| value / n as f64;
        let growth = |a: f64, b: f64| per(b, 1000) / per(a, 100);
        let _ = writeln!(
            out,
            "| x1000: apply per namespace, N=1000 / N=100 (linear: 1.0) | {:.2}x (nsfleet batch: {:.2}x; apply / batch at 1000: {:.2}x) | see the text |",
            growth(small.apply_s, large.apply_s),
            growth(small.batch_s, large.batch_s),
            large.ratio
        );
        let _ = writeln!(
            out,
            "| x1000: no-change plan agent CPU per namespace, N=1000 / N=100 (linear: 1.0) | {:.2}x ({:.1} ms per plan at 1000) | {} |",
            growth(small.plan_cpu_ms, large.plan_cpu_ms),
            large.plan_cpu_ms,
            verdict(growth(small.plan_cpu_ms, large.plan_cpu_ms) <= 1.25)
        );
    }
    out
}
