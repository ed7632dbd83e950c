use nsfleet_proto::v1::{
    link_service_client::LinkServiceClient, CreateLinkRequest, DeleteLinkRequest, GetLinkRequest,
    ListLinksRequest, SetLinkRequest,
};
use tonic::Status;

use crate::channel::AgentChannel;

use super::{CallContext, LinkListing, Outcome};

#[derive(Debug, Clone)]
pub enum LinkAction {
    Create(CreateLinkRequest),
    Delete(DeleteLinkRequest),
    Set(SetLinkRequest),
    List(ListLinksRequest),
    Get(GetLinkRequest),
}

pub async fn run(
    action: &LinkAction,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    let mut client = LinkServiceClient::new(channel);
    match action {
        LinkAction::Create(request) => {
            let response = client
                .create_link(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        LinkAction::Delete(request) => {
            let response = client
                .delete_link(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        LinkAction::Set(request) => {
            let response = client
                .set_link(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        LinkAction::List(request) => {
            let response = client
                .list_links(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::Links(LinkListing {
                links: response.links,
                all_namespaces: request.all_namespaces,
            }))
        }
        LinkAction::Get(request) => {
            // `link show NAME` has the same result shape as `link list`: {"links": [one]}.
            let response = client
                .get_link(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::Links(LinkListing {
                links: response.link.into_iter().collect(),
                all_namespaces: false,
            }))
        }
    }
}
