use nsfleet_proto::v1::{neighbor_service_client::NeighborServiceClient, ListNeighborsRequest};
use tonic::Status;

use crate::channel::AgentChannel;

use super::{CallContext, Outcome};
use crate::grammar::neighbor::StateFilter;

#[derive(Debug, Clone)]
pub enum NeighborAction {
    List {
        request: ListNeighborsRequest,
        /// Applied to the agent's answer: the API has no state filter, and the CLI's default hides
        /// NOARP entries as `ip neigh` does.
        states: StateFilter,
    },
}

pub async fn run(
    action: &NeighborAction,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    let mut client = NeighborServiceClient::new(channel);
    match action {
        NeighborAction::List { request, states } => {
            let mut response = client
                .list_neighbors(context.request(request.clone()))
                .await?
                .into_inner();
            response
                .neighbors
                .retain(|neighbor| states.shows(neighbor.state()));
            Ok(Outcome::Neighbors(response))
        }
    }
}
