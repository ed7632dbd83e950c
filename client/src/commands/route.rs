use nsfleet_proto::v1::{
    route_service_client::RouteServiceClient, AddRouteRequest, DeleteRouteRequest,
    ListRoutesRequest, ReplaceRouteRequest,
};
use tonic::Status;

use crate::channel::AgentChannel;

use super::{CallContext, Outcome};

#[derive(Debug, Clone)]
pub enum RouteAction {
    Add(AddRouteRequest),
    Replace(ReplaceRouteRequest),
    Delete(DeleteRouteRequest),
    List(ListRoutesRequest),
}

pub async fn run(
    action: &RouteAction,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    let mut client = RouteServiceClient::new(channel);
    match action {
        RouteAction::Add(request) => {
            let response = client
                .add_route(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        RouteAction::Replace(request) => {
            let response = client
                .replace_route(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        RouteAction::Delete(request) => {
            let response = client
                .delete_route(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        RouteAction::List(request) => {
            let response = client
                .list_routes(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::Routes(response))
        }
    }
}
