use std::io;

/// Everything the NAT layer can fail with. Each variant carries what an operator needs to act on it;
/// the gRPC layer maps variants to status codes (see the module docs).
#[derive(Debug, thiserror::Error)]
pub enum NatError {
    /// The `nft` binary cannot be started: NAT is unusable on this host until nftables is installed.
    #[error("cannot run nft ({source}): install the nftables package (nft 1.0 or later, built with JSON support)")]
    NftMissing {
        #[source]
        source: io::Error,
    },

    /// `nft` ran and refused, or could not be talked to. `stderr` is nft's own explanation.
    #[error("nft failed while {context}: {stderr}")]
    NftFailed { context: String, stderr: String },

    /// `nft` succeeded but printed something this layer does not understand.
    #[error("unexpected nft output while {context}: {reason}")]
    NftOutput { context: String, reason: String },

    /// No rule with this id in nsfleet's table (rules of other tables are never ours).
    #[error("no NAT rule with id {id:?} in table inet nsfleet")]
    NotFound { id: String },

    /// The request is malformed; `field` names the offending field.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// The table holds a rule with the requested id that is a different rule (edited by hand, or an id
    /// collision): nsfleet will not guess which one is meant.
    #[error("NAT rule {id} in table inet nsfleet is {existing}, not the requested rule; delete it first")]
    Conflict { id: String, existing: String },

    /// A ctnetlink request (conntrack dump or delete) failed.
    #[error("conntrack: {context}: {source}")]
    Conntrack {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl NatError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn conntrack(context: impl Into<String>, source: io::Error) -> Self {
        Self::Conntrack {
            context: context.into(),
            source,
        }
    }

    /// The same error again, for each of several rules one failed step concerned (the error itself is
    /// not `Clone`: `io::Error` is not).
    pub(crate) fn shared(&self) -> Self {
        match self {
            Self::Conntrack { context, source } => Self::Conntrack {
                context: context.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Self::NftMissing { source } => Self::NftMissing {
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Self::NftFailed { context, stderr } => Self::NftFailed {
                context: context.clone(),
                stderr: stderr.clone(),
            },
            Self::NftOutput { context, reason } => Self::NftOutput {
                context: context.clone(),
                reason: reason.clone(),
            },
            Self::NotFound { id } => Self::NotFound { id: id.clone() },
            Self::Invalid { field, reason } => Self::Invalid {
                field,
                reason: reason.clone(),
            },
            Self::Conflict { id, existing } => Self::Conflict {
                id: id.clone(),
                existing: existing.clone(),
            },
        }
    }

    /// True when the kernel or nft refused for lack of privileges (CAP_NET_ADMIN), so the caller can
    /// answer PERMISSION_DENIED instead of an internal error.
    pub fn is_permission_denied(&self) -> bool {
        match self {
            Self::NftFailed { stderr, .. } => stderr.contains("Operation not permitted"),
            Self::Conntrack { source, .. } => source.kind() == io::ErrorKind::PermissionDenied,
            _ => false,
        }
    }
}
