//! The one place where errors of the lower layers become gRPC status codes, and where every `Status`
//! the agent answers with is made.

use nix::errno::Errno;
use tonic::{Code, Status};

use crate::commit::record::RecordError;
use crate::commit::CommitError;
use crate::domain::FieldError;
use crate::kernel::ping::PingError;
use crate::kernel::KernelError;
use crate::nat::NatError;
use crate::netns::NetnsError;
use crate::ops::OpError;
use crate::topology::TopologyError;

pub fn invalid(error: FieldError) -> Status {
    Status::invalid_argument(error.to_string())
}

impl From<OpError> for StatusError {
    fn from(error: OpError) -> Self {
        let status = match &error {
            OpError::Invalid(e) => invalid(e.clone()),
            OpError::NamespaceNotFound { .. }
            | OpError::LinkNotFound { .. }
            | OpError::ReferencedLinkNotFound { .. }
            | OpError::MasterNotFound { .. }
            | OpError::AddressNotFound { .. }
            | OpError::RouteNotFound { .. } => Status::not_found(error.to_string()),
            OpError::LinkExists { .. }
            | OpError::VniTaken { .. }
            | OpError::PeerNameTaken { .. }
            | OpError::CreatedMeanwhile { .. }
            | OpError::NameTakenAtDestination { .. }
            | OpError::RouteExists { .. } => Status::already_exists(error.to_string()),
            OpError::AddressVanished { .. }
            | OpError::FamilyDisabled { .. }
            | OpError::CutsManagementPath { .. }
            | OpError::ManagementPathUnknown { .. }
            | OpError::TaskLost
            | OpError::CommitPending(_)
            | OpError::Journal(_) => Status::failed_precondition(error.to_string()),
            OpError::Kernel(e) => kernel_status(e),
            OpError::Netns(e) => netns_status(e),
            OpError::Sysctl { source, .. } => Status::new(io_code(source), error.to_string()),
            OpError::Ping(e) => ping_status(e),
            OpError::Socket { source, .. } => Status::new(io_code(source), error.to_string()),
            OpError::Nat(e) => nat_status(e, None),
            OpError::NatUnavailable => Status::failed_precondition(error.to_string()),
        };
        Self(status)
    }
}

/// A malformed request whose message names no single field of its own (a batch operation without one).
pub fn invalid_text(message: &str) -> Status {
    Status::invalid_argument(message)
}

/// The same status with `prefix` before its message: where in a batch it happened.
pub fn prefixed(status: &Status, prefix: String) -> Status {
    Status::new(status.code(), format!("{prefix}{}", status.message()))
}

pub fn nat_unavailable_status(reason: &str) -> Status {
    Status::failed_precondition(format!("NAT is not available on this host: {reason}"))
}

/// An operation answered with another kind of detail than its request asks for: a bug, not the caller's.
pub fn unexpected_detail(operation: &str) -> Status {
    Status::internal(format!(
        "{operation}: the change was applied but its result has an unexpected shape"
    ))
}

/// A request that `validate()` turned into another kind of operation than its type asks for: a bug.
pub fn parsed_as_other(what: &str) -> Status {
    Status::internal(format!("{what}: validation gave another kind of operation"))
}

impl From<TopologyError> for StatusError {
    fn from(error: TopologyError) -> Self {
        let status = match error {
            TopologyError::Observe(e) => return e.into(),
            TopologyError::Refused { error, .. } => return (*error).into(),
            TopologyError::Failed {
                change,
                error,
                not_undone,
            } => {
                let status = StatusError::from(*error).0;
                let mut message = format!("{change}: {}", status.message());
                if !not_undone.is_empty() {
                    message.push_str(&format!(" (not taken back: {})", not_undone.join("; ")));
                }
                Status::new(status.code(), message)
            }
            TopologyError::Ownership(_)
            | TopologyError::Ledger(_)
            | TopologyError::StaleFingerprint { .. }
            | TopologyError::ManagementPathNeedsCommit => {
                Status::failed_precondition(error.to_string())
            }
            TopologyError::Unknown { .. } => Status::not_found(error.to_string()),
            TopologyError::DidNotStick { .. } | TopologyError::Unfinished(_) => {
                Status::internal(error.to_string())
            }
        };
        Self(status)
    }
}

impl From<CommitError> for StatusError {
    fn from(error: CommitError) -> Self {
        let status = match error {
            CommitError::Topology(e) => return e.into(),
            CommitError::Pending(held) => return OpError::from(held).into(),
            CommitError::Record(RecordError::Io { .. }) | CommitError::Undecodable { .. } => {
                Status::internal(error.to_string())
            }
            CommitError::Unknown { .. } | CommitError::NonePending => {
                Status::not_found(error.to_string())
            }
            CommitError::Record(RecordError::Corrupt { .. })
            | CommitError::IdUsed { .. }
            | CommitError::RolledBack { .. }
            | CommitError::Confirmed { .. }
            | CommitError::StepsFailed(_) => Status::failed_precondition(error.to_string()),
        };
        Self(status)
    }
}

/// A change that ended without an answer: it panicked, or the runtime cancelled its task at shutdown.
pub fn unfinished(what: &str, error: impl std::fmt::Display) -> Status {
    Status::internal(format!("{what} did not finish: {error}"))
}

/// Carries a `Status` out of `?` chains; tonic's `Status` cannot implement `From` for our error types.
pub struct StatusError(pub Status);

