//! `nsfleet`: an iproute2-like CLI for nsfleet agents, on one host or a fleet.
//!
//! The flow: `cli` (clap) -> `plan` (keyword tails parsed by `grammar` into proto requests, endpoints
//! checked) -> `fleet` (the action run on every host concurrently through `commands`, over channels from
//! `connect`) -> `output` (text or JSON Lines, in `--host` order). Usage errors stop before any host is
//! contacted.

// Tests may unwrap freely; the lint guards the code that handles input.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod app;
pub mod batch;
pub mod channel;
pub mod cli;
pub mod command_line;
pub mod commands;
pub mod connect;
pub mod failure;
pub mod fleet;
pub mod grammar;
pub mod graph;
pub mod hosts;
pub mod inventory;
pub mod lab;
pub mod local;
pub mod monitor;
pub mod output;
pub mod plan;
pub mod socket_call;
pub mod startup;
pub mod topology;
