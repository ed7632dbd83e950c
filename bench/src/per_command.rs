//! `nsfleet-bench per-command`: the cost of one invocation, command by command. For each of the
//! tutorial's commands (see `tutorial`), N paired runs on the same simulated host: the classic command
//! and the nsfleet one take turns (which goes first alternates), each a whole process, and a mutation is
//! undone after every run so the next one changes the kernel for real. Reported per command: the median
//! and p10-p90 of the elapsed time, the median CPU time of the process (user + system, the agent's not
//! included), and nsfleet's median over the classic one.
//!
//! How the client's binary got into the page cache moves its time by 0.3-0.5 ms a call (BENCHMARKS.md):
//! a file written in one go (cp, install, a package) is held in large folios, which a fault maps and an
//! exit unmaps many pages at a time; the linker's output, a file read back from disk, and a copy that
//! memory pressure has since split are held page by page. So the benchmark does not inherit whichever
//! state the build left: it times a fresh copy of the client, written next to it at the start and removed
//! at the end (`--as-built` times the build's own file instead), and the report says which.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::agent::Agent;
use crate::error::{BenchError, Result};
use crate::run::{self, Tools};
use crate::stats::{median, percentile};
use crate::tutorial::{self, Pair};

/// One process's cost.
#[derive(Debug, Clone, Copy)]
struct Cost {
    elapsed: Duration,
    cpu: Duration,
    minor_faults: u64,
}

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

const COPY_PREFIX: &str = ".nsfleet-per-command-";

/// A copy of the client next to it, named by this process's pid and removed when dropped, on every way
/// out of the run; a run that was killed leaves its copy, which the next run removes.
struct ClientCopy {
    path: PathBuf,
}

impl ClientCopy {
    fn of(client: &Path) -> Result<Self> {
        remove_copies_of_dead_runs(client);
        let path = client.with_file_name(format!("{COPY_PREFIX}{}", std::process::id()));
        // Read and written in one go, as an install writes a file: not `std::fs::copy`, whose
        // copy_file_range may share the blocks on btrfs or XFS and leave the page cache empty.
        let bytes = std::fs::read(client)
            .map_err(|e| BenchError::io(format!("read {}", client.display()), e))?;
        let written = std::fs::write(&path, &bytes)
            .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)));
        let copy = Self { path };
        written.map_err(|e| BenchError::io(format!("write {}", copy.path.display()), e))?;
        Ok(copy)
    }
}

impl Drop for ClientCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copies whose run is gone (killed before its drop ran); a run still going keeps its own.
fn remove_copies_of_dead_runs(client: &Path) {
    let Some(directory) = client.parent() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(COPY_PREFIX))
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

pub fn run(runs: usize, client: ClientFile) -> Result<String> {
    let mut tools = Tools::find()?;
    // The copy lives until the run ends: its drop removes the file.
    let (client_file, _copy) = match client {
        ClientFile::FreshCopy => {
            let copy = ClientCopy::of(&tools.nsfleet)?;
            let described = format!(
                "a copy of {} made at the start, as an install leaves it",
                tools.nsfleet.display()
            );
            tools.nsfleet = copy.path.clone();
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

/// Runs one process to completion (output discarded) and measures it; a failure is an error, so a
/// command that did nothing is never timed as fast.
fn timed(program: &Path, args: &[String]) -> Result<Cost> {
    let before = children_usage();
    let started = Instant::now();
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| BenchError::io(format!("start {}", program.display()), e))?;
    let elapsed = started.elapsed();
    let after = children_usage();
    if !output.status.success() {
        return Err(BenchError::Command {
            command: format!("{} {}", program.display(), args.join(" ")),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(Cost {
        elapsed,
        cpu: after.0.saturating_sub(before.0),
        minor_faults: after.1.saturating_sub(before.1),
    })
}

/// CPU time and minor page faults of every child waited for so far. The agent is a child too, but
/// counts only once it is waited for, at the end.
fn children_usage() -> (Duration, u64) {
    // SAFETY: getrusage writes only into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_CHILDREN with a valid pointer cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    (
        time(usage.ru_utime) + time(usage.ru_stime),
        usage.ru_minflt as u64,
    )
}

fn median_elapsed(costs: &[Cost]) -> Duration {
    median(costs.iter().map(|c| c.elapsed).collect())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
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
        let cpu = |costs: &[Cost]| ms(median(costs.iter().map(|c| c.cpu).collect()));
        let faults = |costs: &[Cost]| {
            let mut faults: Vec<u64> = costs.iter().map(|c| c.minor_faults).collect();
            faults.sort_unstable();
            faults.get(faults.len() / 2).copied().unwrap_or(0)
        };
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
