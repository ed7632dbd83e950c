//! Running programs the way a shell script would: one process at a time, waiting for each, failing on
//! the first non-zero exit with its stderr.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::{BenchError, Result};

/// The programs compared, found before anything is timed.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ip: PathBuf,
    pub nsfleet: PathBuf,
    pub agent: PathBuf,
}

impl Tools {
    /// `ip` from PATH; `nsfleet` and `nsfleet-agent` next to this executable (target/release).
    pub fn find() -> Result<Self> {
        let exe = std::env::current_exe()
            .map_err(|e| BenchError::io("find the benchmark's own path", e))?;
        let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
        let built = |name: &str| {
            program_in(
                &dir,
                name,
                "build everything first (cargo build --release --workspace)",
            )
        };
        let ip =
            which("ip").ok_or_else(|| BenchError::Usage("ip (iproute2) is not on PATH".into()))?;
        Ok(Self {
            ip,
            nsfleet: built("nsfleet")?,
            agent: built("nsfleet-agent")?,
        })
    }
}

/// `directory/name` if it is a file, else a usage error that ends with `hint`.
pub fn program_in(directory: &Path, name: &str, hint: &str) -> Result<PathBuf> {
    let path = directory.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(BenchError::Usage(format!(
            "{} not found: {hint}",
            path.display()
        )))
    }
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Runs `program ARGS...` to completion; stdout is discarded.
pub fn run<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> Result<()> {
    finish(
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
        program,
        args,
    )
    .map(drop)
}

/// Runs `program ARGS...` and returns its stdout.
pub fn output<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> Result<String> {
    finish(
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
        program,
        args,
    )
}

fn finish<S: AsRef<OsStr>>(command: &mut Command, program: &Path, args: &[S]) -> Result<String> {
    let describe = || {
        let mut words = vec![program.display().to_string()];
        words.extend(
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned()),
        );
        words.join(" ")
    };
    let result = command
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| BenchError::io(format!("start `{}`", describe()), e))?;
    let result = succeeded(result, describe)?;
    Ok(String::from_utf8_lossy(&result.stdout).into_owned())
}

/// `output` if its process succeeded, else the failure of the command `describe` names, with what it
/// wrote to its stderr (which the caller piped).
pub fn succeeded(output: Output, describe: impl FnOnce() -> String) -> Result<Output> {
    if output.status.success() {
        return Ok(output);
    }
    Err(BenchError::Command {
        command: describe(),
        status: output.status.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}
