//! The tables (Markdown, ready for BENCHMARKS.md) and the targets, judged from one run's numbers.

use std::fmt::Write;
use std::time::Duration;

use crate::methods::Method;
use crate::stats::{median, Results, Sample};

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn ratio(slow: Option<Duration>, fast: Option<Duration>) -> String {
    match (slow, fast) {
        (Some(slow), Some(fast)) if !fast.is_zero() => {
            format!("{:.1}x", slow.as_secs_f64() / fast.as_secs_f64())
        }
        _ => "-".into(),
    }
}

fn speedup(slow: Option<Duration>, fast: Option<Duration>) -> Option<f64> {
    match (slow, fast) {
        (Some(slow), Some(fast)) if !fast.is_zero() => {
            Some(slow.as_secs_f64() / fast.as_secs_f64())
        }
        _ => None,
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub fn render(results: &Results, sizes: &[usize]) -> String {
    let mut out = String::new();
    let setup = |s: &Sample| s.setup;
    let teardown = |s: &Sample| s.teardown;
    let gone = |s: &Sample| s.gone;

    let _ = writeln!(out, "### Build the topology (median)\n");
    let _ = writeln!(
        out,
        "| N | method | runs | setup s | ms per namespace | (a) / this | (b) / this |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for &n in sizes {
        let a = results.median_of(n, Method::Ip, setup);
        let b = results.median_of(n, Method::IpBatch, setup);
        for method in Method::ALL {
            let Some(samples) = results.of(n, method) else {
                continue;
            };
            let this = results.median_of(n, method, setup);
            let per = this
                .map(|d| format!("{:.2}", d.as_secs_f64() * 1000.0 / n as f64))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {n} | {} | {} | {} | {per} | {} | {} |",
                method.label(),
                samples.len(),
                this.map(secs).unwrap_or_default(),
                ratio(a, this),
                ratio(b, this)
            );
        }
    }

    let _ = writeln!(out, "\n### Tear it down (median)\n");
    let _ = writeln!(out, "| N | method | how | returned s | all gone s | (a) / this, returned | (a) / this, all gone |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for &n in sizes {
        let a = results.median_of(n, Method::Ip, teardown);
        let a_gone = results.median_of(n, Method::Ip, gone);
        for method in Method::ALL {
            if results.of(n, method).is_none() {
                continue;
            }
            let this = results.median_of(n, method, teardown);
            let this_gone = results.median_of(n, method, gone);
            let _ = writeln!(
                out,
                "| {n} | {} | {} | {} | {} | {} | {} |",
                method.label(),
                method.teardown_label(),
                this.map(secs).unwrap_or_default(),
                this_gone.map(secs).unwrap_or_default(),
                ratio(a, this),
                ratio(a_gone, this_gone)
            );
        }
    }

    let _ = writeln!(out, "\n### List the links of every namespace (median)\n");
    let _ = writeln!(out, "| N | runs | `ip -j link` per namespace s | one `nsfleet link list --all-namespaces` s | ip / nsfleet |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (&n, (ip, nsfleet)) in &results.listings {
        let (ip, nsfleet, runs) = (median(ip.clone()), median(nsfleet.clone()), ip.len());
        let _ = writeln!(
            out,
            "| {n} | {runs} | {} | {} | {} |",
            secs(ip),
            secs(nsfleet),
            ratio(Some(ip), Some(nsfleet))
        );
    }

    let _ = writeln!(out, "\n### Agent memory\n");
    let _ = writeln!(out, "| state | VmRSS | VmHWM (peak so far) |");
    let _ = writeln!(out, "|---|---|---|");
    let _ = writeln!(
        out,
        "| idle, just started | {} | {} |",
        mib(results.idle.rss_kib),
        mib(results.idle.peak_kib)
    );
    if let Some((n, memory)) = results.holding {
        let _ = writeln!(
            out,
            "| holding N={n} namespaces (after nsfleet batch built them) | {} | {} |",
            mib(memory.rss_kib),
            mib(memory.peak_kib)
        );
    }

    if !results.skipped.is_empty() {
        let _ = writeln!(out, "\nNot run:");
        for (n, method, why) in &results.skipped {
            let _ = writeln!(out, "- N={n} {}: {why}", method.label());
        }
    }
    out.push_str(&targets(results, sizes));
    out
}

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "-",
    }
}

