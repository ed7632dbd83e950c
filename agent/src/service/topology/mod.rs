//! TopologyService: declarative state per host. Parses the desired state (every object by its own
//! single call's `validate()`), hands it to `topology`, and renders plans, state and errors.

pub(super) mod parse;
mod wire;

use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::topology_service_server::TopologyService;
use prost::Message;
use tonic::{Request, Response, Status};

use super::completion::run_to_completion;
use super::status::{invalid, StatusError};
use super::{management_path, warnings_to_proto};
use crate::audit::now_rfc3339;
use crate::commit::{self, record, CommitId, CommitOptions, Commits};
use crate::domain::FieldError;
use crate::ops::gate::{Gate, Permit};
use crate::ops::OpError;
use crate::topology::{ApplyOptions, Desired, Topologies, TopologyName};

pub struct TopologyApi {
    topologies: Arc<Topologies>,
    commits: Arc<Commits>,
    gate: Arc<Gate>,
    nat_unavailable: Option<String>,
}

/// The desired state a commit recorded to take it back, parsed as a request would be.
pub fn decode_desired(bytes: &[u8]) -> Result<Desired, String> {
    let topology = pb::HostTopology::decode(bytes).map_err(|e| e.to_string())?;
    parse::parse_topology(&topology, "recorded desired state: ", None)
        .map_err(|s| s.message().to_string())
}

impl TopologyApi {
    pub fn new(
        topologies: Arc<Topologies>,
        commits: Arc<Commits>,
        gate: Arc<Gate>,
        nat_unavailable: Option<String>,
    ) -> Self {
        Self {
            topologies,
            commits,
            gate,
            nat_unavailable,
        }
    }

    /// The gate's admission for a change that is not the pending commit's.
    async fn admit(&self) -> Result<Permit, Status> {
        self.gate
            .admit()
            .await
            .map_err(|held| StatusError::from(OpError::from(held)).into())
    }

    fn parse(&self, topology: Option<&pb::HostTopology>) -> Result<Desired, Status> {
        parse::parse(topology, self.nat_unavailable.as_deref())
    }

    /// The desired state the ledger recorded at the last apply, parsed as a request would be.
    fn recorded_desired(&self, name: &TopologyName) -> Result<Option<Desired>, Status> {
        let Some(record) = self.topologies.record(name).map_err(StatusError::from)? else {
            return Ok(None);
        };
        let corrupt = |reason: String| {
            StatusError::from(crate::topology::TopologyError::Ledger(
                crate::topology::ledger::LedgerError::Corrupt {
                    path: self.topologies.ledger_path(name),
                    reason,
                },
            ))
        };
        let bytes = record
            .desired_bytes()
            .ok_or_else(|| corrupt("its desired state is not hex".to_string()))?;
        let topology = pb::HostTopology::decode(bytes.as_slice())
            .map_err(|e| corrupt(format!("its desired state does not decode: {e}")))?;
        parse::parse_topology(&topology, "recorded desired state: ", None)
            .map(Some)
            .map_err(|s| corrupt(s.message().to_string()).0)
    }
}

fn topology_name(field: &str, name: &str) -> Result<TopologyName, Status> {
    TopologyName::parse(field, name).map_err(invalid)
}

