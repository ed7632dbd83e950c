//! `nsfleet-bench ab`: one nsfleet command, two builds, alternating. Each build's client and agent are
//! copied fresh (`fresh_copy`), both agents run in the simulated host on sockets of their own, and the
//! command runs N times against each, the two builds taking turns (which goes first alternates). An
//! optional shell command runs before every timed run, untimed, to put the host back (`nft flush chain
//! ...` before an add, an add before a delete); it sees `NSFLEET` (that build's client) and
//! `NSFLEET_HOSTS` (its agent), so it may use nsfleet itself. A single change is measured this way
//! because runs of the whole per-command benchmark differ from each other by more than most changes.
//!
//! Reported per build: the median and p10-p90 of the wall time, the client's median CPU time and page
//! faults, and the agent's CPU time per run (`/proc/PID/stat` around each timed run, summed: its clock
//! ticks are too coarse for one run alone).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::agent::Agent;
use crate::error::{BenchError, Result};
use crate::fresh_copy::FreshCopy;
use crate::process_cost::{median_cpu, median_elapsed, median_faults, ms, timed, Cost};
use crate::run::{self, Tools};
use crate::stats::percentile;

pub const USAGE: &str =
    "nsfleet-bench ab --before DIR [--after DIR] [--runs 500] [--each SHELL] -- NSFLEET-ARGS...";

const DEFAULT_RUNS: usize = 500;

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// Holds the baseline's `nsfleet` and `nsfleet-agent`.
    pub before: PathBuf,
    /// Holds the build measured against it; `None` is the directory of this benchmark.
    pub after: Option<PathBuf>,
    pub runs: usize,
    /// Shell command run before each timed run, untimed.
    pub each: Option<String>,
    /// What follows `nsfleet --host ENDPOINT`.
    pub command: Vec<String>,
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self> {
        let usage = |problem: String| BenchError::Usage(format!("ab: {problem}\nusage: {USAGE}"));
        let mut before = None;
        let mut after = None;
        let mut runs = DEFAULT_RUNS;
        let mut each = None;
        while let Some(flag) = args.next() {
            if flag == "--" {
                let command: Vec<String> = args.collect();
                if command.is_empty() {
                    return Err(usage("no nsfleet command after --".into()));
                }
                let before = before.ok_or_else(|| usage("--before DIR is required".into()))?;
                return Ok(Self {
                    before,
                    after,
                    runs,
                    each,
                    command,
                });
            }
            let mut value = || {
                args.next()
                    .ok_or_else(|| usage(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--before" => before = Some(PathBuf::from(value()?)),
                "--after" => after = Some(PathBuf::from(value()?)),
                "--each" => each = Some(value()?),
                "--runs" => {
                    let text = value()?;
                    runs = text
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| usage(format!("--runs {text:?} is not a count above 0")))?;
                }
                "-h" | "--help" => return Err(BenchError::Usage(format!("usage: {USAGE}"))),
                other => return Err(usage(format!("unexpected {other}"))),
            }
        }
        Err(usage("the nsfleet command goes after --".into()))
    }
}

/// One build under test: its fresh copies, its agent, and what was measured.
struct Side {
    label: String,
    directory: PathBuf,
    client: FreshCopy,
    agent: Agent,
    costs: Vec<Cost>,
    agent_ticks: u64,
    // Dropped after the agent (fields drop in order), which has the file mapped until then.
    _agent_copy: FreshCopy,
}

impl Side {
    fn start(label: &str, directory: &Path) -> Result<Self> {
        let binary = |name: &str| {
            run::program_in(
                directory,
                name,
                "--before and --after name directories holding a release build",
            )
        };
        let client = FreshCopy::of(&binary("nsfleet")?, &format!("{label}-nsfleet"))?;
        let agent_copy = FreshCopy::of(&binary("nsfleet-agent")?, &format!("{label}-agent"))?;
        let agent = Agent::start(agent_copy.path())?;
        Ok(Self {
            label: label.to_string(),
            directory: directory.to_path_buf(),
            client,
            agent,
            costs: Vec::new(),
            agent_ticks: 0,
            _agent_copy: agent_copy,
        })
    }

    fn prepare(&self, each: &str) -> Result<()> {
        let output = Command::new("sh")
            .args(["-c", each])
            .env("NSFLEET", self.client.path())
            .env("NSFLEET_HOSTS", self.agent.endpoint())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| BenchError::io("start sh for --each", e))?;
        run::succeeded(output, || format!("{each} (--each, for {})", self.label)).map(drop)
    }

    fn measure_once(&mut self, command: &[String]) -> Result<()> {
        let mut args = vec!["--host".to_string(), self.agent.endpoint()];
        args.extend(command.iter().cloned());
        let ticks_before = agent_ticks(self.agent.pid())?;
        let cost = timed(self.client.path(), &args)?;
        self.agent_ticks += agent_ticks(self.agent.pid())?.saturating_sub(ticks_before);
        self.costs.push(cost);
        Ok(())
    }
}