fn targets(results: &Results, sizes: &[usize]) -> String {
    let mut out = String::from("\n### Targets\n\n| target | measured | verdict |\n|---|---|---|\n");
    let mut line = |name: String, value: Option<f64>, unit: &str, ok: Option<bool>| {
        let shown = value
            .map(|v| format!("{v:.2}{unit}"))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(out, "| {name} | {shown} | {} |", verdict(ok));
    };
    let setup = |s: &Sample| s.setup;
    let teardown = |s: &Sample| s.teardown;
    for n in sizes.iter().copied().filter(|n| *n >= 100) {
        let c = results.median_of(n, Method::NsfleetBatch, setup);
        let vs_a = speedup(results.median_of(n, Method::Ip, setup), c);
        let vs_b = speedup(results.median_of(n, Method::IpBatch, setup), c);
        line(
            format!("N={n}: (c) at least 10x faster than (a)"),
            vs_a,
            "x",
            vs_a.map(|r| r >= 10.0),
        );
        line(
            format!("N={n}: (c) at least 2x faster than (b)"),
            vs_b,
            "x",
            vs_b.map(|r| r >= 2.0),
        );
        let td = speedup(
            results.median_of(n, Method::Ip, teardown),
            results.median_of(n, Method::NsfleetBatch, teardown),
        );
        line(
            format!("N={n}: teardown (c) at least 10x faster than (a) deleting veths one by one"),
            td,
            "x",
            td.map(|r| r >= 10.0),
        );
    }
    for &n in sizes {
        let d = speedup(
            results.median_of(n, Method::Ip, setup),
            results.median_of(n, Method::NsfleetPerCall, setup),
        );
        line(
            format!("N={n}: (d) no slower than (a) ((a) / (d))"),
            d,
            "x",
            d.map(|r| r >= 1.0),
        );
    }
    if let Some((ip, nsfleet)) = results.listings.get(&100) {
        let r = speedup(Some(median(ip.clone())), Some(median(nsfleet.clone())));
        line(
            "N=100: listing at least 10x faster than the ip loop".into(),
            r,
            "x",
            r.map(|r| r >= 10.0),
        );
    }
    let idle = results.idle.rss_kib as f64 / 1024.0;
    line(
        "agent idle RSS under 10 MiB".into(),
        Some(idle),
        " MiB",
        Some(idle < 10.0),
    );
    if let Some((n, memory)) = results.holding {
        let held = memory.rss_kib as f64 / 1024.0;
        line(
            format!("agent RSS holding N={n} under 32 MiB"),
            Some(held),
            " MiB",
            Some(held < 32.0),
        );
    }
    let per_namespace = |n: usize, method: Method| {
        results
            .median_of(n, method, setup)
            .map(|d| d.as_secs_f64() / n as f64)
    };
    if sizes.contains(&100) && sizes.contains(&1000) {
        for method in [Method::NsfleetBatch, Method::IpBatch, Method::Ip] {
            let growth = per_namespace(1000, method)
                .zip(per_namespace(100, method))
                .map(|(big, small)| big / small);
            if method == Method::NsfleetBatch {
                let name = format!(
                    "cost per namespace of {}, N=1000 / N=100, flat (at most 1.25)",
                    method.label()
                );
                line(name, growth, "x", growth.map(|g| g <= 1.25));
            } else {
                line(
                    format!("for comparison: the same for {}", method.label()),
                    growth,
                    "x",
                    None,
                );
            }
        }
    }
    out
}
