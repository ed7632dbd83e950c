//! `--metrics`: what the agent has done and holds, in the Prometheus text format.
//!
//! Calls are counted in the security layer, the one place every call passes (refusals included);
//! netlink errors where kernel errors become statuses (`service/status.rs`). What the agent holds
//! (namespaces, topology objects, journal) is read when scraped, from the same sources calls use, so it
//! can never drift from them.

mod http;

pub use http::{bind, serve, MetricsServerError};

use std::sync::{Arc, LazyLock};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::auth::methods::METHODS;
use crate::journal::Journal;
use crate::netns::NamespaceRegistry;
use crate::topology::Ledger;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrnoLabels {
    errno: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

/// Netlink errors by errno. Global because they are counted in a free function (the status mapping)
/// that every service calls; one agent per process, so one count per process is what it means.
static NETLINK_ERRORS: LazyLock<Family<ErrnoLabels, Counter>> = LazyLock::new(Family::default);

/// Counts one error the kernel answered a netlink request with (`errno` as the kernel names it, e.g.
/// `EEXIST`; `none` for a failure with no errno, such as a lost socket).
pub fn count_netlink_error(errno: Option<nix::errno::Errno>) {
    let errno = errno.map_or_else(|| "none".to_string(), |errno| format!("{errno:?}"));
    NETLINK_ERRORS.get_or_create(&ErrnoLabels { errno }).inc();
}

/// Watchers streaming now. Global like the netlink errors: a watcher's task counts itself in and out, and
/// has no other way to reach the series.
static WATCHERS: LazyLock<Gauge> = LazyLock::new(Gauge::default);

pub fn watchers() -> &'static Gauge {
    &WATCHERS
}

type HistogramMaker = fn() -> Histogram;

fn call_duration_histogram() -> Histogram {
    // 0.5 ms (a read) to ~2 min (a large batch or apply, the default --request-timeout).
    Histogram::new(exponential_buckets(0.0005, 4.0, 10))
}

/// The series and their registry. Recording is lock-free on the hot path except the first time a label
/// set is seen.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    durations: Family<MethodLabels, Histogram, HistogramMaker>,
    namespaces: Gauge,
    topologies: Gauge,
    topology_objects: Family<KindLabels, Gauge>,
    journal_unfinished: Gauge,
    journal_kept: Gauge,
    pending_commits: Gauge,
    uptime: Gauge<f64, AtomicU64>,
    scrape_errors: Counter,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("nsfleet");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "calls",
            "gRPC calls answered, by method and status code (refused ones included)",
            calls.clone(),
        );
        let durations = Family::new_with_constructor(call_duration_histogram as HistogramMaker);
        registry.register(
            "call_duration_seconds",
            "Time from a call's arrival to the end of its answer (a stream's last message)",
            durations.clone(),
        );
        registry.register(
            "netlink_errors",
            "Errors the kernel answered netlink requests with, by errno",
            NETLINK_ERRORS.clone(),
        );
        registry.register("watchers", "Watch streams open now", WATCHERS.clone());
        let namespaces = Gauge::default();
        registry.register(
            "namespaces",
            "Named network namespaces under /run/netns",
            namespaces.clone(),
        );
        let topologies = Gauge::default();
        registry.register("topologies", "Topologies in the ledger", topologies.clone());
        let topology_objects = Family::<KindLabels, Gauge>::default();
        registry.register(
            "topology_objects",
            "Objects the ledger says topologies own, by kind",
            topology_objects.clone(),
        );
        let journal_unfinished = Gauge::default();
        registry.register(
            "journal_unfinished_transactions",
            "Transactions under way (or left by a crash and not yet recovered)",
            journal_unfinished.clone(),
        );
        let journal_kept = Gauge::default();
        registry.register(
            "journal_kept_transactions",
            "Journal records set aside for a person to look at (recovery could not take them back)",
            journal_kept.clone(),
        );
        let pending_commits = Gauge::default();
        registry.register(
            "pending_commits",
            "Confirmed commits waiting for confirmation (0 or 1): every other change is refused meanwhile",
            pending_commits.clone(),
        );
        let uptime = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "uptime_seconds",
            "Seconds since the agent started",
            uptime.clone(),
        );
        let scrape_errors = Counter::default();
        registry.register(
            "scrape_errors",
            "Scrapes where a held-object count could not be read (the last value is kept; see the log)",
            scrape_errors.clone(),
        );
        registry.register(
            "build",
            "The agent's version and the git commit it was built from",
            Info::new(vec![
                ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
                (
                    "commit".to_string(),
                    option_env!("NSFLEET_GIT_COMMIT")
                        .unwrap_or("unknown")
                        .to_string(),
                ),
            ]),
        );
        Self {
            registry,
            calls,
            durations,
            namespaces,
            topologies,
            topology_objects,
            journal_unfinished,
            journal_kept,
            pending_commits,
            uptime,
            scrape_errors,
            started: Instant::now(),
        }
    }

    /// Records one answered call. `path` is the request's path; anything not in the method table is
    /// counted as `other`, so a caller sending made-up paths cannot grow the series without bound.
    pub fn record_call(&self, path: &str, code: tonic::Code, started: Instant) {
        let method = method_label(path);
        self.calls
            .get_or_create(&CallLabels {
                method: method.to_string(),
                code: crate::audit::code_name(code),
            })
            .inc();
        self.durations
            .get_or_create(&MethodLabels {
                method: method.to_string(),
            })
            .observe(started.elapsed().as_secs_f64());
    }

    fn encode(&self) -> String {
        self.uptime.set(self.started.elapsed().as_secs_f64());
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(error = %e, "metrics: encoding failed");
        }
        text
    }
}

