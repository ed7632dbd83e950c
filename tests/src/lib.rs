//! The lab: simulated hosts for nsfleet's integration tests.
//!
//! A simulated host is the real `nsfleet-agent` binary running in a network and mount namespace of its
//! own, with a private `/run` (so its `/run/netns` is its own). Tests drive it through the real
//! `nsfleet` CLI ([`SimHost::cli`], or [`Nsfleet`] for more) and check the kernel with an independent
//! oracle: iproute2 run inside the simulated host through `nsenter` ([`SimHost::ip_json`] and friends).
//! Nothing here touches the machine's root network namespace; everything dies with the agent when a
//! [`Lab`] is dropped, also on panic.

mod background;
mod binaries;
mod cli;
pub mod crash;
pub mod deploy_tools;
mod echo;
pub mod json;
mod lab;
mod netfilter;
mod oracle;
mod poll;
mod process;
pub mod python_tools;
mod reach;
mod root;
mod sim_host;
pub mod tables;
pub mod tutorial;
mod wire;

pub use background::Background;
pub use binaries::{binaries, Binaries};
pub use cli::{run_lines, CliRun, Nsfleet};
pub use echo::{Answer, PeerEcho, ATTEMPT_TIMEOUT};
pub use lab::Lab;
pub use netfilter::NSFLEET_TABLE;
pub use oracle::HostSnapshot;
pub use poll::poll_until;
pub use process::{run_bounded, Finished};
pub use reach::assert_reaches;
pub use root::require_root;
pub use sim_host::SimHost;
pub use wire::Wire;
