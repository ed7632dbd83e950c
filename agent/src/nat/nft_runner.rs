//! How nsfleet's nftables JSON reaches the kernel: through libnftables in the agent's own process when
//! the library loads, else through the `nft` command. Both take the same input and give the same output
//! and error texts, so everything above this file is the same for both.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::process::{Command, Stdio};

use super::error::NatError;
use super::libnftables::{Libnftables, Purpose};
use super::nft_rule::TABLE;

const NFT: &str = "nft";

/// What to ask nftables for.
pub(super) enum NftCommand<'a> {
    /// `nft -j list table inet nsfleet`.
    ListTable,
    /// A JSON batch, applied as one transaction.
    Apply(&'a str),
    /// An empty JSON batch checked, not applied (`nft -c`): proves the JSON parser works.
    Check,
}

const EMPTY_BATCH: &str = r#"{"nftables": []}"#;

pub(super) enum NftRunner {
    InProcess(&'static Libnftables),
    Process { program: OsString },
}

impl NftRunner {
    /// libnftables if it loads and reads JSON (it can be built without), else `nft` from PATH.
    pub(super) fn detect() -> Self {
        Self::choose(Libnftables::get())
    }

    fn choose(loaded: Result<&'static Libnftables, String>) -> Self {
        let usable = loaded.and_then(|library| {
            let checked = library.run(EMPTY_BATCH, Purpose::Check)?;
            if checked.ok {
                Ok(library)
            } else {
                Err(format!("it refused a JSON batch: {}", checked.error.trim()))
            }
        });
        match usable {
            Ok(library) => Self::InProcess(library),
            Err(reason) => {
                tracing::info!(%reason, "libnftables is not used: NAT goes through the nft command");
                Self::process(NFT)
            }
        }
    }

    pub(super) fn process(program: impl Into<OsString>) -> Self {
        Self::Process {
            program: program.into(),
        }
    }

    /// For the agent's start log.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::InProcess(_) => "libnftables in the agent's process".to_string(),
            Self::Process { program } => format!("the {} command", program.to_string_lossy()),
        }
    }

    /// Runs `command` in the calling thread's network namespace; returns what it printed (JSON).
    pub(super) fn run(&self, command: NftCommand<'_>, context: &str) -> Result<String, NatError> {
        match self {
            Self::InProcess(library) => {
                let (text, purpose) = match command {
                    NftCommand::ListTable => (format!("list table inet {TABLE}"), Purpose::Read),
                    NftCommand::Apply(json) => (json.to_string(), Purpose::Apply),
                    NftCommand::Check => (EMPTY_BATCH.to_string(), Purpose::Check),
                };
                let ran = library
                    .run(&text, purpose)
                    .map_err(|reason| NatError::NftFailed {
                        context: context.into(),
                        stderr: reason,
                    })?;
                if ran.ok {
                    Ok(ran.output)
                } else {
                    Err(NatError::NftFailed {
                        context: context.into(),
                        stderr: nonempty(ran.error.trim(), "libnftables reported an error"),
                    })
                }
            }
            Self::Process { program } => match command {
                NftCommand::ListTable => run_nft(
                    program,
                    &["-j", "list", "table", "inet", TABLE],
                    None,
                    context,
                ),
                NftCommand::Apply(json) => {
                    run_nft(program, &["-j", "-f", "-"], Some(json.as_bytes()), context)
                }
                NftCommand::Check => run_nft(
                    program,
                    &["-j", "-c", "-f", "-"],
                    Some(EMPTY_BATCH.as_bytes()),
                    context,
                ),
            },
        }
    }
}

fn nonempty(text: &str, otherwise: &str) -> String {
    if text.is_empty() {
        otherwise.to_string()
    } else {
        text.to_string()
    }
}

/// Runs nft with `args`, feeding `stdin`; returns its stdout. `LC_ALL=C` keeps error texts matchable.
fn run_nft(
    program: &OsStr,
    args: &[&str],
    stdin: Option<&[u8]>,
    context: &str,
) -> Result<String, NatError> {
    let mut child = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => {
                NatError::NftMissing { source: e }
            }
            _ => NatError::NftFailed {
                context: context.into(),
                stderr: format!("cannot start nft: {e}"),
            },
        })?;
    // nft reads all of its input before it writes anything, so writing first cannot deadlock.
    let write_result = match (stdin, child.stdin.take()) {
        (Some(input), Some(mut pipe)) => pipe.write_all(input),
        _ => Ok(()),
    };
    let output = child.wait_with_output().map_err(|e| NatError::NftFailed {
        context: context.into(),
        stderr: format!("waiting for nft: {e}"),
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(NatError::NftFailed {
            context: context.into(),
            stderr: nonempty(stderr.trim(), &format!("nft exited with {}", output.status)),
        });
    }
    write_result.map_err(|e| NatError::NftFailed {
        context: context.into(),
        stderr: format!("writing to nft: {e}"),
    })?;
    String::from_utf8(output.stdout).map_err(|e| NatError::NftOutput {
        context: context.into(),
        reason: format!("not UTF-8: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_runner_falls_back_to_the_nft_command_without_the_library() {
        let runner = NftRunner::choose(Err("libnftables.so.1 cannot be loaded".into()));
        assert_eq!(runner.describe(), "the nft command");
    }

    #[test]
    fn nat_runner_uses_the_library_when_it_reads_json() {
        let library = Libnftables::get().expect("libnftables1 comes with nftables");
        let runner = NftRunner::choose(Ok(library));
        assert_eq!(runner.describe(), "libnftables in the agent's process");
    }
}
