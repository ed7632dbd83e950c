//! The gRPC edge: one file per service. Each turns wire messages into validated domain values, calls
//! `ops` (or `netns`), and turns results and errors back into wire messages and `Status`. The only layer
//! that knows the proto.

mod link;
mod namespace;
mod status;

pub use link::LinkApi;
pub use namespace::NamespaceApi;

use nsfleet_proto::v1 as pb;

use crate::ops::Warning;

fn warnings_to_proto(warnings: Vec<Warning>) -> Vec<pb::Warning> {
    warnings
        .into_iter()
        .map(|w| pb::Warning { code: w.code.to_string(), message: w.message, fix: w.fix })
        .collect()
}
