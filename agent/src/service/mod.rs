//! The gRPC edge: one file per service. Each turns wire messages into validated domain values, calls
//! `ops` (or `netns`), and turns results and errors back into wire messages and `Status`. The only layer
//! that knows the proto.

mod address;
mod convert;
mod diagnostics;
mod forwarding;
mod link;
mod namespace;
mod neighbor;
mod route;
mod status;

pub use address::AddressApi;
pub use diagnostics::DiagnosticsApi;
pub use forwarding::ForwardingApi;
pub use link::LinkApi;
pub use namespace::NamespaceApi;
pub use neighbor::NeighborApi;
pub use route::RouteApi;

use nsfleet_proto::v1 as pb;

use crate::ops::Warning;

fn warnings_to_proto(warnings: Vec<Warning>) -> Vec<pb::Warning> {
    warnings
        .into_iter()
        .map(|w| pb::Warning { code: w.code.to_string(), message: w.message, fix: w.fix })
        .collect()
}
