//! The README's lab walk-through (the block after `<!-- lab-topology-apply -->`), run as a reader runs
//! it: every `$ sudo nsfleet ...` line, in order, in a directory holding the README's topology file as
//! `tutorial.yaml`, with the labs under a temporary directory instead of /run/nsfleet/labs. Each must
//! succeed and print what the README shows, where `...` stands for lines left out and ping times vary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nsfleet_tests::{binaries, poll_until, require_root, run_bounded, Finished};

use super::{readme_topology, SETTLE};

const README_LABS: &str = "/run/nsfleet/labs";
const CLI_LIMIT: Duration = Duration::from_secs(90);

/// One command of the walk-through and the output the README shows for it.
struct Step {
    words: Vec<String>,
    shown: Vec<String>,
}

/// The steps, with the README's lab directory replaced by `labs`.
fn walkthrough_steps(labs: &Path) -> Vec<Step> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let block = readme
        .split_once("<!-- lab-topology-apply -->")
        .expect("the README has the lab walk-through")
        .1
        .split_once("```\n")
        .expect("the walk-through has a code block")
        .1
        .split_once("```")
        .expect("the walk-through's block ends")
        .0
        .replace(README_LABS, &labs.display().to_string());
    let mut steps: Vec<Step> = Vec::new();
    for line in block.lines() {
        if let Some(command) = line.strip_prefix("$ sudo nsfleet ") {
            steps.push(Step {
                words: command.split_whitespace().map(String::from).collect(),
                shown: Vec::new(),
            });
        } else {
            let step = steps.last_mut().expect("the block starts with a command");
            step.shown.push(line.to_string());
        }
    }
    steps
}

/// Whether a printed line is the one the README shows: ping times and round-trip figures vary.
fn same_line(shown: &str, printed: &str) -> bool {
    match shown.split_once("time=") {
        Some((before, _)) => printed.starts_with(before),
        None if shown.starts_with("rtt ") => printed.starts_with("rtt "),
        None => shown == printed,
    }
}

/// Whether `printed` is what the README shows, `...` standing for any lines up to the next shown one.
fn matches(shown: &[String], printed: &[&str]) -> Result<(), String> {
    let mut next = 0;
    let mut lines = shown.iter().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "..." {
            next = match lines.peek() {
                Some(after) => (next..printed.len())
                    .find(|&at| same_line(after, printed[at]))
                    .ok_or_else(|| format!("no line {after:?} after line {next}"))?,
                None => printed.len(),
            };
            continue;
        }
        match printed.get(next) {
            Some(got) if same_line(line, got) => next += 1,
            got => {
                return Err(format!(
                    "line {next}: README shows {line:?}, printed {got:?}"
                ))
            }
        }
    }
    if next == printed.len() {
        Ok(())
    } else {
        Err(format!(
            "printed more than the README shows, from line {next}"
        ))
    }
}

/// Removes the walk-through's lab whatever happens, so a failed step leaves no agent behind.
struct LabDown<'a> {
    labs: &'a Path,
}

impl Drop for LabDown<'_> {
    fn drop(&mut self) {
        let _ = run(
            self.labs,
            Path::new("/"),
            &["lab", "down", "demo", "--ignore-missing"],
        );
    }
}

fn run<S: AsRef<str>>(labs: &Path, dir: &Path, words: &[S]) -> Finished {
    let mut command = Command::new(&binaries().client);
    command
        .env_remove("NSFLEET_HOSTS")
        .env("NSFLEET_LAB_DIR", labs)
        .current_dir(dir)
        .args(words.iter().map(AsRef::as_ref));
    run_bounded(&mut command, CLI_LIMIT)
}

fn step_result(labs: &Path, dir: &Path, step: &Step) -> Result<(), String> {
    let finished = run(labs, dir, &step.words);
    if !finished.success() {
        return Err(finished.to_string());
    }
    let printed: Vec<&str> = finished.stdout.lines().collect();
    matches(&step.shown, &printed).map_err(|problem| format!("{problem}\n{finished}"))
}

#[test]
fn the_readme_lab_walkthrough_runs_as_shown() {
    require_root();
    let dir = tempfile::tempdir().expect("temporary directory");
    let labs: PathBuf = dir.path().join("labs");
    std::fs::write(dir.path().join("tutorial.yaml"), readme_topology()).expect("tutorial.yaml");
    let steps = walkthrough_steps(&labs);
    let verbs: Vec<&str> = steps.iter().map(|step| step.words[0].as_str()).collect();
    for verb in ["lab", "plan", "apply", "destroy"] {
        assert!(
            verbs.contains(&verb),
            "the walk-through lost its {verb}: {verbs:?}"
        );
    }
    let _down = LabDown { labs: &labs };
    for step in &steps {
        let what = format!("nsfleet {}", step.words.join(" "));
        if step.words.contains(&"ping".to_string()) {
            // The first echo may wait for ARP or a fresh bridge port; the bound only decides when to
            // give up.
            poll_until(&what, SETTLE, || step_result(&labs, dir.path(), step));
        } else if let Err(problem) = step_result(&labs, dir.path(), step) {
            panic!("{what}: {problem}");
        }
    }
    assert!(
        !labs.join("demo").exists(),
        "lab down left {}",
        labs.join("demo").display()
    );
}

#[test]
fn elided_lines_and_ping_times_match_but_nothing_else() {
    let shown: Vec<String> = ["a", "  ...", "d", "64 bytes from x: time=1.0 ms"]
        .iter()
        .map(|line| line.to_string())
        .collect();
    assert!(matches(
        &shown,
        &["a", "b", "c", "d", "64 bytes from x: time=9.9 ms"]
    )
    .is_ok());
    assert!(matches(&shown, &["a", "d", "64 bytes from x: time=9.9 ms"]).is_ok());
    assert!(matches(
        &shown,
        &["a", "b", "c", "e", "64 bytes from x: time=9.9 ms"]
    )
    .is_err());
    assert!(matches(&shown, &["a", "d", "64 bytes from y: time=9.9 ms"]).is_err());
    assert!(matches(&shown, &["a", "d", "64 bytes from x: time=1.0 ms", "more"]).is_err());
}
