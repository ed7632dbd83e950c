//! The gRPC edge: one file per service. Each turns wire messages into validated domain values, calls
//! `ops` (or `netns`), and turns results and errors back into wire messages and `Status`. The only layer
//! that knows the proto.

mod address;
mod batch;
mod completion;
mod convert;
mod diagnostics;
mod forwarding;
mod link;
mod namespace;
mod nat;
mod neighbor;
mod route;
mod status;
mod topology;
mod validate;
mod watch;

pub use address::AddressApi;
pub use batch::BatchApi;
pub use diagnostics::DiagnosticsApi;
pub use forwarding::ForwardingApi;
pub use link::LinkApi;
pub use namespace::NamespaceApi;
pub use nat::NatApi;
pub use neighbor::NeighborApi;
pub use route::RouteApi;
pub use topology::{decode_desired, TopologyApi};
pub use watch::WatchApi;

use std::sync::Arc;

use nsfleet_proto::v1 as pb;

use crate::nat::NatBackend;
use crate::netns::NamespaceRegistry;
use crate::ops::gate::Gate;
use crate::ops::guard::{self, Change, ListeningAddresses, ManagementPath};
use crate::ops::{Applied, OpError, Requested, Warning};
use status::StatusError;

/// How a TCP caller reaches the agent, for the management-path guard; `None` for a unix-socket caller,
/// which the guard leaves alone.
fn management_path<T>(request: &tonic::Request<T>) -> Option<ManagementPath> {
    let peer = request.remote_addr()?;
    let local = request.local_addr()?;
    let listening = request
        .extensions()
        .get::<ListeningAddresses>()
        .cloned()
        .unwrap_or_default();
    Some(ManagementPath::new(peer.ip(), local.ip(), &listening))
}

/// The one path of a single-call change, the same one a batch takes for each operation: the gate (no
/// change while a commit is pending), the management-path guard (unless `force`), then
/// `Operation::apply`, run to completion even if the caller goes away.
async fn apply_one(
    registry: &Arc<NamespaceRegistry>,
    gate: &Gate,
    nat: Option<Arc<dyn NatBackend>>,
    path: Option<&ManagementPath>,
    requested: Requested,
) -> Result<Applied, StatusError> {
    let Requested { operation, force } = requested;
    let admitted = gate
        .admit()
        .await
        .map_err(|held| StatusError::from(OpError::from(held)))?;
    if let Some(change) = Change::of(&operation) {
        guard::check(registry, path, &[(change, force)])
            .await
            .map_err(|(_, error)| StatusError::from(error))?;
    }
    let registry = registry.clone();
    run_to_completion(async move { operation.apply(&registry, nat.as_ref(), &admitted).await })
        .await
}

/// Runs a mutation to its end even if the caller goes away (`completion.rs`).
async fn run_to_completion<T, F>(mutation: F) -> Result<T, StatusError>
where
    F: std::future::Future<Output = Result<T, OpError>> + Send + 'static,
    T: Send + 'static,
{
    match completion::run_to_completion(mutation).await {
        Ok(result) => result.map_err(StatusError::from),
        Err(e) => Err(StatusError(status::unfinished("the change", e))),
    }
}

fn warnings_to_proto(warnings: Vec<Warning>) -> Vec<pb::Warning> {
    warnings
        .into_iter()
        .map(|w| pb::Warning {
            code: w.code.as_str().to_string(),
            message: w.message,
            fix: w.fix,
        })
        .collect()
}
