//! TopologyService with canned plans: a topology with namespaces has four changes (one of each
//! action) and a warning, one without has none. Apply insists on the plan's fingerprint, so a test
//! sees the client pass it on.

use nsfleet_proto::v1::{topology_service_server::TopologyService, *};
use tonic::{Request, Response, Status};

use super::Fake;

const FINGERPRINT: &str = "fp-1";

fn object(kind: ObjectKind, namespace: &str, name: &str, link: &str) -> Option<ObjectRef> {
    Some(ObjectRef {
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        link: link.into(),
    })
}

fn change(action: ChangeAction, object: Option<ObjectRef>, reason: &str) -> PlannedChange {
    PlannedChange {
        action: action.into(),
        object,
        reason: reason.into(),
        operations: Vec::new(),
    }
}

fn planned(topology: &HostTopology) -> Vec<PlannedChange> {
    let Some(first) = topology.namespaces.first() else {
        return Vec::new();
    };
    vec![
        change(
            ChangeAction::Create,
            object(ObjectKind::Namespace, "", &first.name, ""),
            "not on the host",
        ),
        change(
            ChangeAction::Update,
            object(ObjectKind::Address, &first.name, "172.20.0.11/16", "ceth1"),
            "scope host -> global",
        ),
        change(
            ChangeAction::Replace,
            object(ObjectKind::Link, "", "br0", ""),
            "kind veth -> bridge",
        ),
        change(
            ChangeAction::Delete,
            object(ObjectKind::Route, "netns9", "default", ""),
            "no longer in the topology",
        ),
    ]
}

fn status(id: &str, state: CommitState) -> CommitStatus {
    CommitStatus {
        commit_id: id.into(),
        topology: "tutorial".into(),
        state: state.into(),
        ..Default::default()
    }
}

fn warnings() -> Vec<Warning> {
    vec![Warning {
        code: "NAT_WITHOUT_FORWARDING".into(),
        message: "NAT rules while forwarding is off".into(),
        fix: "forwarding: {ipv4: true}".into(),
    }]
}

#[tonic::async_trait]
impl TopologyService for Fake {
    async fn plan(
        &self,
        request: Request<PlanTopologyRequest>,
    ) -> Result<Response<PlanTopologyResponse>, Status> {
        self.gate()?;
        let topology = request.into_inner().topology.unwrap_or_default();
        let changes = planned(&topology);
        Ok(Response::new(PlanTopologyResponse {
            warnings: if changes.is_empty() {
                Vec::new()
            } else {
                warnings()
            },
            changes,
            fingerprint: FINGERPRINT.into(),
        }))
    }

    async fn apply(
        &self,
        request: Request<ApplyTopologyRequest>,
    ) -> Result<Response<ApplyTopologyResponse>, Status> {
        self.gate()?;
        let request = request.into_inner();
        if request.fingerprint != FINGERPRINT {
            return Err(Status::failed_precondition(format!(
                "the host changed since the plan (fingerprint {:?})",
                request.fingerprint
            )));
        }
        let topology = request.topology.clone().unwrap_or_default();
        // A namespace named "mgmt" stands for a change of the agent's own management path.
        if topology
            .namespaces
            .iter()
            .any(|namespace| namespace.name == "mgmt")
        {
            if !request.force {
                return Err(Status::failed_precondition(
                    "deleting link eth0 would cut the agent off from its caller: it holds 192.0.2.10, \
                     the address the caller connected to; pass --force (the request's force field) \
                     to do it anyway",
                ));
            }
            if request.confirm.is_none() {
                return Err(Status::failed_precondition(
                    "a forced change of the management path needs a confirmed commit",
                ));
            }
        }
        let commit = match request.confirm {
            None => None,
            Some(options) => {
                if let Some(pending) = self.commits.pending() {
                    return Err(Status::failed_precondition(format!(
                        "commit {pending} is pending"
                    )));
                }
                self.commits.set(&options.commit_id, CommitState::Pending);
                Some(status(&options.commit_id, CommitState::Pending))
            }
        };
        let changes = planned(&request.topology.unwrap_or_default());
        Ok(Response::new(ApplyTopologyResponse {
            changed: !changes.is_empty(),
            changes,
            warnings: Vec::new(),
            fingerprint: "fp-2".into(),
            commit,
        }))
    }

