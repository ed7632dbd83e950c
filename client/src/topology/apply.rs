//! `nsfleet apply`: plan every host, show the plans, ask, then apply each host with its plan's
//! fingerprint, in parallel, with per-host progress on a terminal.

use std::io::{BufRead, IsTerminal};

use nsfleet_proto::v1::{ApplyTopologyRequest, ApplyTopologyResponse, PlanTopologyResponse};

use super::{
    calls::{self, Caller, DEFAULT_APPLY_TIMEOUT},
    render::{changes_text, plan_header, summary, Style},
    targets::Target,
    verbs::{emit, plan_every_host, prepare, write_err, write_out, Tally, EXIT_FAILED},
};
use crate::{
    cli::{ApplyArgs, GlobalOptions, OutputFormat},
    failure::HostFailure,
    output::HostProgress,
};

pub async fn apply(args: &ApplyArgs, global: &GlobalOptions) -> u8 {
    if let Some(timeout) = args.confirm {
        return super::rollout::apply_confirmed(args, global, timeout).await;
    }
    let Some((_, targets, caller)) = prepare(
        &args.file,
        &args.endpoints.endpoints,
        global,
        DEFAULT_APPLY_TIMEOUT,
    ) else {
        return EXIT_FAILED;
    };
    let text = global.output == OutputFormat::Text;
    let style = Style::for_stdout();
    let Some(planned) = plan_every_host(&caller, &targets, global.output).await else {
        return EXIT_FAILED;
    };
    let total: usize = planned.iter().map(|plan| plan.changes.len()).sum();
    if text {
        for (target, plan) in targets.iter().zip(&planned) {
            write_out(&changes_text(
                &plan_header(&target.name, &plan.changes),
                &plan.changes,
                &plan.warnings,
                style,
            ));
        }
    }
    if total > 0 && !args.yes && std::io::stdin().is_terminal() && !confirmed(total, &planned) {
        write_err("nsfleet: nothing applied\n");
        return EXIT_FAILED;
    }
    let progress = HostProgress::for_terminal(text);
    let work: Vec<(&Target, &PlanTopologyResponse)> = targets.iter().zip(&planned).collect();
    for (target, plan) in &work {
        if !plan.changes.is_empty() {
            progress.started(&target.name, &summary(&plan.changes));
        }
    }
    let applied = calls::each(
        &work,
        |_, (target, plan)| apply_one(&caller, target, plan),
        |index, result: &Result<ApplyTopologyResponse, HostFailure>| {
            let (target, plan) = work[index];
            if !plan.changes.is_empty() {
                progress.finished(&target.name, result.is_ok());
            }
        },
    )
    .await;
    let mut outcome = Tally::default();
    for (target, result) in targets.iter().zip(&applied) {
        outcome.count(result.as_ref().map(|response| response.changed));
        emit(global.output, &target.name, result, |response| {
            if response.changed {
                changes_text(
                    &format!("{}: applied {}", target.name, summary(&response.changes)),
                    &[],
                    &response.warnings,
                    style,
                )
            } else if total == 0 {
                // The plan above already said so.
                String::new()
            } else {
                format!("{}: no changes\n", target.name)
            }
        });
    }
    outcome.status(false)
}

/// A host with nothing to do is not called again: its plan is its answer.
async fn apply_one(
    caller: &Caller,
    target: &Target,
    plan: &PlanTopologyResponse,
) -> Result<ApplyTopologyResponse, HostFailure> {
    if plan.changes.is_empty() {
        return Ok(ApplyTopologyResponse {
            changes: Vec::new(),
            changed: false,
            warnings: plan.warnings.clone(),
            fingerprint: plan.fingerprint.clone(),
            commit: None,
        });
    }
    caller
        .apply(
            &target.host,
            ApplyTopologyRequest {
                topology: Some(target.topology.clone()),
                fingerprint: plan.fingerprint.clone(),
                force: caller.force,
                confirm: None,
            },
        )
        .await
        .map_err(|failure| super::rollout::management_hint(failure, false))
}

fn confirmed(total: usize, planned: &[PlanTopologyResponse]) -> bool {
    let hosts = planned
        .iter()
        .filter(|plan| !plan.changes.is_empty())
        .count();
    write_err(&format!(
        "Apply {total} change{} on {hosts} host{}? [y/N] ",
        if total == 1 { "" } else { "s" },
        if hosts == 1 { "" } else { "s" }
    ));
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}
