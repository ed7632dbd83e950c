//! `nsfleet-bench per-command`: the cost of one invocation, command by command. For each of the
//! tutorial's commands (see `tutorial`), N paired runs on the same simulated host: the classic command
//! and the nsfleet one take turns (which goes first alternates), each a whole process, and a mutation is
//! undone after every run so the next one changes the kernel for real. Reported per command: the median
//! and p10-p90 of the elapsed time, the median CPU time of the process (user + system, the agent's not
//! included), and nsfleet's median over the classic one.
//!
//! The client timed is a fresh copy made at the start (`fresh_copy`), or with `--as-built` the build's own
//! file; the report says which.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::agent::Agent;
use crate::error::{BenchError, Result};
use crate::fresh_copy::FreshCopy;
use crate::process_cost::{median_cpu, median_elapsed, median_faults, ms, timed, Cost};
use crate::run::{self, Tools};
use crate::stats::{median, percentile};
use crate::tutorial::{self, Pair};

#[derive(Debug, Default)]
struct Row {
    label: String,
    classic_label: String,
    classic: Vec<Cost>,
    nsfleet: Vec<Cost>,
}

/// Which file of the client is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFile {
    /// A copy made at the start, as an install leaves it.
    FreshCopy,
    /// The client as the build left it.
    AsBuilt,
}

pub fn run(runs: usize, client: ClientFile) -> Result<String> {
    let mut tools = Tools::find()?;
    // The copy lives until the run ends: its drop removes the file.
    let (client_file, _copy) = match client {
        ClientFile::FreshCopy => {
            let copy = FreshCopy::of(&tools.nsfleet, "nsfleet")?;
            let described = format!(
                "a copy of {} made at the start, as an install leaves it",
                tools.nsfleet.display()
            );
            tools.nsfleet = copy.path().to_path_buf();
            (described, Some(copy))
        }
        ClientFile::AsBuilt => (
            format!(
                "{} as the build left it (--as-built)",
                tools.nsfleet.display()
            ),
            None,
        ),
    };
    run::run(&tools.ip, &["link", "set", "lo", "up"])?;
    let agent = Agent::start(&tools.agent)?;
    let endpoint = agent.endpoint();
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for pair in tutorial::pairs() {
        let missing: Vec<&str> = pair
            .requires
            .iter()
            .copied()
            .filter(|program| run::which(program).is_none())
            .collect();
        if !missing.is_empty() {
            skipped.push(format!(
                "`{}`: not installed here: {}",
                pair.nsfleet.join(" "),
                missing.join(", ")
            ));
            continue;
        }
        let row = measure(&tools, &endpoint, &pair, runs).map_err(|error| {
            let log = agent.log_text();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            BenchError::Check(format!(
                "{error}\nlast lines of the agent's log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        })?;
        eprintln!(
            "{}: ip {:.2} ms, nsfleet {:.2} ms",
            row.label,
            ms(median_elapsed(&row.classic)),
            ms(median_elapsed(&row.nsfleet))
        );
        rows.push(row);
    }
    Ok(render(&rows, &skipped, runs, &client_file))
}

fn measure(tools: &Tools, endpoint: &str, pair: &Pair, runs: usize) -> Result<Row> {
    for step in &pair.before {
        run_classic(step)?;
    }
    let mut nsfleet_args = vec!["--host".to_string(), endpoint.to_string()];
    nsfleet_args.extend(pair.nsfleet.iter().cloned());
    let classic_program = locate(&pair.classic[0])?;
    let mut row = Row {
        label: pair.nsfleet.join(" "),
        classic_label: pair.classic.join(" "),
        ..Row::default()
    };
    for index in 0..runs {
        // Alternating who goes first, so neither always runs right after an undo.
        for nsfleet_turn in [index % 2 == 1, index % 2 == 0] {
            let cost = if nsfleet_turn {
                timed(&tools.nsfleet, &nsfleet_args)?
            } else {
                timed(&classic_program, &pair.classic[1..])?
            };
            let undo = match (nsfleet_turn, &pair.nsfleet_undo) {
                (true, Some(undo)) => undo,
                _ => &pair.undo,
            };
            if nsfleet_turn {
                row.nsfleet.push(cost)
            } else {
                row.classic.push(cost)
            }
            for step in undo {
                run_classic(step)?;
            }
        }
    }
    if pair.mutation {
        run_classic(&pair.classic)?;
    }
    Ok(row)
}

fn run_classic(words: &[String]) -> Result<()> {
    run::run(&locate(&words[0])?, &words[1..])
}

fn locate(program: &str) -> Result<PathBuf> {
    run::which(program).ok_or_else(|| BenchError::Usage(format!("{program} is not on PATH")))
}

fn render(rows: &[Row], skipped: &[String], runs: usize, client_file: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### One invocation per command ({runs} paired runs each; ms)\n"
    );
    let _ = writeln!(out, "The nsfleet client timed: {client_file}.\n");
    let _ = writeln!(
        out,
        "| nsfleet command | classic command | classic median (p10-p90) | nsfleet median (p10-p90) | nsfleet / classic | CPU ms classic / nsfleet | page faults classic / nsfleet |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    for row in rows {
        let spread = |costs: &[Cost]| {
            let elapsed: Vec<Duration> = costs.iter().map(|c| c.elapsed).collect();
            format!(
                "{:.2} ({:.2}-{:.2})",
                ms(median(elapsed.clone())),
                ms(percentile(elapsed.clone(), 10)),
                ms(percentile(elapsed, 90))
            )
        };
        let cpu = |costs: &[Cost]| ms(median_cpu(costs));
        let faults = median_faults;
        let ratio = ms(median_elapsed(&row.nsfleet))
            / ms(median_elapsed(&row.classic)).max(f64::MIN_POSITIVE);
        ratios.push(ratio);
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {} | {:.2}x | {:.2} / {:.2} | {} / {} |",
            row.label,
            row.classic_label,
            spread(&row.classic),
            spread(&row.nsfleet),
            ratio,
            cpu(&row.classic),
            cpu(&row.nsfleet),
            faults(&row.classic),
            faults(&row.nsfleet)
        );
    }
    let slower = ratios.iter().filter(|r| **r > 1.0).count();
    ratios.sort_by(f64::total_cmp);
    let middle = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "\n{} commands; nsfleet / classic: median {:.2}x, range {:.2}x-{:.2}x; nsfleet slower on {slower}.",
        rows.len(),
        middle,
        ratios.first().copied().unwrap_or(0.0),
        ratios.last().copied().unwrap_or(0.0)
    );
    for line in skipped {
        let _ = writeln!(out, "Skipped {line}");
    }
    out
}
