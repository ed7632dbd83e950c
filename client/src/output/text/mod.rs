//! iproute2-style text for each outcome. Every renderer returns whole lines, each ending in '\n'; a
//! mutation renders as nothing, as `ip` prints nothing on success.

pub mod address;
pub mod batch;
pub mod link;
pub mod nat;
pub mod neighbor;
pub mod ping;
pub mod route;
mod simple;

use nsfleet_proto::v1::Scope;

use crate::commands::Outcome;

pub fn render(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Mutation(_) | Outcome::Batch(_) => String::new(),
        Outcome::Namespaces(response) => simple::namespaces(response),
        Outcome::Links(listing) => link::render(listing),
        Outcome::Addresses(listing) => address::render(listing),
        Outcome::Routes(response) => route::render(response),
        Outcome::Forwarding(response) => simple::forwarding(response),
        Outcome::Neighbors(response) => neighbor::render(response),
        Outcome::NatRules(response) => nat::render(response),
        Outcome::Ping(run) => ping::render(run),
    }
}

/// Scope as `ip` names it; None for an unspecified scope, which is left out of the line.
fn scope_name(scope: Scope) -> Option<&'static str> {
    match scope {
        Scope::Unspecified => None,
        Scope::Global => Some("global"),
        Scope::Site => Some("site"),
        Scope::Link => Some("link"),
        Scope::Host => Some("host"),
        Scope::Nowhere => Some("nowhere"),
    }
}