pub fn run(options: &Options) -> Result<String> {
    let tools = Tools::find()?;
    run::run(&tools.ip, &["link", "set", "lo", "up"])?;
    let after = match &options.after {
        Some(directory) => directory.clone(),
        None => tools
            .nsfleet
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let mut sides = [
        Side::start("before", &options.before)?,
        Side::start("after", &after)?,
    ];
    for index in 0..options.runs {
        for which in [index % 2, 1 - index % 2] {
            let side = &mut sides[which];
            if let Some(each) = &options.each {
                side.prepare(each)?;
            }
            side.measure_once(&options.command)?;
        }
    }
    Ok(render(options, &sides))
}

/// User plus system clock ticks of the agent so far (fields 14 and 15 of /proc/PID/stat).
fn agent_ticks(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat =
        std::fs::read_to_string(&path).map_err(|e| BenchError::io(format!("read {path}"), e))?;
    // The command name, field 2, is in parentheses and may hold spaces: count from after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|value| value.parse::<u64>().ok())
    };
    match (field(14), field(15)) {
        (Some(user), Some(system)) => Ok(user + system),
        _ => Err(BenchError::Check(format!(
            "{path} has no CPU times: {stat}"
        ))),
    }
}

fn render(options: &Options, sides: &[Side; 2]) -> String {
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### `nsfleet {}`: {} alternating runs per build (ms)\n",
        options.command.join(" "),
        options.runs
    );
    if let Some(each) = &options.each {
        let _ = writeln!(out, "Before each run, untimed: `{each}`.\n");
    }
    // The agent's CPU comes in clock ticks: over N runs, one tick is this much per run.
    let resolution = 1000.0 / ticks_per_second / options.runs as f64;
    let _ = writeln!(
        out,
        "| build | median (p10-p90) | client CPU | client page faults | agent CPU per run (± {resolution:.3}) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for side in sides {
        let elapsed: Vec<Duration> = side.costs.iter().map(|c| c.elapsed).collect();
        let agent_ms =
            side.agent_ticks as f64 * 1000.0 / ticks_per_second / side.costs.len() as f64;
        let _ = writeln!(
            out,
            "| {} (`{}`) | {:.3} ({:.3}-{:.3}) | {:.3} | {} | {:.3} |",
            side.label,
            side.directory.display(),
            ms(median_elapsed(&side.costs)),
            ms(percentile(elapsed.clone(), 10)),
            ms(percentile(elapsed, 90)),
            ms(median_cpu(&side.costs)),
            median_faults(&side.costs),
            agent_ms
        );
    }
    let [before, after] = sides;
    let _ = writeln!(
        out,
        "\nafter / before: {:.3}x (medians of wall time).",
        ms(median_elapsed(&after.costs)) / ms(median_elapsed(&before.costs)).max(f64::MIN_POSITIVE)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Options> {
        Options::parse(words.iter().map(|word| word.to_string()))
    }

    #[test]
    fn ab_options_take_the_command_after_the_separator() {
        let options = parse(&[
            "--before",
            "/tmp/base",
            "--runs",
            "30",
            "--each",
            "nft flush chain inet nsfleet postrouting",
            "--",
            "nat",
            "add",
            "--runs",
        ])
        .unwrap();
        assert_eq!(
            options,
            Options {
                before: PathBuf::from("/tmp/base"),
                after: None,
                runs: 30,
                each: Some("nft flush chain inet nsfleet postrouting".into()),
                command: ["nat", "add", "--runs"].map(String::from).to_vec(),
            }
        );
    }

    #[test]
    fn ab_options_refuse_what_cannot_be_measured() {
        for (words, says) in [
            (&["--", "link", "list"][..], "--before DIR is required"),
            (&["--before", "/tmp/base"][..], "goes after --"),
            (&["--before", "/tmp/base", "--"][..], "no nsfleet command"),
            (
                &["--before", "/tmp/base", "--runs", "0", "--", "x"][..],
                "not a count",
            ),
            (&["--before"][..], "--before needs a value"),
            (&["--sideways", "--", "x"][..], "unexpected --sideways"),
        ] {
            match parse(words) {
                Err(BenchError::Usage(message)) => {
                    assert!(message.contains(says), "{words:?}: {message}")
                }
                other => panic!("{words:?}: expected a usage error, got {other:?}"),
            }
        }
    }

    #[test]
    fn ab_agent_ticks_read_this_process() {
        // Parsing /proc/PID/stat on a real process: this one has run, so user + system is a number.
        agent_ticks(std::process::id()).unwrap();
    }
}
