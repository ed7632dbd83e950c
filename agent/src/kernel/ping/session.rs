//! The bookkeeping of one run, free of sockets and clocks so it can be tested as plain data: which
//! requests went out and when, which were answered, and which received replies are ours at all.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::packet::{write_echo_request, EchoReply, Family};
use super::stats::RttStats;
use super::PingSummary;

/// How a received echo reply relates to this run.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Another run's or process's reply, or one for a request we never sent.
    NotOurs,
    /// A second reply to a request already answered (a duplicating link, or a multicast target).
    Duplicate {
        seq: u16,
    },
    Answer {
        seq: u16,
        rtt: Duration,
    },
}

pub(super) struct EchoSession {
    family: Family,
    identifier: u16,
    payload: Vec<u8>,
    count: u16,
    /// The last sequence number handed out; requests are numbered from 1.
    last_seq: u16,
    /// By `seq - 1`: when the kernel took the request; `None` if it refused it or it is not sent yet.
    sent_at: Vec<Option<Instant>>,
    answered: Vec<bool>,
    rtts: RttStats,
    packet: Vec<u8>,
}

impl EchoSession {
    pub(super) fn new(family: Family, count: u16, payload_size: usize) -> Self {
        Self::with_identity(
            family,
            count,
            fresh_identifier(),
            random_u64(),
            payload_size,
        )
    }

    /// `nonce` fills the start of the payload, so a reply that merely collides with our identifier
    /// (another process picked the same one) is still told apart.
    pub(super) fn with_identity(
        family: Family,
        count: u16,
        identifier: u16,
        nonce: u64,
        payload_size: usize,
    ) -> Self {
        let nonce = nonce.to_be_bytes();
        // Past the nonce, iputils' habit of counting bytes up makes a damaged payload easy to spot.
        let payload = (0..payload_size)
            .map(|i| nonce.get(i).copied().unwrap_or(i as u8))
            .collect();
        EchoSession {
            family,
            identifier,
            payload,
            count,
            last_seq: 0,
            sent_at: vec![None; usize::from(count)],
            answered: vec![false; usize::from(count)],
            rtts: RttStats::default(),
            packet: Vec::new(),
        }
    }

    pub(super) fn all_sent(&self) -> bool {
        self.last_seq == self.count
    }

    pub(super) fn is_complete(&self) -> bool {
        self.all_sent() && self.rtts.count() == u32::from(self.count)
    }

    /// Numbers the next request and builds it; [`Self::packet`] holds it until the next call.
    /// `None` once all are out.
    pub(super) fn next_request(&mut self) -> Option<u16> {
        if self.all_sent() {
            return None;
        }
        self.last_seq += 1;
        write_echo_request(
            &mut self.packet,
            self.family,
            self.identifier,
            self.last_seq,
            &self.payload,
        );
        Some(self.last_seq)
    }

    pub(super) fn packet(&self) -> &[u8] {
        &self.packet
    }

    pub(super) fn mark_sent(&mut self, seq: u16, at: Instant) {
        if let Some(slot) = usize::from(seq)
            .checked_sub(1)
            .and_then(|index| self.sent_at.get_mut(index))
        {
            *slot = Some(at);
        }
    }

    /// Judges a parsed echo reply read at `received_at`. The round trip comes from our own send time,
    /// never from the payload: the peer could have changed it.
    pub(super) fn accept(&mut self, reply: &EchoReply<'_>, received_at: Instant) -> Verdict {
        if reply.identifier != self.identifier || reply.payload != self.payload.as_slice() {
            return Verdict::NotOurs;
        }
        let seq = reply.sequence;
        let Some(index) = usize::from(seq).checked_sub(1) else {
            return Verdict::NotOurs;
        };
        let (Some(Some(sent_at)), Some(answered)) =
            (self.sent_at.get(index), self.answered.get_mut(index))
        else {
            return Verdict::NotOurs;
        };
        if std::mem::replace(answered, true) {
            return Verdict::Duplicate { seq };
        }
        let rtt = received_at.saturating_duration_since(*sent_at);
        self.rtts.record(rtt);
        Verdict::Answer { seq, rtt }
    }

    pub(super) fn summary(&self, target: IpAddr) -> PingSummary {
        let transmitted = u32::from(self.last_seq);
        let received = self.rtts.count();
        let loss_percent = if transmitted == 0 {
            0.0
        } else {
            f64::from(transmitted - received) * 100.0 / f64::from(transmitted)
        };
        PingSummary {
            target,
            transmitted,
            received,
            loss_percent,
            rtt_min: self.rtts.min(),
            rtt_avg: self.rtts.mean(),
            rtt_max: self.rtts.max(),
            rtt_mdev: self.rtts.mdev(),
        }
    }
}

/// An identifier no other run of this process holds (until 65536 runs overlap). The random start keeps
/// us from lining up with other processes that count from a fixed value.
fn fresh_identifier() -> u16 {
    static FIRST: OnceLock<u16> = OnceLock::new();
    static ISSUED: AtomicU16 = AtomicU16::new(0);
    let first = *FIRST.get_or_init(|| random_u64() as u16);
    first.wrapping_add(ISSUED.fetch_add(1, Ordering::Relaxed))
}

