//! iputils-style ping output: `64 bytes from 172.20.0.11: icmp_seq=1 ttl=64 time=0.050 ms`, then the
//! statistics block.

use std::fmt::Write;

use nsfleet_proto::v1::PingReply;

use crate::commands::ping::PingRun;

/// IPv4 header + ICMP header, and the IPv6 equivalent, for the "56(84) bytes" of the first line.
const IPV4_OVERHEAD: u32 = 28;
const IPV6_OVERHEAD: u32 = 48;

pub fn header_line(target: &str, payload_size: u32) -> String {
    let overhead = if target.contains(':') {
        IPV6_OVERHEAD
    } else {
        IPV4_OVERHEAD
    };
    format!(
        "PING {target} ({target}) {payload_size}({}) bytes of data.",
        payload_size + overhead
    )
}

pub fn reply_line(reply: &PingReply) -> String {
    let mut line = format!(
        "{} bytes from {}: icmp_seq={}",
        reply.bytes, reply.from, reply.seq
    );
    if reply.ttl != 0 {
        let _ = write!(line, " ttl={}", reply.ttl);
    }
    let _ = write!(line, " time={} ms", format_rtt(reply.rtt_ms));
    line
}

pub fn render(run: &PingRun) -> String {
    let mut out = String::new();
    if !run.streamed {
        let _ = writeln!(out, "{}", header_line(&run.target, run.payload_size));
        for reply in &run.replies {
            let _ = writeln!(out, "{}", reply_line(reply));
        }
    }
    if let Some(summary) = &run.summary {
        let _ = writeln!(out, "\n--- {} ping statistics ---", summary.target);
        let _ = writeln!(
            out,
            "{} packets transmitted, {} received, {}% packet loss",
            summary.transmitted,
            summary.received,
            format_percent(summary.loss_percent)
        );
        if summary.received > 0 {
            let _ = writeln!(
                out,
                "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
                summary.rtt_min_ms, summary.rtt_avg_ms, summary.rtt_max_ms, summary.rtt_mdev_ms
            );
        }
    }
    out
}

/// Fewer decimals as the time grows, as iputils does: 0.050, 1.23, 12.3, 123.
fn format_rtt(milliseconds: f64) -> String {
    if milliseconds >= 99.95 {
        format!("{milliseconds:.0}")
    } else if milliseconds >= 9.995 {
        format!("{milliseconds:.1}")
    } else if milliseconds >= 1.0 {
        format!("{milliseconds:.2}")
    } else {
        format!("{milliseconds:.3}")
    }
}

/// Like printf's %g for percentages: 0, 25, 33.3333.
fn format_percent(percent: f64) -> String {
    let text = format!("{percent:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use nsfleet_proto::v1::PingSummary;

    use super::*;

    fn reply(seq: u32, rtt_ms: f64) -> PingReply {
        PingReply {
            seq,
            from: "172.20.0.11".into(),
            bytes: 64,
            ttl: 64,
            rtt_ms,
        }
    }

    #[test]
    fn full_run() {
        let run = PingRun {
            target: "172.20.0.11".into(),
            payload_size: 56,
            replies: vec![reply(1, 0.05), reply(2, 12.345)],
            summary: Some(PingSummary {
                target: "172.20.0.11".into(),
                transmitted: 3,
                received: 2,
                loss_percent: 100.0 / 3.0,
                rtt_min_ms: 0.05,
                rtt_avg_ms: 6.1975,
                rtt_max_ms: 12.345,
                rtt_mdev_ms: 6.1475,
            }),
            streamed: false,
        };
        assert_eq!(
            render(&run),
            "PING 172.20.0.11 (172.20.0.11) 56(84) bytes of data.\n\
             64 bytes from 172.20.0.11: icmp_seq=1 ttl=64 time=0.050 ms\n\
             64 bytes from 172.20.0.11: icmp_seq=2 ttl=64 time=12.3 ms\n\
             \n\
             --- 172.20.0.11 ping statistics ---\n\
             3 packets transmitted, 2 received, 33.3333% packet loss\n\
             rtt min/avg/max/mdev = 0.050/6.197/12.345/6.147 ms\n"
        );
    }

    #[test]
    fn no_reply_has_no_rtt_line_and_streamed_runs_print_only_the_summary() {
        let run = PingRun {
            target: "2001:db8::9".into(),
            payload_size: 56,
            replies: vec![],
            summary: Some(PingSummary {
                target: "2001:db8::9".into(),
                transmitted: 2,
                loss_percent: 100.0,
                ..PingSummary::default()
            }),
            streamed: true,
        };
        assert_eq!(
            render(&run),
            "\n--- 2001:db8::9 ping statistics ---\n2 packets transmitted, 0 received, 100% packet loss\n"
        );
        assert_eq!(
            header_line("2001:db8::9", 56),
            "PING 2001:db8::9 (2001:db8::9) 56(104) bytes of data."
        );
    }

    #[test]
    fn rtt_and_percent_formats() {
        assert_eq!(format_rtt(0.0456), "0.046");
        assert_eq!(format_rtt(1.5), "1.50");
        assert_eq!(format_rtt(150.2), "150");
        assert_eq!(format_percent(0.0), "0");
        assert_eq!(format_percent(25.0), "25");
        let ttl_unknown = PingReply {
            ttl: 0,
            ..reply(3, 0.1)
        };
        assert_eq!(
            reply_line(&ttl_unknown),
            "64 bytes from 172.20.0.11: icmp_seq=3 time=0.100 ms"
        );
    }
}
