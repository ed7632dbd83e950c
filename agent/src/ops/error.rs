use crate::domain::FieldError;
use crate::kernel::ping::PingError;
use crate::kernel::KernelError;
use crate::nat::NatError;
use crate::netns::NetnsError;

/// Why an operation failed, in the terms the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("{0}")]
    NotFound(String),
    /// Another object already has the name (or address, route) the request wants.
    #[error("{0}")]
    Conflict(String),
    /// The request is well formed but the host's state does not allow it.
    #[error("{0}")]
    Precondition(String),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// Reading or writing a `/proc/sys` file failed; the errno decides what the caller can do.
    #[error("{context}: {source}")]
    Sysctl {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Ping(#[from] PingError),
    #[error(transparent)]
    Nat(#[from] NatError),
    /// A NAT operation reached a service that has no NAT backend.
    #[error("NAT operations are not served here")]
    NatUnavailable,
}
