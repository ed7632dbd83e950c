use netlink_packet_core::ErrorMessage;
use nix::errno::Errno;

/// A netlink request that failed. The layers above decide what an errno means for the caller.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KernelError {
    /// The kernel refused the request.
    #[error("{context}: {}{}", errno.desc(), reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Refused {
        context: String,
        errno: Errno,
        /// The kernel's own explanation (netlink extended ack), when it gave one.
        reason: Option<String>,
    },
    /// The conversation with the kernel failed: a closed socket, a message we could not parse.
    #[error("{context}: {detail}")]
    Transport { context: String, detail: String },
}

impl KernelError {
    /// The kernel's negative answer to a request.
    pub fn refused(context: impl ToString, message: &ErrorMessage) -> Self {
        Self::Refused {
            context: context.to_string(),
            errno: Errno::from_raw(message.raw_code().abs()),
            reason: extended_ack_message(&message.header),
        }
    }

    pub fn errno(&self) -> Option<Errno> {
        match self {
            Self::Refused { errno, .. } => Some(*errno),
            Self::Transport { .. } => None,
        }
    }
}

const NLMSG_HEADER_LEN: usize = 16;
const NLMSGERR_ATTR_MSG: u16 = 1;

/// With NETLINK_CAP_ACK the error echoes only the request's 16-byte header; the extended-ack attributes
/// follow it. NLMSGERR_ATTR_MSG holds the kernel's text ("Nexthop has invalid gateway", ...).
fn extended_ack_message(payload: &[u8]) -> Option<String> {
    let mut rest = payload.get(NLMSG_HEADER_LEN..)?;
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &rest[4..len];
            let text = text.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(text).into_owned()).filter(|t| !t.is_empty());
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_kernels_text_after_the_echoed_header() {
        let mut payload = vec![0u8; NLMSG_HEADER_LEN];
        let text = b"Nexthop has invalid gateway\0";
        payload.extend_from_slice(&((4 + text.len()) as u16).to_ne_bytes());
        payload.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        payload.extend_from_slice(text);
        assert_eq!(
            extended_ack_message(&payload).as_deref(),
            Some("Nexthop has invalid gateway")
        );
        assert_eq!(extended_ack_message(&payload[..NLMSG_HEADER_LEN]), None);
        assert_eq!(extended_ack_message(&[1, 2, 3]), None);
    }
}
