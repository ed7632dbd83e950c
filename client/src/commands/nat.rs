use nsfleet_proto::v1::{
    nat_service_client::NatServiceClient, AddNatRuleRequest, DeleteNatRuleRequest,
    ListNatRulesRequest,
};
use tonic::Status;

use crate::channel::AgentChannel;

use super::{CallContext, Outcome};

#[derive(Debug, Clone)]
pub enum NatAction {
    Add(AddNatRuleRequest),
    Delete(DeleteNatRuleRequest),
    List(ListNatRulesRequest),
}

pub async fn run(
    action: &NatAction,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    let mut client = NatServiceClient::new(channel);
    match action {
        NatAction::Add(request) => {
            let response = client
                .add_nat_rule(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        NatAction::Delete(request) => {
            let response = client
                .delete_nat_rule(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::mutation(&response, &response.warnings))
        }
        NatAction::List(request) => {
            let response = client
                .list_nat_rules(context.request(request.clone()))
                .await?
                .into_inner();
            Ok(Outcome::NatRules(response))
        }
    }
}
