//! What each host is asked to do, and what it answered. An [`Action`] is built once from the command
//! line and run against every host's channel; the [`Outcome`] it gives is what the output layer renders.

pub mod address;
pub mod batch;
pub mod forwarding;
pub mod link;
pub mod nat;
pub mod neighbor;
pub mod netns;
pub mod ping;
pub mod route;

use std::time::Duration;

use nsfleet_proto::v1::{
    GetForwardingResponse, Link, ListAddressesResponse, ListNamespacesResponse,
    ListNatRulesResponse, ListNeighborsResponse, ListRoutesResponse, PingRequest, Warning,
};
use tonic::Status;

use crate::channel::AgentChannel;

use crate::output::json::{EncodedMessage, ProtoMessage};

#[derive(Debug, Clone)]
pub enum Action {
    Netns(netns::NetnsAction),
    Link(link::LinkAction),
    Address(address::AddressAction),
    Route(route::RouteAction),
    Forwarding(forwarding::ForwardingAction),
    Neighbor(neighbor::NeighborAction),
    Nat(nat::NatAction),
    Ping(PingRequest),
    Batch(batch::BatchAction),
}

/// How one host's call is made.
#[derive(Debug, Clone, Copy)]
pub struct CallContext {
    /// `Bearer TOKEN` for agents that require a token; sent with every call.
    pub authorization: Option<&'static tonic::metadata::AsciiMetadataValue>,
    /// `--timeout`: sent to the agent as the gRPC deadline, and how long the client waits.
    pub timeout: Duration,
    /// Text output needs more than the JSON result for some listings (`addr show` prints link headers).
    pub text_output: bool,
    /// Print ping replies as they arrive (one host, text output) instead of when the host is done.
    pub live_ping: bool,
    /// The command's only host, on a unix socket: its calls need not overlap with any other host's, so
    /// they block (`socket_call/`), and the runtime was built without IO for them (`app::main`).
    pub alone: bool,
}

impl CallContext {
    /// The context of one command. One command per process: the token may live as long as the
    /// process, which keeps the context `Copy` for every host's call.
    pub(crate) fn for_command(
        security: &crate::connect::ClientSecurity,
        timeout: Duration,
        text_output: bool,
    ) -> Self {
        Self {
            authorization: security
                .authorization
                .clone()
                .map(|value| &*Box::leak(Box::new(value))),
            timeout,
            text_output,
            live_ping: false,
            alone: false,
        }
    }

    /// This context with `host`'s own token, when the inventory gives it one.
    pub(crate) fn for_host(self, host: &crate::connect::Host) -> Self {
        match host.own_security() {
            Some(security) => Self {
                authorization: security.authorization.as_ref(),
                ..self
            },
            None => self,
        }
    }

    pub(crate) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        if let Some(authorization) = self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        request
    }
}

impl Action {
    /// How long a host may take for this action: the plan's timeout, whatever the action. A ping's own
    /// duration is already in it unless `--timeout` was given, which then bounds the whole run.
    pub fn deadline(&self, timeout: Duration) -> Duration {
        timeout
    }
}

pub async fn execute(
    action: &Action,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<Outcome, Status> {
    match action {
        Action::Netns(action) => netns::run(action, channel, context).await,
        Action::Link(action) => link::run(action, channel, context).await,
        Action::Address(action) => address::run(action, channel, context).await,
        Action::Route(action) => route::run(action, channel, context).await,
        Action::Forwarding(action) => forwarding::run(action, channel, context).await,
        Action::Neighbor(action) => neighbor::run(action, channel, context).await,
        Action::Nat(action) => nat::run(action, channel, context).await,
        Action::Ping(request) => ping::run(request, channel, context)
            .await
            .map(Outcome::Ping),
        Action::Batch(action) => batch::run(action, channel, context).await,
    }
}

/// What a host answered, in the shape the renderers need.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A change: silent in text mode except for warnings; JSON is the response itself.
    Mutation(Mutation),
    Namespaces(ListNamespacesResponse),
    Links(LinkListing),
    Addresses(AddressListing),
    Routes(ListRoutesResponse),
    Forwarding(GetForwardingResponse),
    Neighbors(ListNeighborsResponse),
    NatRules(ListNatRulesResponse),
    Ping(ping::PingRun),
    /// Silent in text mode except for warnings and failures, each with its line.
    Batch(batch::BatchRun),
}

#[derive(Debug, Clone)]
pub struct Mutation {
    pub response: EncodedMessage,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone)]
pub struct LinkListing {
    pub links: Vec<Link>,
    /// Several namespaces in one listing: each link line names its namespace.
    pub all_namespaces: bool,
}

#[derive(Debug, Clone)]
pub struct AddressListing {
    pub response: ListAddressesResponse,
    /// The namespace's links, for `ip addr`-style headers; empty in JSON mode or if they could not be read.
    pub links: Vec<Link>,
}

impl Outcome {
    fn mutation<M: ProtoMessage>(response: &M, warnings: &[Warning]) -> Self {
        Outcome::Mutation(Mutation {
            response: EncodedMessage::of(response),
            warnings: warnings.to_vec(),
        })
    }

    pub fn warnings(&self) -> &[Warning] {
        match self {
            Outcome::Mutation(mutation) => &mutation.warnings,
            _ => &[],
        }
    }

    /// The call succeeded but the host still counts as failed for the exit status (ping: no reply).
    pub fn failed_check(&self) -> bool {
        match self {
            Outcome::Ping(run) => run
                .summary
                .as_ref()
                .is_none_or(|summary| summary.received == 0),
            Outcome::Batch(run) => !run.response.ok,
            _ => false,
        }
    }
}
