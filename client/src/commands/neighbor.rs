use nsfleet_proto::v1::{neighbor_service_client::NeighborServiceClient, ListNeighborsRequest};
use tonic::{transport::Channel, Status};

use super::{CallContext, Outcome};

#[derive(Debug, Clone)]
pub enum NeighborAction {
    List(ListNeighborsRequest),
}

pub async fn run(
    action: &NeighborAction,
    channel: Channel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    let mut client = NeighborServiceClient::new(channel);
    match action {
        NeighborAction::List(request) => {
            let response = client
                .list_neighbors(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::Neighbors(response))
        }
    }
}
