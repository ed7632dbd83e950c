//! `nsfleet apply FILE --confirm DUR`: the fleet apply as confirmed commits, in stages.
//!
//! Everything that can be refused is refused first (flags by clap, the file, every host's plan). Then
//! the probes run once as a baseline, so one that already failed before the change does not block it.
//! Each stage's hosts apply with one commit id the client made (so another process can confirm it),
//! the stage's probes run, and the client confirms the stage, over new connections, only when every
//! probe passed; otherwise it rolls the stage back at once. The rollout stops when failures reach
//! `--max-failures`; hosts after that are reported as not started.

mod probe;
mod report;
pub mod stages;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::join_all;
use nsfleet_proto::v1::{
    ApplyTopologyRequest, ApplyTopologyResponse, CommitOptions, CommitState, ConfirmCommitRequest,
    PlanTopologyResponse, RollbackCommitRequest,
};

use super::{
    calls::{Caller, DEFAULT_APPLY_TIMEOUT},
    render::summary,
    targets::Target,
    verbs::{plan_every_host, prepare, write_err, write_out, EXIT_FAILED, EXIT_SUCCESS},
};
use crate::{
    cli::{ApplyArgs, GlobalOptions, OutputFormat},
    failure::HostFailure,
    output::HostProgress,
};
use probe::Verdict;
use report::{HostReport, HostState, ProbeLine};

const MIN_CONFIRM: Duration = Duration::from_secs(1);
const MAX_CONFIRM: Duration = Duration::from_secs(3600);

/// `90`, `90s`, `2m`, `1h`: 1 s to 1 h, the bounds CommitOptions.timeout_seconds has.
pub fn parse_confirm_timeout(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, unit) = match trimmed.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => trimmed.split_at(at),
        None => (trimmed, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => {
            return Err(format!(
                "{text:?}: write a whole number of seconds, minutes or hours (90s, 2m, 1h)"
            ))
        }
    };
    let count: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: write a whole number followed by s, m or h (90s, 2m)"))?;
    let duration = Duration::from_secs(count.saturating_mul(scale));
    if duration < MIN_CONFIRM {
        return Err(format!("{text:?} is below the minimum 1s"));
    }
    if duration > MAX_CONFIRM {
        return Err(format!("{text:?} is above the maximum 1h"));
    }
    Ok(duration)
}

/// Unique enough across runs and readable: the topology, the second and this process.
fn commit_id(topology: &str) -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    format!("{topology}-{seconds}-{}", std::process::id())
}

pub async fn apply_confirmed(args: &ApplyArgs, global: &GlobalOptions, timeout: Duration) -> u8 {
    let Some((loaded, targets, mut caller)) = prepare(
        &args.file,
        &args.endpoints.endpoints,
        global,
        DEFAULT_APPLY_TIMEOUT,
    ) else {
        return EXIT_FAILED;
    };
    caller.force |= args.allow_mgmt_change;
    let Some(planned) = plan_every_host(&caller, &targets, global.output).await else {
        return EXIT_FAILED;
    };
    let rollout = Rollout {
        args,
        caller: &caller,
        targets: &targets,
        planned: &planned,
        probes: &loaded.probes,
        together: &loaded.together,
        commit_id: commit_id(&loaded.name),
        timeout,
        progress: HostProgress::for_terminal(global.output == OutputFormat::Text),
    };
    if global.output == OutputFormat::Text {
        write_err(&format!(
            "nsfleet: commit {}: each host rolls back by itself after {} s unless confirmed\n",
            rollout.commit_id,
            timeout.as_secs()
        ));
    }
    let reports = rollout.run().await;
    for report in &reports {
        write_out(&report.line(global.output, &rollout.commit_id));
    }
    if reports
        .iter()
        .any(|report| report.state == HostState::Pending)
    {
        write_err(&format!(
            "nsfleet: confirm with `nsfleet confirm {}` before the deadline, or the hosts roll back\n",
            rollout.commit_id
        ));
    }
    if reports.iter().any(|report| report.state.is_failure()) {
        EXIT_FAILED
    } else {
        EXIT_SUCCESS
    }
}

struct Rollout<'a> {
    args: &'a ApplyArgs,
    caller: &'a Caller,
    targets: &'a [Target],
    planned: &'a [PlanTopologyResponse],
    probes: &'a [crate::topology::probes::Probe],
    /// Hosts that change in one stage: the members of each overlay.
    together: &'a [Vec<String>],
    commit_id: String,
    timeout: Duration,
    progress: HostProgress,
}

