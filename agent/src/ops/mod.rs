//! The agent's verbs: each takes validated domain values, checks them against the kernel's current state,
//! then applies the change step by step, undoing the steps already taken if a later one fails. Built on
//! `netns` and `kernel`; knows nothing of gRPC.

pub mod address;
pub mod batch;
mod error;
pub mod forwarding;
pub mod gate;
pub mod guard;
pub mod link;
pub mod marker;
pub mod nat;
pub mod neighbor;
pub mod operation;
mod outcome;
mod peers;
pub mod ping;
pub mod recovery;
pub mod route;
pub mod tcp_connect;

pub use error::OpError;
pub use operation::{Applied, Detail, NatRunKey, Operation, Requested};
pub use outcome::{Outcome, Warning, WarningCode};
