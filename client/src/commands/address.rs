use nsfleet_proto::v1::{
    address_service_client::AddressServiceClient, link_service_client::LinkServiceClient,
    AddAddressRequest, DeleteAddressRequest, ListAddressesRequest, ListLinksRequest,
};
use tonic::Status;

use crate::channel::AgentChannel;

use super::{AddressListing, CallContext, Outcome};

#[derive(Debug, Clone)]
pub enum AddressAction {
    Add(AddAddressRequest),
    Delete(DeleteAddressRequest),
    List(ListAddressesRequest),
}

pub async fn run(
    action: &AddressAction,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    match action {
        AddressAction::Add(request) => {
            let mut client = AddressServiceClient::new(channel);
            let response = client
                .add_address(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        AddressAction::Delete(request) => {
            let mut client = AddressServiceClient::new(channel);
            let response = client
                .delete_address(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        AddressAction::List(request) => list(request, channel, context).await,
    }
}

/// `ip addr` prints each link's header above its addresses, so text output also reads the links; a
/// failure there only costs the headers their details.
async fn list(
    request: &ListAddressesRequest,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    let call = context.request(request.clone());
    if !context.text_output {
        let mut addresses = AddressServiceClient::new(channel);
        let response = addresses.list_addresses(call).await?.into_inner();
        return Ok(Outcome::Addresses(AddressListing {
            response,
            links: Vec::new(),
        }));
    }
    // The links are the command's last call.
    let mut addresses = AddressServiceClient::new(channel.kept_open_for_another_call());
    let addresses = addresses.list_addresses(call);
    let mut links = LinkServiceClient::new(channel);
    let links_request = ListLinksRequest {
        namespace: request.namespace.clone(),
        all_namespaces: false,
    };
    let links = links.list_links(context.request(links_request));
    let (addresses, links) = futures::join!(addresses, links);
    // `ip addr show dev X` shows only X: keep the other links out of the listing too.
    let links = links
        .map(|response| response.into_inner().links)
        .unwrap_or_default()
        .into_iter()
        .filter(|link| request.link.is_empty() || link.name == request.link)
        .collect();
    Ok(Outcome::Addresses(AddressListing {
        response: addresses?.into_inner(),
        links,
    }))
}