impl Rollout<'_> {
    async fn run(&self) -> Vec<HostReport> {
        let mut reports: Vec<HostReport> = self
            .targets
            .iter()
            .map(|target| HostReport::new(&target.name))
            .collect();
        let baseline = join_all(
            self.probes
                .iter()
                .map(|probe| probe::run(self.caller, self.targets, probe)),
        )
        .await;
        let names: Vec<String> = self.targets.iter().map(|t| t.name.clone()).collect();
        let stages = stages::plan_stages(
            &names,
            self.together,
            self.args.canary.map(|k| k as usize),
            self.args.max_unavailable.map(|n| n as usize),
        );
        let mut failures = 0;
        for (number, stage) in stages.iter().enumerate() {
            if failures >= self.args.max_failures {
                for report in reports.iter_mut().filter(|r| stage.contains(&r.host)) {
                    report.detail = format!("the rollout stopped after {failures} failed host(s)");
                }
                continue;
            }
            let members: Vec<usize> = (0..self.targets.len())
                .filter(|index| stage.contains(&self.targets[*index].name))
                .collect();
            failures += self.stage(number, &members, &baseline, &mut reports).await;
        }
        reports
    }

    /// Applies, probes and confirms (or rolls back) one stage; returns how many of its hosts failed.
    async fn stage(
        &self,
        number: usize,
        members: &[usize],
        baseline: &[Verdict],
        reports: &mut [HostReport],
    ) -> u32 {
        let mut failures = 0;
        for index in members {
            let plan = &self.planned[*index];
            self.progress
                .started(&self.targets[*index].name, &summary(&plan.changes));
        }
        let applied = join_all(members.iter().map(|index| self.apply_host(*index))).await;
        for (index, result) in members.iter().zip(applied) {
            let report = &mut reports[*index];
            report.stage = Some(number);
            self.progress.finished(&report.host, result.is_ok());
            match result {
                Ok(response) => {
                    let pending = response
                        .commit
                        .is_some_and(|commit| commit.state() == CommitState::Pending);
                    report.state = if pending {
                        HostState::Pending
                    } else {
                        HostState::Applied
                    };
                    if !pending {
                        report.detail = if self.planned[*index].changes.is_empty() {
                            "nothing to change".to_owned()
                        } else {
                            // An agent that predates confirmed commits ignores CommitOptions.
                            "applied for good: the agent made no pending commit, so it cannot roll \
                             this back"
                                .to_owned()
                        };
                    }
                }
                Err(failure) => {
                    report.state = HostState::Failed;
                    report.detail = self.explain(&failure);
                    failures += 1;
                }
            }
        }
        let in_stage = |host: &str| members.iter().any(|i| self.targets[*i].name == host);
        let stage_probes: Vec<usize> = (0..self.probes.len())
            .filter(|p| in_stage(&self.probes[*p].host))
            .collect();
        let verdicts = join_all(
            stage_probes
                .iter()
                .map(|p| probe::run(self.caller, self.targets, &self.probes[*p])),
        )
        .await;
        let mut blocked_hosts: Vec<String> = Vec::new();
        for (p, verdict) in stage_probes.iter().zip(verdicts) {
            let probe = &self.probes[*p];
            let (outcome, detail, blocks) = match (verdict, &baseline[*p]) {
                (Verdict::Passed, _) => ("passed", String::new(), false),
                (Verdict::Failed(why), Verdict::Failed(_)) => {
                    ("failed before the change too (not blocking)", why, false)
                }
                (Verdict::Failed(why), _) => ("failed", why, true),
                (Verdict::NotRun(why), _) => ("could not run", why, true),
            };
            if blocks && !blocked_hosts.contains(&probe.host) {
                blocked_hosts.push(probe.host.clone());
            }
            if let Some(report) = reports.iter_mut().find(|r| r.host == probe.host) {
                report.probes.push(ProbeLine {
                    probe: probe.to_string(),
                    outcome: outcome.to_owned(),
                    detail,
                });
            }
        }
        failures += blocked_hosts.len() as u32;
        let stage_ok = failures == 0;
        for index in members {
            let report = &mut reports[*index];
            if report.state != HostState::Pending {
                continue;
            }
            let host = &self.targets[*index].host;
            if stage_ok {
                if self.args.no_auto_confirm {
                    continue;
                }
                let request = ConfirmCommitRequest {
                    commit_id: self.commit_id.clone(),
                };
                match self.caller.confirm(host, request).await {
                    Ok(_) => report.state = HostState::Confirmed,
                    Err(failure) => {
                        // Not confirmed: the host rolls back at its deadline, so it counts as failed.
                        report.state = HostState::Failed;
                        report.detail = format!("confirm failed: {failure}");
                        failures += 1;
                    }
                }
                continue;
            }
            let request = RollbackCommitRequest {
                commit_id: self.commit_id.clone(),
            };
            let why = if blocked_hosts.contains(&report.host) {
                "a probe failed".to_owned()
            } else {
                "another host of its stage failed".to_owned()
            };
            match self.caller.rollback(host, request).await {
                Ok(_) => {
                    report.state = HostState::RolledBack;
                    report.detail = why;
                }
                Err(failure) => {
                    report.state = HostState::Failed;
                    report.detail = format!("{why}, and the rollback failed: {failure}");
                }
            }
        }
        failures
    }

    /// A host with nothing to change is not called: its plan is its answer, and it holds no commit.
    async fn apply_host(&self, index: usize) -> Result<ApplyTopologyResponse, HostFailure> {
        let plan = &self.planned[index];
        if plan.changes.is_empty() {
            return Ok(ApplyTopologyResponse {
                fingerprint: plan.fingerprint.clone(),
                warnings: plan.warnings.clone(),
                ..Default::default()
            });
        }
        let target = &self.targets[index];
        self.caller
            .apply(
                &target.host,
                ApplyTopologyRequest {
                    topology: Some(target.topology.clone()),
                    fingerprint: plan.fingerprint.clone(),
                    force: self.caller.force,
                    confirm: Some(CommitOptions {
                        timeout_seconds: u32::try_from(self.timeout.as_secs()).unwrap_or(u32::MAX),
                        commit_id: self.commit_id.clone(),
                    }),
                },
            )
            .await
    }

    fn explain(&self, failure: &HostFailure) -> String {
        management_hint(failure.clone(), self.args.allow_mgmt_change).to_string()
    }
}

