use crate::domain::{Family, FieldError, IpPrefix, NamespaceRef};
use crate::kernel::ping::PingError;
use crate::kernel::KernelError;
use crate::nat::NatError;
use crate::netns::NetnsError;

/// Why an operation failed, in the terms the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    // Something the request names is not there.
    #[error("{namespace} does not exist")]
    NamespaceNotFound { namespace: NamespaceRef },
    #[error("link {name} does not exist in {namespace}")]
    LinkNotFound {
        namespace: NamespaceRef,
        name: String,
    },
    /// A link named in another request's field (an address's link, a route's device, a NAT interface).
    #[error("{field}: link {name} does not exist in {namespace}")]
    ReferencedLinkNotFound {
        field: String,
        namespace: NamespaceRef,
        name: String,
    },
    #[error("master {name} does not exist in {namespace}")]
    MasterNotFound {
        namespace: NamespaceRef,
        name: String,
    },
    #[error("{link} in {namespace} has no address {prefix}")]
    AddressNotFound {
        namespace: NamespaceRef,
        link: String,
        prefix: IpPrefix,
    },
    /// `route` describes the destination ("default", "10.0.0.0/8").
    #[error("{namespace} has no such route to {route} in table {table}")]
    RouteNotFound {
        namespace: NamespaceRef,
        route: String,
        table: u32,
    },

    // Another object already has the name (or route) the request wants.
    /// `existing` describes it ("a bridge", "a veth whose peer is ceth1 in namespace a").
    #[error("link {name} already exists in {namespace} as {existing}")]
    LinkExists {
        namespace: NamespaceRef,
        name: String,
        existing: String,
    },
    #[error(
        "vxlan.vni: {namespace} already has a VXLAN link with VNI {vni} and port {port}: {other}"
    )]
    VniTaken {
        namespace: NamespaceRef,
        vni: u32,
        port: u16,
        other: String,
    },
    #[error("peer name {peer} is already taken in {namespace}")]
    PeerNameTaken {
        namespace: NamespaceRef,
        peer: String,
    },
    #[error("link {name} (or its peer) was created by someone else meanwhile")]
    CreatedMeanwhile { name: String },
    #[error("{namespace} already has a link named {name}")]
    NameTakenAtDestination {
        namespace: NamespaceRef,
        name: String,
    },
    /// `route` describes the wanted destination, `existing` the next hop of the route already there.
    #[error("{namespace} already has a route to {route} in table {table} with metric {metric} ({existing}); use replace to change it")]
    RouteExists {
        namespace: NamespaceRef,
        route: String,
        table: u32,
        metric: u32,
        existing: String,
    },

    // The request is well formed but the host's state does not allow it.
    #[error("{prefix} vanished from {link} right after it was added")]
    AddressVanished { prefix: IpPrefix, link: String },
    #[error("{family} forwarding is not available in {namespace} (is {family} disabled?)")]
    FamilyDisabled {
        namespace: NamespaceRef,
        family: Family,
    },
    /// The management-path guard refused; `refusal` says what would break and why.
    #[error("{refusal}; {FORCE_HINT} to do it anyway")]
    CutsManagementPath { refusal: String },
    /// The guard could not read what it protects; `what` is the query that failed.
    #[error(
        "cannot tell whether this change would cut the agent off from its caller ({what}: {source}); \
         {FORCE_HINT} to skip this check"
    )]
    ManagementPathUnknown { what: String, source: KernelError },
    /// A confirmed commit holds the host: `nsfleet confirm` or `nsfleet rollback` first.
    #[error(transparent)]
    CommitPending(#[from] crate::ops::gate::Held),
    #[error("the operation's task ended without a result")]
    TaskLost,
    /// The intent journal could not be written, so the change was not made: a change the journal does
    /// not know of could not be taken back after a crash.
    #[error("{0}; nothing was changed by this operation")]
    Journal(#[from] crate::journal::JournalError),
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
    /// A socket for a diagnostic could not be opened in the namespace.
    #[error("opening {what}: {source}")]
    Socket {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Nat(#[from] NatError),
    /// A NAT operation reached a service that has no NAT backend.
    #[error("NAT operations are not served here")]
    NatUnavailable,
}

/// How a caller overrides the management-path guard, in the words of the CLI and of the API.
pub const FORCE_HINT: &str = "pass --force (the request's force field)";
