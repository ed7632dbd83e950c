use std::fmt;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::binaries::binaries;
use crate::process::{run_bounded, Finished};
use crate::sim_host::SimHost;

/// Well above the CLI's own default `--timeout` of 30 s: the bound only catches a hung client.
const CLI_LIMIT: Duration = Duration::from_secs(90);

/// One invocation of the real `nsfleet` binary. By default `-o json` with `--host` for each host given,
/// placed before the command's own words.
#[derive(Clone, Debug, Default)]
pub struct Nsfleet {
    endpoints: Vec<String>,
    netns: Option<String>,
    words: Vec<String>,
    text: bool,
    env: Vec<(String, String)>,
}

impl Nsfleet {
    /// No host yet: add some with [`Nsfleet::host`] / [`Nsfleet::endpoint`], or pass `--host` as words.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on(host: &SimHost) -> Self {
        Self::new().host(host)
    }

    pub fn on_all(hosts: &[&SimHost]) -> Self {
        hosts.iter().fold(Self::new(), |cli, host| cli.host(host))
    }

    pub fn host(self, host: &SimHost) -> Self {
        self.endpoint(&host.endpoint())
    }

    /// Any `--host` value, e.g. a socket nobody listens on.
    pub fn endpoint(mut self, endpoint: &str) -> Self {
        self.endpoints.push(endpoint.to_string());
        self
    }

    /// `-n NETNS`, or nothing for "" (the host's own namespace, as in the API).
    pub fn netns(mut self, netns: &str) -> Self {
        self.netns = (!netns.is_empty()).then(|| netns.to_string());
        self
    }

    /// Command words split on whitespace: `"-n netns1 link set ceth1 up"`.
    pub fn line(self, line: &str) -> Self {
        self.args(line.split_whitespace())
    }

    /// Command words as given (for names with spaces, empty names, ...).
    pub fn args<S: AsRef<str>>(mut self, words: impl IntoIterator<Item = S>) -> Self {
        self.words
            .extend(words.into_iter().map(|w| w.as_ref().to_string()));
        self
    }

    /// Human-readable output instead of `-o json`.
    pub fn text(mut self) -> Self {
        self.text = true;
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn run(&self) -> CliRun {
        let mut command = Command::new(&binaries().client);
        // The CLI must never fall back to a host from the caller's environment.
        command.env_remove("NSFLEET_HOSTS");
        // Nor read an inventory the tests did not choose.
        command.env_remove("NSFLEET_INVENTORY");
        command.env("XDG_CONFIG_HOME", "/nonexistent/nsfleet-tests");
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        for endpoint in &self.endpoints {
            command.arg("--host").arg(endpoint);
        }
        if !self.text {
            command.args(["-o", "json"]);
        }
        if let Some(netns) = &self.netns {
            command.arg("-n").arg(netns);
        }
        command.args(&self.words);
        let finished = run_bounded(&mut command, CLI_LIMIT);
        let lines = if self.text {
            Vec::new()
        } else {
            parse_json_lines(&finished)
        };
        CliRun {
            endpoints: self.endpoints.clone(),
            finished,
            lines,
        }
    }
}

impl SimHost {
    /// One `-o json` command line (split on whitespace) on this host alone.
    pub fn cli(&self, line: &str) -> CliRun {
        Nsfleet::on(self).line(line).run()
    }

    /// [`SimHost::cli`] with `-n netns`; "" is the host's own namespace.
    pub fn cli_in(&self, netns: &str, line: &str) -> CliRun {
        Nsfleet::on(self).netns(netns).line(line).run()
    }

    /// [`SimHost::cli`] with the words as given (names with spaces, empty values, ...).
    pub fn cli_args(&self, words: &[&str]) -> CliRun {
        Nsfleet::on(self).args(words).run()
    }
}

/// Runs each line once, addressed to all `hosts` in one invocation; every host must succeed.
pub fn run_lines(hosts: &[&SimHost], lines: &[&str]) {
    for line in lines {
        Nsfleet::on_all(hosts).line(line).run().results();
    }
}

fn parse_json_lines(finished: &Finished) -> Vec<Value> {
    finished
        .stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| {
                panic!("stdout line is not JSON ({err}): {line:?}\n{finished}")
            })
        })
        .collect()
}

/// What one `nsfleet` invocation did.
#[derive(Debug)]
pub struct CliRun {
    /// The `--host` values given through the builder, in order.
    pub endpoints: Vec<String>,
    pub finished: Finished,
    /// The JSON Lines of stdout (empty in text mode).
    pub lines: Vec<Value>,
}

impl CliRun {
    pub fn exit_code(&self) -> Option<i32> {
        self.finished.status.code()
    }

    pub fn stdout(&self) -> &str {
        &self.finished.stdout
    }

    pub fn stderr(&self) -> &str {
        &self.finished.stderr
    }

    /// Asserts one JSON line per host, in `--host` order, each naming its host.
    pub fn assert_one_line_per_host(&self) -> &Self {
        assert_eq!(
            self.lines.len(),
            self.endpoints.len(),
            "expected one JSON line per host ({:?})\n{self}",
            self.endpoints
        );
        for (line, endpoint) in self.lines.iter().zip(&self.endpoints) {
            assert_eq!(
                line["host"],
                Value::from(endpoint.as_str()),
                "JSON lines out of --host order\n{self}"
            );
        }
        self
    }

    /// Asserts exit status 0 and `"ok": true` from every host; returns each host's `result`.
    pub fn results(&self) -> Vec<&Value> {
        assert_eq!(self.exit_code(), Some(0), "expected success\n{self}");
        self.assert_one_line_per_host();
        self.lines
            .iter()
            .map(|line| {
                assert_eq!(line["ok"], Value::Bool(true), "a host failed\n{self}");
                &line["result"]
            })
            .collect()
    }

    /// [`CliRun::results`] for an invocation on one host.
    pub fn result(&self) -> &Value {
        let results = self.results();
        assert_eq!(results.len(), 1, "expected a single host\n{self}");
        results[0]
    }

    /// Echo replies the `host_index`-th host got, per its Ping summary; 0 when it has none (a failed or
    /// missing host).
    pub fn ping_replies(&self, host_index: usize) -> u64 {
        self.lines
            .get(host_index)
            .and_then(|line| line["result"]["summary"]["received"].as_u64())
            .unwrap_or(0)
    }

    /// Asserts exit status 1 and that every host failed with `code`; returns the first `error` object.
    pub fn error(&self, code: &str) -> &Value {
        assert_eq!(
            self.exit_code(),
            Some(1),
            "expected the hosts to fail with {code}\n{self}"
        );
        self.assert_one_line_per_host();
        for line in &self.lines {
            assert_eq!(line["ok"], Value::Bool(false), "expected {code}\n{self}");
            assert_eq!(
                line["error"]["code"],
                Value::from(code),
                "wrong error code\n{self}"
            );
        }
        &self.lines[0]["error"]
    }
}

impl fmt::Display for CliRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.finished.fmt(f)
    }
}
