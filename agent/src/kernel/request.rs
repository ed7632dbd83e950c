//! Sending one route-netlink request and collecting its answer, with context on failure.

use netlink_packet_route::RouteNetlinkMessage;

use super::socket::{AnswerEnd, RouteSocket};
use super::KernelError;

/// Sends a request that changes something and waits for the kernel's acknowledgement.
pub fn acked(
    socket: &RouteSocket,
    message: RouteNetlinkMessage,
    extra_flags: u16,
    context: impl Into<String>,
) -> Result<(), KernelError> {
    socket
        .request(
            message,
            extra_flags,
            AnswerEnd::Acknowledgement,
            &context.into(),
        )
        .map(drop)
}

/// Dumps a table (links, addresses, routes, neighbours): every message of the answer.
pub fn dump(
    socket: &RouteSocket,
    message: RouteNetlinkMessage,
    context: impl Into<String>,
) -> Result<Vec<RouteNetlinkMessage>, KernelError> {
    socket.request(message, 0, AnswerEnd::DumpDone, &context.into())
}

/// Asks for one object (`RTM_GET*` without a dump): the kernel's answer, if it sent one.
pub fn get(
    socket: &RouteSocket,
    message: RouteNetlinkMessage,
    context: impl Into<String>,
) -> Result<Option<RouteNetlinkMessage>, KernelError> {
    Ok(socket
        .request(message, 0, AnswerEnd::FirstMessage, &context.into())?
        .into_iter()
        .next())
}
