//! Where each host of a confirmed apply ended, one line per host (text or JSON).

use serde_json::json;

use crate::cli::OutputFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostState {
    /// In place for good without a commit: the host had nothing to change.
    Applied,
    /// Changed and waiting for `nsfleet confirm` (or its deadline).
    Pending,
    Confirmed,
    RolledBack,
    Failed,
    NotStarted,
}

impl HostState {
    pub fn name(self) -> &'static str {
        match self {
            HostState::Applied => "applied",
            HostState::Pending => "pending",
            HostState::Confirmed => "confirmed",
            HostState::RolledBack => "rolled back",
            HostState::Failed => "failed",
            HostState::NotStarted => "not started",
        }
    }

    /// Whether the rollout failed for this host (the exit status).
    pub fn is_failure(self) -> bool {
        matches!(self, HostState::RolledBack | HostState::Failed)
    }
}

/// One probe's outcome, as reported.
#[derive(Debug, Clone)]
pub struct ProbeLine {
    pub probe: String,
    /// "passed", "failed", "failed before the change too (not blocking)", "not run".
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct HostReport {
    pub host: String,
    pub state: HostState,
    /// Why, for a person: the failure, the probe that failed, "nothing to change".
    pub detail: String,
    pub stage: Option<usize>,
    pub probes: Vec<ProbeLine>,
}

impl HostReport {
    pub fn new(host: &str) -> Self {
        Self {
            host: host.to_owned(),
            state: HostState::NotStarted,
            detail: String::new(),
            stage: None,
            probes: Vec::new(),
        }
    }

    pub fn line(&self, format: OutputFormat, commit_id: &str) -> String {
        match format {
            OutputFormat::Json => {
                let probes: Vec<_> = self
                    .probes
                    .iter()
                    .map(|p| json!({"probe": p.probe, "outcome": p.outcome, "detail": p.detail}))
                    .collect();
                format!(
                    "{}\n",
                    json!({
                        "host": self.host,
                        "ok": !self.state.is_failure(),
                        "state": self.state.name().replace(' ', "_"),
                        "commit_id": commit_id,
                        "stage": self.stage.map(|stage| stage + 1),
                        "detail": self.detail,
                        "probes": probes,
                    })
                )
            }
            OutputFormat::Text => {
                let mut text = format!("{}: {}", self.host, self.state.name());
                if let Some(stage) = self.stage {
                    text.push_str(&format!(" (stage {})", stage + 1));
                }
                if !self.detail.is_empty() {
                    text.push_str(&format!(": {}", self.detail));
                }
                text.push('\n');
                for probe in &self.probes {
                    text.push_str(&format!("  probe {}: {}", probe.probe, probe.outcome));
                    if !probe.detail.is_empty() {
                        text.push_str(&format!(" ({})", probe.detail));
                    }
                    text.push('\n');
                }
                text
            }
        }
    }
}
