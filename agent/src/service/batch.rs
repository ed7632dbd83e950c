use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::batch_operation::Operation as Wire;
use pb::batch_service_server::BatchService;
use tonic::{Request, Response, Status};

use super::completion::run_to_completion;
use super::status::{
    invalid, invalid_text, nat_unavailable_status, prefixed, unfinished, StatusError,
};
use super::validate::Validate;
use super::{management_path, warnings_to_proto};
use crate::domain::FieldError;
use crate::journal::Journal;
use crate::nat::NatBackend;
use crate::netns::NamespaceRegistry;
use crate::ops::batch::{self, OperationOutcome};
use crate::ops::gate::Gate;
use crate::ops::guard::{self, Change, ManagementPath};
use crate::ops::OpError;
use crate::ops::Requested;

const MAX_OPERATIONS: usize = 100_000;

pub struct BatchApi {
    registry: Arc<NamespaceRegistry>,
    nat: Arc<dyn NatBackend>,
    journal: Arc<Journal>,
    gate: Arc<Gate>,
    nat_unavailable: Option<String>,
}

impl BatchApi {
    pub fn new(
        registry: Arc<NamespaceRegistry>,
        nat: Arc<dyn NatBackend>,
        journal: Arc<Journal>,
        gate: Arc<Gate>,
        nat_unavailable: Option<String>,
    ) -> Self {
        Self {
            registry,
            nat,
            journal,
            gate,
            nat_unavailable,
        }
    }

    fn nat_unavailable(&self) -> Option<&str> {
        self.nat_unavailable.as_deref()
    }
}

/// Every operation is parsed before any is applied, by the same `validate` as its single call; the first
/// malformed one rejects the whole batch with its position in the message
/// ("operations[3].create_link.name: ..."). `nat_unavailable` says why NAT operations cannot run on this
/// host, if they cannot.
pub(super) fn parse_operations(
    operations: &[pb::BatchOperation],
    nat_unavailable: Option<&str>,
) -> Result<Vec<Requested>, Status> {
    if operations.len() > MAX_OPERATIONS {
        let reason = format!(
            "{} operations; at most {MAX_OPERATIONS} per batch",
            operations.len()
        );
        return Err(invalid(FieldError::new("operations", reason)));
    }
    operations
        .iter()
        .enumerate()
        .map(|(index, operation)| {
            let (name, parsed) = parse_one(operation.operation.as_ref(), nat_unavailable);
            parsed.map_err(|status| prefixed(&status, format!("operations[{index}].{name}.")))
        })
        .collect()
}

fn parse_one(
    operation: Option<&Wire>,
    nat_unavailable: Option<&str>,
) -> (&'static str, Result<Requested, Status>) {
    match operation {
        None => ("operation", Err(invalid_text("is required"))),
        Some(Wire::CreateNamespace(r)) => ("create_namespace", r.validate()),
        Some(Wire::DeleteNamespace(r)) => ("delete_namespace", r.validate()),
        Some(Wire::CreateLink(r)) => ("create_link", r.validate()),
        Some(Wire::DeleteLink(r)) => ("delete_link", r.validate()),
        Some(Wire::SetLink(r)) => ("set_link", r.validate()),
        Some(Wire::AddAddress(r)) => ("add_address", r.validate()),
        Some(Wire::DeleteAddress(r)) => ("delete_address", r.validate()),
        Some(Wire::AddRoute(r)) => ("add_route", r.validate()),
        Some(Wire::ReplaceRoute(r)) => ("replace_route", r.validate()),
        Some(Wire::DeleteRoute(r)) => ("delete_route", r.validate()),
        Some(Wire::SetForwarding(r)) => ("set_forwarding", r.validate()),
        // Availability first, as the single call checks it before the request.
        Some(Wire::AddNatRule(r)) => (
            "add_nat_rule",
            nat_available(nat_unavailable).and_then(|()| r.validate()),
        ),
        Some(Wire::DeleteNatRule(r)) => (
            "delete_nat_rule",
            nat_available(nat_unavailable).and_then(|()| r.validate()),
        ),
    }
}

fn nat_available(nat_unavailable: Option<&str>) -> Result<(), Status> {
    match nat_unavailable {
        Some(reason) => Err(nat_unavailable_status(reason)),
        None => Ok(()),
    }
}

/// The same management-path guard as the single calls, over every operation, before any is applied.
async fn guard_operations(
    registry: &NamespaceRegistry,
    path: Option<&ManagementPath>,
    requested: &[Requested],
) -> Result<(), Status> {
    let mut positions = Vec::new();
    let mut changes = Vec::new();
    for (index, request) in requested.iter().enumerate() {
        if let Some(change) = Change::of(&request.operation) {
            positions.push(index);
            changes.push((change, request.force));
        }
    }
    guard::check(registry, path, &changes)
        .await
        .map_err(|(position, error)| {
            let status = StatusError::from(error).0;
            let index = positions.get(position).copied().unwrap_or_default();
            prefixed(&status, format!("operations[{index}]: "))
        })
}

fn to_proto(index: usize, outcome: OperationOutcome) -> pb::BatchResult {
    let mut result = pb::BatchResult {
        index: index as u32,
        ..Default::default()
    };
    let kind = match outcome {
        OperationOutcome::Applied {
            changed, warnings, ..
        } => {
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
        OperationOutcome::NotUndone {
            changed,
            warnings,
            reason,
        } => {
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
    async fn apply_batch(
        &self,
        request: Request<pb::ApplyBatchRequest>,
    ) -> Result<Response<pb::ApplyBatchResponse>, Status> {
        let path = management_path(&request);
        let request = request.into_inner();
        let requested = parse_operations(&request.operations, self.nat_unavailable())?;
        guard_operations(&self.registry, path.as_ref(), &requested).await?;
        let operations = requested.into_iter().map(|r| r.operation).collect();
        let continue_on_error = request.continue_on_error;
        // The decoded request is as large again as the parsed operations: not held while they run.
        drop(request);
        let admitted = self
            .gate
            .admit()
            .await
            .map_err(|held| StatusError::from(OpError::from(held)))?;
        let (registry, nat) = (self.registry.clone(), self.nat.clone());
        // Run to its end: a caller that goes away does not stop a batch half way.
        let outcomes = run_to_completion(batch::run(
            registry,
            nat,
            self.journal.clone(),
            admitted,
            operations,
            continue_on_error,
        ))
        .await
        .map_err(|e| unfinished("the batch", e))?;
        let results: Vec<pb::BatchResult> = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| to_proto(i, o))
            .collect();
        let ok = results
            .iter()
            .all(|r| r.outcome == pb::BatchOutcome::Applied as i32);
        Ok(Response::new(pb::ApplyBatchResponse { results, ok }))
    }
}
