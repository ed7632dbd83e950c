//! The nsfleet agent under test: started inside the simulated host on a unix socket in a temporary
//! directory, killed with the benchmark (also if the benchmark dies: PR_SET_PDEATHSIG).

use std::fs::File;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};

const STARTUP_LIMIT: Duration = Duration::from_secs(30);

pub struct Agent {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
    // Removed after the agent is dead: fields drop after `Drop::drop`.
    _dir: tempfile::TempDir,
}

/// Resident memory of the agent, from /proc/PID/status.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: u64,
    /// VmHWM: the most it was ever resident.
    pub peak_kib: u64,
}

impl Agent {
    pub fn start(program: &std::path::Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("nsfleet-bench-")
            .tempdir()
            .map_err(|e| BenchError::io("create a temporary directory for the agent", e))?;
        let socket = dir.path().join("agent.sock");
        let log = dir.path().join("agent.log");
        let log_file =
            File::create(&log).map_err(|e| BenchError::io("create the agent's log", e))?;
        let log_copy = log_file
            .try_clone()
            .map_err(|e| BenchError::io("open the agent's log", e))?;
        let mut command = Command::new(program);
        command
            .arg("--listen")
            .arg(format!("unix:{}", socket.display()))
            // Its ledger and intent journal stay in the temporary directory, not in /var/lib/nsfleet.
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log_copy)
            .stderr(log_file);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| BenchError::io(format!("start {}", program.display()), e))?;
        let mut agent = Self {
            child,
            socket,
            log,
            _dir: dir,
        };
        agent.wait_ready()?;
        Ok(agent)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        while UnixStream::connect(&self.socket).is_err() {
            let exited = self
                .child
                .try_wait()
                .map_err(|e| BenchError::io("wait for the agent", e))?;
            if exited.is_some() || started.elapsed() > STARTUP_LIMIT {
                return Err(BenchError::Check(format!(
                    "the agent did not start; its log:\n{}",
                    self.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// The `--host` value for the CLI.
    pub fn endpoint(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn memory(&self) -> Result<Memory> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path)
            .map_err(|e| BenchError::io(format!("read {path}"), e))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse().ok())
                .unwrap_or(0)
        };
        Ok(Memory {
            rss_kib: field("VmRSS:"),
            peak_kib: field("VmHWM:"),
        })
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