/// std seeds every `RandomState` from the OS and varies it per instance: enough for a nonce, without a
/// dependency on a random number crate.
fn random_u64() -> u64 {
    RandomState::new().build_hasher().finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;
    use crate::kernel::ping::packet::ECHO_HEADER_LEN;

    const TARGET: &str = "192.0.2.1";

    fn session(count: u16) -> EchoSession {
        EchoSession::with_identity(Family::V4, count, 0x4242, 0x0102_0304_0506_0708, 12)
    }

    /// Sends the next request at `at` and returns it as the peer would echo it.
    fn send(session: &mut EchoSession, at: Instant) -> (u16, Vec<u8>) {
        let seq = session.next_request().unwrap();
        session.mark_sent(seq, at);
        (seq, session.packet()[ECHO_HEADER_LEN..].to_vec())
    }

    fn reply(identifier: u16, sequence: u16, payload: &[u8]) -> EchoReply<'_> {
        EchoReply {
            identifier,
            sequence,
            ttl: Some(64),
            icmp_len: ECHO_HEADER_LEN + payload.len(),
            payload,
        }
    }

    #[test]
    fn payload_starts_with_the_nonce_then_counts_up() {
        let mut session = session(1);
        session.next_request();
        assert_eq!(
            &session.packet()[ECHO_HEADER_LEN..],
            &[1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 11]
        );
    }

    #[test]
    fn short_payload_holds_part_of_the_nonce() {
        let mut session = EchoSession::with_identity(Family::V4, 1, 1, 0xaabb_ccdd_eeff_0011, 3);
        session.next_request();
        assert_eq!(&session.packet()[ECHO_HEADER_LEN..], &[0xaa, 0xbb, 0xcc]);
    }

    #[test]
    fn requests_are_numbered_from_one_until_count() {
        let mut session = session(2);
        assert_eq!(session.next_request(), Some(1));
        assert_eq!(session.next_request(), Some(2));
        assert!(session.all_sent());
        assert_eq!(session.next_request(), None);
    }

    #[test]
    fn answer_measures_from_our_send_time() {
        let start = Instant::now();
        let mut session = session(2);
        let (seq, payload) = send(&mut session, start);
        let verdict = session.accept(
            &reply(0x4242, seq, &payload),
            start + Duration::from_millis(3),
        );
        assert_eq!(
            verdict,
            Verdict::Answer {
                seq: 1,
                rtt: Duration::from_millis(3)
            }
        );
        assert!(!session.is_complete());
    }

    #[test]
    fn duplicates_count_once() {
        let start = Instant::now();
        let mut session = session(1);
        let (seq, payload) = send(&mut session, start);
        assert!(matches!(
            session.accept(&reply(0x4242, seq, &payload), start),
            Verdict::Answer { .. }
        ));
        assert_eq!(
            session.accept(&reply(0x4242, seq, &payload), start),
            Verdict::Duplicate { seq: 1 }
        );
        assert!(session.is_complete());
        assert_eq!(session.summary(TARGET.parse().unwrap()).received, 1);
    }

    #[test]
    fn replies_that_are_not_ours_are_ignored() {
        let start = Instant::now();
        let mut session = session(3);
        let (seq, payload) = send(&mut session, start);
        let mut altered = payload.clone();
        altered[0] ^= 0xff;
        assert_eq!(
            session.accept(&reply(0x4243, seq, &payload), start),
            Verdict::NotOurs,
            "other identifier"
        );
        assert_eq!(
            session.accept(&reply(0x4242, seq, &altered), start),
            Verdict::NotOurs,
            "other payload"
        );
        assert_eq!(
            session.accept(&reply(0x4242, 0, &payload), start),
            Verdict::NotOurs,
            "sequence 0"
        );
        assert_eq!(
            session.accept(&reply(0x4242, 2, &payload), start),
            Verdict::NotOurs,
            "not sent yet"
        );
        assert_eq!(
            session.accept(&reply(0x4242, 9, &payload), start),
            Verdict::NotOurs,
            "beyond count"
        );
        assert_eq!(session.summary(TARGET.parse().unwrap()).received, 0);
    }

    #[test]
    fn a_refused_request_counts_as_sent_and_lost() {
        let start = Instant::now();
        let mut session = session(2);
        let refused_seq = session.next_request().unwrap();
        let refused_payload = session.packet()[ECHO_HEADER_LEN..].to_vec();
        let (seq, payload) = send(&mut session, start);
        assert_eq!(
            session.accept(&reply(0x4242, refused_seq, &refused_payload), start),
            Verdict::NotOurs
        );
        assert!(matches!(
            session.accept(&reply(0x4242, seq, &payload), start),
            Verdict::Answer { .. }
        ));
        let summary = session.summary(TARGET.parse().unwrap());
        assert_eq!(
            (summary.transmitted, summary.received, summary.loss_percent),
            (2, 1, 50.0)
        );
    }

    #[test]
    fn summary_of_a_silent_run_is_total_loss_with_zero_rtts() {
        let mut session = session(4);
        while let Some(seq) = session.next_request() {
            session.mark_sent(seq, Instant::now());
        }
        let summary = session.summary(TARGET.parse().unwrap());
        assert_eq!(
            (summary.transmitted, summary.received, summary.loss_percent),
            (4, 0, 100.0)
        );
        assert_eq!(summary.rtt_max, Duration::ZERO);
    }

    #[test]
    fn identifiers_of_overlapping_runs_differ() {
        let first = fresh_identifier();
        let second = fresh_identifier();
        assert_ne!(first, second);
    }
}