    async fn get_state(
        &self,
        request: Request<GetTopologyStateRequest>,
    ) -> Result<Response<GetTopologyStateResponse>, Status> {
        self.gate()?;
        let desired = request.into_inner().desired.unwrap_or_default();
        let drift = if desired.namespaces.is_empty() {
            Vec::new()
        } else {
            vec![change(
                ChangeAction::Create,
                object(ObjectKind::Link, "", "veth1", ""),
                "deleted behind nsfleet's back",
            )]
        };
        Ok(Response::new(GetTopologyStateResponse {
            known: true,
            objects: Vec::new(),
            drift,
            fingerprint: FINGERPRINT.into(),
        }))
    }

    async fn destroy(
        &self,
        request: Request<DestroyTopologyRequest>,
    ) -> Result<Response<DestroyTopologyResponse>, Status> {
        self.gate()?;
        let request = request.into_inner();
        if request.name != "tutorial" {
            if request.ignore_missing {
                return Ok(Response::new(DestroyTopologyResponse::default()));
            }
            return Err(Status::not_found(format!("no topology {}", request.name)));
        }
        Ok(Response::new(DestroyTopologyResponse {
            changes: vec![change(
                ChangeAction::Delete,
                object(ObjectKind::Namespace, "", "netns1", ""),
                "destroyed with its topology",
            )],
            changed: true,
            warnings: Vec::new(),
        }))
    }

    async fn list_topologies(
        &self,
        _request: Request<ListTopologiesRequest>,
    ) -> Result<Response<ListTopologiesResponse>, Status> {
        self.gate()?;
        Ok(Response::new(ListTopologiesResponse::default()))
    }

    /// The state machine the API promises: pending -> confirmed or rolled back, both final.
    async fn confirm(
        &self,
        request: Request<ConfirmCommitRequest>,
    ) -> Result<Response<ConfirmCommitResponse>, Status> {
        self.gate()?;
        let id = request.into_inner().commit_id;
        let changed = match self.commits.state(&id) {
            None => return Err(Status::not_found(format!("no commit {id}"))),
            Some(CommitState::Pending) => true,
            Some(CommitState::Confirmed) => false,
            Some(_) => {
                return Err(Status::failed_precondition(format!(
                    "commit {id} was rolled back"
                )))
            }
        };
        self.commits.set(&id, CommitState::Confirmed);
        Ok(Response::new(ConfirmCommitResponse {
            commit: Some(status(&id, CommitState::Confirmed)),
            changed,
        }))
    }

    async fn rollback(
        &self,
        request: Request<RollbackCommitRequest>,
    ) -> Result<Response<RollbackCommitResponse>, Status> {
        self.gate()?;
        let id = request.into_inner().commit_id;
        let changed = match self.commits.state(&id) {
            None => return Err(Status::not_found(format!("no commit {id}"))),
            Some(CommitState::Pending) => true,
            Some(CommitState::Confirmed) => {
                return Err(Status::failed_precondition(format!(
                    "commit {id} is confirmed"
                )))
            }
            Some(_) => false,
        };
        self.commits.set(&id, CommitState::RolledBack);
        Ok(Response::new(RollbackCommitResponse {
            commit: Some(status(&id, CommitState::RolledBack)),
            changed,
            ..Default::default()
        }))
    }

    async fn get_commit(
        &self,
        request: Request<GetCommitRequest>,
    ) -> Result<Response<GetCommitResponse>, Status> {
        self.gate()?;
        let id = request.into_inner().commit_id;
        match self.commits.state(&id) {
            Some(state) => Ok(Response::new(GetCommitResponse {
                commit: Some(status(&id, state)),
            })),
            None => Err(Status::not_found(format!("no commit {id}"))),
        }
    }
}
