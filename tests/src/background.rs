//! Long-running helpers (servers) inside a simulated host, killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::sim_host::SimHost;

/// A process running inside a simulated host until this value is dropped (also while a test panics).
/// Its stdout is read line by line, so a test can wait for a "ready" line instead of sleeping.
pub struct Background {
    description: String,
    child: Child,
    lines: Receiver<String>,
    /// Every stdout line received so far, for messages.
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl SimHost {
    /// Starts `argv` in named namespace `netns` of this host ("" = the host's own) and returns at once.
    /// `nsenter` and `ip netns exec` both exec, so the child is the program itself and killing it ends it.
    pub fn spawn_in(&self, netns: &str, argv: &[&str]) -> Background {
        let mut command = Command::new("nsenter");
        command
            .arg("--target")
            .arg(self.pid().to_string())
            .args(["--net", "--mount", "--"]);
        if !netns.is_empty() {
            command.args(["ip", "netns", "exec", netns]);
        }
        command
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: between fork and exec the child only makes one async-signal-safe syscall.
        unsafe {
            command.pre_exec(|| {
                // Dies with the test thread even if Drop never runs (the test process is killed).
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let description = format!("{}: {netns:?}: {}", self.label(), argv.join(" "));
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start `{description}`: {err}"));
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let collected = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(read) = pipe.read(&mut chunk) {
                if read == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&chunk[..read]);
                collected.lock().expect("stderr buffer").push_str(&text);
            }
        });
        Background {
            description,
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }
}

impl Background {
    /// Waits for a stdout line equal to `wanted`; panics with what the process said if it exits first
    /// or `limit` passes. The limit only decides when to give up.
    pub fn wait_for_line(&mut self, wanted: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line == wanted;
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no line {wanted:?} within {limit:?}\n{}", self.report())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().expect("waiting for a background process");
                    panic!(
                        "exited ({status}) before printing {wanted:?}\n{}",
                        self.report()
                    )
                }
            }
        }
    }

    /// Waits for a stdout line containing `wanted` and returns it, like [`Self::wait_for_line`].
    pub fn wait_for_line_containing(&mut self, wanted: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let line = self.next_line(deadline.saturating_duration_since(Instant::now()));
            if line.contains(wanted) {
                return line;
            }
        }
    }

    /// The next stdout line; panics with what the process said if it exits first or `limit` passes.
    pub fn next_line(&mut self, limit: Duration) -> String {
        match self.lines.recv_timeout(limit) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("no further line within {limit:?}\n{}", self.report())
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().expect("waiting for a background process");
                panic!("exited ({status}) before its next line\n{}", self.report())
            }
        }
    }

    /// Replaces the command line in messages (e.g. by a name for an inline script).
    pub fn describe_as(&mut self, description: &str) {
        self.description = description.to_string();
    }

    /// The command, its stdout so far and its stderr so far.
    pub fn report(&self) -> String {
        format!(
            "`{}`\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.description,
            self.seen.join("\n"),
            self.stderr.lock().expect("stderr buffer")
        )
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
