//! `nsfleet confirm|rollback ID` and `nsfleet commit status [ID]`: drive the agents' confirmed commits.
//! The hosts are those of a topology file (resolved as `apply` resolves them) or the `--host` ones. Each
//! call opens a connection of its own, as it must after a change of the path to the agent: a
//! connection made before the commit may run over a route the commit replaced.
//!
//! Exit status: 0 when every host answered, 1 when one failed (its line says why).

use nsfleet_proto::v1::{
    CommitState, CommitStatus, ConfirmCommitRequest, GetCommitRequest, RollbackCommitRequest,
};

use super::{
    calls::{self, DEFAULT_TIMEOUT},
    render::{changes_text, summary, Style},
    verbs::{emit, prepare, Tally},
};
use crate::{
    cli::{Cli, CommitArgs, CommitStatusArgs, CommitVerb, GlobalOptions, Object},
    connect::Host,
};

/// Runs a commit verb; `None` for every other command.
pub fn run(cli: &Cli) -> Option<u8> {
    let global = &cli.global;
    let status = match &cli.object {
        Object::Confirm(args) => super::verbs::block_on(confirm(args, global)),
        Object::Rollback(args) => super::verbs::block_on(rollback(args, global)),
        Object::Commit(CommitVerb::Status(args)) => super::verbs::block_on(status(args, global)),
        _ => return None,
    };
    Some(status)
}

/// The hosts to ask, each with the label its lines carry: a file's hosts, else the `--host` ones.
fn hosts(
    file: Option<&str>,
    endpoints: &[String],
    global: &GlobalOptions,
) -> Option<(Vec<(String, Host)>, calls::Caller)> {
    match file {
        Some(file) => {
            let (_, targets, caller) = prepare(file, endpoints, global, DEFAULT_TIMEOUT)?;
            Some((
                targets.into_iter().map(|t| (t.name, t.host)).collect(),
                caller,
            ))
        }
        None => {
            let hosts = match crate::plan::hosts(global, &crate::plan::security_options(global)) {
                Ok(hosts) => hosts,
                Err(error) => {
                    super::verbs::write_err(&format!("nsfleet: {error}\n"));
                    return None;
                }
            };
            let caller = super::verbs::caller(global, DEFAULT_TIMEOUT)?;
            Some((
                hosts.into_iter().map(|h| (h.label.clone(), h)).collect(),
                caller,
            ))
        }
    }
}

async fn confirm(args: &CommitArgs, global: &GlobalOptions) -> u8 {
    let Some((hosts, caller)) = hosts(args.file.as_deref(), &args.endpoints.endpoints, global)
    else {
        return super::verbs::EXIT_FAILED;
    };
    let results = calls::each(
        &hosts,
        |_, (_, host)| {
            caller.confirm(
                host,
                ConfirmCommitRequest {
                    commit_id: args.commit_id.clone(),
                },
            )
        },
        |_, _| {},
    )
    .await;
    let mut outcome = Tally::default();
    for ((label, _), result) in hosts.iter().zip(&results) {
        outcome.count(result.as_ref().map(|_| false));
        emit(global.output, label, result, |response| {
            let commit = response.commit.clone().unwrap_or_default();
            if response.changed {
                format!("{label}: {} confirmed\n", described(&commit))
            } else {
                format!("{label}: {} was already confirmed\n", described(&commit))
            }
        });
    }
    outcome.status(false)
}

async fn rollback(args: &CommitArgs, global: &GlobalOptions) -> u8 {
    let Some((hosts, caller)) = hosts(args.file.as_deref(), &args.endpoints.endpoints, global)
    else {
        return super::verbs::EXIT_FAILED;
    };
    let results = calls::each(
        &hosts,
        |_, (_, host)| {
            caller.rollback(
                host,
                RollbackCommitRequest {
                    commit_id: args.commit_id.clone(),
                },
            )
        },
        |_, _| {},
    )
    .await;
    let style = Style::for_stdout();
    let mut outcome = Tally::default();
    for ((label, _), result) in hosts.iter().zip(&results) {
        outcome.count(result.as_ref().map(|_| false));
        emit(global.output, label, result, |response| {
            let commit = response.commit.clone().unwrap_or_default();
            let header = if response.changed {
                format!(
                    "{label}: {} rolled back: {}",
                    described(&commit),
                    summary(&response.changes)
                )
            } else {
                format!("{label}: {}", stand(&commit))
            };
            changes_text(&header, &response.changes, &response.warnings, style)
        });
    }
    outcome.status(false)
}

async fn status(args: &CommitStatusArgs, global: &GlobalOptions) -> u8 {
    let (commit_id, file) =
        split_status_args(&args.args, |path| std::path::Path::new(path).is_file());
    let Some((hosts, caller)) = hosts(file.as_deref(), &args.endpoints.endpoints, global) else {
        return super::verbs::EXIT_FAILED;
    };
    let results = calls::each(
        &hosts,
        |_, (_, host)| {
            caller.get_commit(
                host,
                GetCommitRequest {
                    commit_id: commit_id.clone().unwrap_or_default(),
                },
            )
        },
        |_, _| {},
    )
    .await;
    let mut outcome = Tally::default();
    for ((label, _), result) in hosts.iter().zip(&results) {
        outcome.count(result.as_ref().map(|_| false));
        emit(global.output, label, result, |response| {
            format!(
                "{label}: {}\n",
                stand(&response.commit.clone().unwrap_or_default())
            )
        });
    }
    outcome.status(false)
}

/// `[COMMIT_ID] [FILE]`: two arguments are both; one is the file when it names one (`is_file`), else
/// the id.
fn split_status_args(
    args: &[String],
    is_file: impl Fn(&str) -> bool,
) -> (Option<String>, Option<String>) {
    match args {
        [id, file, ..] => (Some(id.clone()), Some(file.clone())),
        [one] if is_file(one) => (None, Some(one.clone())),
        [one] => (Some(one.clone()), None),
        [] => (None, None),
    }
}

fn described(commit: &CommitStatus) -> String {
    format!(
        "commit {} of topology {}",
        commit.commit_id, commit.topology
    )
}

/// `commit C of topology T: pending, 87 s left (rolls back at …)` and the like.
fn stand(commit: &CommitStatus) -> String {
    let what = described(commit);
    match CommitState::try_from(commit.state) {
        Ok(CommitState::Pending) => format!(
            "{what}: pending, {} s left (rolls back by itself at {})",
            commit.seconds_left, commit.deadline
        ),
        Ok(CommitState::Confirmed) => format!("{what}: confirmed at {}", commit.updated_at),
        Ok(CommitState::RolledBack) => format!(
            "{what}: rolled back at {} ({})",
            commit.updated_at, commit.reason
        ),
        Ok(CommitState::RollbackFailed) => format!(
            "{what}: ROLLBACK FAILED at {}: {}",
            commit.updated_at, commit.reason
        ),
        _ => format!("{what}: state {} unknown to this client", commit.state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_status_argument_is_the_file_only_when_it_names_one() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let file = |path: &str| path == "lab.yaml";
        assert_eq!(split_status_args(&args(&[]), file), (None, None));
        assert_eq!(
            split_status_args(&args(&["lab.yaml"]), file),
            (None, Some("lab.yaml".into()))
        );
        assert_eq!(
            split_status_args(&args(&["c1"]), file),
            (Some("c1".into()), None)
        );
        assert_eq!(
            split_status_args(&args(&["c1", "lab.yaml"]), file),
            (Some("c1".into()), Some("lab.yaml".into()))
        );
    }
}
