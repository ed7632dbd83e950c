//! Turns each host's outcome into output, in `--host` order: text blocks (headed `HOST:` when there are
//! several hosts) or one JSON line per host; errors and warnings on stderr in text mode.

pub mod json;
pub mod line;
mod progress;
pub mod text;

pub use progress::{HostProgress, Progress};

use nsfleet_proto::v1::ListLinksResponse;
use serde::Serialize;

use crate::{cli::OutputFormat, commands::Outcome, failure::HostFailure};
use json::{to_json, JsonError, MessageJson};
use line::JsonLine;

/// What one host adds to stdout and stderr.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Emitted {
    pub stdout: String,
    pub stderr: String,
}

pub struct Printer {
    format: OutputFormat,
    several_hosts: bool,
    blocks_printed: usize,
    any_failed: bool,
}

impl Printer {
    pub fn new(format: OutputFormat, several_hosts: bool) -> Self {
        Self {
            format,
            several_hosts,
            blocks_printed: 0,
            any_failed: false,
        }
    }

    /// True once a host failed, or succeeded without the result asked for (a ping with no reply).
    pub fn any_failed(&self) -> bool {
        self.any_failed
    }

    pub fn host(&mut self, host: &str, result: Result<Outcome, HostFailure>) -> Emitted {
        if result.as_ref().map_or(true, Outcome::failed_check) {
            self.any_failed = true;
        }
        match self.format {
            OutputFormat::Json => self.json_line(host, result),
            OutputFormat::Text => self.text_block(host, result),
        }
    }

    fn json_line(&mut self, host: &str, result: Result<Outcome, HostFailure>) -> Emitted {
        let stdout = match result {
            Err(failure) => JsonLine::failure(host, &failure).to_line(),
            Ok(outcome) => match outcome_json(&outcome) {
                Err(error) => {
                    self.any_failed = true;
                    let failure = HostFailure::new(tonic::Code::Internal, error.to_string());
                    JsonLine::failure(host, &failure).to_line()
                }
                // The host answered, but its batch did not apply: a failed host like any other, with
                // the per-operation results kept so the caller sees what was undone.
                Ok(result) => match &outcome {
                    Outcome::Batch(run) if !run.response.ok => {
                        let failure = text::batch::first_failure(run);
                        JsonLine::failed_with(host, &failure, result).to_line()
                    }
                    _ => JsonLine::success(host, result).to_line(),
                },
            },
        };
        Emitted {
            stdout,
            stderr: String::new(),
        }
    }

    fn text_block(&mut self, host: &str, result: Result<Outcome, HostFailure>) -> Emitted {
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(failure) => {
                return Emitted {
                    stdout: String::new(),
                    stderr: format!("nsfleet: {host}: {}\n", text::shown(&failure.to_string())),
                }
            }
        };
        if let Outcome::Batch(run) = &outcome {
            return Emitted {
                stdout: String::new(),
                stderr: text::batch::report(host, run),
            };
        }
        let mut emitted = Emitted::default();
        for warning in outcome.warnings() {
            emitted.stderr.push_str(&format!(
                "warning: {host}: {}",
                text::shown(&warning.message)
            ));
            if !warning.fix.is_empty() {
                emitted
                    .stderr
                    .push_str(&format!(" (fix: {})", text::shown(&warning.fix)));
            }
            emitted.stderr.push('\n');
        }
        let body = text::render(&outcome);
        if body.is_empty() {
            return emitted;
        }
        if self.several_hosts {
            if self.blocks_printed > 0 {
                emitted.stdout.push('\n');
            }
            emitted.stdout.push_str(&format!("{host}:\n"));
        }
        emitted.stdout.push_str(&body);
        self.blocks_printed += 1;
        emitted
    }
}

/// The `result` of a JSON line: the RPC's response, except where the contract gives another shape.
#[derive(Serialize)]
#[serde(untagged)]
pub enum OutcomeJson {
    Response(MessageJson),
    Ping {
        replies: Vec<MessageJson>,
        /// null when the run ended before its summary.
        summary: Option<MessageJson>,
    },
}

pub fn outcome_json(outcome: &Outcome) -> Result<OutcomeJson, JsonError> {
    let response = match outcome {
        Outcome::Mutation(mutation) => mutation.response.to_json(),
        Outcome::Batch(run) => to_json(&run.response),
        Outcome::Namespaces(response) => to_json(response),
        Outcome::Links(listing) => to_json(&ListLinksResponse {
            links: listing.links.clone(),
        }),
        Outcome::Addresses(listing) => to_json(&listing.response),
        Outcome::Routes(response) => to_json(response),
        Outcome::Forwarding(response) => to_json(response),
        Outcome::Neighbors(response) => to_json(response),
        Outcome::NatRules(response) => to_json(response),
        Outcome::Ping(run) => {
            let replies = run.replies.iter().map(to_json).collect::<Result<_, _>>()?;
            let summary = run.summary.as_ref().map(to_json).transpose()?;
            return Ok(OutcomeJson::Ping { replies, summary });
        }
    };
    response.map(OutcomeJson::Response)
}

#[cfg(test)]
mod tests;
