//! Running the file's probes against the hosts, each over a new connection.

use nsfleet_proto::v1::{ping_event::Event, GetAgentInfoRequest, PingRequest, TcpConnectRequest};

use crate::topology::{
    calls::Caller,
    probes::{Check, Probe},
    targets::Target,
};

/// Echo requests per ping probe: one lost packet is not a broken network.
const PING_COUNT: u32 = 3;
const PING_INTERVAL_MS: u32 = 200;
const PROBE_TIMEOUT_MS: u32 = 2000;

/// What one run of a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// It ran and the network said no (no reply, refused, the agent unreachable).
    Failed(String),
    /// It could not run: the call was refused (a namespace the change has yet to create).
    NotRun(String),
}

pub async fn run(caller: &Caller, targets: &[Target], probe: &Probe) -> Verdict {
    let Some(target) = targets.iter().find(|target| target.name == probe.host) else {
        return Verdict::NotRun(format!("host {} is not a target", probe.host));
    };
    match &probe.check {
        Check::Agent => match caller
            .diagnostics(&target.host, |mut client, context| async move {
                client
                    .get_agent_info(context.request(GetAgentInfoRequest {}))
                    .await
            })
            .await
        {
            Ok(_) => Verdict::Passed,
            Err(failure) => Verdict::Failed(format!("the agent did not answer: {failure}")),
        },
        Check::Tcp {
            namespace,
            target: address,
        } => {
            let request = TcpConnectRequest {
                namespace: namespace.clone(),
                address: address.ip().to_string(),
                port: u32::from(address.port()),
                timeout_ms: PROBE_TIMEOUT_MS,
            };
            match caller
                .diagnostics(&target.host, |mut client, context| async move {
                    client.tcp_connect(context.request(request)).await
                })
                .await
            {
                Ok(response) if response.get_ref().connected => Verdict::Passed,
                Ok(response) => Verdict::Failed(response.into_inner().error),
                Err(failure) => Verdict::NotRun(failure.to_string()),
            }
        }
        Check::Ping {
            namespace,
            target: address,
        } => {
            let request = PingRequest {
                namespace: namespace.clone(),
                target: address.to_string(),
                count: PING_COUNT,
                interval_ms: PING_INTERVAL_MS,
                timeout_ms: PROBE_TIMEOUT_MS,
                ..Default::default()
            };
            let received = caller
                .diagnostics(&target.host, |mut client, context| async move {
                    let mut stream = client.ping(context.request(request)).await?.into_inner();
                    let mut received = 0;
                    while let Some(event) = stream.message().await? {
                        if let Some(Event::Summary(summary)) = event.event {
                            received = summary.received;
                        }
                    }
                    Ok(received)
                })
                .await;
            match received {
                Ok(0) => Verdict::Failed(format!("no reply to {PING_COUNT} echo requests")),
                Ok(_) => Verdict::Passed,
                Err(failure) => Verdict::NotRun(failure.to_string()),
            }
        }
    }
}