impl From<StatusError> for Status {
    fn from(error: StatusError) -> Self {
        error.0
    }
}

impl From<FieldError> for StatusError {
    fn from(error: FieldError) -> Self {
        Self(invalid(error))
    }
}

impl From<NetnsError> for StatusError {
    fn from(error: NetnsError) -> Self {
        Self(netns_status(&error))
    }
}

fn netns_status(error: &NetnsError) -> Status {
    let code = match error {
        NetnsError::NotFound { .. } => Code::NotFound,
        NetnsError::NotANamespace { .. } => Code::FailedPrecondition,
        NetnsError::Io { source, .. } => io_code(source),
        NetnsError::ThreadLost { .. } => Code::Internal,
    };
    Status::new(code, error.to_string())
}

/// `kind` prefixes field names with the oneof member they sit in ("masquerade.source").
pub fn nat_status(error: &NatError, kind: Option<&str>) -> Status {
    match error {
        NatError::Invalid { field, reason } => {
            let field = kind
                .map(|k| format!("{k}.{field}"))
                .unwrap_or_else(|| field.to_string());
            Status::invalid_argument(format!("{field}: {reason}"))
        }
        NatError::NotFound { .. } => Status::not_found(error.to_string()),
        NatError::Conflict { .. } => Status::already_exists(error.to_string()),
        NatError::NftMissing { .. } => Status::failed_precondition(error.to_string()),
        _ if error.is_permission_denied() => Status::permission_denied(error.to_string()),
        NatError::NftFailed { .. } => Status::failed_precondition(error.to_string()),
        NatError::NftOutput { .. } | NatError::Conntrack { .. } => {
            Status::internal(error.to_string())
        }
    }
}

pub fn ping_status(error: &PingError) -> Status {
    match error {
        PingError::InvalidParams { .. } => Status::invalid_argument(error.to_string()),
        PingError::NoSuchInterface { .. } => Status::not_found(format!("interface: {error}")),
        PingError::SourceNotLocal { .. } => Status::not_found(format!("source: {error}")),
        PingError::Unreachable { source, .. } => {
            Status::failed_precondition(format!("{error}: {source}"))
        }
        PingError::Io { source, .. } => Status::internal(format!("{error}: {source}")),
    }
}

fn kernel_status(error: &KernelError) -> Status {
    crate::metrics::count_netlink_error(error.errno());
    let code = error.errno().map(errno_code).unwrap_or(Code::Unavailable);
    Status::new(code, error.to_string())
}

fn io_code(error: &std::io::Error) -> Code {
    match error.raw_os_error().map(Errno::from_raw) {
        Some(errno) => errno_code(errno),
        None => Code::Internal,
    }
}

/// What an errno from the kernel means for the caller.
fn errno_code(errno: Errno) -> Code {
    match errno {
        Errno::EEXIST | Errno::ENOTEMPTY => Code::AlreadyExists,
        Errno::ENOENT | Errno::ENODEV | Errno::ESRCH | Errno::EADDRNOTAVAIL | Errno::ENXIO => {
            Code::NotFound
        }
        Errno::EINVAL
        | Errno::ERANGE
        | Errno::EAFNOSUPPORT
        | Errno::EPROTONOSUPPORT
        | Errno::EMSGSIZE => Code::InvalidArgument,
        Errno::ENETUNREACH
        | Errno::EHOSTUNREACH
        | Errno::ENETDOWN
        | Errno::EBUSY
        | Errno::ENOTCONN
        | Errno::ELOOP
        | Errno::EADDRINUSE
        | Errno::EOPNOTSUPP
        | Errno::EMLINK => Code::FailedPrecondition,
        Errno::EPERM | Errno::EACCES => Code::PermissionDenied,
        Errno::ENOMEM | Errno::ENOBUFS | Errno::ENOSPC | Errno::EMFILE | Errno::ENFILE => {
            Code::ResourceExhausted
        }
        Errno::EAGAIN | Errno::EINTR => Code::Unavailable,
        _ => Code::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_map_to_what_the_caller_can_do() {
        assert_eq!(errno_code(Errno::EEXIST), Code::AlreadyExists);
        assert_eq!(errno_code(Errno::ENODEV), Code::NotFound);
        assert_eq!(errno_code(Errno::ENETUNREACH), Code::FailedPrecondition);
        assert_eq!(errno_code(Errno::ERANGE), Code::InvalidArgument);
        assert_eq!(errno_code(Errno::EPERM), Code::PermissionDenied);
        assert_eq!(errno_code(Errno::EIO), Code::Internal);
    }

    #[test]
    fn forwarding_sysctl_errors_go_through_the_errno_table() {
        use crate::domain::{Family, NamespaceRef};
        use crate::ops::forwarding::sysctl_error;
        let code = |errno: Errno| {
            let error = sysctl_error(
                &NamespaceRef::Host,
                Family::V4,
                std::io::Error::from_raw_os_error(errno as i32),
            );
            StatusError::from(error).0.code()
        };
        assert_eq!(code(Errno::EPERM), Code::PermissionDenied);
        assert_eq!(code(Errno::EACCES), Code::PermissionDenied);
        assert_eq!(code(Errno::EINVAL), Code::InvalidArgument);
        // A missing file: the family is disabled there, which the caller can change.
        assert_eq!(code(Errno::ENOENT), Code::FailedPrecondition);
    }
}