fn method_label(path: &str) -> &str {
    METHODS
        .iter()
        .find(|(known, _)| *known == path)
        .map_or("other", |(known, _)| known)
}

/// Where a scrape reads what the agent holds.
pub struct Sources {
    pub registry: Arc<NamespaceRegistry>,
    pub ledger: Ledger,
    pub journal: Arc<Journal>,
    pub gate: Arc<crate::ops::gate::Gate>,
}

/// Everything a scrape needs: the series, and where to refresh the held-object counts from.
pub struct Scrape {
    pub metrics: Arc<Metrics>,
    pub sources: Sources,
}

impl Scrape {
    /// Reads the held-object counts (directory listings and the ledger's cached records: blocking file
    /// system work, so called off the async threads) and encodes every series.
    pub fn collect(&self) -> String {
        let metrics = &self.metrics;
        match self.sources.registry.list() {
            Ok(namespaces) => {
                metrics.namespaces.set(count(namespaces.len()));
            }
            Err(e) => self.failed("namespaces", &e),
        }
        match self.sources.ledger.read_all() {
            Ok(records) => {
                metrics.topologies.set(count(records.len()));
                let mut by_kind = std::collections::BTreeMap::<&str, i64>::new();
                for object in records.iter().flat_map(|record| &record.objects) {
                    *by_kind.entry(object.id.kind.as_str()).or_default() += 1;
                }
                // A kind whose last object went away must read 0, not its old count.
                metrics.topology_objects.clear();
                for (kind, objects) in by_kind {
                    metrics
                        .topology_objects
                        .get_or_create(&KindLabels {
                            kind: kind.replace(' ', "_"),
                        })
                        .set(objects);
                }
            }
            Err(e) => self.failed("ledger", &e),
        }
        metrics
            .pending_commits
            .set(i64::from(self.sources.gate.pending().is_some()));
        match self.sources.journal.unfinished() {
            Ok(found) => {
                metrics.journal_unfinished.set(count(found.len()));
            }
            Err(e) => self.failed("journal", &e),
        }
        metrics
            .journal_kept
            .set(count(self.sources.journal.set_aside_files().len()));
        metrics.encode()
    }

    fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        tracing::warn!(%error, "metrics: cannot count the {what}");
        self.metrics.scrape_errors.inc();
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_known_method_and_code() {
        let metrics = Metrics::new();
        let started = Instant::now();
        metrics.record_call(
            "/nsfleet.v1.LinkService/GetLink",
            tonic::Code::NotFound,
            started,
        );
        metrics.record_call(
            "/nsfleet.v1.LinkService/GetLink",
            tonic::Code::NotFound,
            started,
        );
        metrics.record_call("/made.up/Path", tonic::Code::Unimplemented, started);
        let text = metrics.encode();
        assert!(
            text.contains(r#"nsfleet_calls_total{method="/nsfleet.v1.LinkService/GetLink",code="NOT_FOUND"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"nsfleet_calls_total{method="other",code="UNIMPLEMENTED"} 1"#),
            "{text}"
        );
        assert!(!text.contains("made.up"), "{text}");
        assert!(
            text.contains(
                r#"nsfleet_call_duration_seconds_count{method="/nsfleet.v1.LinkService/GetLink"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains("nsfleet_build_info{version="), "{text}");
    }
}
