//! Sending one route-netlink request and collecting its answer, with context on failure.

use futures::StreamExt;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::Handle;

use super::KernelError;

/// Sends a request that changes something and waits for the kernel's acknowledgement.
pub async fn acked(handle: &Handle, message: RouteNetlinkMessage, extra_flags: u16, context: impl Into<String>) -> Result<(), KernelError> {
    let context = context.into();
    let mut request = NetlinkMessage::from(message);
    request.header.flags = NLM_F_REQUEST | NLM_F_ACK | extra_flags;
    let mut responses = handle.clone().request(request).map_err(|e| KernelError::from_netlink(&context, e))?;
    while let Some(response) = responses.next().await {
        if let NetlinkPayload::Error(error) = response.payload {
            if error.code.is_some() {
                return Err(KernelError::from_netlink(context, rtnetlink::Error::NetlinkError(error)));
            }
        }
    }
    Ok(())
}

/// Dumps a table (links, addresses, routes, neighbours): every message of the answer.
pub async fn dump(handle: &Handle, message: RouteNetlinkMessage, context: impl Into<String>) -> Result<Vec<RouteNetlinkMessage>, KernelError> {
    let context = context.into();
    let mut request = NetlinkMessage::from(message);
    request.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut responses = handle.clone().request(request).map_err(|e| KernelError::from_netlink(&context, e))?;
    let mut messages = Vec::new();
    while let Some(response) = responses.next().await {
        match response.payload {
            NetlinkPayload::InnerMessage(inner) => messages.push(inner),
            NetlinkPayload::Error(error) if error.code.is_some() => {
                return Err(KernelError::from_netlink(context, rtnetlink::Error::NetlinkError(error)));
            }
            _ => {}
        }
    }
    Ok(messages)
}
