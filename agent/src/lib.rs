//! nsfleet-agent: serves the nsfleet.v1 gRPC API on one host.
//!
//! Layers, outermost first (see docs/ARCHITECTURE.md):
//! - `server`: listeners, TLS, the security layer (authentication, roles, audit), limits, health,
//!   reflection, shutdown.
//! - `auth`: tokens, client certificate identities, roles and the method table; `audit`: the audit log.
//! - `service`: one file per gRPC service; turns wire messages into validated domain requests and kernel
//!   errors into `tonic::Status`. The only layer that knows the proto.
//! - `netns`: named namespaces and the per-namespace netlink handles (the execution model).
//! - `kernel`: netlink operations on links, addresses, routes, neighbours, sysctls, ICMP.
//! - `nat`: nsfleet's own nftables table behind a narrow backend trait.
//! - `metrics`: `--metrics`, the Prometheus endpoint.
//! - `state`: the state directory (`--state-dir`): what must outlive the process.

pub mod audit;
pub mod auth;
pub mod commit;
pub mod domain;
pub mod journal;
pub mod kernel;
pub mod metrics;
pub mod nat;
pub mod netns;
pub mod ops;
pub mod server;
pub mod service;
pub mod state;
pub mod topology;
pub mod watch;
