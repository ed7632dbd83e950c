use std::sync::Arc;

use nsfleet_proto::v1::{
    batch_service_client::BatchServiceClient, ApplyBatchRequest, ApplyBatchResponse,
};
use tonic::Status;

use crate::channel::AgentChannel;

use super::{CallContext, Outcome};
use crate::batch::Script;

/// One `ApplyBatch` call, the same for every host, and where each operation came from.
#[derive(Debug, Clone)]
pub struct BatchAction {
    request: ApplyBatchRequest,
    lines: Arc<[usize]>,
}

impl BatchAction {
    pub fn new(script: Script, continue_on_error: bool) -> Self {
        Self {
            request: ApplyBatchRequest {
                operations: script.operations,
                continue_on_error,
            },
            lines: script.lines.into(),
        }
    }

    pub fn request(&self) -> &ApplyBatchRequest {
        &self.request
    }
}

/// A host's answer to the batch, with the file's line number of each operation.
#[derive(Debug, Clone)]
pub struct BatchRun {
    pub response: ApplyBatchResponse,
    pub lines: Arc<[usize]>,
}

impl BatchRun {
    /// The line of the operation at `index`; the agent numbers operations from 0 in request order.
    pub fn line_of(&self, index: u32) -> Option<usize> {
        usize::try_from(index)
            .ok()
            .and_then(|index| self.lines.get(index).copied())
    }
}

pub async fn run(
    action: &BatchAction,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    // The agent takes up to 100000 operations per batch: more than tonic's 4 MiB default in either way.
    let mut client = BatchServiceClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let response = client
        .apply_batch(context.request(action.request.clone()))
        .await?
        .into_inner();
    Ok(Outcome::Batch(BatchRun {
        response,
        lines: action.lines.clone(),
    }))
}