/// An agent's refusal to cut its own management path, with the flag that overrides it in `apply`.
pub fn management_hint(failure: HostFailure, allowed: bool) -> HostFailure {
    let about_the_path = failure.code == tonic::Code::FailedPrecondition
        && (failure.message.contains("management path")
            || failure.message.contains("cut the agent off"));
    if about_the_path && !allowed {
        let message = format!(
            "{}; to make this change, pass --allow-mgmt-change with --confirm DURATION",
            failure.message
        );
        HostFailure::new(failure.code, message)
    } else {
        failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirm_timeouts_are_whole_units_between_a_second_and_an_hour() {
        assert_eq!(parse_confirm_timeout("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_confirm_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_confirm_timeout("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_confirm_timeout("45"), Ok(Duration::from_secs(45)));
        assert_eq!(
            parse_confirm_timeout("0s"),
            Err("\"0s\" is below the minimum 1s".to_owned())
        );
        assert_eq!(
            parse_confirm_timeout("61m"),
            Err("\"61m\" is above the maximum 1h".to_owned())
        );
        assert!(parse_confirm_timeout("2d")
            .unwrap_err()
            .contains("90s, 2m, 1h"));
        assert!(parse_confirm_timeout("1.5m").is_err());
        assert!(parse_confirm_timeout("").is_err());
        assert!(parse_confirm_timeout("s").is_err());
        assert!(parse_confirm_timeout("99999999999999999999h").is_err());
    }

    #[test]
    fn commit_ids_fit_the_api() {
        let id = commit_id("abcdefghijklmnopqrstuvwxyz012345");
        assert!(id.len() <= 64, "{id}");
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
    }

    #[test]
    fn a_management_path_refusal_names_the_flag() {
        let refusal = HostFailure::new(
            tonic::Code::FailedPrecondition,
            "deleting eth0 would cut the agent off from its caller; pass --force",
        );
        let hinted =
            |failure: &HostFailure, allowed| management_hint(failure.clone(), allowed).message;
        assert!(hinted(&refusal, false).contains("--allow-mgmt-change"));
        assert!(!hinted(&refusal, true).contains("--allow-mgmt-change"));
        let other = HostFailure::new(tonic::Code::FailedPrecondition, "host changed");
        assert!(!hinted(&other, false).contains("--allow-mgmt-change"));
    }
}
