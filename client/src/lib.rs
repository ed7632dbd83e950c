//! `nsfleet`: an iproute2-like CLI for nsfleet agents, on one host or a fleet.

// Tests may unwrap freely; the lint guards the code that handles input.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod grammar;

pub mod output;
