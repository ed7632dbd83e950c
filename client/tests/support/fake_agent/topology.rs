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
        let changes = planned(&request.topology.unwrap_or_default());
        Ok(Response::new(ApplyTopologyResponse {
            changed: !changes.is_empty(),
            changes,
            warnings: Vec::new(),
            fingerprint: "fp-2".into(),
            commit: None,
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

    async fn confirm(
        &self,
        _request: Request<nsfleet_proto::v1::ConfirmCommitRequest>,
    ) -> Result<Response<nsfleet_proto::v1::ConfirmCommitResponse>, Status> {
        Err(Status::unimplemented("the fake agent has no commits"))
    }

    async fn rollback(
        &self,
        _request: Request<nsfleet_proto::v1::RollbackCommitRequest>,
    ) -> Result<Response<nsfleet_proto::v1::RollbackCommitResponse>, Status> {
        Err(Status::unimplemented("the fake agent has no commits"))
    }

    async fn get_commit(
        &self,
        _request: Request<nsfleet_proto::v1::GetCommitRequest>,
    ) -> Result<Response<nsfleet_proto::v1::GetCommitResponse>, Status> {
        Err(Status::unimplemented("the fake agent has no commits"))
    }
}
