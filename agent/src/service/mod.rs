//! The gRPC edge: one file per service. Each turns wire messages into validated domain values, calls
//! `ops` (or `netns`), and turns results and errors back into wire messages and `Status`. The only layer
//! that knows the proto.

mod address;
mod batch;
mod convert;
mod diagnostics;
mod forwarding;
mod link;
mod namespace;
mod nat;
mod neighbor;
mod route;
mod status;

pub use address::AddressApi;
pub use batch::BatchApi;
pub use diagnostics::DiagnosticsApi;
pub use forwarding::ForwardingApi;
pub use link::LinkApi;
pub use namespace::NamespaceApi;
pub use nat::NatApi;
pub use neighbor::NeighborApi;
pub use route::RouteApi;

use nsfleet_proto::v1 as pb;

use crate::ops::{OpError, Warning};
use status::StatusError;

/// Runs a mutation to its end even if the caller goes away. tonic drops a handler's future when the
/// client disconnects; dropped between two kernel steps, a change would be half applied and its undo would
/// never run. In its own task it either completes or rolls itself back.
async fn run_to_completion<T, F>(mutation: F) -> Result<T, StatusError>
where
    F: std::future::Future<Output = Result<T, OpError>> + Send + 'static,
    T: Send + 'static,
{
    match tokio::spawn(mutation).await {
        Ok(result) => result.map_err(StatusError::from),
        Err(e) => Err(StatusError(tonic::Status::internal(format!("the change did not finish: {e}")))),
    }
}

fn warnings_to_proto(warnings: Vec<Warning>) -> Vec<pb::Warning> {
    warnings
        .into_iter()
        .map(|w| pb::Warning { code: w.code.to_string(), message: w.message, fix: w.fix })
        .collect()
}
