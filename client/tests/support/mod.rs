//! Helpers for the CLI tests: a fake agent on a unix socket and a way to run the real binary.

#![allow(dead_code)] // each test file uses a different part

pub mod fake_agent;

use std::io::Write;
use std::process::{Command, Output};

pub use fake_agent::{FakeAgent, Mode};

/// What one `nsfleet` run printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
            })
            .collect()
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output
                .status
                .code()
                .expect("nsfleet was killed by a signal"),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }
}

pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nsfleet"));
    command.env_remove("NSFLEET_HOSTS");
    command
}

pub fn nsfleet(args: &[&str]) -> Run {
    command().args(args).output().expect("nsfleet runs").into()
}

/// `nsfleet ARGS` with a terminal for its standard streams (util-linux `script`), `input` typed in.
pub fn on_a_terminal(args: &[&str], input: &str) -> Run {
    let command_line = std::iter::once(env!("CARGO_BIN_EXE_nsfleet"))
        .chain(args.iter().copied())
        .map(|word| format!("'{word}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command_line, "/dev/null"])
        .env_remove("NSFLEET_HOSTS")
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap().into()
}