#[tonic::async_trait]
impl TopologyService for TopologyApi {
    async fn plan(
        &self,
        request: Request<pb::PlanTopologyRequest>,
    ) -> Result<Response<pb::PlanTopologyResponse>, Status> {
        let desired = self.parse(request.get_ref().topology.as_ref())?;
        let planned = self
            .topologies
            .plan(&desired)
            .await
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::PlanTopologyResponse {
            changes: planned.plan.changes.iter().map(wire::change).collect(),
            fingerprint: planned.plan.fingerprint,
            warnings: warnings_to_proto(planned.warnings),
        }))
    }

    async fn apply(
        &self,
        request: Request<pb::ApplyTopologyRequest>,
    ) -> Result<Response<pb::ApplyTopologyResponse>, Status> {
        let path = management_path(&request);
        let request = request.into_inner();
        let desired = self.parse(request.topology.as_ref())?;
        let encoded = request
            .topology
            .as_ref()
            .map(Message::encode_to_vec)
            .unwrap_or_default();
        let fingerprint = Some(request.fingerprint).filter(|f| !f.is_empty());
        let confirm = request
            .confirm
            .map(|c| CommitOptions::parse(c.timeout_seconds, &c.commit_id))
            .transpose()
            .map_err(invalid)?;
        let force = request.force;
        let (applied, commit) = match confirm {
            Some(options) => {
                let commits = self.commits.clone();
                // Run to its end: a caller that goes away does not stop an apply half way.
                let (applied, commit) = run_to_completion(async move {
                    commits
                        .apply(
                            &desired,
                            &encoded,
                            options,
                            fingerprint.as_deref(),
                            path.as_ref(),
                            force,
                        )
                        .await
                })
                .await
                .map_err(|e| super::status::unfinished("the apply", e))?
                .map_err(StatusError::from)?;
                (applied, Some(commit_status(&commit)))
            }
            None => {
                let admitted = self.admit().await?;
                let topologies = self.topologies.clone();
                let applied = run_to_completion(async move {
                    let how = ApplyOptions {
                        fingerprint: fingerprint.as_deref(),
                        path: path.as_ref(),
                        force,
                        confirmed: false,
                        now: now_rfc3339(),
                    };
                    topologies.apply(&desired, &encoded, how, admitted).await
                })
                .await
                .map_err(|e| super::status::unfinished("the apply", e))?
                .map_err(StatusError::from)?;
                (applied, None)
            }
        };
        Ok(Response::new(pb::ApplyTopologyResponse {
            changes: applied.changes.iter().map(wire::change).collect(),
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
            fingerprint: applied.fingerprint,
            commit,
        }))
    }

    async fn get_state(
        &self,
        request: Request<pb::GetTopologyStateRequest>,
    ) -> Result<Response<pb::GetTopologyStateResponse>, Status> {
        let request = request.get_ref();
        let name = topology_name("name", &request.name)?;
        let desired = match &request.desired {
            Some(given) => {
                let desired =
                    parse::parse_topology(given, "desired.", self.nat_unavailable.as_deref())?;
                if desired.name != name {
                    return Err(invalid(FieldError::new(
                        "desired.name",
                        format!("must be the topology asked for, {name}"),
                    )));
                }
                Some(desired)
            }
            None => self.recorded_desired(&name)?,
        };
        let state = self
            .topologies
            .state(&name, desired.as_ref())
            .await
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::GetTopologyStateResponse {
            known: state.known,
            objects: state
                .objects
                .iter()
                .map(|(id, present)| pb::OwnedObject {
                    object: Some(wire::object(id)),
                    present: *present,
                })
                .collect(),
            drift: state.drift.iter().map(wire::change).collect(),
            fingerprint: state.fingerprint,
        }))
    }

    async fn destroy(
        &self,
        request: Request<pb::DestroyTopologyRequest>,
    ) -> Result<Response<pb::DestroyTopologyResponse>, Status> {
        let path = management_path(&request);
        let request = request.into_inner();
        let name = topology_name("name", &request.name)?;
        let admitted = self.admit().await?;
        let topologies = self.topologies.clone();
        let destroyed = run_to_completion(async move {
            topologies
                .destroy(
                    &name,
                    request.ignore_missing,
                    path.as_ref(),
                    request.force,
                    admitted,
                )
                .await
        })
        .await
        .map_err(|e| super::status::unfinished("the destroy", e))?
        .map_err(StatusError::from)?;
        Ok(Response::new(pb::DestroyTopologyResponse {
            changes: destroyed.changes.iter().map(wire::change).collect(),
            changed: destroyed.changed,
            warnings: warnings_to_proto(destroyed.warnings),
        }))
    }

    async fn list_topologies(
        &self,
        _request: Request<pb::ListTopologiesRequest>,
    ) -> Result<Response<pb::ListTopologiesResponse>, Status> {
        let summaries = self.topologies.list().map_err(StatusError::from)?;
        Ok(Response::new(pb::ListTopologiesResponse {
            topologies: summaries
                .into_iter()
                .map(|s| pb::TopologySummary {
                    name: s.name,
                    objects: u32::try_from(s.objects).unwrap_or(u32::MAX),
                    applied_at: s.applied_at,
                })
                .collect(),
        }))
    }

    async fn confirm(
        &self,
        request: Request<pb::ConfirmCommitRequest>,
    ) -> Result<Response<pb::ConfirmCommitResponse>, Status> {
        let id = commit_id(&request.get_ref().commit_id)?;
        let commits = self.commits.clone();
        let (commit, changed) = run_to_completion(async move { commits.confirm(&id).await })
            .await
            .map_err(|e| super::status::unfinished("the confirm", e))?
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::ConfirmCommitResponse {
            commit: Some(commit_status(&commit)),
            changed,
        }))
    }

    async fn rollback(
        &self,
        request: Request<pb::RollbackCommitRequest>,
    ) -> Result<Response<pb::RollbackCommitResponse>, Status> {
        let id = commit_id(&request.get_ref().commit_id)?;
        let commits = self.commits.clone();
        let rolled = run_to_completion(async move { commits.rollback(&id).await })
            .await
            .map_err(|e| super::status::unfinished("the rollback", e))?
            .map_err(StatusError::from)?;
        let (changes, changed, warnings) = match rolled.applied {
            Some(applied) => (
                applied.changes.iter().map(wire::change).collect(),
                true,
                warnings_to_proto(applied.warnings),
            ),
            None => (Vec::new(), false, Vec::new()),
        };
        Ok(Response::new(pb::RollbackCommitResponse {
            commit: Some(commit_status(&rolled.commit)),
            changes,
            changed,
            warnings,
        }))
    }

    async fn get_commit(
        &self,
        request: Request<pb::GetCommitRequest>,
    ) -> Result<Response<pb::GetCommitResponse>, Status> {
        let id = match request.get_ref().commit_id.as_str() {
            "" => None,
            given => Some(commit_id(given)?),
        };
        let commit = self
            .commits
            .get(id.as_ref())
            .await
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::GetCommitResponse {
            commit: Some(commit_status(&commit)),
        }))
    }
}

fn commit_id(text: &str) -> Result<CommitId, Status> {
    CommitId::parse("commit_id", text).map_err(invalid)
}

fn commit_status(commit: &commit::Status) -> pb::CommitStatus {
    let state = match commit.state {
        record::State::Pending => pb::CommitState::Pending,
        record::State::Confirmed => pb::CommitState::Confirmed,
        record::State::RolledBack => pb::CommitState::RolledBack,
        record::State::RollbackFailed => pb::CommitState::RollbackFailed,
    };
    pb::CommitStatus {
        commit_id: commit.id.clone(),
        topology: commit.topology.clone(),
        state: state as i32,
        deadline: commit::rfc3339_ms(commit.deadline_ms),
        seconds_left: commit.seconds_left(),
        reason: commit.reason.clone(),
        updated_at: commit.updated_at.clone(),
    }
}
