//! One TopologyService call to one host, over the same channels, TLS, tokens and deadlines as every
//! other command.

use std::{future::Future, time::Duration};

use crate::channel::AgentChannel;
use futures::StreamExt;
use nsfleet_proto::v1::{
    diagnostics_service_client::DiagnosticsServiceClient,
    topology_service_client::TopologyServiceClient, ApplyTopologyRequest, ApplyTopologyResponse,
    ConfirmCommitRequest, ConfirmCommitResponse, DestroyTopologyRequest, DestroyTopologyResponse,
    GetCommitRequest, GetCommitResponse, GetTopologyStateRequest, GetTopologyStateResponse,
    PlanTopologyRequest, PlanTopologyResponse, RollbackCommitRequest, RollbackCommitResponse,
};

use crate::{
    app::{call_failure, MAX_CONNECT_TIMEOUT},
    commands::CallContext,
    connect::{ClientSecurity, Host},
    failure::HostFailure,
    fleet::MAX_CONCURRENT_HOSTS,
};

/// How every call of one run is made.
pub struct Caller {
    pub security: ClientSecurity,
    pub context: CallContext,
    pub force: bool,
}

impl Caller {
    pub async fn plan(
        &self,
        host: &Host,
        request: PlanTopologyRequest,
    ) -> Result<PlanTopologyResponse, HostFailure> {
        self.call(host, |mut client, context| async move {
            client.plan(context.request(request)).await
        })
        .await
    }

    pub async fn apply(
        &self,
        host: &Host,
        request: ApplyTopologyRequest,
    ) -> Result<ApplyTopologyResponse, HostFailure> {
        self.call(host, |mut client, context| async move {
            client.apply(context.request(request)).await
        })
        .await
    }

    pub async fn state(
        &self,
        host: &Host,
        request: GetTopologyStateRequest,
    ) -> Result<GetTopologyStateResponse, HostFailure> {
        self.call(host, |mut client, context| async move {
            client.get_state(context.request(request)).await
        })
        .await
    }

    pub async fn destroy(
        &self,
        host: &Host,
        request: DestroyTopologyRequest,
    ) -> Result<DestroyTopologyResponse, HostFailure> {
        self.call(host, |mut client, context| async move {
            client.destroy(context.request(request)).await
        })
        .await
    }

    /// Each call opens its own connection, so a confirm proves the agent is still reachable after the
    /// change, as a new client would find it.
    pub async fn confirm(
        &self,
        host: &Host,
        request: ConfirmCommitRequest,
    ) -> Result<ConfirmCommitResponse, HostFailure> {
        self.call(host, |mut client, context| async move {
            client.confirm(context.request(request)).await
        })
        .await
    }

    pub async fn rollback(
        &self,
        host: &Host,
        request: RollbackCommitRequest,
    ) -> Result<RollbackCommitResponse, HostFailure> {
        self.call(host, |mut client, context| async move {
            client.rollback(context.request(request)).await
        })
        .await
    }

    pub async fn get_commit(
        &self,
        host: &Host,
        request: GetCommitRequest,
    ) -> Result<GetCommitResponse, HostFailure> {
        self.call(host, |mut client, context| async move {
            client.get_commit(context.request(request)).await
        })
        .await
    }

    /// One DiagnosticsService call (a probe) over a new connection.
    pub async fn diagnostics<T, Fut>(
        &self,
        host: &Host,
        rpc: impl FnOnce(DiagnosticsServiceClient<AgentChannel>, CallContext) -> Fut,
    ) -> Result<T, HostFailure>
    where
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        let timeout = self.context.timeout;
        let channel = host
            .connect(timeout.min(MAX_CONNECT_TIMEOUT), &self.security)
            .await?;
        let client = DiagnosticsServiceClient::new(channel);
        match tokio::time::timeout(timeout, rpc(client, self.context.for_host(host))).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(status)) => Err(call_failure(host, &self.security, status)),
            Err(_) => Err(HostFailure::deadline(timeout)),
        }
    }

    async fn call<T, Fut>(
        &self,
        host: &Host,
        rpc: impl FnOnce(TopologyServiceClient<AgentChannel>, CallContext) -> Fut,
    ) -> Result<T, HostFailure>
    where
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let timeout = self.context.timeout;
        let channel = host
            .connect(timeout.min(MAX_CONNECT_TIMEOUT), &self.security)
            .await?;
        let client = TopologyServiceClient::new(channel);
        match tokio::time::timeout(timeout, rpc(client, self.context.for_host(host))).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(call_failure(host, &self.security, status)),
            Err(_) => Err(HostFailure::deadline(timeout)),
        }
    }
}

/// Runs `job` for every item concurrently (bounded like the fleet commands) and hands the results to
/// `finished` as they come, with the item's index.
pub async fn each<'a, I, T, Fut>(
    items: &'a [I],
    job: impl Fn(usize, &'a I) -> Fut,
    mut finished: impl FnMut(usize, &T),
) -> Vec<T>
where
    Fut: Future<Output = T>,
{
    let mut pending = futures::stream::iter(items.iter().enumerate())
        .map(|(index, item)| {
            let call = job(index, item);
            async move { (index, call.await) }
        })
        .buffer_unordered(MAX_CONCURRENT_HOSTS);
    let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    while let Some((index, result)) = pending.next().await {
        finished(index, &result);
        results[index] = Some(result);
    }
    results.into_iter().flatten().collect()
}

/// How long a host may take when `--timeout` is not given: an apply of a large topology does far more
/// than any single command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_APPLY_TIMEOUT: Duration = Duration::from_secs(600);
