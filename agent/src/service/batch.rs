use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::batch_operation::Operation as Wire;
use pb::batch_service_server::BatchService;
use tonic::{Request, Response, Status};

use super::status::StatusError;
use super::warnings_to_proto;
use super::{address, forwarding, link, nat, route};
use crate::domain::{NamespaceName, NamespaceRef};
use crate::nat::NatBackend;
use crate::netns::NamespaceRegistry;
use crate::ops::batch::{self, Operation, OperationOutcome};

const MAX_OPERATIONS: usize = 100_000;

pub struct BatchApi {
    registry: Arc<NamespaceRegistry>,
    nat: Arc<dyn NatBackend>,
    nat_unavailable: Option<String>,
}

impl BatchApi {
    pub fn new(registry: Arc<NamespaceRegistry>, nat: Arc<dyn NatBackend>, nat_unavailable: Option<String>) -> Self {
        Self { registry, nat, nat_unavailable }
    }

    /// Every operation is parsed before any is applied; the first malformed one rejects the whole batch
    /// with its position in the message ("operations[3].create_link.name: ...").
    fn parse(&self, operations: &[pb::BatchOperation]) -> Result<Vec<Operation>, Status> {
        if operations.len() > MAX_OPERATIONS {
            return Err(Status::invalid_argument(format!(
                "operations: {} operations; at most {MAX_OPERATIONS} per batch",
                operations.len()
            )));
        }
        operations
            .iter()
            .enumerate()
            .map(|(index, operation)| {
                let (name, parsed) = self.parse_one(operation.operation.as_ref());
                parsed.map_err(|status| {
                    Status::new(status.code(), format!("operations[{index}].{name}.{}", status.message()))
                })
            })
            .collect()
    }

    fn parse_one(&self, operation: Option<&Wire>) -> (&'static str, Result<Operation, Status>) {
        let fields = |e| Status::from(StatusError::from(e));
        match operation {
            None => ("operation", Err(Status::invalid_argument("is required"))),
            Some(Wire::CreateNamespace(r)) => {
                ("create_namespace", NamespaceName::parse("name", &r.name).map(Operation::CreateNamespace).map_err(fields))
            }
            Some(Wire::DeleteNamespace(r)) => (
                "delete_namespace",
                NamespaceName::parse("name", &r.name)
                    .map(|name| Operation::DeleteNamespace { name, ignore_missing: r.ignore_missing })
                    .map_err(fields),
            ),
            Some(Wire::CreateLink(r)) => ("create_link", link::parse_create(r).map(Operation::CreateLink).map_err(fields)),
            Some(Wire::DeleteLink(r)) => (
                "delete_link",
                link::parse_delete(r)
                    .map(|(namespace, name)| Operation::DeleteLink { namespace, name, ignore_missing: r.ignore_missing })
                    .map_err(fields),
            ),
            Some(Wire::SetLink(r)) => (
                "set_link",
                link::parse_set_request(r)
                    .map(|(namespace, name, change)| Operation::SetLink { namespace, name, change })
                    .map_err(fields),
            ),
            Some(Wire::AddAddress(r)) => ("add_address", address::parse_add(r).map(Operation::AddAddress).map_err(fields)),
            Some(Wire::DeleteAddress(r)) => (
                "delete_address",
                address::parse_delete(r)
                    .map(|(namespace, link, prefix)| Operation::DeleteAddress {
                        namespace,
                        link,
                        prefix,
                        ignore_missing: r.ignore_missing,
                    })
                    .map_err(fields),
            ),
            Some(Wire::AddRoute(r)) => (
                "add_route",
                route::parse_spec(&r.namespace, r.route.as_ref())
                    .map(|request| Operation::AddRoute { request, replace: false })
                    .map_err(fields),
            ),
            Some(Wire::ReplaceRoute(r)) => (
                "replace_route",
                route::parse_spec(&r.namespace, r.route.as_ref())
                    .map(|request| Operation::AddRoute { request, replace: true })
                    .map_err(fields),
            ),
            Some(Wire::DeleteRoute(r)) => (
                "delete_route",
                route::parse_spec(&r.namespace, r.route.as_ref())
                    .map(|request| Operation::DeleteRoute { request, ignore_missing: r.ignore_missing })
                    .map_err(fields),
            ),
            Some(Wire::SetForwarding(r)) => (
                "set_forwarding",
                forwarding::parse_set(r)
                    .map(|(namespace, family)| Operation::SetForwarding { namespace, family, enabled: r.enabled })
                    .map_err(fields),
            ),
            Some(Wire::AddNatRule(r)) => ("add_nat_rule", self.nat_available().and_then(|()| nat::parse_add(r)).map(Operation::AddNatRule)),
            Some(Wire::DeleteNatRule(r)) => (
                "delete_nat_rule",
                self.nat_available().and_then(|()| {
                    if r.id.is_empty() {
                        return Err(Status::invalid_argument("id: must not be empty"));
                    }
                    let namespace = NamespaceRef::parse("namespace", &r.namespace).map_err(fields)?;
                    Ok(Operation::DeleteNatRule { namespace, id: r.id.clone(), ignore_missing: r.ignore_missing })
                }),
            ),
        }
    }

    fn nat_available(&self) -> Result<(), Status> {
        match &self.nat_unavailable {
            Some(reason) => Err(Status::failed_precondition(format!("NAT is not available on this host: {reason}"))),
            None => Ok(()),
        }
    }
}

fn to_proto(index: usize, outcome: OperationOutcome) -> pb::BatchResult {
    let mut result = pb::BatchResult { index: index as u32, ..Default::default() };
    let kind = match outcome {
        OperationOutcome::Applied { changed, warnings } => {
            result.changed = changed;
            result.warnings = warnings_to_proto(warnings);
            pb::BatchOutcome::Applied
        }
        OperationOutcome::Failed(error) => {
            let status = StatusError::from(error).0;
            result.code = status.code() as i32;
            result.message = status.message().to_string();
            pb::BatchOutcome::Failed
        }
        OperationOutcome::Skipped => pb::BatchOutcome::Skipped,
        OperationOutcome::Undone { warnings } => {
            result.warnings = warnings_to_proto(warnings);
            pb::BatchOutcome::Undone
        }
        OperationOutcome::NotUndone { changed, warnings, reason } => {
            result.changed = changed;
            result.warnings = warnings_to_proto(warnings);
            result.message = reason;
            pb::BatchOutcome::NotUndone
        }
    };
    result.outcome = kind as i32;
    result
}

#[tonic::async_trait]
impl BatchService for BatchApi {
    async fn apply_batch(&self, request: Request<pb::ApplyBatchRequest>) -> Result<Response<pb::ApplyBatchResponse>, Status> {
        let request = request.into_inner();
        let operations = self.parse(&request.operations)?;
        let (registry, nat) = (self.registry.clone(), self.nat.clone());
        // Its own task, like every mutation: a caller that goes away does not stop a batch half way.
        let outcomes = tokio::spawn(batch::run(registry, nat, operations, request.continue_on_error))
            .await
            .map_err(|e| Status::internal(format!("the batch did not finish: {e}")))?;
        let results: Vec<pb::BatchResult> = outcomes.into_iter().enumerate().map(|(i, o)| to_proto(i, o)).collect();
        let ok = results.iter().all(|r| r.outcome == pb::BatchOutcome::Applied as i32);
        Ok(Response::new(pb::ApplyBatchResponse { results, ok }))
    }
}
