use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::batch_operation::Operation as Wire;
use pb::batch_service_server::BatchService;
use tonic::{Request, Response, Status};

use super::status::StatusError;
use super::{management_path, warnings_to_proto};
use super::{address, forwarding, link, nat, route};
use crate::domain::{NamespaceName, NamespaceRef};
use crate::nat::NatBackend;
use crate::netns::NamespaceRegistry;
use crate::ops::batch::{self, Operation, OperationOutcome};
use crate::ops::guard::{self, Change, ManagementPath};

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

    fn nat_unavailable(&self) -> Option<&str> {
        self.nat_unavailable.as_deref()
    }
}

/// Every operation is parsed before any is applied; the first malformed one rejects the whole batch
/// with its position in the message ("operations[3].create_link.name: ..."). `nat_unavailable` says why
/// NAT operations cannot run on this host, if they cannot.
pub(super) fn parse_operations(operations: &[pb::BatchOperation], nat_unavailable: Option<&str>) -> Result<Vec<Operation>, Status> {
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
            let (name, parsed) = parse_one(operation.operation.as_ref(), nat_unavailable);
            parsed.map_err(|status| Status::new(status.code(), format!("operations[{index}].{name}.{}", status.message())))
        })
        .collect()
}

fn parse_one(operation: Option<&Wire>, nat_unavailable: Option<&str>) -> (&'static str, Result<Operation, Status>) {
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
        Some(Wire::AddNatRule(r)) => ("add_nat_rule", nat_available(nat_unavailable).and_then(|()| nat::parse_add(r)).map(Operation::AddNatRule)),
        Some(Wire::DeleteNatRule(r)) => (
            "delete_nat_rule",
            nat_available(nat_unavailable).and_then(|()| {
                if r.id.is_empty() {
                    return Err(Status::invalid_argument("id: must not be empty"));
                }
                let namespace = NamespaceRef::parse("namespace", &r.namespace).map_err(fields)?;
                Ok(Operation::DeleteNatRule { namespace, id: r.id.clone(), ignore_missing: r.ignore_missing })
            }),
        ),
    }
}

fn nat_available(nat_unavailable: Option<&str>) -> Result<(), Status> {
    match nat_unavailable {
        Some(reason) => Err(Status::failed_precondition(format!("NAT is not available on this host: {reason}"))),
        None => Ok(()),
    }
}

/// Whether the operation's request sets `force` (the management-path guard's override).
fn forced(operation: &pb::BatchOperation) -> bool {
    match &operation.operation {
        Some(Wire::DeleteNamespace(r)) => r.force,
        Some(Wire::DeleteLink(r)) => r.force,
        Some(Wire::SetLink(r)) => r.force,
        Some(Wire::DeleteAddress(r)) => r.force,
        Some(Wire::ReplaceRoute(r)) => r.force,
        Some(Wire::DeleteRoute(r)) => r.force,
        _ => false,
    }
}

/// The same management-path guard as the single calls, over every operation, before any is applied.
async fn guard_operations(
    registry: &NamespaceRegistry,
    path: Option<&ManagementPath>,
    wire: &[pb::BatchOperation],
    operations: &[Operation],
) -> Result<(), Status> {
    let mut positions = Vec::new();
    let mut changes = Vec::new();
    for (index, (operation, request)) in operations.iter().zip(wire).enumerate() {
        if let Some(change) = Change::of(operation) {
            positions.push(index);
            changes.push((change, forced(request)));
        }
    }
    guard::check(registry, path, &changes).await.map_err(|(position, error)| {
        let status = StatusError::from(error).0;
        let index = positions.get(position).copied().unwrap_or_default();
        Status::new(status.code(), format!("operations[{index}]: {}", status.message()))
    })
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
        let path = management_path(&request);
        let request = request.into_inner();
        let operations = parse_operations(&request.operations, self.nat_unavailable())?;
        guard_operations(&self.registry, path.as_ref(), &request.operations, &operations).await?;
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
