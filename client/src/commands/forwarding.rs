use nsfleet_proto::v1::{
    forwarding_service_client::ForwardingServiceClient, GetForwardingRequest, SetForwardingRequest,
};
use tonic::Status;

use crate::channel::AgentChannel;

use super::{CallContext, Outcome};

#[derive(Debug, Clone)]
pub enum ForwardingAction {
    Get(GetForwardingRequest),
    Set(SetForwardingRequest),
}

pub async fn run(
    action: &ForwardingAction,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    let mut client = ForwardingServiceClient::new(channel);
    match action {
        ForwardingAction::Get(request) => {
            let response = client
                .get_forwarding(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::Forwarding(response))
        }
        ForwardingAction::Set(request) => {
            let response = client
                .set_forwarding(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
    }
}
