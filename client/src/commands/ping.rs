use std::{io::Write, time::Duration};

use nsfleet_proto::v1::{
    diagnostics_service_client::DiagnosticsServiceClient, ping_event::Event, PingReply,
    PingRequest, PingSummary,
};
use tonic::Status;

use crate::channel::AgentChannel;

use super::CallContext;
use crate::output::text::ping::{header_line, reply_line};

/// What the agent agrees to when a field is 0, from diagnostics.proto.
const DEFAULT_INTERVAL_MS: u32 = 1000;
const DEFAULT_TIMEOUT_MS: u32 = 1000;
pub const DEFAULT_PAYLOAD_SIZE: u32 = 56;

#[derive(Debug, Clone)]
pub struct PingRun {
    pub target: String,
    pub payload_size: u32,
    pub replies: Vec<PingReply>,
    /// Absent only if the stream ended without one, which the agent should never do.
    pub summary: Option<PingSummary>,
    /// The header and replies were already printed as they arrived.
    pub streamed: bool,
}

/// The time a ping takes when every reply comes: a request per interval, then the wait for the last reply.
pub fn expected_duration(request: &PingRequest) -> Duration {
    let interval = if request.interval_ms == 0 {
        DEFAULT_INTERVAL_MS
    } else {
        request.interval_ms
    };
    let wait = if request.timeout_ms == 0 {
        DEFAULT_TIMEOUT_MS
    } else {
        request.timeout_ms
    };
    Duration::from_millis(
        u64::from(request.count.saturating_sub(1)) * u64::from(interval) + u64::from(wait),
    )
}

pub async fn run(
    request: &PingRequest,
    channel: AgentChannel,
    context: &CallContext,
) -> Result<PingRun, Status> {
    let payload_size = if request.payload_size == 0 {
        DEFAULT_PAYLOAD_SIZE
    } else {
        request.payload_size
    };
    let mut run = PingRun {
        target: request.target.clone(),
        payload_size,
        replies: Vec::new(),
        summary: None,
        streamed: context.live_ping,
    };
    let mut client = DiagnosticsServiceClient::new(channel);
    let mut events = client
        .ping(context.request(request.clone()))
        .await?
        .into_inner();
    if run.streamed {
        print_live(&header_line(&run.target, payload_size));
    }
    while let Some(event) = events.message().await? {
        match event.event {
            Some(Event::Reply(reply)) => {
                if run.streamed {
                    print_live(&reply_line(&reply));
                }
                run.replies.push(reply);
            }
            Some(Event::Summary(summary)) => run.summary = Some(summary),
            None => {}
        }
    }
    Ok(run)
}

/// Live output is best effort: a closed stdout (`| head`) must not fail the ping.
fn print_live(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_duration_uses_agent_defaults() {
        let request = PingRequest {
            count: 4,
            ..PingRequest::default()
        };
        assert_eq!(expected_duration(&request), Duration::from_millis(4000));
        let request = PingRequest {
            count: 10,
            interval_ms: 200,
            timeout_ms: 2000,
            ..PingRequest::default()
        };
        assert_eq!(expected_duration(&request), Duration::from_millis(3800));
    }
}
