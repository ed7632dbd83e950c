use nsfleet_proto::v1::{
    namespace_service_client::NamespaceServiceClient, CreateNamespaceRequest,
    DeleteNamespaceRequest, ListNamespacesRequest,
};
use tonic::Status;

use crate::channel::AgentChannel;

use super::{CallContext, Outcome};

#[derive(Debug, Clone)]
pub enum NetnsAction {
    Create(CreateNamespaceRequest),
    Delete(DeleteNamespaceRequest),
    List,
}

pub async fn run(
    action: &NetnsAction,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    let mut client = NamespaceServiceClient::new(channel);
    match action {
        NetnsAction::Create(request) => {
            let response = client
                .create_namespace(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        NetnsAction::Delete(request) => {
            let response = client
                .delete_namespace(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        NetnsAction::List => {
            let response = client
                .list_namespaces(context.request(ListNamespacesRequest {}))
                .await?
                .into_inner();
            Ok(Outcome::Namespaces(response))
        }
    }
}
